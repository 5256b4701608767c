"""Prototypical networks (Snell et al. 2017) on one episode, and nearest-centroid scoring."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models.classifier import EpisodicClassifier, class_means

__all__ = ["COSINE_SCALE", "protonet_logits", "protonet_task"]

Distance = Literal["euclidean", "cosine"]
COSINE_SCALE = 10.0
"""Cosine similarities live in [-1, 1]; a fixed temperature keeps the softmax from being flat."""


def protonet_logits(query: Tensor, protos: Tensor, distance: Distance) -> Tensor:
    """(Q, H) x (N, H) -> (Q, N): negative squared euclidean distance or scaled cosine."""
    if distance == "euclidean":
        return -((query[:, None, :] - protos[None, :, :]) ** 2).sum(-1)  # (Q, N)
    if distance == "cosine":
        return COSINE_SCALE * F.normalize(query, dim=-1) @ F.normalize(protos, dim=-1).T
    raise ValueError(f"distance: unknown value '{distance}'; use 'euclidean' or 'cosine'")


def protonet_task(
    model: EpisodicClassifier,
    episode: Episode,
    distance: Distance = "euclidean",
    *,
    training: bool = True,
) -> TaskOutput:
    """Episodic prototypical loss: support and query share one encoder forward.

    ``loss_before`` equals ``loss`` and ``support_loss`` is 0 (there is no inner loop).
    """
    s, q = episode.support, episode.query
    both = TextBatch(
        torch.cat([s.input_ids, q.input_ids]),
        torch.cat([s.attention_mask, q.attention_mask]),
        torch.cat([s.labels, q.labels]),
    )
    with torch.set_grad_enabled(training and torch.is_grad_enabled()):
        h = model.embed(both)  # (Ns+Nq, H)
        protos = class_means(h[: len(s)], s.labels, episode.n_way)  # (N, H)
        logits = protonet_logits(h[len(s) :], protos, distance)  # (Nq, N)
        loss = F.cross_entropy(logits, q.labels)
    return TaskOutput(
        loss=loss if training else loss.detach(),
        logits=logits.detach(),
        loss_before=loss.detach(),
        support_loss=loss.new_zeros(()),
    )
