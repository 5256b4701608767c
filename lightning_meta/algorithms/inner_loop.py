"""The functional inner loop: plain SGD on the support loss over a ``dict[str, Tensor]``.

Nothing here mutates the model: parameters are read from ``model.adapted_params()`` and new
tensors are returned. Three modes (``Order``):

- ``"second"``: every step is ``p - lr * g`` with ``g`` computed with ``create_graph=True``, so the
  query loss differentiates through the whole unrolled loop (MAML).
- ``"first"``: inner gradients are computed on detached leaves (no graph through them), which
  are updated in place. The adapted parameters are returned as ``theta + (phi - theta).detach()``
  (``theta - lr * S`` with ``S = sum_k g_k`` when lrs are learned): the outer gradient w.r.t.
  ``theta`` is the query-loss gradient at the adapted parameters (FOMAML), learned ``lr`` get
  ``-<dL/dphi, S>``, and memory stays flat as steps grow.
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

from lightning_meta.algorithms.pair_loss import HeadLoss, with_pairs
from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier, head_logits
from lightning_meta.models.features import EpisodeFeatures

__all__ = [
    "Adapted",
    "HeadLoss",
    "InnerLoopConfig",
    "Order",
    "Support",
    "head_loss",
    "inner_loop",
    "lr_key",
    "run_inner_loop",
    "support_grads",
]

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
    pair_weight: float = 0.0
    """Weight of SetFit's cosine pair loss on the support embeddings, added to the head's
    cross-entropy (:mod:`~lightning_meta.algorithms.pair_loss`; 0: cross-entropy alone)."""


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


def head_loss(h: Tensor, weight: Tensor, bias: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of the linear head on (B, H) embeddings (the per-episode ``HeadLoss``)."""
    return F.cross_entropy(head_logits(h, weight, bias), labels)


def support_grads(
    h: Tensor,
    weight: Tensor,
    bias: Tensor,
    labels: Tensor,
    params: list[Tensor],
    create_graph: bool,
    retain_graph: bool = False,
    loss_fn: HeadLoss = head_loss,
) -> tuple[Tensor, list[Tensor], Tensor, Tensor]:
    """Support loss and its partial gradients w.r.t. ``params`` (through ``h``), W and b."""
    if not params:
        loss = loss_fn(h, weight, bias, labels)
        gw, gb = torch.autograd.grad(loss.sum(), (weight, bias), create_graph=create_graph)
        return loss, [], gw, gb
    h_in = h.view_as(h)  # alias: the head's own dependence on h is not part of dL/dh
    loss = loss_fn(h_in, weight, bias, labels)
    gh, gw, gb = torch.autograd.grad(loss.sum(), (h_in, weight, bias), create_graph=create_graph)
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


def _number(lr: LR) -> float:
    return float(lr.detach()) if isinstance(lr, Tensor) else float(lr)


def _trainable(lr: LR) -> bool:
    return isinstance(lr, Tensor) and lr.requires_grad


def _reattach(
    theta: dict[str, Tensor],
    w0: Tensor,
    b0: Tensor,
    phi: dict[str, Tensor],
    w: Tensor,
    b: Tensor,
    lrs: Mapping[str, LR],
    sums: dict[str, Tensor] | None,
    steps: int,
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """First-order result with a graph to the meta parameters (and the head init, the lrs).

    With learned lrs: ``theta - lr * S``; otherwise ``theta + (phi - theta).detach()``. Either
    way d(result)/d(theta) = I: the outer gradient is the query gradient at ``phi``.
    """
    if steps == 0:
        return dict(theta), w0, b0
    if sums is not None:
        params = {n: theta[n] - lrs[n] * sums[n] for n in theta}
        w_out = w0 - lrs[HEAD_WEIGHT] * sums[HEAD_WEIGHT]
        return params, w_out, b0 - lrs[HEAD_BIAS] * sums[HEAD_BIAS]
    with torch.no_grad():
        delta = {n: phi[n] - theta[n] for n in theta}
        dw, db = w - w0, b - b0
    return {n: theta[n] + delta[n] for n in theta}, w0 + dw, b0 + db


@dataclass(frozen=True)
class Support:
    """The support set(s) the loop adapts on: one episode's, or ``E`` stacked ones
    (:func:`~lightning_meta.algorithms.batched_loop.batched_inner_loop`, a leading ``E`` axis)."""

    labels: Tensor  # (Ns,)
    n_way: int
    embed: Callable[[dict[str, Tensor]], Tensor]  # params -> (Ns, H) pooled embeddings
    init_head: Callable[[Tensor, Tensor, int], tuple[Tensor, Tensor]]  # (h, labels, N) -> W0, b0
    loss: HeadLoss
    prototype: bool  # the head init reads the embeddings (its graph matters in "first")


def inner_loop(
    model: EpisodicClassifier,
    feats: EpisodeFeatures,
    labels: Tensor,
    n_way: int,
    steps: int,
    lrs: Mapping[str, LR],
    order: Order,
    observe: Observer | None = None,
    pair_weight: float = 0.0,
) -> Adapted:
    """Adapt ``model.adapted_params()`` and a fresh head on the support set; see module doc.

    ``lrs`` maps every adapted name plus ``head.weight``/``head.bias`` to a step size.
    ``observe(k, params, W, b)`` (detached values) runs after the head init (k=0) and each step.
    ``pair_weight``: the support loss adds SetFit's cosine pair loss with this weight.
    """
    theta = feats.inner_params(model.adapted_params())  # graph to the meta parameters
    support = Support(
        labels, n_way, lambda p: feats.embed(p, "support"), model.init_head,
        with_pairs(head_loss, pair_weight), model.head_init == "prototype",
    )  # fmt: skip
    return run_inner_loop(theta, support, steps, lrs, order, observe)


def run_inner_loop(
    theta: dict[str, Tensor],
    support: Support,
    steps: int,
    lrs: Mapping[str, LR],
    order: Order,
    observe: Observer | None = None,
) -> Adapted:
    """The loop of :func:`inner_loop`, from the meta tensors ``theta`` (graph to the meta
    parameters) on ``support`` (shared with the batched loop)."""
    labels = support.labels
    names = list(theta)
    keys = [*names, HEAD_WEIGHT, HEAD_BIAS]
    second = order == "second"
    # Step 0 runs on the meta parameters themselves when the head init needs their graph.
    head_graph = second or (order == "first" and support.prototype)
    cur = dict(theta) if head_graph else {n: _leaf(t) for n, t in theta.items()}
    h = support.embed(cur)  # (Ns, H)
    w0, b0 = support.init_head(h, labels, support.n_way)  # (N, H), (N,)
    if second:
        w = w0 if w0.requires_grad else _leaf(w0)
        b = b0 if b0.requires_grad else _leaf(b0)
    else:
        w, b = _leaf(w0), _leaf(b0)
    if order == "none":
        w0, b0 = w0.detach(), b0.detach()
    # first / none: detached working copies, updated in place from step 1 on (one pass per
    # tensor per step); sum_k g_k is kept only when a learned lr needs it for its gradient.
    learn = order == "first" and any(_trainable(lrs[n]) for n in keys)
    step_size = {} if second else {n: _number(lrs[n]) for n in keys}
    sums: dict[str, Tensor] = {}
    owned = False  # True once cur/w/b are our own copies (never the model's storage)
    if observe is not None:
        observe(0, {n: t.detach() for n, t in cur.items()}, w.detach(), b.detach())
    loss = None
    for k in range(steps):
        if k > 0:
            h = support.embed(cur)  # (Ns, H)
        retain = head_graph and not second and k == 0  # h's graph feeds the outer grad of W0
        loss, gp, gw, gb = support_grads(
            h, w, b, labels, [cur[n] for n in names], second, retain, support.loss
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
            # free this step's gradients before the next support pass allocates its own:
            # otherwise two gradient sets are alive at the peak once there are 2+ steps
            del params, grads, gp, gw, gb
        if observe is not None:
            observe(k + 1, {n: t.detach() for n, t in cur.items()}, w.detach(), b.detach())
    if loss is None:  # zero steps: report the support loss at the initialisation
        with torch.no_grad():
            loss = support.loss(h, w, b, labels)
    if order == "first":
        cur, w, b = _reattach(theta, w0, b0, cur, w, b, lrs, sums if learn else None, steps)
    elif order == "none":
        cur = {n: t.detach() for n, t in cur.items()}
        w, b = w.detach(), b.detach()
    return Adapted(cur, w, b, w0, b0, loss.detach())
