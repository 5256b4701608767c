"""The unit of work every algorithm consumes: an N-way K-shot episode of tokenised text.

A DataLoader of any episodic DataModule yields ``list[Episode]`` (a meta-batch). Each episode
is padded to its own longest row ("pad dynamically per episode"), so support and query share
one sequence length ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class TextBatch:
    """Tokenised, padded rows with their episode-local labels (0..N-1)."""

    input_ids: Tensor  # (B, T) long
    attention_mask: Tensor  # (B, T) long, 1 for real tokens
    labels: Tensor  # (B,) long in [0, n_way)

    def to(self, device: torch.device | str) -> TextBatch:
        return TextBatch(
            self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device)
        )

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Episode:
    """One few-shot task: a support set to adapt on and a disjoint query set to score."""

    support: TextBatch  # N*K rows
    query: TextBatch  # N*Q rows
    n_way: int
    index: int  # episode index within its split: (seed, split, index) rebuilds it
    split: str = "train"  # "train" | "val" | "test"
    task_source: str = ""  # which task family produced it (e.g. "wordnet", "smlmt")
    class_names: list[str] = field(default_factory=list)  # original class of label i

    def to(self, device: torch.device | str) -> Episode:
        return Episode(
            self.support.to(device),
            self.query.to(device),
            self.n_way,
            self.index,
            self.split,
            self.task_source,
            list(self.class_names),
        )
