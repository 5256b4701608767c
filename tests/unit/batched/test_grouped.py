"""Mixed-shape meta-batches (task families): one batched call per shape group equals the
per-task path (meta-gradients within 1e-6, float64) and keeps the task order."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.algorithms import InnerLoopConfig, TaskOutput, maml_task, reptile_task
from lightning_meta.algorithms.grouped import grouped_maml_tasks, grouped_reptile, shape_groups
from lightning_meta.data.episode import Episode
from lightning_meta.models import EpisodicClassifier, tiny_encoder
from tests.unit.algorithms.helpers import max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes, spy

TOL = 1e-6


def model(adapt: str) -> EpisodicClassifier:
    return EpisodicClassifier(tiny_encoder(), adapt=adapt).double()


def mixed() -> list[Episode]:
    """Two 5-way 2-shot and two 2-way 3-shot tasks, interleaved: shapes A B B A."""
    a = pool_episodes(2, n_way=5, shots=2, queries=2, seed=3)
    b = pool_episodes(2, n_way=2, shots=3, queries=3, seed=7)
    return [a[0], b[0], b[1], a[1]]


def assert_same_outputs(ref: list[TaskOutput], new: list[TaskOutput]) -> None:
    assert len(ref) == len(new)
    for a, b in zip(ref, new, strict=True):
        assert a.logits.shape == b.logits.shape  # (Nq, N): a 5-way task stays where it was
        assert float((a.logits - b.logits).abs().max()) <= TOL
        for name in ("loss", "loss_before", "support_loss"):
            assert abs(float(getattr(a, name).detach() - getattr(b, name).detach())) <= TOL


def test_shape_groups() -> None:
    assert shape_groups(mixed()) == [[0, 3], [1, 2]]
    assert shape_groups(pool_episodes(3)) == [[0, 1, 2]]
    assert shape_groups([]) == []


@pytest.mark.parametrize("first_order", [True, False], ids=["fomaml", "maml"])
@pytest.mark.parametrize("adapt", ["head", "top1"])
def test_maml_mixed_shapes(first_order: bool, adapt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    episodes = mixed()
    inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order)
    m = model(adapt)
    ref = [maml_task(m, ep, inner) for ep in episodes]
    g_ref = meta_grads(m, torch.stack([o.loss for o in ref]).mean())
    sizes = spy(monkeypatch, "batched_maml_tasks")
    outs = grouped_maml_tasks(m, episodes, inner)
    assert sizes == [2, 2]  # one batched call (one packed bottom) per shape group
    g_new = meta_grads(m, torch.stack([o.loss for o in outs]).mean())
    assert max(float(g.abs().max()) for g in g_ref.values()) > 1e-3  # not trivially zero
    assert max_diff(g_ref, g_new) <= TOL
    assert_same_outputs(ref, outs)


@pytest.mark.parametrize("adapt", ["head", "top1"])
def test_reptile_mixed_shapes(adapt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    episodes = mixed()
    inner = InnerLoopConfig(steps=3, lr=0.3)
    m = model(adapt)
    per_task = [reptile_task(m, ep, inner) for ep in episodes]
    mean = {k: torch.stack([r.grads[k] for r in per_task]).mean(0) for k in per_task[0].grads}
    sizes = spy(monkeypatch, "batched_reptile")
    grads, outs = grouped_reptile(m, episodes, inner)
    assert sizes == [2, 2]
    assert grads.keys() == mean.keys()
    assert max(float(g.abs().max()) for g in mean.values()) > 1e-3
    assert max_diff(mean, grads) <= TOL
    assert_same_outputs([r.out for r in per_task], outs)


def test_unbatchable_groups_run_task_by_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """``adapt: all`` has no batched path: every group falls back, results unchanged."""
    episodes = mixed()
    inner = InnerLoopConfig(steps=1, lr=0.3, first_order=True)
    m = model("all")
    calls = [spy(monkeypatch, "batched_maml_tasks"), spy(monkeypatch, "batched_reptile")]
    ref = [maml_task(m, ep, inner) for ep in episodes]
    assert_same_outputs(ref, grouped_maml_tasks(m, episodes, inner))
    per_task = [reptile_task(m, ep, inner) for ep in episodes]
    mean = {k: torch.stack([r.grads[k] for r in per_task]).mean(0) for k in per_task[0].grads}
    grads, outs = grouped_reptile(m, episodes, inner)
    assert max_diff(mean, grads) <= TOL
    assert_same_outputs([r.out for r in per_task], outs)
    assert calls == [[], []]
