"""The fixed episodes of a data config: the one way ``evaluate``, ``report`` and the benchmark
suite build the episodes every method is scored on.

The same data arguments and seed give the same episodes on every call (the episodic sampler
rebuilds episode ``i`` of a split from ``(seed, split, i)``).
"""

from __future__ import annotations

from typing import Any, Literal

from lightning_meta.data import EpisodicDataModule
from lightning_meta.data.config import group_kwargs
from lightning_meta.data.episode import Episode

__all__ = ["build_datamodule", "fixed_episodes"]

Split = Literal["train", "val", "test"]


def build_datamodule(data_args: dict[str, Any], **overrides: Any) -> EpisodicDataModule:
    """An ``EpisodicDataModule`` from ``data_args`` and ``overrides`` (flat names such as
    ``n_way`` or grouped blocks such as ``shape: {n_way: 3}``; keys it does not accept are
    ignored, e.g. a training config's ``class_path`` leftovers)."""
    return EpisodicDataModule(**group_kwargs(EpisodicDataModule, {**data_args, **overrides}))


def fixed_episodes(data_args: dict[str, Any], n: int, split: Split = "test") -> list[Episode]:
    """The first ``n`` fixed episodes of ``split`` of the DataModule ``data_args`` describes."""
    if split == "test":
        dm = build_datamodule(data_args, test_episodes=n)
        dm.prepare_data()
        dm.setup("test")
        return [ep for batch in dm.test_dataloader() for ep in batch]
    # train/val: unset (None) arguments take the DataModule's defaults
    given = {k: v for k, v in data_args.items() if v is not None}
    dm = build_datamodule(given, val_episodes=n, test_episodes=n)
    dm.prepare_data()
    dm.setup("fit")
    return dm.fixed_episodes(split, n)
