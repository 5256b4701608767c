"""The Lightning modules' meta-batches take the batched path (one call per shape group) and
equal the per-task one."""

from __future__ import annotations

import pytest
import torch

import lightning_meta.algorithms.grouped as grouped
from lightning_meta.data.episode import Episode
from lightning_meta.lightning import MAML, Reptile
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from tests.unit.algorithms.helpers import max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes, spy

TINY = EncoderConfig("tiny")


def mixed_batch() -> list[Episode]:
    """Three 3-way 2-shot tasks and one 2-way 3-shot task between them."""
    same = pool_episodes(3)
    return [same[0], pool_episodes(1, n_way=2, shots=3, queries=3, seed=9)[0], *same[1:]]


@pytest.mark.parametrize("first_order", [True, False])
@pytest.mark.parametrize("mixed", [False, True], ids=["same-shape", "mixed-shape"])
def test_maml_meta_loss(first_order: bool, mixed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    episodes = mixed_batch() if mixed else pool_episodes(3)
    module = MAML(first_order, TINY, InnerLoopArgs(steps=2, lr=0.3)).double()
    calls = spy(monkeypatch, "batched_maml_tasks")
    loss, outs = module.meta_loss(episodes)
    assert calls == ([3, 1] if mixed else [3]) and len(outs) == len(episodes)
    grads = meta_grads(module.model, loss)
    monkeypatch.setattr(grouped, "batchable", lambda *a: False)
    loss_ref, outs_ref = module.meta_loss(episodes)
    assert calls == ([3, 1] if mixed else [3])  # the reference ran task by task
    assert abs(float((loss - loss_ref).detach())) <= 1e-9
    assert max_diff(grads, meta_grads(module.model, loss_ref)) <= 1e-6
    for a, b in zip(outs, outs_ref, strict=True):
        assert a.logits.shape == b.logits.shape
        assert torch.allclose(a.logits, b.logits, atol=1e-9)


@pytest.mark.parametrize("mixed", [False, True], ids=["same-shape", "mixed-shape"])
def test_reptile_meta_gradients(mixed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    episodes = mixed_batch() if mixed else pool_episodes(3, seed=4)
    module = Reptile(encoder=TINY, inner=InnerLoopArgs(steps=2, lr=0.3)).double()
    grads, outs = module.meta_gradients(episodes)
    monkeypatch.setattr(grouped, "batchable", lambda *a: False)
    ref, ref_outs = module.meta_gradients(episodes)
    assert max_diff(grads, ref) <= 1e-6
    for a, b in zip(outs, ref_outs, strict=True):
        assert a.logits.shape == b.logits.shape
        assert torch.allclose(a.logits, b.logits, atol=1e-9)
