"""The ``higher`` backend: the same MAML / FOMAML / Reptile semantics on ``higher.monkeypatch``.

It is the reference the tests compare against, so it is written independently of
``inner_loop``: the whole patched model runs every step (no bottom caching), fast weights are a
list in ``parameters()`` order passed with ``params=``, and only the adapted entries move.
The prototype head comes from its own forward with the meta parameters (a zero head needs
none), and step 0 differentiates
w.r.t. aliases ``p.view_as(p)`` of the adapted tensors, so the head's dependence on the encoder
stays out of the inner gradient (the same partial-derivative semantics as ``inner_loop``).
"""

from __future__ import annotations

from dataclasses import dataclass

import higher
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import LR, InnerLoopConfig, Order, head_loss
from lightning_meta.algorithms.pair_loss import with_pairs, with_query_pairs
from lightning_meta.algorithms.types import ENCODER_PREFIX, ReptileOutput, TaskOutput, inner_lr_map
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier, head_logits
from lightning_meta.models.encoder import ensure_eager
from lightning_meta.models.features import pool

__all__ = ["higher_maml_task", "higher_reptile_task"]


class _Patched:
    """A monkey-patched encoder returning pooled embeddings for a full fast-weight list."""

    def __init__(self, model: EpisodicClassifier, track: bool) -> None:
        named = list(model.encoder.named_parameters())
        self.names = [n for n, _ in named]
        self.meta: list[Tensor] = [p for _, p in named]
        self.pooling = model.pooling
        self.fmodel = higher.monkeypatch(
            model.encoder, copy_initial_weights=False, track_higher_grads=track
        )

    def embed(self, params: list[Tensor], batch: TextBatch) -> Tensor:
        out = self.fmodel(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, params=params
        )
        hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state  # (B, T, H)
        return pool(hidden, batch.attention_mask, self.pooling)  # (B, H)


@dataclass
class _Result:
    params: list[Tensor]  # full fast-weight list after adaptation
    weight: Tensor
    bias: Tensor
    init_weight: Tensor
    init_bias: Tensor
    support_loss: Tensor


def _val(lr: LR) -> LR:
    return lr.detach() if isinstance(lr, Tensor) else lr


def _adapt(
    pm: _Patched, model: EpisodicClassifier, episode: Episode, lrs: dict[str, LR], steps: int,
    order: Order, pair_weight: float = 0.0,
) -> _Result:  # fmt: skip
    second = order == "second"
    support_loss = with_pairs(head_loss, pair_weight)
    s = episode.support
    idx = [pm.names.index(n) for n in model.adapted_names]
    adapted = set(idx)
    head_graph = second or (order == "first" and model.head_init == "prototype")
    hidden = getattr(getattr(model.encoder, "config", None), "hidden_size", None)
    h0: Tensor | None = None
    if model.head_init == "zero" and steps > 0 and isinstance(hidden, int):
        w0 = pm.meta[0].new_zeros(episode.n_way, hidden)  # no forward needed for a zero head
        b0 = pm.meta[0].new_zeros(episode.n_way)
    else:
        with torch.set_grad_enabled(head_graph):
            h0 = pm.embed(pm.meta, s)  # (Ns, H)
            w0, b0 = model.init_head(h0, s.labels, episode.n_way)
    if second:
        fast = [p.view_as(p) if i in adapted else p for i, p in enumerate(pm.meta)]
        w = w0 if w0.requires_grad else w0.detach().requires_grad_()
        b = b0 if b0.requires_grad else b0.detach().requires_grad_()
    else:
        fast = [p.detach().requires_grad_(i in adapted) for i, p in enumerate(pm.meta)]
        w, b = w0.detach().requires_grad_(), b0.detach().requires_grad_()
    tracked = {i: pm.meta[i] for i in idx}  # first order: theta - sum lr * g, graph to theta/lr
    tw, tb = w0, b0
    loss = w0.new_tensor(float("nan"))
    if h0 is not None:
        with torch.no_grad():  # reported when steps == 0
            loss = support_loss(h0, w0, b0, s.labels)
    for _ in range(steps):
        loss = support_loss(pm.embed(fast, s), w, b, s.labels)
        *gp, gw, gb = torch.autograd.grad(
            loss, [fast[i] for i in idx] + [w, b], create_graph=second
        )
        fast = list(fast)
        for i, g in zip(idx, gp, strict=True):
            lr = lrs[pm.names[i]]
            if second:
                fast[i] = fast[i] - lr * g
            else:
                tracked[i] = tracked[i] - lr * g
                fast[i] = (fast[i].detach() - _val(lr) * g).requires_grad_()
        if second:
            w, b = w - lrs[HEAD_WEIGHT] * gw, b - lrs[HEAD_BIAS] * gb
        else:
            tw, tb = tw - lrs[HEAD_WEIGHT] * gw, tb - lrs[HEAD_BIAS] * gb
            w = (w.detach() - _val(lrs[HEAD_WEIGHT]) * gw).requires_grad_()
            b = (b.detach() - _val(lrs[HEAD_BIAS]) * gb).requires_grad_()
    if order == "first":
        fast = [tracked.get(i, p) for i, p in enumerate(pm.meta)]
        w, b = tw, tb
    elif order == "none":
        fast, w, b = [p.detach() for p in fast], w.detach(), b.detach()
        w0, b0 = w0.detach(), b0.detach()
    return _Result(fast, w, b, w0, b0, loss.detach())


def _query(
    pm: _Patched, res: _Result, episode: Episode, grad: bool, pair_weight: float
) -> tuple[Tensor, Tensor]:
    with torch.set_grad_enabled(grad):
        hq = pm.embed(res.params, episode.query)  # (Nq, H)
        logits = head_logits(hq, res.weight, res.bias)
        loss = F.cross_entropy(logits, episode.query.labels)
        return logits, with_query_pairs(loss, hq, episode.query.labels, pair_weight)


def _before(pm: _Patched, res: _Result, episode: Episode) -> Tensor:
    with torch.no_grad():
        hq = pm.embed(pm.meta, episode.query)  # (Nq, H)
        logits = head_logits(hq, res.init_weight, res.init_bias)
        return F.cross_entropy(logits, episode.query.labels)


def higher_maml_task(
    model: EpisodicClassifier,
    episode: Episode,
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    training: bool = True,
    steps: int | None = None,
    with_loss_before: bool = True,
    query_pair_weight: float = 0.0,
) -> TaskOutput:
    """``maml_task`` on higher (same arguments and results)."""
    steps = inner.steps if steps is None else steps
    order: Order = ("first" if inner.first_order else "second") if training else "none"
    if order == "second" and model.adapted_names:
        ensure_eager(model.encoder)
    lrs = inner_lr_map(model, inner, inner_lrs)
    with torch.enable_grad():
        pm = _Patched(model, track=order == "second")
        res = _adapt(pm, model, episode, lrs, steps, order, inner.pair_weight)
        w_pairs = query_pair_weight if training else 0.0
        logits, loss = _query(pm, res, episode, grad=order != "none", pair_weight=w_pairs)
    before = _before(pm, res, episode) if with_loss_before else loss.new_tensor(float("nan"))
    return TaskOutput(
        loss if training else loss.detach(), logits.detach(), before, res.support_loss
    )


def higher_reptile_task(
    model: EpisodicClassifier,
    episode: Episode,
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    steps: int | None = None,
) -> ReptileOutput:
    """``reptile_task`` on higher (same arguments and results)."""
    steps = inner.steps if steps is None else steps
    lrs = inner_lr_map(model, inner, inner_lrs)
    fixed = set(model.fixed_names)
    with torch.enable_grad():
        pm = _Patched(model, track=False)
        res = _adapt(pm, model, episode, lrs, steps, "none", inner.pair_weight)
        adapted = set(model.adapted_names)
        phi = res.params
        res.params = [
            phi[i] if n in adapted else p
            for i, (n, p) in enumerate(zip(pm.names, pm.meta, strict=True))
        ]
        logits, loss = _query(pm, res, episode, grad=bool(fixed), pair_weight=0.0)
        wanted = [(n, p) for n, p in zip(pm.names, pm.meta, strict=True) if n in fixed]
        fixed_grads = (
            torch.autograd.grad(loss, [p for _, p in wanted], allow_unused=True) if wanted else ()
        )
    grads = {
        ENCODER_PREFIX + n: p.detach() - phi[i]
        for i, (n, p) in enumerate(zip(pm.names, pm.meta, strict=True))
        if n in adapted
    }
    for (n, _), g in zip(wanted, fixed_grads, strict=True):
        if g is not None:
            grads[ENCODER_PREFIX + n] = g
    out = TaskOutput(loss.detach(), logits.detach(), _before(pm, res, episode), res.support_loss)
    return ReptileOutput(grads, out)
