"""Deterministic memory of one meta-step: tensor bytes counted by the PyTorch memory profiler.

RSS (``bench speed --only memory``) is what a user sees, but it depends on the allocator and on
the machine. This counts the bytes of every tensor the meta-step creates and frees (from the
profiler's memory timeline), so the same workload always gives the same numbers and tests can
check them against a hand-worked value:

- ``retained``: bytes still alive when the inner loop has finished and the outer backward is
  about to start (the autograd graph plus the outputs). First-order MAML keeps no graph of the
  inner steps, so it is the same for 1 and 10 steps; second-order MAML keeps one graph per step,
  so it grows by the same amount with every step.
- ``peak``: the highest live total during the whole meta-step (inner loop + outer backward),
  relative to the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.profiler import ProfilerActivity, profile

from lightning_meta.algorithms import InnerLoopConfig, maml_task
from lightning_meta.bench.perf.workload import (
    Workload,
    make_classifier,
    random_episode,
    vocab_size,
)


@dataclass(frozen=True)
class GraphMemory:
    retained: int  # bytes alive after the inner loop, before the outer backward
    peak: int  # highest live bytes during the meta-step, relative to its start


def _profiled(fn: Callable[[], object]) -> tuple[object, int, int]:
    """Run ``fn`` under the memory profiler: (result, net live bytes, peak live bytes)."""
    with profile(
        activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True
    ) as prof:
        result = fn()
    live = peak = 0
    for _, action, _, size in prof._memory_profile().timeline:
        name = str(action)
        if name.endswith("CREATE"):
            live += size
        elif name.endswith("DESTROY"):
            live -= size
        peak = max(peak, live)
    return result, live, peak


def meta_step_graph_memory(
    workload: Workload,
    first_order: bool,
    steps: int,
    adapt: str = "all",
    head_init: str = "zero",
) -> GraphMemory:
    """Profile one MAML meta-step (after an identical warm-up step) on the CPU."""
    torch.manual_seed(workload.seed)
    model = make_classifier(workload, adapt, not first_order, head_init)
    episode = random_episode(workload, vocab_size(model))
    inner = InnerLoopConfig(steps=steps, lr=1e-3, first_order=first_order)

    def forward() -> torch.Tensor:
        return maml_task(model, episode, inner, with_loss_before=False).loss

    forward().backward()  # warm-up: lazy buffers, .grad tensors allocated once
    model.zero_grad(set_to_none=False)
    loss, retained, peak_fwd = _profiled(forward)
    assert isinstance(loss, torch.Tensor)
    _, _, peak_bwd = _profiled(loss.backward)
    return GraphMemory(retained=retained, peak=max(peak_fwd, retained + peak_bwd))
