"""Reptile (Nichol et al. 2018) on one episode, as a gradient dictionary for any optimizer.

The inner loop is always first-order (nothing is differentiated through it). The returned
``grads`` are keyed like ``model.named_parameters()``:

- adapted parameters: ``theta - phi`` (initial minus adapted). Plain SGD with learning rate
  ``eps`` on this "gradient" gives ``theta + eps * (phi - theta)``, the Reptile update; with one
  inner step of size ``alpha`` it equals SGD with lr ``eps * alpha`` on the support loss.
- parameters held fixed in the inner loop (the bottom of a ``top<k>`` / ``head`` setting): the
  first-order gradient of the final query loss at ``phi``, with the adapted head treated as a
  constant. Reptile has no update for them (they never move in the inner loop), yet they must
  be meta-learned; the query gradient at the adapted point is the FOMAML choice for them.
- parameters that do not reach the output (BERT's pooler) and frozen ones are omitted.

Learned inner lrs are used as step sizes but receive no gradient from Reptile.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import InnerLoopConfig, inner_loop
from lightning_meta.algorithms.types import (
    ENCODER_PREFIX,
    ReptileOutput,
    TaskOutput,
    inner_lr_map,
    loss_before,
)
from lightning_meta.data.episode import Episode
from lightning_meta.models.classifier import EpisodicClassifier, head_logits

__all__ = ["reptile_task"]


def reptile_task(
    model: EpisodicClassifier,
    episode: Episode,
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    steps: int | None = None,
    with_loss_before: bool = True,
) -> ReptileOutput:
    """Adapt on the support set (first-order), return the Reptile direction and query scores."""
    steps = inner.steps if steps is None else steps
    if inner.backend == "higher":
        from lightning_meta.algorithms.higher_backend import higher_reptile_task

        return higher_reptile_task(model, episode, inner, inner_lrs, steps=steps)
    lrs = inner_lr_map(model, inner, inner_lrs)
    fixed = dict(model.encoder.named_parameters())
    fixed = {n: fixed[n] for n in model.fixed_names}
    with torch.enable_grad():
        feats = model.features(episode, support_grad=False, query_grad=bool(fixed))
        adapted = inner_loop(
            model, feats, episode.support.labels, episode.n_way, steps, lrs, "none",
            pair_weight=inner.pair_weight,
        )  # fmt: skip
        with torch.set_grad_enabled(bool(fixed)):
            hq = feats.embed(adapted.params, "query")  # (Nq, H), phi detached
            logits = head_logits(hq, adapted.weight, adapted.bias)  # (Nq, N)
            loss = F.cross_entropy(logits, episode.query.labels)
        fixed_grads = (
            torch.autograd.grad(loss, list(fixed.values()), allow_unused=True) if fixed else ()
        )
    theta = feats.inner_params(model.adapted_params())
    grads = {
        ENCODER_PREFIX + n: feats.to_full(n, theta[n].detach() - phi)
        for n, phi in adapted.params.items()
    }
    for n, g in zip(fixed, fixed_grads, strict=True):
        if g is not None:
            grads[ENCODER_PREFIX + n] = g
    before = (
        loss_before(feats, adapted, episode) if with_loss_before else loss.new_tensor(float("nan"))
    )
    out = TaskOutput(loss.detach(), logits.detach(), before, adapted.support_loss)
    return ReptileOutput(grads, out)
