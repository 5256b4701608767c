"""The fixed episodes of a data config: the one way ``evaluate``, ``report`` and the benchmark
suite build the episodes every method is scored on.

The same data arguments and seed give the same episodes on every call (the episodic sampler
rebuilds episode ``i`` of a split from ``(seed, split, i)``). A task-family config (a
``families`` list: ``make train``'s experiment) gives the episodes of its
:class:`~lightning_meta.data.families.FamilyDataModule`: val and test cycle over its
``validation`` families (their val or test split), never a single default source.
"""

from __future__ import annotations

from typing import Any, Literal

from lightning_meta.data import EpisodicDataModule
from lightning_meta.data.config import group_kwargs
from lightning_meta.data.episode import Episode

__all__ = ["build_datamodule", "family_episodes", "fixed_episodes"]

Split = Literal["train", "val", "test"]


def build_datamodule(data_args: dict[str, Any], **overrides: Any) -> EpisodicDataModule:
    """An ``EpisodicDataModule`` from ``data_args`` and ``overrides`` (flat names such as
    ``n_way`` or grouped blocks such as ``shape: {n_way: 3}``; keys it does not accept are
    ignored, e.g. a training config's ``class_path`` leftovers)."""
    return EpisodicDataModule(**group_kwargs(EpisodicDataModule, {**data_args, **overrides}))


def fixed_episodes(data_args: dict[str, Any], n: int, split: Split = "test") -> list[Episode]:
    """The first ``n`` fixed episodes of ``split`` of the DataModule ``data_args`` describes."""
    if "families" in data_args:
        return family_episodes(data_args, n, split)
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


def family_episodes(data_args: dict[str, Any], n: int, split: Split = "val") -> list[Episode]:
    """The first ``n`` fixed episodes of ``split`` of a task-family config: train from the
    mixture, val/test cycling over its validation families (what `fit` validates on)."""
    from lightning_meta.data.families import FamilyDataModule

    given = {k: v for k, v in data_args.items() if v is not None}
    counts = {"val_episodes": n, "test_episodes": n}
    dm = FamilyDataModule(**group_kwargs(FamilyDataModule, {**given, **counts}))
    dm.prepare_data()
    dm.setup("fit")
    return dm.fixed_episodes(split, n)
