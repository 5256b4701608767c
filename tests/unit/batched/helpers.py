"""Tiny episodes whose rows come from a small pool of texts (so texts repeat across episodes)
with varied lengths (so packing, padding and the caches' text index are exercised)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

import lightning_meta.algorithms.grouped as grouped
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models import EpisodicClassifier


def text_pool(n: int = 20, seed: int = 0) -> list[Tensor]:
    """``n`` distinct token-id rows of 1..9 tokens."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 10, (n,), generator=gen)
    return [torch.randint(1000, 3000, (int(k),), generator=gen) for k in lengths]


def _batch(rows: list[Tensor], labels: Tensor, length: int) -> TextBatch:
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return TextBatch(ids, mask, labels)


def pool_episodes(
    n: int, n_way: int = 3, shots: int = 2, queries: int = 2, seed: int = 0, pool: int = 20
) -> list[Episode]:
    """``n`` episodes; each row a random text of the pool, each episode padded to its longest."""
    texts = text_pool(pool, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    out = []
    for i in range(n):
        picks = torch.randperm(len(texts), generator=gen)[: n_way * (shots + queries)].tolist()
        rows = [texts[j] for j in picks]
        length = max(len(r) for r in rows)
        s_lab = torch.arange(n_way).repeat_interleave(shots)
        q_lab = torch.arange(n_way).repeat_interleave(queries)
        k = n_way * shots
        out.append(
            Episode(_batch(rows[:k], s_lab, length), _batch(rows[k:], q_lab, length), n_way, i)
        )
    return out


def spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Record the group size of every call to ``batched.<name>`` from the grouped paths."""
    sizes: list[int] = []
    real = getattr(grouped, name)

    def wrapped(m: EpisodicClassifier, episodes: list[Episode], *a: Any, **k: Any) -> Any:
        sizes.append(len(episodes))
        return real(m, episodes, *a, **k)

    monkeypatch.setattr(grouped, name, wrapped)
    return sizes
