"""MAML meta-gradients against higher, a hand-unrolled reference and a closed form."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

from lightning_meta.algorithms import InnerLoopConfig, inner_lr_map, make_inner_lrs, maml_task
from lightning_meta.algorithms.inner_loop import inner_loop
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models import EpisodicClassifier, pool
from tests.unit.algorithms.helpers import (
    make_episode,
    make_model,
    max_diff,
    meta_grads,
    unrolled_maml_loss,
)


@pytest.mark.parametrize("adapt", ["top1", "all"])
def test_second_order_matches_higher_and_unrolled(adapt: str) -> None:
    episode = make_episode()
    grads = {}
    for backend in ("func", "higher", "unrolled"):
        model = make_model(adapt)
        inner = InnerLoopConfig(
            steps=2, lr=0.3, learn_lr=True, backend="func" if backend == "unrolled" else backend
        )  # type: ignore[arg-type]
        lrs = make_inner_lrs(model, inner).double()
        with torch.no_grad():  # distinct lrs per tensor, so a mixed-up key would show
            for i, p in enumerate(lrs.values()):
                p.fill_(0.2 + 0.01 * i)
        if backend == "unrolled":
            loss = unrolled_maml_loss(model, episode, inner_lr_map(model, inner, lrs), inner.steps)
        else:
            loss = maml_task(model, episode, inner, lrs).loss
        grads[backend] = meta_grads(model, loss, {f"lr.{k}": v for k, v in lrs.items()})
    assert max(g.abs().max() for g in grads["func"].values()) > 1e-3  # not trivially zero
    assert max_diff(grads["func"], grads["higher"]) <= 1e-6
    assert max_diff(grads["func"], grads["unrolled"]) <= 1e-6


def test_second_order_differs_from_first_order() -> None:
    episode = make_episode()
    out = {}
    for first_order in (False, True):
        model = make_model("top1")
        loss = maml_task(
            model, episode, InnerLoopConfig(steps=2, lr=0.5, first_order=first_order)
        ).loss
        out[first_order] = meta_grads(model, loss)
    assert max_diff(out[False], out[True]) > 1e-6


class LinearEncoder(nn.Module):
    """``hidden = x A^T`` with fixed token features ``x`` (one token per row)."""

    def __init__(self, features: Tensor, hidden: int) -> None:
        super().__init__()
        self.register_buffer("features", features)  # (V, D)
        self.proj = nn.Linear(features.shape[1], hidden, bias=False, dtype=features.dtype)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor]:
        return (self.proj(self.features[input_ids]),)  # (B, T, H)


@pytest.mark.parametrize("adapt", ["head", "all"])
@pytest.mark.parametrize("first_order", [False, True])
def test_linear_model_closed_form(adapt: str, first_order: bool) -> None:
    """One inner step from a zero head on ``h = x A^T`` (derivation in the comments).

    Support: one-hot ``Y`` (B, N), features ``X`` (B, D). At W = 0, b = 0 the probabilities
    are 1/N, so ``dLs/dA = 0`` (A does not move) and ``W1 = -a (1/N - Y)^T X A^T / B
    = a G A^T`` with ``G = (Y - 1/N)^T X / B`` (N, D); ``b1 = 0`` (balanced classes).
    Query logits ``Z = Xq A^T W1^T = a Xq A^T A G^T``; with ``E = (softmax(Z) - Yq) / Q``:
        dLq/dA = a (A G^T E^T Xq + A Xq^T E G)      (second order: W1 depends on A)
        dLq/dA = a  A G^T E^T Xq                      (first order: W1 held constant)
    """
    torch.manual_seed(0)
    n_way, shots, queries, dim, hidden, a = 3, 2, 3, 5, 4, 0.7
    features = torch.randn(40, dim, dtype=torch.float64)
    model = EpisodicClassifier(LinearEncoder(features, hidden), adapt=adapt, head_init="zero")
    sup_ids = torch.arange(n_way * shots).unsqueeze(1)  # (B, 1)
    qry_ids = 20 + torch.arange(n_way * queries).unsqueeze(1)  # (Q, 1)
    labels_s = torch.arange(n_way).repeat_interleave(shots)
    labels_q = torch.arange(n_way).repeat_interleave(queries)
    episode = Episode(
        TextBatch(sup_ids, torch.ones_like(sup_ids), labels_s),
        TextBatch(qry_ids, torch.ones_like(qry_ids), labels_q),
        n_way,
        0,
    )
    out = maml_task(model, episode, InnerLoopConfig(steps=1, lr=a, first_order=first_order))
    (grad,) = torch.autograd.grad(out.loss, [model.encoder.proj.weight])

    A = model.encoder.proj.weight.detach()  # (H, D)
    X, Xq = features[sup_ids[:, 0]], features[qry_ids[:, 0]]  # (B, D), (Q, D)
    Y, Yq = F.one_hot(labels_s, n_way).double(), F.one_hot(labels_q, n_way).double()
    G = (Y - 1.0 / n_way).T @ X / len(X)  # (N, D)
    Z = a * Xq @ A.T @ A @ G.T  # (Q, N)
    E = (torch.softmax(Z, -1) - Yq) / len(Xq)  # (Q, N)
    expected = a * A @ G.T @ E.T @ Xq
    if not first_order:
        expected = expected + a * A @ Xq.T @ E @ G
    assert torch.allclose(out.loss, F.cross_entropy(Z, labels_q))
    assert (grad - expected).abs().max() <= 1e-10


@pytest.mark.parametrize("head_init", ["zero", "prototype"])
def test_first_order_is_query_gradient_at_adapted_params(head_init: str) -> None:
    """FOMAML: d(meta)/d(theta) = dLq/dphi at the adapted point phi (bottom: dLq/dbottom at phi).

    With the prototype head the initial head W0(theta) adds its own first-order path; the
    reference adds it by letting W0 depend on theta while the adaptation delta is constant.
    """
    episode = make_episode()
    inner = InnerLoopConfig(steps=3, lr=0.4, first_order=True)
    model = make_model("top1", head_init)
    grads = meta_grads(model, maml_task(model, episode, inner).loss)

    lrs = inner_lr_map(model, inner, None)
    feats = model.features(episode, support_grad=False, query_grad=False)
    ad = inner_loop(model, feats, episode.support.labels, episode.n_way, inner.steps, lrs, "none")
    enc = model.encoder
    theta = dict(enc.named_parameters())
    # phi as a function of theta with constant delta: d phi / d theta = I
    phi = {n: theta[n] + (ad.params[n] - theta[n]).detach() for n in ad.params}
    w, b = ad.weight, ad.bias
    if head_init == "prototype":
        s = episode.support
        out = enc(input_ids=s.input_ids, attention_mask=s.attention_mask).last_hidden_state
        w0, b0 = model.init_head(pool(out, s.attention_mask, "mean"), s.labels, episode.n_way)
        w, b = w0 + (w - w0).detach(), b0 + (b - b0).detach()
    q = episode.query
    kwargs = {"input_ids": q.input_ids, "attention_mask": q.attention_mask}
    hq = pool(
        functional_call(enc, {**theta, **phi}, args=(), kwargs=kwargs).last_hidden_state,
        q.attention_mask,
        "mean",
    )
    ref = meta_grads(model, F.cross_entropy(hq @ w.T + b, q.labels))
    assert max_diff(grads, ref) <= 1e-10


@pytest.mark.parametrize("first_order", [False, True])
def test_learned_inner_lrs_receive_gradients(first_order: bool) -> None:
    model = make_model("top1")
    inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order, learn_lr=True)
    lrs = make_inner_lrs(model, inner).double()
    assert "head__weight" in lrs and "head__bias" in lrs
    assert all(p.requires_grad for p in lrs.values())
    maml_task(model, make_episode(), inner, lrs).loss.backward()
    for key, p in lrs.items():
        assert p.grad is not None and p.grad.abs() > 0, key


def test_inner_lrs_must_cover_the_adapted_tensors() -> None:
    lrs = make_inner_lrs(make_model("top1"), InnerLoopConfig())
    with pytest.raises(ValueError, match="inner_lrs"):
        maml_task(make_model("all"), make_episode(), InnerLoopConfig(), lrs)
