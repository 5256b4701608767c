"""MAML / FOMAML on one episode, the fine-tune baseline (``training=False``), learned inner lrs
and adaptation curves. Pure torch: the Lightning layer calls these per task.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import InnerLoopConfig, Order, inner_loop
from lightning_meta.algorithms.pair_loss import with_query_pairs
from lightning_meta.algorithms.types import (
    TaskOutput,
    accuracy,
    inner_lr_map,
    loss_before,
)
from lightning_meta.data.episode import Episode
from lightning_meta.models.classifier import EpisodicClassifier, head_logits
from lightning_meta.models.encoder import ensure_eager

__all__ = ["adaptation_curve", "maml_task"]


def maml_task(
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
    """Adapt on the support set, score the query set.

    ``training=True``: the returned loss carries the graph for the outer backward
    (second-order unless ``inner.first_order``). ``training=False``: evaluation / fine-tune
    baseline: adapts with gradients (even under ``torch.no_grad``), builds no outer graph and
    returns everything detached. ``with_loss_before=False`` skips the extra query forward at the
    initialisation (``loss_before`` is then NaN). ``query_pair_weight`` W (training only): the
    returned loss is the query cross-entropy + W * SetFit's cosine pair loss over the adapted
    query embeddings (:func:`~lightning_meta.algorithms.pair_loss.with_query_pairs`).
    """
    steps = inner.steps if steps is None else steps
    if inner.backend == "higher":
        from lightning_meta.algorithms.higher_backend import higher_maml_task

        return higher_maml_task(
            model, episode, inner, inner_lrs, training=training, steps=steps,
            with_loss_before=with_loss_before, query_pair_weight=query_pair_weight,
        )  # fmt: skip
    order: Order = ("first" if inner.first_order else "second") if training else "none"
    if order == "second" and model.adapted_names:
        ensure_eager(model.encoder)
    lrs = inner_lr_map(model, inner, inner_lrs)
    support_grad = order == "second" or (order == "first" and model.head_init == "prototype")
    with torch.enable_grad():
        feats = model.features(episode, support_grad=support_grad, query_grad=order != "none")
        adapted = inner_loop(
            model, feats, episode.support.labels, episode.n_way, steps, lrs, order,
            pair_weight=inner.pair_weight,
        )  # fmt: skip
        with torch.set_grad_enabled(order != "none"):
            hq = feats.embed(adapted.params, "query")  # (Nq, H)
            logits = head_logits(hq, adapted.weight, adapted.bias)  # (Nq, N)
            loss = F.cross_entropy(logits, episode.query.labels)
            w_pairs = query_pair_weight if training else 0.0
            loss = with_query_pairs(loss, hq, episode.query.labels, w_pairs)
    before = (
        loss_before(feats, adapted, episode) if with_loss_before else loss.new_tensor(float("nan"))
    )
    return TaskOutput(
        loss=loss if training else loss.detach(),
        logits=logits.detach(),
        loss_before=before,
        support_loss=adapted.support_loss,
    )


def adaptation_curve(
    model: EpisodicClassifier,
    episode: Episode,
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    max_steps: int | None = None,
) -> list[float]:
    """Query accuracy after 0, 1, ..., K inner steps (evaluation mode, no outer graph)."""
    steps = inner.steps if max_steps is None else max_steps
    lrs = inner_lr_map(model, inner, inner_lrs)
    curve: list[float] = []
    with torch.enable_grad():
        feats = model.features(episode, support_grad=False, query_grad=False)

        def observe(k: int, params: dict[str, Tensor], w: Tensor, b: Tensor) -> None:
            with torch.no_grad():
                logits = head_logits(feats.embed(params, "query"), w, b)
            curve.append(accuracy(logits, episode.query.labels))

        inner_loop(
            model, feats, episode.support.labels, episode.n_way, steps, lrs, "none", observe,
            inner.pair_weight,
        )  # fmt: skip
    return curve
