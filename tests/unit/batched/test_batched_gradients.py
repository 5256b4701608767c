"""Batched meta-batches equal the per-task path: meta-gradients within 1e-6 (float64)."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.algorithms import InnerLoopConfig, make_inner_lrs, maml_task, reptile_task
from lightning_meta.algorithms.batched import batchable, batched_maml_tasks, batched_reptile
from lightning_meta.models import EpisodicClassifier, tiny_encoder
from tests.unit.algorithms.helpers import max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes

TOL = 1e-6


def model(adapt: str, head: str = "prototype", pooling: str = "mean") -> EpisodicClassifier:
    m = EpisodicClassifier(tiny_encoder(), pooling=pooling, adapt=adapt, head_init=head)  # type: ignore[arg-type]
    return m.double()


@pytest.mark.parametrize("first_order", [True, False], ids=["fomaml", "maml"])
@pytest.mark.parametrize("adapt", ["head", "top1", "top2"])
@pytest.mark.parametrize("head", ["prototype", "zero"])
@pytest.mark.parametrize("learn_lr", [False, True])
def test_maml_meta_gradients(first_order: bool, adapt: str, head: str, learn_lr: bool) -> None:
    episodes = pool_episodes(3, seed=5)
    inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order, learn_lr=learn_lr)
    out = {}
    for kind in ("per-task", "batched"):
        m = model(adapt, head)
        lrs = make_inner_lrs(m, inner).double() if learn_lr else None
        if lrs is not None:
            with torch.no_grad():
                for i, p in enumerate(lrs.values()):
                    p.fill_(0.2 + 0.02 * i)
        if kind == "per-task":
            outs = [maml_task(m, ep, inner, lrs) for ep in episodes]
        else:
            assert batchable(m, inner, episodes)
            outs = batched_maml_tasks(m, episodes, inner, lrs)
        loss = torch.stack([o.loss for o in outs]).mean()
        extra = {f"lr.{k}": v for k, v in lrs.items()} if lrs is not None else None
        out[kind] = (meta_grads(m, loss, extra), outs)
    (g_old, o_old), (g_new, o_new) = out["per-task"], out["batched"]
    assert max(float(g.abs().max()) for g in g_old.values()) > 1e-3  # not trivially zero
    assert max_diff(g_old, g_new) <= TOL
    for a, b in zip(o_old, o_new, strict=True):
        assert float((a.logits - b.logits).abs().max()) <= TOL
        for name in ("loss", "loss_before", "support_loss"):
            assert abs(float(getattr(a, name)) - float(getattr(b, name))) <= TOL


def test_second_order_differs_from_first_order() -> None:
    """The batched MAML really is second order (guards against a silently detached loop)."""
    episodes = pool_episodes(2)
    grads = []
    for first_order in (False, True):
        m = model("top1")
        outs = batched_maml_tasks(m, episodes, InnerLoopConfig(2, 0.5, first_order=first_order))
        grads.append(meta_grads(m, torch.stack([o.loss for o in outs]).mean()))
    assert max_diff(grads[0], grads[1]) > 1e-6


@pytest.mark.parametrize("adapt", ["head", "top1", "top2"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_reptile_meta_gradients(adapt: str, pooling: str) -> None:
    episodes = pool_episodes(3, seed=2)
    inner = InnerLoopConfig(steps=3, lr=0.3)
    m = model(adapt, pooling=pooling)
    per_task = [reptile_task(m, ep, inner) for ep in episodes]
    mean = {k: torch.stack([r.grads[k] for r in per_task]).mean(0) for k in per_task[0].grads}
    grads, outs = batched_reptile(m, episodes, inner)
    assert grads.keys() == mean.keys()
    assert max(float(g.abs().max()) for g in mean.values()) > 1e-3
    assert max_diff(mean, grads) <= TOL
    for r, o in zip(per_task, outs, strict=True):
        assert abs(float(r.out.loss) - float(o.loss)) <= TOL
        assert float((r.out.logits - o.logits).abs().max()) <= TOL


def test_not_batchable() -> None:
    episodes = pool_episodes(2)
    inner = InnerLoopConfig()
    assert not batchable(model("all"), inner, episodes)
    assert not batchable(model("top1"), InnerLoopConfig(backend="higher"), episodes)
    mixed = [*episodes, pool_episodes(1, n_way=2)[0]]
    assert not batchable(model("top1"), inner, mixed)
    assert not batchable(model("top1"), inner, [])
