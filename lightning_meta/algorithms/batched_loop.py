"""The functional inner loop for ``E`` episodes at once (same shapes), on stacked parameters.

The very loop of :func:`~lightning_meta.algorithms.inner_loop.inner_loop`
(:func:`~lightning_meta.algorithms.inner_loop.run_inner_loop`: same three orders, same head
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
from functools import partial
from typing import Literal, Protocol

import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import LR, Adapted, Order, Support, run_inner_loop
from lightning_meta.algorithms.pair_loss import with_pairs
from lightning_meta.models.classifier import EpisodicClassifier, head_logits

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


BatchedAdapted = Adapted
""":class:`~lightning_meta.algorithms.inner_loop.Adapted` with a leading episode axis on every
tensor: params ``(E, ...)``, heads ``(E, N, H)`` / ``(E, N)``, support losses ``(E,)``."""


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


def _head_loss(h: Tensor, weight: Tensor, bias: Tensor, labels: Tensor) -> Tensor:
    return batched_ce(batched_logits(h, weight, bias), labels)  # (E,)


def _init_head(
    model: EpisodicClassifier, h: Tensor, labels: Tensor, n_way: int
) -> tuple[Tensor, Tensor]:
    """Per-episode heads from (E, B, H) support embeddings (``EpisodicClassifier.init_head``)."""
    heads = [
        model.init_head(he, le, n_way) for he, le in zip(h.unbind(0), labels.unbind(0), strict=True)
    ]
    return torch.stack([w for w, _ in heads]), torch.stack([b for _, b in heads])


def batched_inner_loop(
    model: EpisodicClassifier,
    feats: BatchedFeatures,
    labels: Tensor,
    n_way: int,
    steps: int,
    lrs: Mapping[str, LR],
    order: Order,
    pair_weight: float = 0.0,
) -> BatchedAdapted:
    """Adapt ``model.adapted_params()`` and fresh heads on ``E`` support sets; ``labels`` (E, B).
    ``pair_weight``: each episode's support loss adds SetFit's cosine pair loss, so weighted."""
    E = feats.episodes
    theta = {n: t.unsqueeze(0).expand(E, *t.shape) for n, t in model.adapted_params().items()}
    support = Support(
        labels, n_way, lambda p: feats.embed(p, "support"), partial(_init_head, model),
        with_pairs(_head_loss, pair_weight), model.head_init == "prototype",
    )  # fmt: skip
    return run_inner_loop(theta, support, steps, lrs, order)
