"""Episodic few-shot text data: sources, cleaning, splits, tokenisation cache, episodes.

Public API (see each module's docstring):

- :class:`EpisodicDataModule` - the LightningDataModule (config schema in its ``__init__``).
- :class:`EpisodeShape`, :class:`EpisodeStream`, :class:`Tokenization` - the argument groups
  every episodic DataModule takes (``shape``, ``stream``, ``tokens``; see ``data.config``).
- :class:`TaskDataModule`, :class:`TaskProvider`, :func:`train_episode_indices` - loader,
  DDP and resume machinery for any ``episode(split, index)`` provider.
- :class:`EpisodeSampler` - N-way K-shot episodes from a :class:`TokenizedCorpus`.
- :class:`SourceSpec`, :func:`load_source`, :data:`BUILTIN_NAMES` - labelled text sources.
- :func:`load_tokenized`, :func:`load_clean`, :func:`make_splits`, :func:`clean`.
- :class:`Episode`, :class:`TextBatch` - what every algorithm consumes.

Imports are lazy (PEP 562): importing a submodule does not pull in torch or Lightning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning_meta.data.clean import CleanReport, clean
    from lightning_meta.data.config import EpisodeShape, EpisodeStream, Tokenization
    from lightning_meta.data.datamodule import EpisodicDataModule
    from lightning_meta.data.episode import Episode, TextBatch
    from lightning_meta.data.sampler import EpisodeSampler
    from lightning_meta.data.sources import BUILTIN_NAMES, SourceSpec, load_source
    from lightning_meta.data.splits import SPLITS, SplitPlan, make_splits
    from lightning_meta.data.stream import TaskDataModule, TaskProvider, train_episode_indices
    from lightning_meta.data.tokens import TokenizedCorpus, load_clean, load_tokenized

_EXPORTS = {
    "BUILTIN_NAMES": "lightning_meta.data.sources",
    "CleanReport": "lightning_meta.data.clean",
    "Episode": "lightning_meta.data.episode",
    "EpisodeShape": "lightning_meta.data.config",
    "EpisodeStream": "lightning_meta.data.config",
    "EpisodeSampler": "lightning_meta.data.sampler",
    "EpisodicDataModule": "lightning_meta.data.datamodule",
    "SPLITS": "lightning_meta.data.splits",
    "SourceSpec": "lightning_meta.data.sources",
    "SplitPlan": "lightning_meta.data.splits",
    "TaskDataModule": "lightning_meta.data.stream",
    "TaskProvider": "lightning_meta.data.stream",
    "TextBatch": "lightning_meta.data.episode",
    "Tokenization": "lightning_meta.data.config",
    "TokenizedCorpus": "lightning_meta.data.tokens",
    "clean": "lightning_meta.data.clean",
    "load_clean": "lightning_meta.data.tokens",
    "load_source": "lightning_meta.data.sources",
    "load_tokenized": "lightning_meta.data.tokens",
    "make_splits": "lightning_meta.data.splits",
    "train_episode_indices": "lightning_meta.data.stream",
}

__all__ = [
    "BUILTIN_NAMES",
    "SPLITS",
    "CleanReport",
    "Episode",
    "EpisodeSampler",
    "EpisodeShape",
    "EpisodeStream",
    "EpisodicDataModule",
    "SourceSpec",
    "SplitPlan",
    "TaskDataModule",
    "TaskProvider",
    "TextBatch",
    "Tokenization",
    "TokenizedCorpus",
    "clean",
    "load_clean",
    "load_source",
    "load_tokenized",
    "make_splits",
    "train_episode_indices",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
