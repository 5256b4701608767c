"""The Lightning modules' meta-batches take the batched path and equal the per-task one."""

from __future__ import annotations

import pytest
import torch

import lightning_meta.lightning.maml as maml_module
import lightning_meta.lightning.reptile as reptile_module
from lightning_meta.lightning import MAML, Reptile
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from tests.unit.algorithms.helpers import max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes

TINY = EncoderConfig("tiny")


@pytest.mark.parametrize("first_order", [True, False])
def test_maml_meta_loss(first_order: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    episodes = pool_episodes(3)
    module = MAML(first_order, TINY, InnerLoopArgs(steps=2, lr=0.3)).double()
    calls: list[int] = []
    real = maml_module.batched_maml_tasks
    monkeypatch.setattr(
        maml_module, "batched_maml_tasks", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    loss, outs = module.meta_loss(episodes)
    assert calls == [1] and len(outs) == 3
    batched = meta_grads(module.model, loss)
    monkeypatch.setattr(maml_module, "batchable", lambda *a: False)
    loss_ref, _ = module.meta_loss(episodes)
    assert abs(float(loss) - float(loss_ref)) <= 1e-9
    assert max_diff(batched, meta_grads(module.model, loss_ref)) <= 1e-6


def test_reptile_meta_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    episodes = pool_episodes(3, seed=4)
    module = Reptile(encoder=TINY, inner=InnerLoopArgs(steps=2, lr=0.3)).double()
    grads, outs = module.meta_gradients(episodes)
    monkeypatch.setattr(reptile_module, "batchable", lambda *a: False)
    ref, ref_outs = module.meta_gradients(episodes)
    assert max_diff(grads, ref) <= 1e-6
    for a, b in zip(outs, ref_outs, strict=True):
        assert torch.allclose(a.logits, b.logits, atol=1e-9)
