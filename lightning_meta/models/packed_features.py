"""Feature extractor for ``E`` episodes at once: packed states at the cut + packed top layers.

The batched counterpart of :class:`~lightning_meta.models.features.TopFeatures`: the fixed
bottom (embeddings and the layers below the first adapted one) runs ONCE for every row of every
episode (one call for a whole meta-batch, :meth:`PackedFeatures.from_episodes`), or its output
comes from a cache (:mod:`lightning_meta.evaluation.feature_cache`); the adapted top layers run
on packed real tokens, with parameters shared or stacked per episode (``(E, ...)``), and
``embed`` returns ``(E, B, H)`` pooled embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.data.episode import Episode
from lightning_meta.models.packed import Packing, attention_bias, packed_bottom, packed_layer

__all__ = ["PackedFeatures", "same_shape"]

Split = Literal["support", "query"]
Pooling = Literal["mean", "cls"]
SPLITS: tuple[Split, Split] = ("support", "query")


def same_shape(episodes: Sequence[Episode]) -> bool:
    """Episodes that can be stacked: same ``n_way`` and support/query row counts."""
    first = episodes[0]
    key = (first.n_way, len(first.support), len(first.query))
    return all((ep.n_way, len(ep.support), len(ep.query)) == key for ep in episodes)


class PackedFeatures:
    """Packed states of ``E`` episodes' rows at layer ``start`` and the top layers above it.

    ``hidden[split]``: (E, n, H) packed token states; ``packings[split]`` says where each row's
    tokens are. ``embed(params, split)`` runs layers ``start..L-1`` with ``params`` (names
    relative to the encoder, shared or (E, ...) tensors; missing ones are the module's own).
    """

    def __init__(
        self,
        encoder: nn.Module,
        start: int,
        hidden: Mapping[Split, Tensor],
        packings: Mapping[Split, Packing],
        pooling: Pooling,
    ):
        self.layers = list(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))[start:]
        self.prefixes = [f"encoder.layer.{start + i}." for i in range(len(self.layers))]
        self.hidden = dict(hidden)
        self.packings = dict(packings)
        self.pooling: Pooling = pooling
        dtype = next(iter(self.hidden.values())).dtype
        self.bias = {s: attention_bias(encoder, p, dtype) for s, p in self.packings.items()}

    @property
    def episodes(self) -> int:
        return self.packings["support"].episodes

    def inner_params(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        return params

    def embed(self, params: Mapping[str, Tensor], split: Split) -> Tensor:
        """(E, B, H) pooled embeddings of the support or query rows under ``params``."""
        x, packing, (ext, position) = self.hidden[split], self.packings[split], self.bias[split]
        for prefix, layer in zip(self.prefixes, self.layers, strict=True):
            cut = len(prefix)
            local = {k[cut:]: v for k, v in params.items() if k.startswith(prefix)}
            x = packed_layer(layer, local, x, packing, ext, position)  # (E, n, H)
        return packing.pool(x, self.pooling)  # (E, B, H)

    @classmethod
    def from_episodes(
        cls,
        encoder: nn.Module,
        start: int,
        episodes: Sequence[Episode],
        pooling: Pooling,
        support_grad: bool,
        query_grad: bool,
    ) -> PackedFeatures:
        """The bottom of every row of every episode in ONE packed call (graph where asked)."""
        batches = [b for ep in episodes for b in (ep.support, ep.query)]
        T = max(int(b.input_ids.shape[1]) for b in batches)
        ids = torch.cat([F.pad(b.input_ids, (0, T - b.input_ids.shape[1])) for b in batches])
        mask = torch.cat([F.pad(b.attention_mask, (0, T - b.input_ids.shape[1])) for b in batches])
        with torch.set_grad_enabled(support_grad or query_grad):
            x, bottom = packed_bottom(encoder, start, ids, mask)  # (1, N, H)
        row_start = bottom.starts[0]  # (rows,) first packed slot of every row
        sizes = [len(b) for b in batches]
        offsets = torch.tensor([0, *sizes], device=ids.device).cumsum(0)  # row offset per batch
        hidden: dict[Split, Tensor] = {}
        packings: dict[Split, Packing] = {}
        for j, (split, grad) in enumerate(zip(SPLITS, (support_grad, query_grad), strict=True)):
            rows = torch.stack(
                [torch.arange(int(offsets[2 * e + j]), int(offsets[2 * e + j + 1]),
                              device=ids.device) for e in range(len(episodes))]
            )  # fmt: skip  # (E, R) global row index
            lengths = mask.sum(1)[rows]  # (E, R)
            packing = Packing.from_lengths(lengths)
            src = packing.source_index(row_start[rows])  # (E*n,)
            h = x[0].index_select(0, src).view(len(episodes), packing.n, -1)  # (E, n, H)
            hidden[split] = h if grad else h.detach()
            packings[split] = packing
        return cls(encoder, start, hidden, packings, pooling)
