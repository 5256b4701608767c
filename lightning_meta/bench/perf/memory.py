"""Peak memory of one meta-step against the number of inner steps, MAML vs first-order MAML.

Each point (algorithm, inner steps) runs in a fresh ``spawn`` child process, so allocator
caches and earlier graphs never leak from one point into the next. In the child: build the
model (MiniLM-L6 by default, every parameter adapted: the case where second-order memory grows
with the unrolled inner loop; zero-initialised per-episode head by default, as in
``bench speed``) and one random 5-way 5-shot 5-query episode; run the meta-step once as a
warm-up (lazy buffers, thread pools) and free it (``gc`` + glibc ``malloc_trim``); then

- CPU: record the resident set size, reset the kernel's peak-RSS mark (``/proc/self/clear_refs``
  = 5; without it, ``ru_maxrss`` before/after), run one meta-step (inner loop + outer
  backward), read the peak (``VmHWM``). Reported: peak - baseline, the meta-step's own memory.
  The child starts with ``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc serves every block of
  64 KiB or more by ``mmap``: freed tensors leave the RSS at once, and the peak counts live
  memory rather than heap fragmentation.
- CUDA: ``torch.cuda.max_memory_allocated`` - ``memory_allocated`` before the meta-step.

With the prototype head (``--head-init prototype``), first-order MAML keeps the first support
pass's graph until the outer backward (the outer gradient of the head initialisation), so with
2+ inner steps one more support pass is alive at the peak than with 1: a constant, not a slope.

Printed ``name: value`` lines (MB = 2**20 bytes):
- ``maml2_mem_mb_steps_<k>`` / ``fomaml_mem_mb_steps_<k>`` for k in 1, 2, 5, 10;
- ``fomaml_mem_10_vs_1_ratio``: first-order memory at 10 inner steps / at 1 (target <= 1.10:
  first-order MAML keeps no graph across inner steps);
- ``maml2_mem_slope_mb_per_step``: least-squares slope of second-order memory per extra step;
- ``maml2_mem_10_vs_1_ratio``, ``fomaml_mem_slope_mb_per_step`` and ``mem_baseline_mb``
  (model + inputs) as context.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing as mp
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import torch

from lightning_meta.algorithms import InnerLoopConfig, maml_task
from lightning_meta.bench.perf.workload import Workload, make_classifier, random_episode, vocab_size

__all__ = ["MemoryConfig", "measure_memory", "memory_lines"]

MB = 2.0**20
MMAP_ENV = "MALLOC_MMAP_THRESHOLD_"
STEPS = (1, 2, 5, 10)


@dataclass(frozen=True)
class MemoryConfig:
    workload: Workload = Workload()
    adapt: str = "all"
    head_init: str = "zero"
    steps: tuple[int, ...] = STEPS
    device: str = "cpu"
    threads: int = 1


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where it is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss_bytes() -> float:
    kb = _status_kb("VmRSS")
    return (
        1024.0 * kb
        if kb is not None
        else 1024.0 * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )


def meta_step_memory(cfg: MemoryConfig, first_order: bool, steps: int) -> dict[str, float]:
    """Baseline and meta-step memory (bytes) in *this* process (run it in a fresh one)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.workload.seed)
    device = torch.device(cfg.device)
    model = make_classifier(cfg.workload, cfg.adapt, not first_order, cfg.head_init).to(device)
    episode = random_episode(cfg.workload, vocab_size(model)).to(device)
    inner = InnerLoopConfig(steps=steps, lr=1e-3, first_order=first_order)

    def step() -> None:
        maml_task(model, episode, inner, with_loss_before=False).loss.backward()
        model.zero_grad(set_to_none=True)

    # warm-up: the identical meta-step once (lazy buffers, thread pools, kernel choices)
    step()
    _release_freed_memory()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = float(torch.cuda.memory_allocated(device))
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return {"baseline": base, "step": float(torch.cuda.max_memory_allocated(device)) - base}
    base = _rss_bytes()
    if (
        _reset_peak_rss()
        and (hwm := _status_kb("VmHWM")) is not None
        and hwm * 1024.0 <= base * 1.01
    ):
        step()
        peak = 1024.0 * float(_status_kb("VmHWM") or 0)
    else:  # no resettable mark: the process peak so far must be below the step's
        step()
        peak = 1024.0 * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"baseline": base, "step": max(peak - base, 0.0)}


def _child(cfg: MemoryConfig, first_order: bool, steps: int, queue: mp.Queue) -> None:
    queue.put(meta_step_memory(cfg, first_order, steps))


def in_fresh_process(cfg: MemoryConfig, first_order: bool, steps: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(cfg, first_order, steps, queue))
    # glibc: serve every block >= 64 KiB by mmap, so freed tensors leave the RSS at once and
    # the peak counts live memory, not heap fragmentation (set for the child's start only)
    old = os.environ.get(MMAP_ENV)
    os.environ[MMAP_ENV] = str(64 * 1024)
    try:
        proc.start()
    finally:
        if old is None:
            del os.environ[MMAP_ENV]
        else:
            os.environ[MMAP_ENV] = old
    try:
        result: dict[str, float] = queue.get(timeout=1800)
    finally:
        proc.join(timeout=60)
    if proc.exitcode != 0:
        raise RuntimeError(
            f"memory child (first_order={first_order}, steps={steps}) exited with {proc.exitcode}"
        )
    return result


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys on xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def measure_memory(cfg: MemoryConfig) -> dict[str, float]:
    """Every point in its own spawned process; values in MB and the derived ratios."""
    out: dict[str, float] = {}
    mem: dict[str, list[float]] = {"maml2": [], "fomaml": []}
    for key, first_order in (("maml2", False), ("fomaml", True)):
        for k in cfg.steps:
            r = in_fresh_process(cfg, first_order, k)
            out[f"{key}_mem_mb_steps_{k}"] = r["step"] / MB
            mem[key].append(r["step"] / MB)
            out.setdefault("mem_baseline_mb", r["baseline"] / MB)
    lo, hi = cfg.steps.index(min(cfg.steps)), cfg.steps.index(max(cfg.steps))
    a, b = max(cfg.steps), min(cfg.steps)
    out[f"fomaml_mem_{a}_vs_{b}_ratio"] = mem["fomaml"][hi] / mem["fomaml"][lo]
    out[f"maml2_mem_{a}_vs_{b}_ratio"] = mem["maml2"][hi] / mem["maml2"][lo]
    out["maml2_mem_slope_mb_per_step"] = slope([float(s) for s in cfg.steps], mem["maml2"])
    out["fomaml_mem_slope_mb_per_step"] = slope([float(s) for s in cfg.steps], mem["fomaml"])
    return out


def memory_lines(cfg: MemoryConfig) -> list[str]:
    w = cfg.workload
    head = (
        f"# memory: model={w.model} adapt={cfg.adapt} head_init={cfg.head_init} {w.n_way}-way "
        f"{w.shots}-shot {w.queries} "
        f"queries/class max_length={w.max_length}, device={cfg.device}; one meta-step per fresh "
        f"process, {'peak allocated' if cfg.device == 'cuda' else 'peak RSS'} minus baseline"
    )
    return [head] + [f"{k}: {v:.3f}" for k, v in measure_memory(cfg).items()]
