"""Synthetic benchmark workloads: episodes of random token ids and the model they run on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models import EpisodicClassifier, load_encoder, tiny_encoder

__all__ = ["Workload", "make_classifier", "random_episode", "vocab_size"]


@dataclass(frozen=True)
class Workload:
    """One N-way K-shot episode shape on one model (``"tiny"``: the random 2-layer BERT)."""

    model: str = "minilm"
    n_way: int = 5
    shots: int = 5
    queries: int = 5
    max_length: int = 48
    seed: int = 0


def random_batch(w: Workload, rows_per_class: int, vocab: int, gen: torch.Generator) -> TextBatch:
    """[CLS] random ids [SEP] with lengths in [max_length/2, max_length], padded to max_length."""
    rows, t = w.n_way * rows_per_class, w.max_length
    ids = torch.randint(1000, vocab, (rows, t), generator=gen)  # (B, T)
    lengths = torch.randint(t // 2, t + 1, (rows,), generator=gen)
    lengths[0] = t  # the episode is padded to its longest row
    mask = (torch.arange(t)[None, :] < lengths[:, None]).long()  # (B, T)
    ids[:, 0] = 101
    ids[torch.arange(rows), lengths - 1] = 102
    ids[mask == 0] = 0
    labels = torch.arange(w.n_way).repeat_interleave(rows_per_class)
    return TextBatch(ids, mask, labels[torch.randperm(rows, generator=gen)])


def random_episode(w: Workload, vocab: int, index: int = 0) -> Episode:
    gen = torch.Generator().manual_seed(w.seed * 100_003 + index)
    support = random_batch(w, w.shots, vocab, gen)
    query = random_batch(w, w.queries, vocab, gen)
    return Episode(support, query, w.n_way, index=index)


def vocab_size(model: EpisodicClassifier) -> int:
    return int(getattr(model.encoder.config, "vocab_size"))  # noqa: B009


def make_classifier(
    w: Workload, adapt: str, second_order: bool, head_init: str = "prototype"
) -> EpisodicClassifier:
    """Encoder (eager attention for second order) + per-episode head; dropout off."""
    encoder: torch.nn.Module
    if w.model == "tiny":
        encoder = tiny_encoder(seed=w.seed)
    else:
        encoder = load_encoder(w.model, attn_implementation="eager" if second_order else None)
    return EpisodicClassifier(encoder.eval(), adapt=adapt, head_init=head_init)  # type: ignore[arg-type]
