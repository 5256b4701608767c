"""MAML / FOMAML / Reptile / fine-tuning on several episodes at once.

The per-task functions (:func:`~lightning_meta.algorithms.maml.maml_task`,
:func:`~lightning_meta.algorithms.reptile.reptile_task`) run the fixed bottom once per episode
and the inner loop episode by episode, on padded rows. Here, for a meta-batch (or a chunk of
evaluation episodes) whose shapes agree:

- the bottom of every row of every episode is ONE packed call
  (:meth:`~lightning_meta.models.packed_features.PackedFeatures.from_episodes`), or comes from
  the evaluation feature cache;
- the top-layer inner loops of all episodes run together on stacked parameters
  (:func:`~lightning_meta.algorithms.batched_loop.batched_inner_loop`), on real tokens only.

Results equal the per-task path up to floating-point rounding (tests: meta-gradients within
1e-6 in float64 for FOMAML, second-order MAML, Reptile, the pair terms). :func:`batchable`: when the
path applies (``func`` backend, a BERT-like or MPNet encoder whose bottom is cached, i.e. not
``adapt: all``, and layers :func:`~lightning_meta.models.packed.packable` accepts); otherwise
callers keep the per-task functions. A meta-batch of mixed shapes (task families):
:mod:`~lightning_meta.algorithms.grouped` runs one batched call per shape group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from lightning_meta.algorithms.batched_loop import (
    BatchedAdapted,
    BatchedFeatures,
    batched_ce,
    batched_inner_loop,
    batched_logits,
)
from lightning_meta.algorithms.inner_loop import InnerLoopConfig, Order
from lightning_meta.algorithms.pair_loss import with_query_pairs
from lightning_meta.algorithms.types import ENCODER_PREFIX, TaskOutput, inner_lr_map
from lightning_meta.data.episode import Episode
from lightning_meta.models.classifier import EpisodicClassifier
from lightning_meta.models.encoder import ensure_eager
from lightning_meta.models.packed import packable
from lightning_meta.models.packed_features import PackedFeatures, same_shape

__all__ = [
    "AdaptPlan",
    "CentroidPlan",
    "EvaluationPlan",
    "batchable",
    "batched_maml_tasks",
    "batched_reptile",
    "loss_before_batched",
    "score_features",
    "task_outputs",
]


@dataclass(frozen=True)
class AdaptPlan:
    """An ``evaluate_episode`` that is ``maml_task(model, ep, inner, inner_lrs,
    training=False, steps=steps)`` (MAML, FOMAML, Reptile and FineTune modules)."""

    model: EpisodicClassifier
    inner: InnerLoopConfig
    inner_lrs: nn.ParameterDict | None
    steps: int


@dataclass(frozen=True)
class CentroidPlan:
    """An ``evaluate_episode`` that is ``protonet_task(model, ep, distance, training=False)``."""

    model: EpisodicClassifier
    distance: Literal["euclidean", "cosine"]


EvaluationPlan = AdaptPlan | CentroidPlan
"""What a module's ``evaluate_episode`` computes, as data: the batched and cached evaluation
(:mod:`lightning_meta.evaluation.cached_scoring`) reproduces it without calling it."""


def batchable(
    model: EpisodicClassifier, inner: InnerLoopConfig, episodes: Sequence[Episode]
) -> bool:
    """True when the batched path computes these episodes (else use the per-task functions)."""
    return (
        inner.backend == "func"
        and model.cache_start is not None
        and len(episodes) > 0
        and same_shape(episodes)
        and packable(model.encoder, 0)
    )


def _labels(episodes: Sequence[Episode], split: str) -> Tensor:
    return torch.stack([getattr(ep, split).labels for ep in episodes])  # (E, B)


def score_features(
    model: EpisodicClassifier,
    feats: BatchedFeatures,
    episodes: Sequence[Episode],
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None,
    order: Order,
    steps: int,
    query_pair_weight: float = 0.0,
) -> tuple[Tensor, Tensor, BatchedAdapted]:
    """Adapt on the support sets, score the queries: ((E,) query losses with the graph
    ``order`` asks for, plus ``query_pair_weight`` * the pair loss of the query embeddings;
    (E, Nq, N) logits, the adapted state)."""
    lrs = inner_lr_map(model, inner, inner_lrs)
    n_way = episodes[0].n_way
    adapted = batched_inner_loop(
        model, feats, _labels(episodes, "support"), n_way, steps, lrs, order, inner.pair_weight
    )
    query = _labels(episodes, "query")
    with torch.set_grad_enabled(order != "none" and torch.is_grad_enabled()):
        hq = feats.embed(adapted.params, "query")  # (E, Nq, H)
        logits = batched_logits(hq, adapted.weight, adapted.bias)  # (E, Nq, N)
        loss = with_query_pairs(batched_ce(logits, query), hq, query, query_pair_weight)  # (E,)
    return loss, logits, adapted


def loss_before_batched(
    feats: BatchedFeatures, adapted: BatchedAdapted, episodes: Sequence[Episode], hq0: Tensor | None
) -> Tensor:
    """(E,) query losses at the meta parameters with the initial heads (no graph); ``hq0``:
    the (E, Nq, H) query embeddings there when known (a cache), else computed."""
    with torch.no_grad():
        hq = feats.embed({}, "query") if hq0 is None else hq0  # (E, Nq, H)
        logits = batched_logits(hq, adapted.init_weight.detach(), adapted.init_bias.detach())
        return batched_ce(logits, _labels(episodes, "query"))


def task_outputs(
    loss: Tensor, logits: Tensor, before: Tensor, adapted: BatchedAdapted, training: bool
) -> list[TaskOutput]:
    """One :class:`TaskOutput` per episode (losses keep their graph when ``training``)."""
    return [
        TaskOutput(
            loss=loss[e] if training else loss[e].detach(),
            logits=logits[e].detach(),
            loss_before=before[e],
            support_loss=adapted.support_loss[e],
        )
        for e in range(loss.shape[0])
    ]


def batched_maml_tasks(
    model: EpisodicClassifier,
    episodes: Sequence[Episode],
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    training: bool = True,
    steps: int | None = None,
    with_loss_before: bool = True,
    query_pair_weight: float = 0.0,
) -> list[TaskOutput]:
    """``[maml_task(model, ep, ...) for ep in episodes]`` in one batched computation.

    Requires :func:`batchable`. ``training=True``: each task's loss carries the graph for the
    outer backward (second-order unless ``inner.first_order``).
    """
    steps = inner.steps if steps is None else steps
    order: Order = ("first" if inner.first_order else "second") if training else "none"
    if order == "second" and model.adapted_names:
        ensure_eager(model.encoder)  # as maml_task does: the module stays interchangeable
    support_grad = order == "second" or (order == "first" and model.head_init == "prototype")
    assert model.cache_start is not None
    with torch.enable_grad():
        feats = PackedFeatures.from_episodes(
            model.encoder, model.cache_start, episodes, model.pooling,
            support_grad=support_grad, query_grad=order != "none",
        )  # fmt: skip
        loss, logits, adapted = score_features(
            model, feats, episodes, inner, inner_lrs, order, steps,
            query_pair_weight if training else 0.0,
        )  # fmt: skip
    before = (
        loss_before_batched(feats, adapted, episodes, None)
        if with_loss_before
        else loss.new_full(loss.shape, float("nan"))
    )
    return task_outputs(loss, logits, before, adapted, training)


def batched_reptile(
    model: EpisodicClassifier,
    episodes: Sequence[Episode],
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    steps: int | None = None,
    with_loss_before: bool = True,
) -> tuple[dict[str, Tensor], list[TaskOutput]]:
    """Mean Reptile direction over the episodes (keyed like ``model.named_parameters()``, as
    the mean of :func:`~lightning_meta.algorithms.reptile.reptile_task`'s ``grads``) and the
    per-task outputs. Requires :func:`batchable`."""
    steps = inner.steps if steps is None else steps
    named = dict(model.encoder.named_parameters())
    fixed = {n: named[n] for n in model.fixed_names}
    assert model.cache_start is not None
    with torch.enable_grad():
        feats = PackedFeatures.from_episodes(
            model.encoder, model.cache_start, episodes, model.pooling,
            support_grad=False, query_grad=bool(fixed),
        )  # fmt: skip
        lrs = inner_lr_map(model, inner, inner_lrs)
        support = _labels(episodes, "support")
        adapted = batched_inner_loop(
            model, feats, support, episodes[0].n_way, steps, lrs, "none", inner.pair_weight
        )
        with torch.set_grad_enabled(bool(fixed)):
            hq = feats.embed(adapted.params, "query")  # (E, Nq, H), phi detached
            logits = batched_logits(hq, adapted.weight, adapted.bias)
            loss = batched_ce(logits, _labels(episodes, "query"))  # (E,)
        fixed_grads = (
            torch.autograd.grad(loss.mean(), list(fixed.values()), allow_unused=True)
            if fixed
            else ()
        )
    theta = model.adapted_params()
    grads = {
        ENCODER_PREFIX + n: theta[n].detach() - phi.mean(0) for n, phi in adapted.params.items()
    }
    for n, g in zip(fixed, fixed_grads, strict=True):
        if g is not None:
            grads[ENCODER_PREFIX + n] = g
    before = (
        loss_before_batched(feats, adapted, episodes, None)
        if with_loss_before
        else loss.new_full(loss.shape, float("nan"))
    )
    return grads, task_outputs(loss.detach(), logits, before, adapted, training=False)
