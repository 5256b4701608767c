"""The functional inner loop: plain SGD on the support loss over a ``dict[str, Tensor]``.

Nothing here mutates the model: parameters are read from ``model.adapted_params()`` and new
tensors are returned. Three modes (``Order``):

- ``"second"``: every step is ``p - lr * g`` with ``g`` computed with ``create_graph=True``, so the
  query loss differentiates through the whole unrolled loop (MAML).
- ``"first"``: inner gradients are computed on detached leaves (no graph through them). Steps
  accumulate ``S = sum_k g_k`` and the adapted parameters are returned as ``theta - lr * S``:
  the outer gradient w.r.t. ``theta`` is the query-loss gradient at the adapted parameters
  (FOMAML), learned ``lr`` get ``-<dL/dphi, S>``, and memory stays flat as steps grow.
- ``"none"``: evaluation / fine-tuning: like ``first`` but everything returned is detached.

The support loss gradient is the partial derivative w.r.t. the independent variables (adapted
encoder tensors, ``head.weight``, ``head.bias``). The prototype head is computed from the same
support embeddings as step 0; to keep its path out of ``dL/dtheta`` the logits read an alias
``h.view_as(h)``: ``dL/dh`` is taken at the alias, then pushed through the encoder with one
vector-Jacobian product.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier, head_logits
from lightning_meta.models.features import EpisodeFeatures

__all__ = ["Adapted", "InnerLoopConfig", "Order", "inner_loop", "lr_key", "support_grads"]

Order = Literal["second", "first", "none"]
LR = float | Tensor
Observer = Callable[[int, dict[str, Tensor], Tensor, Tensor], None]


@dataclass
class InnerLoopConfig:
    """Inner-loop settings shared by MAML, FOMAML, Reptile and the fine-tune baseline."""

    steps: int = 5
    """SGD steps on the support set per episode."""
    lr: float = 1e-2
    """Inner learning rate (initial value when ``learn_lr``)."""
    first_order: bool = False
    """Drop second-order terms: no graph through the inner gradients (FOMAML)."""
    learn_lr: bool = False
    """Meta-learn one inner learning rate per adapted tensor (Meta-SGD style)."""
    backend: Literal["func", "higher"] = "func"
    """``func``: torch.func.functional_call with bottom caching; ``higher``: the reference."""


@dataclass
class Adapted:
    params: dict[str, Tensor]  # adapted encoder tensors after the loop (encoder-relative names)
    weight: Tensor  # (N, H) head after the loop
    bias: Tensor  # (N,)
    init_weight: Tensor  # (N, H) head before the loop (graph to the encoder unless "none")
    init_bias: Tensor  # (N,)
    support_loss: Tensor  # last inner-step support loss, detached


def lr_key(name: str) -> str:
    """ParameterDict-safe key of a parameter name ('.' is not allowed in module keys)."""
    return name.replace(".", "__")


def support_grads(
    h: Tensor,
    weight: Tensor,
    bias: Tensor,
    labels: Tensor,
    params: list[Tensor],
    create_graph: bool,
    retain_graph: bool = False,
) -> tuple[Tensor, list[Tensor], Tensor, Tensor]:
    """Support loss and its partial gradients w.r.t. ``params`` (through ``h``), W and b."""
    if not params:
        loss = F.cross_entropy(head_logits(h, weight, bias), labels)
        gw, gb = torch.autograd.grad(loss, (weight, bias), create_graph=create_graph)
        return loss, [], gw, gb
    h_in = h.view_as(h)  # alias: the head's own dependence on h is not part of dL/dh
    loss = F.cross_entropy(head_logits(h_in, weight, bias), labels)
    gh, gw, gb = torch.autograd.grad(loss, (h_in, weight, bias), create_graph=create_graph)
    gp = torch.autograd.grad(
        h,
        params,
        grad_outputs=gh,
        create_graph=create_graph,
        retain_graph=retain_graph or create_graph,
        allow_unused=True,
        materialize_grads=True,
    )
    return loss, list(gp), gw, gb


def _leaf(t: Tensor) -> Tensor:
    return t.detach().requires_grad_(True)


def _value(lr: LR) -> LR:
    return lr.detach() if isinstance(lr, Tensor) else lr


def inner_loop(
    model: EpisodicClassifier,
    feats: EpisodeFeatures,
    labels: Tensor,
    n_way: int,
    steps: int,
    lrs: Mapping[str, LR],
    order: Order,
    observe: Observer | None = None,
) -> Adapted:
    """Adapt ``model.adapted_params()`` and a fresh head on the support set; see module doc.

    ``lrs`` maps every adapted name plus ``head.weight``/``head.bias`` to a step size.
    ``observe(k, params, W, b)`` (detached values) runs after the head init (k=0) and each step.
    """
    theta = model.adapted_params()
    names = list(theta)
    second = order == "second"
    # Step 0 runs on the meta parameters themselves when the head init needs their graph.
    head_graph = second or (order == "first" and model.head_init == "prototype")
    cur = dict(theta) if head_graph else {n: _leaf(t) for n, t in theta.items()}
    h = feats.embed(cur, "support")  # (Ns, H)
    w0, b0 = model.init_head(h, labels, n_way)  # (N, H), (N,)
    if second:
        w = w0 if w0.requires_grad else _leaf(w0)
        b = b0 if b0.requires_grad else _leaf(b0)
    else:
        w, b = _leaf(w0), _leaf(b0)
    if order == "none":
        w0, b0 = w0.detach(), b0.detach()
    lr_val = {n: _value(lrs[n]) for n in [*names, HEAD_WEIGHT, HEAD_BIAS]}
    sums: dict[str, Tensor] = {}
    base = {n: t.detach() for n, t in theta.items()}
    if observe is not None:
        observe(0, {n: t.detach() for n, t in cur.items()}, w.detach(), b.detach())
    loss = None
    for k in range(steps):
        if k > 0:
            h = feats.embed(cur, "support")  # (Ns, H)
        retain = head_graph and not second and k == 0  # h's graph feeds the outer grad of W0
        loss, gp, gw, gb = support_grads(
            h, w, b, labels, [cur[n] for n in names], create_graph=second, retain_graph=retain
        )
        if second:
            cur = {n: cur[n] - lrs[n] * g for n, g in zip(names, gp, strict=True)}
            w, b = w - lrs[HEAD_WEIGHT] * gw, b - lrs[HEAD_BIAS] * gb
        else:
            for n, g in zip([*names, HEAD_WEIGHT, HEAD_BIAS], [*gp, gw, gb], strict=True):
                sums[n] = g if n not in sums else sums[n] + g
            cur = {n: _leaf(base[n] - lr_val[n] * sums[n]) for n in names}
            w = _leaf(w0.detach() - lr_val[HEAD_WEIGHT] * sums[HEAD_WEIGHT])
            b = _leaf(b0.detach() - lr_val[HEAD_BIAS] * sums[HEAD_BIAS])
        if observe is not None:
            observe(k + 1, {n: t.detach() for n, t in cur.items()}, w.detach(), b.detach())
    if loss is None:  # zero steps: report the support loss at the initialisation
        with torch.no_grad():
            loss = F.cross_entropy(head_logits(h, w, b), labels)
    if order == "first" and steps > 0:  # reattach: theta - lr * S (graph to theta and lr)
        cur = {n: theta[n] - lrs[n] * sums[n] for n in names}
        w = w0 - lrs[HEAD_WEIGHT] * sums[HEAD_WEIGHT]
        b = b0 - lrs[HEAD_BIAS] * sums[HEAD_BIAS]
    elif order == "first":
        cur, w, b = dict(theta), w0, b0
    elif order == "none":
        cur = {n: t.detach() for n, t in cur.items()}
        w, b = w.detach(), b.detach()
    return Adapted(cur, w, b, w0, b0, loss.detach())
