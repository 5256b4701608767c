"""MAML / FOMAML on one episode, the fine-tune baseline (``training=False``), learned inner lrs
and adaptation curves. Pure torch: the Lightning layer calls these per task.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import (
    LR,
    Adapted,
    InnerLoopConfig,
    Order,
    inner_loop,
    lr_key,
)
from lightning_meta.data.episode import Episode
from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier, head_logits
from lightning_meta.models.encoder import ensure_eager
from lightning_meta.models.features import EpisodeFeatures

__all__ = [
    "TaskOutput",
    "accuracy",
    "adaptation_curve",
    "inner_lr_map",
    "maml_task",
    "make_inner_lrs",
]


@dataclass
class TaskOutput:
    loss: Tensor  # query loss after adaptation (graph to the meta-params when training)
    logits: Tensor  # (N*Q, N) query logits after adaptation, detached
    loss_before: Tensor  # query loss before adaptation, detached (NaN when not computed)
    support_loss: Tensor  # last inner-step support loss, detached


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max logit is the label."""
    return float((logits.argmax(-1) == labels).float().mean())


def make_inner_lrs(model: EpisodicClassifier, inner: InnerLoopConfig) -> nn.ParameterDict:
    """One inner learning rate per adapted tensor plus the head (Meta-SGD with per-tensor lrs).

    Keys are parameter names with '.' replaced by '__' (``lr_key``), e.g. ``head__weight``.
    Trainable only when ``inner.learn_lr``.
    """
    names = [*model.adapted_names, HEAD_WEIGHT, HEAD_BIAS]
    return nn.ParameterDict(
        {
            lr_key(n): nn.Parameter(torch.tensor(float(inner.lr)), requires_grad=inner.learn_lr)
            for n in names
        }
    )


def inner_lr_map(
    model: EpisodicClassifier, inner: InnerLoopConfig, inner_lrs: nn.ParameterDict | None
) -> dict[str, LR]:
    """Step size per adapted name (and head entry): the learned tensor or ``inner.lr``."""
    names = [*model.adapted_names, HEAD_WEIGHT, HEAD_BIAS]
    if inner_lrs is None:
        return {n: float(inner.lr) for n in names}
    missing = [n for n in names if lr_key(n) not in inner_lrs]
    if missing:
        raise ValueError(
            f"inner_lrs: no learning rate for {missing[0]} (and {len(missing) - 1} more); "
            "build them with make_inner_lrs(model, inner) for this adapt setting"
        )
    return {n: inner_lrs[lr_key(n)] for n in names}


def _loss_before(feats: EpisodeFeatures, adapted: Adapted, episode: Episode) -> Tensor:
    """Query loss at the meta parameters with the initial head (no graph)."""
    with torch.no_grad():
        hq = feats.embed({}, "query")  # (Nq, H), module's own (meta) parameters
        logits = head_logits(hq, adapted.init_weight, adapted.init_bias)
        return F.cross_entropy(logits, episode.query.labels)


def maml_task(
    model: EpisodicClassifier,
    episode: Episode,
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    training: bool = True,
    steps: int | None = None,
    with_loss_before: bool = True,
) -> TaskOutput:
    """Adapt on the support set, score the query set.

    ``training=True``: the returned loss carries the graph for the outer backward
    (second-order unless ``inner.first_order``). ``training=False``: evaluation / fine-tune
    baseline: adapts with gradients (even under ``torch.no_grad``), builds no outer graph and
    returns everything detached. ``with_loss_before=False`` skips the extra query forward at the
    initialisation (``loss_before`` is then NaN).
    """
    steps = inner.steps if steps is None else steps
    if inner.backend == "higher":
        from lightning_meta.algorithms.higher_backend import higher_maml_task

        return higher_maml_task(
            model, episode, inner, inner_lrs, training=training, steps=steps,
            with_loss_before=with_loss_before,
        )  # fmt: skip
    order: Order = ("first" if inner.first_order else "second") if training else "none"
    if order == "second" and model.adapted_names:
        ensure_eager(model.encoder)
    lrs = inner_lr_map(model, inner, inner_lrs)
    support_grad = order == "second" or (order == "first" and model.head_init == "prototype")
    with torch.enable_grad():
        feats = model.features(episode, support_grad=support_grad, query_grad=order != "none")
        adapted = inner_loop(model, feats, episode.support.labels, episode.n_way, steps, lrs, order)
        with torch.set_grad_enabled(order != "none"):
            hq = feats.embed(adapted.params, "query")  # (Nq, H)
            logits = head_logits(hq, adapted.weight, adapted.bias)  # (Nq, N)
            loss = F.cross_entropy(logits, episode.query.labels)
    before = (
        _loss_before(feats, adapted, episode) if with_loss_before else loss.new_tensor(float("nan"))
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

        inner_loop(model, feats, episode.support.labels, episode.n_way, steps, lrs, "none", observe)
    return curve
