"""Reptile direction: one inner SGD step equals plain SGD on the support loss."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from lightning_meta.algorithms import InnerLoopConfig, reptile_task
from tests.unit.algorithms.helpers import make_episode, make_model, max_diff


@pytest.mark.parametrize("adapt", ["all", "top1"])
def test_one_step_reptile_is_sgd_on_support_loss(adapt: str) -> None:
    """With one inner step of size ``alpha``, ``theta - phi = alpha * dLs/dtheta``, so SGD with
    lr ``eps`` on the Reptile 'gradient' equals SGD with lr ``eps * alpha`` on the support loss
    (head initialised from the prototypes at theta and held constant in that loss)."""
    alpha, eps = 0.3, 0.5
    episode = make_episode()
    model = make_model(adapt)
    twin = copy.deepcopy(model)
    res = reptile_task(model, episode, InnerLoopConfig(steps=1, lr=alpha))

    s = episode.support
    h = twin.embed(s)  # (Ns, H)
    w, b = (t.detach() for t in twin.init_head(h, s.labels, episode.n_way))
    support_loss = F.cross_entropy(h @ w.T + b, s.labels)
    assert torch.allclose(res.out.support_loss, support_loss.detach())
    adapted = ["encoder." + n for n in model.adapted_names]
    params = dict(twin.named_parameters())
    grads = torch.autograd.grad(support_loss, [params[n] for n in adapted])
    assert (
        max_diff(
            {n: res.grads[n] for n in adapted},
            {n: alpha * g for n, g in zip(adapted, grads, strict=True)},
        )
        <= 1e-10
    )

    opt_reptile = torch.optim.SGD([p for n, p in model.named_parameters() if n in adapted], lr=eps)
    for n, p in model.named_parameters():
        p.grad = res.grads.get(n) if n in adapted else None
    opt_reptile.step()
    opt_sgd = torch.optim.SGD([params[n] for n in adapted], lr=eps * alpha)
    for n, g in zip(adapted, grads, strict=True):
        params[n].grad = g
    opt_sgd.step()
    a, b_ = dict(model.named_parameters()), dict(twin.named_parameters())
    assert max(float((a[n] - b_[n]).detach().abs().max()) for n in adapted) <= 1e-10


def test_reptile_grads_cover_fixed_params_with_query_gradient() -> None:
    """top1: the bottom gets dLq/dbottom at phi; BERT's unused pooler is omitted."""
    model = make_model("top1")
    res = reptile_task(model, make_episode(), InnerLoopConfig(steps=2, lr=0.3))
    names = {n for n, _ in model.named_parameters()}
    expected = {"encoder." + n for n in model.adapted_names + model.fixed_names}
    assert set(res.grads) == expected and expected < names
    assert not any(n.startswith("encoder.pooler") for n in res.grads)
    assert res.grads["encoder.embeddings.word_embeddings.weight"].abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())
    assert not res.out.loss.requires_grad


def test_reptile_higher_backend_agrees() -> None:
    episode = make_episode()
    out = {}
    for backend in ("func", "higher"):
        model = make_model("top1")
        res = reptile_task(model, episode, InnerLoopConfig(steps=2, lr=0.3, backend=backend))  # type: ignore[arg-type]
        out[backend] = res
    assert max_diff(out["func"].grads, out["higher"].grads) <= 1e-10
    assert torch.allclose(out["func"].out.logits, out["higher"].out.logits)
