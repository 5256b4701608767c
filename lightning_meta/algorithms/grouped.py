"""Meta-batches of mixed episode shapes (task families): one batched call per same-shape group.

:func:`grouped_maml_tasks` / :func:`grouped_reptile` split a meta-batch by shape
(:func:`shape_groups`), run each group through :mod:`~lightning_meta.algorithms.batched` where
:func:`~lightning_meta.algorithms.batched.batchable` accepts it and task by task otherwise, and
return the results in task order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lightning_meta.algorithms.batched import batchable, batched_maml_tasks, batched_reptile
from lightning_meta.algorithms.inner_loop import InnerLoopConfig
from lightning_meta.algorithms.maml import maml_task
from lightning_meta.algorithms.reptile import reptile_task
from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.models.classifier import EpisodicClassifier

__all__ = ["grouped_maml_tasks", "grouped_reptile", "shape_groups"]


def shape_groups(episodes: Sequence[Episode]) -> list[list[int]]:
    """Indices of the episodes grouped by shape (``n_way``, support rows, query rows), groups in
    order of first appearance: each group can take the batched path."""
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, ep in enumerate(episodes):
        groups.setdefault((ep.n_way, len(ep.support), len(ep.query)), []).append(i)
    return list(groups.values())


def grouped_maml_tasks(
    model: EpisodicClassifier,
    episodes: Sequence[Episode],
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
    *,
    training: bool = True,
    query_pair_weight: float = 0.0,
) -> list[TaskOutput]:
    """``[maml_task(model, ep, ...) for ep in episodes]``, in that order, for a meta-batch of
    mixed shapes: one :func:`batched_maml_tasks` per same-shape group where :func:`batchable`,
    else task by task."""
    outs: dict[int, TaskOutput] = {}
    for idx in shape_groups(episodes):
        group = [episodes[i] for i in idx]
        if batchable(model, inner, group):
            done = batched_maml_tasks(
                model,
                group,
                inner,
                inner_lrs,
                training=training,
                query_pair_weight=query_pair_weight,
            )
        else:
            done = [maml_task(model, ep, inner, inner_lrs, training=training,
                              query_pair_weight=query_pair_weight) for ep in group]  # fmt: skip
        outs.update(zip(idx, done, strict=True))
    return [outs[i] for i in range(len(episodes))]


def grouped_reptile(
    model: EpisodicClassifier,
    episodes: Sequence[Episode],
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None = None,
) -> tuple[dict[str, Tensor], list[TaskOutput]]:
    """:func:`batched_reptile` for a meta-batch of mixed shapes: the mean Reptile direction over
    all episodes (each same-shape group's mean weighted by its size) and the per-task outputs in
    episode order; groups :func:`batchable` rejects run task by task (:func:`reptile_task`)."""
    grads: dict[str, Tensor] = {}
    outs: dict[int, TaskOutput] = {}
    for idx in shape_groups(episodes):
        group = [episodes[i] for i in idx]
        if batchable(model, inner, group):
            mean, done = batched_reptile(model, group, inner, inner_lrs)
        else:
            results = [reptile_task(model, ep, inner, inner_lrs) for ep in group]
            mean = {n: torch.stack([r.grads[n] for r in results]).mean(0) for n in results[0].grads}
            done = [r.out for r in results]
        for n, g in mean.items():
            part = g * (len(idx) / len(episodes))
            grads[n] = grads[n] + part if n in grads else part
        outs.update(zip(idx, done, strict=True))
    return grads, [outs[i] for i in range(len(episodes))]
