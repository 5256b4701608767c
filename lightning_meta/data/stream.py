"""Loader machinery shared by every episodic DataModule: meta-batches, DDP ranks, resume.

Extension point: anything with ``episode(split: str, index: int) -> Episode`` (a
:class:`TaskProvider`) gets the loaders by subclassing :class:`TaskDataModule` and assigning
``self.provider`` in ``setup()``; :class:`~lightning_meta.data.datamodule.EpisodicDataModule`
does exactly that with an :class:`~lightning_meta.data.sampler.EpisodeSampler`. A provider must
build episode ``index`` of ``split`` from (its seed, split, index) alone.

Train stream. Global meta-batch ``g`` holds episodes ``g*M .. g*M+M-1`` (``M`` =
``meta_batch_size``), whatever the number of processes. Under DDP with ``W`` ranks, rank ``r``
takes every W-th of them (:func:`train_episode_indices`), so each rank yields ``M / W``
episodes per step (``M`` must be a multiple of ``W``) and the union over ranks is exactly the
single-process meta-batch: DDP only changes where tasks run, not which tasks are trained on.
Epoch ``e`` covers ``g = e*B .. e*B+B-1`` with ``B = train_episodes // M``, so train episodes
differ every epoch. The sampler is a ``DistributedSampler`` subclass that already partitions
by rank, so Lightning never wraps it (``use_distributed_sampler`` may stay on).

Resume. ``state_dict()`` stores ``{"position": g}``, the next global meta-batch to train on
(during fit: ``(current_epoch + offset) * B + batches processed this epoch``). Lightning saves
it in checkpoints and ``load_state_dict`` makes the next train iteration start at ``g``, so a
run resumed with ``ckpt_path`` continues the same stream, mid-epoch included. ``set_position(g)``
does the same by hand; a jump into another epoch shifts the epoch numbering by an offset.

Validation/test: fixed episodes ``0 .. n-1`` of that split, one per batch (``list[Episode]`` of
length 1); Lightning spreads them over DDP ranks as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from lightning_meta.data.config import EpisodeStream, as_group
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError


class TaskProvider(Protocol):
    def episode(self, split: str, index: int) -> Episode: ...


def train_episode_indices(g: int, rank: int, world_size: int, meta_batch_size: int) -> list[int]:
    """Episode indices rank ``rank`` of ``world_size`` trains on in global meta-batch ``g``."""
    return list(range(g * meta_batch_size + rank, (g + 1) * meta_batch_size, world_size))


def _identity(batch: Any) -> Any:
    return batch


class MetaBatchDataset(Dataset[list[Episode]]):
    """Item ``g``: this rank's share of global meta-batch ``g`` of the train split."""

    def __init__(self, provider: TaskProvider, meta_batch_size: int, rank: int, world_size: int):
        self.provider, self.meta_batch_size = provider, meta_batch_size
        self.rank, self.world_size = rank, world_size

    def __getitem__(self, g: int) -> list[Episode]:
        idx = train_episode_indices(g, self.rank, self.world_size, self.meta_batch_size)
        return [self.provider.episode("train", i) for i in idx]


class FixedEpisodes(Dataset[list[Episode]]):
    """Item ``i``: ``[episode i of split]``; ``n`` items."""

    def __init__(self, provider: TaskProvider, split: str, n: int):
        self.provider, self.split, self.n = provider, split, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> list[Episode]:
        return [self.provider.episode(self.split, i)]


class MetaBatchSampler(DistributedSampler):
    """Yields global meta-batch numbers for one epoch; already rank-partitioned (see module doc)."""

    def __init__(self, owner: TaskDataModule, rank: int, world_size: int):
        super().__init__([], num_replicas=world_size, rank=rank, shuffle=False)  # type: ignore[arg-type]
        self.owner = owner

    def __len__(self) -> int:
        return self.owner.batches_per_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        # lazy: DataLoader may call iter() twice (worker setup) and only advance the last one
        yield from self.owner._next_epoch_range(self.epoch)


class _StreamLoader(DataLoader):
    """Train loader that Lightning sees as resumable; its state is the owner's position."""

    owner: TaskDataModule

    def state_dict(self) -> dict[str, Any]:
        return self.owner.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.owner.load_state_dict(state_dict)


class TaskDataModule(pl.LightningDataModule):
    """Meta-batch train loader, fixed val/test loaders and a resumable stream over ``provider``."""

    def __init__(self, stream: EpisodeStream = EpisodeStream()) -> None:
        """
        Args:
            stream: meta-batch size, episodes per split, seed and loader workers.
        """
        super().__init__()
        stream = as_group(EpisodeStream, stream, "stream")
        stream.validate()
        self.stream = stream
        self.meta_batch_size, self.num_workers = stream.meta_batch_size, stream.num_workers
        self.seed = stream.seed
        self.n_episodes = {
            "train": stream.train_episodes,
            "val": stream.val_episodes,
            "test": stream.test_episodes,
        }
        self.provider: TaskProvider | None = None
        # next train meta-batch and whether it was a jump by hand (set_position)
        self._pending: tuple[int, bool] | None = None
        self._offset = 0  # stream epoch minus trainer epoch, after a jump by hand
        self._jump: tuple[int, int] | None = None  # (trainer epoch, meta-batches skipped)
        self._epoch_counter = 0  # next stream epoch when iterating without a trainer

    # -- stream arithmetic ---------------------------------------------------------------
    @property
    def batches_per_epoch(self) -> int:
        return self.n_episodes["train"] // self.meta_batch_size

    def rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_episode_indices(
        self, g: int, rank: int | None = None, world_size: int | None = None
    ) -> list[int]:
        r, w = self.rank_world()
        return train_episode_indices(
            g,
            r if rank is None else rank,
            w if world_size is None else world_size,
            self.meta_batch_size,
        )

    def _trainer_epoch(self) -> int | None:
        trainer = self.trainer
        return None if trainer is None else int(trainer.current_epoch)

    def _next_epoch_range(self, sampler_epoch: int) -> range:
        """Meta-batches of the next train iteration (called when it starts)."""
        b = self.batches_per_epoch
        epoch = self._trainer_epoch()
        pending, self._pending = self._pending, None
        if pending is not None:
            g, manual = pending
            if epoch is not None and manual:  # a jump by hand: shift the epoch numbering
                self._offset, self._jump = g // b - epoch, (epoch, g % b)
            start = g
        elif epoch is None:
            start = self._epoch_counter * b
        else:
            start = (epoch + self._offset) * b
        self._epoch_counter = start // b + 1
        return range(start, (start // b + 1) * b)

    @property
    def position(self) -> int:
        """The next global train meta-batch number (see the module docstring)."""
        if self._pending is not None:
            return self._pending[0]
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return self._epoch_counter * self.batches_per_epoch
        epoch = int(trainer.current_epoch)
        done = int(getattr(trainer.fit_loop.epoch_loop.batch_progress.current, "processed", 0))
        if trainer.state.status != "running" and done and epoch:
            epoch -= 1  # fit has ended: Lightning marks the last epoch complete, counts stay
        skip = self._jump[1] if self._jump is not None and self._jump[0] == epoch else 0
        return (epoch + self._offset) * self.batches_per_epoch + skip + done

    def set_position(self, g: int) -> None:
        """Jump: the next train iteration starts at global meta-batch ``g``. Under a fresh
        Trainer the remaining epochs follow on from there (the epoch numbering shifts)."""
        if g < 0:
            raise ConfigError(f"position: must be >= 0 (got {g})")
        self._pending = (int(g), True)

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict` (with the trainer's own state)."""
        if "position" in state_dict:
            self._pending = (int(state_dict["position"]), False)

    # -- loaders ---------------------------------------------------------------------------
    def require_provider(self) -> TaskProvider:
        if self.provider is None:
            self.setup("fit")
        if self.provider is None:
            raise RuntimeError(f"{type(self).__name__}.setup() did not set self.provider")
        return self.provider

    def train_dataloader(self) -> DataLoader[list[Episode]]:
        rank, world = self.rank_world()
        if self.meta_batch_size % world:
            raise ConfigError(
                f"stream.meta_batch_size: {self.meta_batch_size} is not a multiple of the {world} "
                f"processes; use a multiple of {world}"
            )
        dataset = MetaBatchDataset(self.require_provider(), self.meta_batch_size, rank, world)
        loader = _StreamLoader(
            dataset,
            batch_size=None,
            sampler=MetaBatchSampler(self, rank, world),
            num_workers=self.num_workers,
            collate_fn=_identity,
            persistent_workers=False,
        )
        loader.owner = self
        return loader

    def _fixed_loader(self, split: str) -> DataLoader[list[Episode]]:
        dataset = FixedEpisodes(self.require_provider(), split, self.n_episodes[split])
        return DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=_identity,
        )

    def val_dataloader(self) -> DataLoader[list[Episode]]:
        return self._fixed_loader("val")

    def test_dataloader(self) -> DataLoader[list[Episode]]:
        return self._fixed_loader("test")

    def fixed_episodes(self, split: str = "test", n: int | None = None) -> list[Episode]:
        """Episodes ``0 .. n-1`` of ``split`` (default n: that split's configured count)."""
        provider = self.require_provider()
        count = self.n_episodes.get(split, 0) if n is None else n
        return [provider.episode(split, i) for i in range(count)]
