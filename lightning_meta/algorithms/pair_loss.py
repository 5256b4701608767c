"""SetFit's contrastive pair loss as a term of the inner loop's support loss.

SetFit (Tunstall et al., 2022) fine-tunes a sentence encoder on pairs of labelled examples with
sentence-transformers' ``CosineSimilarityLoss``: the squared error between the cosine of the two
embeddings and 1 (same class) or 0 (different classes). :func:`cosine_pair_loss` is that loss
over *every* distinct pair of a support set (SetFit samples pairs from them); the inner loop
adds it, weighted, to the head's cross-entropy (:func:`with_pairs`), so the adapted layers are
pulled towards SetFit's geometry while the head learns the classes. Weight 0 returns the head
loss itself (the same function, so the same numbers as without this module).

:func:`with_query_pairs` adds the same term to the *outer* (query) loss of MAML's meta-training
instead: the query embeddings after adaptation are pulled into SetFit's geometry, so the
meta-learned body, not only each episode's adapted layers, learns it (``MAML(query_pair_weight=)``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["HeadLoss", "cosine_pair_loss", "with_pairs", "with_query_pairs"]

HeadLoss = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
"""``(h, W, b, labels) -> support loss``: a scalar, or ``(E,)`` per-episode losses for a stack
of episodes (their sum drives the step, so each episode's gradient slice is its own); the inner
loop's (``inner_loop.head_loss`` and what :func:`with_pairs` makes of it)."""


def cosine_pair_loss(h: Tensor, labels: Tensor) -> Tensor:
    """Mean over all pairs i < j of ``(cos(h_i, h_j) - [y_i == y_j])**2``.

    ``h`` (B, H) and ``labels`` (B,) give a scalar; a stack of episodes, (E, B, H) and (E, B),
    gives (E,) per-episode losses. Computed in float32 (also under bf16 autocast).
    """
    if h.shape[-2] < 2:
        raise ValueError(f"cosine_pair_loss: needs 2 or more support rows, got {h.shape[-2]}")
    z = F.normalize(h.float(), dim=-1)
    cos = z @ z.transpose(-1, -2)  # (..., B, B)
    same = (labels.unsqueeze(-1) == labels.unsqueeze(-2)).to(cos.dtype)  # (..., B, B)
    i, j = torch.triu_indices(h.shape[-2], h.shape[-2], 1, device=h.device)
    return (cos[..., i, j] - same[..., i, j]).pow(2).mean(-1)


def with_pairs(loss: HeadLoss, weight: float) -> HeadLoss:
    """``loss(h, W, b, y) + weight * cosine_pair_loss(h, y)``; ``loss`` itself when weight is 0."""
    if weight < 0:
        raise ValueError(f"pair_weight: must be >= 0, got {weight}")
    if weight == 0:
        return loss

    def combined(h: Tensor, w: Tensor, b: Tensor, labels: Tensor) -> Tensor:
        return loss(h, w, b, labels) + weight * cosine_pair_loss(h, labels)

    return combined


def with_query_pairs(loss: Tensor, h: Tensor, labels: Tensor, weight: float) -> Tensor:
    """The query loss plus ``weight * cosine_pair_loss(h, labels)`` (scalar, or (E,) for a stack);
    ``loss`` itself when weight is 0."""
    if weight < 0:
        raise ValueError(f"query_pair_weight: must be >= 0, got {weight}")
    return loss if weight == 0 else loss + weight * cosine_pair_loss(h, labels)
