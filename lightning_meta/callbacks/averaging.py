"""Tail averaging: the uniform mean of the weights over the last meta-steps of a run.

Stochastic weight averaging (Izmailov et al. 2018) on the tail of one trajectory: after every
optimizer step from ``from_step`` (1-based, ``trainer.global_step``) to the end, the weights
join a running uniform mean (``torch.optim.swa_utils.AveragedModel`` through Lightning's
:class:`~pytorch_lightning.callbacks.WeightAveraging`). Validation, checkpoints and so the
export hold the mean; training goes on from the current weights. A one-run, one-fit cousin of
``lightning-meta soup`` (the mean of several seeds' weights).

Unlike the Lightning base class, nothing is swapped in or saved as the average before the
first update: a validation or checkpoint before ``from_step`` sees the current weights, never
the untouched initial copy the average starts from.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import WeightAveraging

__all__ = ["TailAveraging"]


class TailAveraging(WeightAveraging):
    """Uniform average of the weights after each optimizer step from ``from_step`` on.

    Args:
        from_step: The first optimizer step (1-based) whose weights enter the average; with
            ``trainer.max_steps`` N the average holds N - from_step + 1 iterates.
        every_n_steps: Average every n-th step from ``from_step`` on (1: every step).
    """

    def __init__(self, from_step: int = 1, every_n_steps: int = 1) -> None:
        if from_step < 1:
            raise ValueError(
                f"TailAveraging.from_step must be >= 1 (a 1-based optimizer step), got {from_step}"
            )
        if every_n_steps < 1:
            raise ValueError(f"TailAveraging.every_n_steps must be >= 1, got {every_n_steps}")
        super().__init__(use_buffers=True)
        self.from_step = from_step
        self.every_n_steps = every_n_steps

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        if step_idx is None:
            return False
        step = step_idx + 1  # Lightning passes the zero-based index of the step just taken
        return step >= self.from_step and (step - self.from_step) % self.every_n_steps == 0

    @property
    def n_averaged(self) -> int:
        """How many iterates the average holds (0 before ``from_step``)."""
        avg = self._average_model
        return 0 if avg is None else int(avg.n_averaged.item())

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.n_averaged:
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.n_averaged:
            super().on_validation_epoch_end(trainer, pl_module)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.n_averaged:
            super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.n_averaged:
            super().on_train_end(trainer, pl_module)
