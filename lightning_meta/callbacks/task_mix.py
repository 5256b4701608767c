"""Log how many train tasks came from each task family (hybrid SMLMT + labelled training).

Works with any DataModule that has ``task_counts() -> dict[str, int]`` (the
:class:`~lightning_meta.data.hybrid.HybridDataModule`): after every ``every_n_steps`` train
steps it logs ``tasks/<family>`` = train tasks drawn from that family so far, over all ranks
(the counts are recomputed from ``(seed, index)``, identical on every rank, so no collective
is needed), and ``tasks/<family>_share``. A no-op for DataModules without ``task_counts``.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

from lightning_meta.errors import ConfigError

__all__ = ["TaskMixLogger"]


class TaskMixLogger(pl.Callback):
    """Log cumulative train tasks per family (``tasks/<family>``) and their shares."""

    def __init__(self, every_n_steps: int = 10) -> None:
        """
        Args:
            every_n_steps: log after every this many optimisation steps.
        """
        if every_n_steps <= 0:
            raise ConfigError(f"every_n_steps: must be a positive integer (got {every_n_steps})")
        self.every_n_steps = every_n_steps
        self.last: dict[str, int] = {}
        """The counts logged last."""

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        counts_fn = getattr(getattr(trainer, "datamodule", None), "task_counts", None)
        if not callable(counts_fn) or (batch_idx + 1) % self.every_n_steps:
            return
        counts: dict[str, int] = counts_fn()
        total = max(sum(counts.values()), 1)
        for name, n in counts.items():
            pl_module.log(f"tasks/{name}", float(n), on_step=True, on_epoch=False)
            pl_module.log(f"tasks/{name}_share", n / total, on_step=True, on_epoch=False)
        self.last = counts
