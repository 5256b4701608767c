"""Meta-step speed ratios (``lightning-meta bench speed``), measured side by side in one process.

Workload: one N-way K-shot episode (default 5-way 5-shot, 5 queries per class) of random token
ids padded to ``max_length`` (48), on MiniLM-L6 by default. Every measurement warms up, then
takes the median of several repeats with the compared workloads interleaved round by round (so
machine-load drift hits both sides). Times exclude the diagnostic ``loss_before`` forward.

The per-episode head starts at zero (``--head-init``) so that both sides of every ratio do the
same arithmetic. With the Proto-MAML head, FOMAML does one more backward pass over the support
batch by design (the outer gradient through the prototype initialisation), and the higher
backend one more forward (it computes the prototypes in a separate pass); the extra line
``fomaml_prototype_head_vs_floor_ratio`` shows that cost.

Printed ``name: value`` lines:
- ``maml2_vs_higher_time_ratio`` / ``maml2_vs_higher_max_grad_diff``: full-model second-order
  MAML, 1 inner step, meta-step (inner loop + outer backward) ours / higher's, same episode,
  same weights, eager attention; and the largest gradient difference between the two (with a
  zero head the encoder gets no inner update in that one step, so the difference is also shown
  once for the prototype head, where it does).
- ``fomaml_vs_floor_ratio`` / ``reptile_vs_floor_ratio``: full-model meta-step with ``--steps``
  inner steps / the same passes done plainly: ``steps`` forward+backward on the support batch
  plus one forward+backward (FOMAML) or one forward (Reptile: every parameter adapts, so its
  query pass needs no backward) on the query batch.
- ``top1_inner_step_vs_full_ratio``: marginal cost of one more inner step adapting the top
  layer + head (bottom cached) / the same with the whole model adapting.
- ``memory`` (:mod:`lightning_meta.bench.perf.memory`, a fresh spawned process per point): peak
  meta-step memory (RSS on CPU, allocated on CUDA) at 1, 2, 5, 10 inner steps for second-order
  and first-order MAML; ``fomaml_mem_10_vs_1_ratio`` (target <= 1.10) and
  ``maml2_mem_slope_mb_per_step``.
- ``throughput`` (:mod:`lightning_meta.bench.perf.throughput`): ``meta_steps_per_s_<algo>`` for
  maml, fomaml, reptile and protonet, each module with its defaults, meta-batch of 4 tasks.
Absolute times (ms) are printed as context.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from lightning_meta.algorithms import InnerLoopConfig, maml_task, reptile_task
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models import EpisodicClassifier, load_encoder, prototype_head

__all__ = ["MEASUREMENTS", "SpeedConfig", "speed_lines"]


@dataclass
class SpeedConfig:
    model: str = "minilm"
    n_way: int = 5
    shots: int = 5
    queries: int = 5
    max_length: int = 48
    steps: int = 5  # inner steps for the FOMAML / Reptile floor ratios
    head_init: str = "zero"  # identical work on both sides of every ratio (see module doc)
    warmup: int = 2
    repeats: int = 7
    seed: int = 0


def random_batch(
    cfg: SpeedConfig, rows_per_class: int, vocab: int, gen: torch.Generator
) -> TextBatch:
    """[CLS] random ids [SEP] with lengths in [max_length/2, max_length], padded to max_length."""
    rows, t = cfg.n_way * rows_per_class, cfg.max_length
    ids = torch.randint(1000, vocab, (rows, t), generator=gen)  # (B, T)
    lengths = torch.randint(t // 2, t + 1, (rows,), generator=gen)
    lengths[0] = t  # the episode is padded to its longest row
    mask = (torch.arange(t)[None, :] < lengths[:, None]).long()  # (B, T)
    ids[:, 0] = 101
    ids[torch.arange(rows), lengths - 1] = 102
    ids[mask == 0] = 0
    labels = torch.arange(cfg.n_way).repeat_interleave(rows_per_class)
    return TextBatch(ids, mask, labels[torch.randperm(rows, generator=gen)])


def random_episode(cfg: SpeedConfig, vocab: int) -> Episode:
    gen = torch.Generator().manual_seed(cfg.seed)
    support = random_batch(cfg, cfg.shots, vocab, gen)
    query = random_batch(cfg, cfg.queries, vocab, gen)
    return Episode(support, query, cfg.n_way, index=0)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], warmup: int, repeats: int
) -> dict[str, float]:
    """Median seconds per workload; each round runs every workload once, in turn."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def make_model(
    cfg: SpeedConfig, adapt: str, attn: str | None = None, head_init: str | None = None
) -> EpisodicClassifier:
    encoder = load_encoder(cfg.model, attn_implementation=attn).eval()  # no dropout: exact grads
    init = head_init or cfg.head_init
    return EpisodicClassifier(encoder, adapt=adapt, head_init=init)  # type: ignore[arg-type]


def _vocab(model: EpisodicClassifier) -> int:
    return int(getattr(model.encoder, "config").vocab_size)  # noqa: B009


def _zero_grads(model: torch.nn.Module) -> None:
    for p in model.parameters():
        p.grad = None


def maml2_meta_grads(
    model: EpisodicClassifier, episode: Episode, backend: str
) -> dict[str, torch.Tensor]:
    """One full second-order MAML meta-step (1 inner step); returns the meta-gradients."""
    inner = InnerLoopConfig(steps=1, lr=1e-3, backend=backend)  # type: ignore[arg-type]
    _zero_grads(model)
    maml_task(model, episode, inner, with_loss_before=False).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def max_grad_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[n] - b[n]).abs().max()) for n in a)


def measure_maml2_vs_higher(cfg: SpeedConfig) -> dict[str, float]:
    model = make_model(cfg, "all", attn="eager")
    episode = random_episode(cfg, _vocab(model))
    grads: dict[str, dict[str, torch.Tensor]] = {}

    def step(backend: str) -> Callable[[], object]:
        def run() -> None:
            grads[backend] = maml2_meta_grads(model, episode, backend)

        return run

    t = interleaved_medians(
        {"ours": step("func"), "higher": step("higher")}, cfg.warmup, cfg.repeats
    )
    out = {
        "maml2_vs_higher_time_ratio": t["ours"] / t["higher"],
        "maml2_vs_higher_max_grad_diff": max_grad_diff(grads["func"], grads["higher"]),
        "maml2_ours_ms": 1e3 * t["ours"],
        "maml2_higher_ms": 1e3 * t["higher"],
    }
    if cfg.head_init == "zero":  # the encoder also moves in the inner step with this head
        proto = make_model(cfg, "all", attn="eager", head_init="prototype")
        ours, ref = (maml2_meta_grads(proto, episode, b) for b in ("func", "higher"))
        out["maml2_prototype_head_max_grad_diff"] = max_grad_diff(ours, ref)
    return out


def plain_passes(
    model: EpisodicClassifier, episode: Episode, steps: int, query_backward: bool
) -> None:
    """The floor: ``steps`` forward+backward on the support batch, one pass on the query batch,
    through a fixed prototype head (so the gradients are realistic, not zero)."""
    s, q = episode.support, episode.query
    with torch.no_grad():
        w, b = prototype_head(model.embed(s), s.labels, episode.n_way)  # (N, H), (N,)
    _zero_grads(model)
    for _ in range(steps):
        F.cross_entropy(model.embed(s) @ w.T + b, s.labels).backward()
    with torch.set_grad_enabled(query_backward):
        loss = F.cross_entropy(model.embed(q) @ w.T + b, q.labels)
    if query_backward:
        loss.backward()


def measure_floor_ratios(cfg: SpeedConfig) -> dict[str, float]:
    model = make_model(cfg, "all")
    proto = make_model(cfg, "all", head_init="prototype")
    episode = random_episode(cfg, _vocab(model))
    inner = InnerLoopConfig(steps=cfg.steps, lr=1e-3, first_order=True)

    def fomaml(m: EpisodicClassifier) -> None:
        _zero_grads(m)
        maml_task(m, episode, inner, with_loss_before=False).loss.backward()

    def reptile() -> None:
        reptile_task(model, episode, inner, with_loss_before=False)

    t = interleaved_medians(
        {
            "fomaml": lambda: fomaml(model),
            "fomaml_proto": lambda: fomaml(proto),
            "floor_fo": lambda: plain_passes(model, episode, cfg.steps, query_backward=True),
            "reptile": reptile,
            "floor_rep": lambda: plain_passes(model, episode, cfg.steps, query_backward=False),
        },
        cfg.warmup,
        cfg.repeats,
    )
    return {
        "fomaml_vs_floor_ratio": t["fomaml"] / t["floor_fo"],
        "reptile_vs_floor_ratio": t["reptile"] / t["floor_rep"],
        "fomaml_prototype_head_vs_floor_ratio": t["fomaml_proto"] / t["floor_fo"],
        "fomaml_ms": 1e3 * t["fomaml"],
        "fomaml_floor_ms": 1e3 * t["floor_fo"],
        "reptile_ms": 1e3 * t["reptile"],
        "reptile_floor_ms": 1e3 * t["floor_rep"],
    }


def measure_top1_inner_step(cfg: SpeedConfig, few: int = 1, many: int = 6) -> dict[str, float]:
    """(t(many steps) - t(few steps)) / (many - few), FOMAML meta-step, top1 vs all."""
    models = {"top1": make_model(cfg, "top1"), "all": make_model(cfg, "all")}
    episode = random_episode(cfg, _vocab(models["all"]))

    def run(adapt: str, steps: int) -> Callable[[], object]:
        inner = InnerLoopConfig(steps=steps, lr=1e-3, first_order=True)

        def go() -> None:
            _zero_grads(models[adapt])
            maml_task(models[adapt], episode, inner, with_loss_before=False).loss.backward()

        return go

    fns = {f"{a}_{k}": run(a, k) for a in models for k in (few, many)}
    t = interleaved_medians(fns, cfg.warmup, cfg.repeats)
    per_step = {a: (t[f"{a}_{many}"] - t[f"{a}_{few}"]) / (many - few) for a in models}
    return {
        "top1_inner_step_vs_full_ratio": per_step["top1"] / per_step["all"],
        "top1_inner_step_ms": 1e3 * per_step["top1"],
        "full_inner_step_ms": 1e3 * per_step["all"],
    }


def measure_memory_vs_steps(cfg: SpeedConfig) -> dict[str, float]:
    """Peak meta-step memory vs inner steps (1, 2, 5, 10), MAML vs FOMAML: bench/perf/memory.py."""
    from lightning_meta.bench.perf.memory import MemoryConfig, measure_memory
    from lightning_meta.bench.perf.workload import Workload

    w = Workload(cfg.model, cfg.n_way, cfg.shots, cfg.queries, cfg.max_length, cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return measure_memory(MemoryConfig(workload=w, head_init=cfg.head_init, device=device))


def measure_meta_steps_per_s(cfg: SpeedConfig) -> dict[str, float]:
    """Meta-steps/s of every algorithm's module (defaults): bench/perf/throughput.py. Repeats:
    ``repeats // 3`` (2 by default, 1 with --quick): a MiniLM meta-step takes seconds."""
    from lightning_meta.bench.perf.throughput import ThroughputConfig, measure_meta_steps
    from lightning_meta.bench.perf.workload import Workload

    device = "cuda" if torch.cuda.is_available() else "cpu"
    w = Workload(model=cfg.model, queries=15, max_length=cfg.max_length, seed=cfg.seed)
    return measure_meta_steps(
        ThroughputConfig(workload=w, warmup=1, repeats=max(1, cfg.repeats // 3), device=device)
    )


MEASUREMENTS: dict[str, Callable[[SpeedConfig], dict[str, float]]] = {
    "maml2": measure_maml2_vs_higher,
    "floor": measure_floor_ratios,
    "top1": measure_top1_inner_step,
    "memory": measure_memory_vs_steps,
    "throughput": measure_meta_steps_per_s,
}


def speed_lines(cfg: SpeedConfig, only: list[str]) -> Iterator[str]:
    """The header, then one ``name: value`` line per measurement as soon as it is taken."""
    torch.manual_seed(cfg.seed)
    yield (
        f"# model={cfg.model} {cfg.n_way}-way {cfg.shots}-shot, {cfg.queries} queries/class, "
        f"max_length={cfg.max_length}, head_init={cfg.head_init}, threads={torch.get_num_threads()}, "
        f"median of {cfg.repeats}"
    )
    for key in only:
        for name, value in MEASUREMENTS[key](cfg).items():
            yield f"{name}: {value:.3g}" if "diff" in name else f"{name}: {value:.3f}"
