"""The functional inner loop for ``E`` episodes at once (same shapes), on stacked parameters.

Exactly :func:`~lightning_meta.algorithms.inner_loop.inner_loop` (same three orders, same head
initialisations, same learned-lr handling) with every tensor carrying a leading episode axis:
adapted tensors ``(E, ...)``, heads ``(E, N, H)`` / ``(E, N)``, labels ``(E, B)``. The episodes
never interact: the loss whose gradient drives the step is the SUM of the per-episode mean
losses, so each episode's slice of the gradient is its own.

All episodes start from the same meta parameters ``theta``: the inner variables are
``theta`` expanded to ``(E, ...)`` (a view; the gradient w.r.t. the expanded tensor is
per-episode, and the outer gradient of ``theta`` sums over the episodes as it should).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import LR, Order, _leaf, _number, _reattach, _trainable
from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier, head_logits

__all__ = [
    "BatchedAdapted",
    "BatchedFeatures",
    "batched_ce",
    "batched_inner_loop",
    "batched_logits",
]


class BatchedFeatures(Protocol):
    """``E`` episodes' pooled embeddings as a function of (shared or (E, ...)) parameters."""

    @property
    def episodes(self) -> int: ...

    def embed(self, params: Mapping[str, Tensor], split: Literal["support", "query"]) -> Tensor:
        """(E, B, H) pooled embeddings of the support or query rows."""
        ...


@dataclass
class BatchedAdapted:
    params: dict[str, Tensor]  # (E, ...) adapted encoder tensors (encoder-relative names)
    weight: Tensor  # (E, N, H)
    bias: Tensor  # (E, N)
    init_weight: Tensor  # (E, N, H) head before the loop
    init_bias: Tensor  # (E, N)
    support_loss: Tensor  # (E,) last inner-step support loss, detached


def batched_logits(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """(E, B, H) embeddings, (E, N, H) / (E, N) heads -> (E, B, N) logits (``head_logits``
    per episode: the same kernels, and rounding, as one episode alone)."""
    return torch.stack(
        [head_logits(*a) for a in zip(h.unbind(0), weight.unbind(0), bias.unbind(0), strict=True)]
    )


def batched_ce(logits: Tensor, labels: Tensor) -> Tensor:
    """(E, B, N) logits, (E, B) labels -> (E,) per-episode mean cross-entropy."""
    return torch.stack(
        [F.cross_entropy(x, y) for x, y in zip(logits.unbind(0), labels.unbind(0), strict=True)]
    )


def _init_head(
    model: EpisodicClassifier, h: Tensor, labels: Tensor, n_way: int
) -> tuple[Tensor, Tensor]:
    """Per-episode heads from (E, B, H) support embeddings (``EpisodicClassifier.init_head``)."""
    heads = [
        model.init_head(he, le, n_way) for he, le in zip(h.unbind(0), labels.unbind(0), strict=True)
    ]
    return torch.stack([w for w, _ in heads]), torch.stack([b for _, b in heads])


def _support_grads(
    h: Tensor, w: Tensor, b: Tensor, labels: Tensor, params: list[Tensor], create_graph: bool,
    retain_graph: bool,
) -> tuple[Tensor, list[Tensor], Tensor, Tensor]:  # fmt: skip
    """Per-episode support losses (E,) and their partial gradients (see ``support_grads``)."""
    if not params:
        loss = batched_ce(batched_logits(h, w, b), labels)
        gw, gb = torch.autograd.grad(loss.sum(), (w, b), create_graph=create_graph)
        return loss, [], gw, gb
    h_in = h.view_as(h)  # alias: the head's own dependence on h is not part of dL/dh
    loss = batched_ce(batched_logits(h_in, w, b), labels)
    gh, gw, gb = torch.autograd.grad(loss.sum(), (h_in, w, b), create_graph=create_graph)
    gp = torch.autograd.grad(
        h, params, grad_outputs=gh, create_graph=create_graph,
        retain_graph=retain_graph or create_graph, allow_unused=True, materialize_grads=True,
    )  # fmt: skip
    return loss, list(gp), gw, gb


def batched_inner_loop(
    model: EpisodicClassifier,
    feats: BatchedFeatures,
    labels: Tensor,
    n_way: int,
    steps: int,
    lrs: Mapping[str, LR],
    order: Order,
) -> BatchedAdapted:
    """Adapt ``model.adapted_params()`` and fresh heads on ``E`` support sets; ``labels`` (E, B)."""
    E = feats.episodes
    theta = {n: t.unsqueeze(0).expand(E, *t.shape) for n, t in model.adapted_params().items()}
    names = list(theta)
    keys = [*names, HEAD_WEIGHT, HEAD_BIAS]
    second = order == "second"
    head_graph = second or (order == "first" and model.head_init == "prototype")
    cur = dict(theta) if head_graph else {n: _leaf(t) for n, t in theta.items()}
    h = feats.embed(cur, "support")  # (E, Ns, H)
    w0, b0 = _init_head(model, h, labels, n_way)  # (E, N, H), (E, N)
    if second:
        w = w0 if w0.requires_grad else _leaf(w0)
        b = b0 if b0.requires_grad else _leaf(b0)
    else:
        w, b = _leaf(w0), _leaf(b0)
    if order == "none":
        w0, b0 = w0.detach(), b0.detach()
    learn = order == "first" and any(_trainable(lrs[n]) for n in keys)
    step_size = {} if second else {n: _number(lrs[n]) for n in keys}
    sums: dict[str, Tensor] = {}
    owned = False
    loss = None
    for k in range(steps):
        if k > 0:
            h = feats.embed(cur, "support")
        retain = head_graph and not second and k == 0
        loss, gp, gw, gb = _support_grads(
            h, w, b, labels, [cur[n] for n in names], create_graph=second, retain_graph=retain
        )
        grads = dict(zip(keys, [*gp, gw, gb], strict=True))
        if second:
            cur = {n: cur[n] - lrs[n] * grads[n] for n in names}
            w, b = w - lrs[HEAD_WEIGHT] * gw, b - lrs[HEAD_BIAS] * gb
        else:
            params = {**cur, HEAD_WEIGHT: w, HEAD_BIAS: b}
            with torch.no_grad():
                if owned:
                    for n in keys:
                        params[n].sub_(grads[n], alpha=step_size[n])
                else:
                    params = {n: _leaf(params[n].sub(grads[n], alpha=step_size[n])) for n in keys}
                    owned = True
                for n in keys if learn else ():
                    sums[n] = sums[n].add_(grads[n]) if n in sums else grads[n]
            cur = {n: params[n] for n in names}
            w, b = params[HEAD_WEIGHT], params[HEAD_BIAS]
            del params, grads, gp, gw, gb
    if loss is None:
        with torch.no_grad():
            loss = batched_ce(batched_logits(h, w, b), labels)
    if order == "first":
        cur, w, b = _reattach(theta, w0, b0, cur, w, b, lrs, sums if learn else None, steps)
    elif order == "none":
        cur = {n: t.detach() for n, t in cur.items()}
        w, b = w.detach(), b.detach()
    return BatchedAdapted(cur, w, b, w0, b0, loss.detach())
