"""Meta-training steps per second of every algorithm on the default model.

Each algorithm is its Lightning module with its defaults (MiniLM-L6, top layer + head adapted,
5 inner steps, prototype head) and its own optimizer; a meta-step is exactly what its
``training_step`` computes (diagnostic ``loss_before`` forward included) plus the backward and
the optimizer step, on a meta-batch of 4 random 5-way 5-shot 15-query episodes (max_length 48,
the shape of ``configs/experiment/*_wordnet.yaml``), without the Trainer's bookkeeping.

Printed: ``meta_steps_per_s_<algo>`` (maml = second order, fomaml, reptile, protonet) and,
as context, ``meta_step_s_<algo>`` (median seconds).

``kernels`` (``--kernels 32-sdpa bf16-eager ...``): each algorithm in each precision
(``32``: fp32; ``bf16``: ``torch.autocast`` bf16, what ``trainer.precision: bf16-mixed`` runs,
fp32 weights) and attention kernel (``sdpa`` | ``eager``), keys suffixed ``_<kernel>``, the
combinations measured in turn in one process, and ``speedup_<algo>_<kernel>``: steps/s over the
first kernel's. Second-order MAML is always eager.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lightning_meta.algorithms import protonet_task
from lightning_meta.bench.perf.workload import Workload, random_episode, vocab_size
from lightning_meta.data.episode import Episode
from lightning_meta.lightning import MAML, EpisodicModule, ProtoNet, Reptile
from lightning_meta.lightning.config import EncoderConfig

__all__ = ["ALGORITHMS", "ThroughputConfig", "measure_meta_steps", "throughput_lines"]

ALGORITHMS = ("maml", "fomaml", "reptile", "protonet")
KERNELS = ("32-sdpa", "32-eager", "bf16-sdpa", "bf16-eager")


@dataclass(frozen=True)
class ThroughputConfig:
    workload: Workload = Workload(queries=15)
    meta_batch_size: int = 4
    warmup: int = 1
    repeats: int = 3
    algorithms: tuple[str, ...] = ALGORITHMS
    device: str = "cpu"
    kernels: tuple[str, ...] = ()
    """precision-attention pairs from KERNELS; () = the modules' defaults, unsuffixed keys"""


def build_module(algo: str, model: str, attention: str | None = None) -> EpisodicModule:
    if algo == "maml" and attention == "sdpa":
        attention = "eager"  # second order: no double backward through SDPA
    encoder = EncoderConfig(backbone=model, attention=attention)  # type: ignore[arg-type]
    if algo in ("maml", "fomaml"):
        return MAML(first_order=algo == "fomaml", encoder=encoder)
    if algo == "reptile":
        return Reptile(encoder=encoder)
    if algo == "protonet":
        return ProtoNet(encoder=encoder)
    raise ValueError(f"algorithm: unknown '{algo}' (use {', '.join(ALGORITHMS)})")


def meta_step_fn(
    module: EpisodicModule, batch: list[Episode], bf16: bool = False, device: str = "cpu"
) -> Callable[[], None]:
    """One meta-step of ``module`` on ``batch``: outer loss/direction, backward, optimizer step
    (``bf16``: the forward and inner loop under bf16 autocast, as Lightning's bf16-mixed)."""
    opt = module.configure_optimizers()
    assert isinstance(opt, torch.optim.Optimizer)
    device_type = "cuda" if device.startswith("cuda") else "cpu"

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            directions()
        opt.step()

    def directions() -> None:
        if isinstance(module, Reptile):
            grads, _ = module.meta_gradients(batch)
            for name, p in module.model.named_parameters():
                if name in grads:
                    p.grad = grads[name]
        elif isinstance(module, MAML):
            module.meta_loss(batch)[0].backward()
        elif isinstance(module, ProtoNet):
            outs = [protonet_task(module.model, ep, module.distance, training=True) for ep in batch]
            torch.stack([o.loss for o in outs]).mean().backward()

    return step


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_meta_steps(cfg: ThroughputConfig) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in cfg.kernels:
        if name not in KERNELS:
            raise ValueError(f"kernels: unknown '{name}' (use {', '.join(KERNELS)})")
    for algo in cfg.algorithms:
        kernels: tuple[str | None, ...] = cfg.kernels or (None,)
        for kernel in kernels:
            out.update(_measure(cfg, algo, kernel))
            if kernel is not None and kernel != cfg.kernels[0]:
                first = out[f"meta_steps_per_s_{algo}_{cfg.kernels[0]}"]
                out[f"speedup_{algo}_{kernel}"] = out[f"meta_steps_per_s_{algo}_{kernel}"] / first
    return out


def _measure(cfg: ThroughputConfig, algo: str, kernel: str | None) -> dict[str, float]:
    precision, _, attention = (kernel or "32-").partition("-")
    torch.manual_seed(cfg.workload.seed)
    module = build_module(algo, cfg.workload.model, attention or None).to(cfg.device)
    vocab = vocab_size(module.model)
    batch = [
        random_episode(cfg.workload, vocab, i).to(cfg.device) for i in range(cfg.meta_batch_size)
    ]
    step = meta_step_fn(module, batch, bf16=precision == "bf16", device=cfg.device)
    for _ in range(cfg.warmup):
        step()
    times = []
    for _ in range(cfg.repeats):
        gc.collect()
        _sync(cfg.device)
        t0 = time.perf_counter()
        step()
        _sync(cfg.device)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    suffix = f"_{kernel}" if kernel else ""
    del module, step
    return {f"meta_steps_per_s_{algo}{suffix}": 1.0 / median, f"meta_step_s_{algo}{suffix}": median}


def throughput_lines(cfg: ThroughputConfig) -> list[str]:
    w = cfg.workload
    head = (
        f"# meta-steps/s: model={w.model}, module defaults (adapt top1, 5 inner steps), "
        f"meta-batch {cfg.meta_batch_size} x {w.n_way}-way {w.shots}-shot {w.queries} "
        f"queries/class, max_length={w.max_length}, device={cfg.device}, "
        f"threads={torch.get_num_threads()}, "
        f"median of {cfg.repeats}" + (f", kernels {' '.join(cfg.kernels)}" if cfg.kernels else "")
    )
    return [head] + [f"{k}: {v:.3f}" for k, v in measure_meta_steps(cfg).items()]
