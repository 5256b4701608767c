"""How a run ended: validate and checkpoint the last step, and say why training stopped.

Lightning validates at epoch ends (or every ``val_check_interval``); a run that reaches
``max_steps`` in the middle of an epoch stops without validating its last steps, so "the best
checkpoint" silently comes from an earlier step and two runs with the same ``max_steps`` can be
exported from different steps. :class:`FinalValidation` asks Lightning to stop (and so to
validate, and ModelCheckpoint to save) at exactly ``max_steps``. :func:`stop_reason` names what
ended ``fit``; the export records it with the step the exported checkpoint came from.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, Timer

__all__ = ["STOP_REASONS", "FinalValidation", "stop_reason", "time_capped"]

STOP_REASONS = ("max_steps", "max_time", "early_stopping", "max_epochs", "interrupted", "other")


class FinalValidation(pl.Callback):
    """Validate (and so checkpoint) the step at which ``max_steps`` ends training.

    Setting ``trainer.should_stop`` after the last step is Lightning's own path for "stopping
    now": the epoch loop then runs validation at this step before the fit loop exits, exactly
    as for early stopping. A run whose last step is already a validation step validates once.
    """

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
            trainer.should_stop = True


def _timer(trainer: pl.Trainer) -> Timer | None:
    found = [cb for cb in trainer.callbacks if isinstance(cb, Timer)]  # type: ignore[attr-defined]
    return found[0] if found else None


def stop_reason(trainer: pl.Trainer) -> str:
    """Why ``fit`` ended, one of :data:`STOP_REASONS` (call it once fit has stopped)."""
    if trainer.interrupted:
        return "interrupted"
    if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
        return "max_steps"
    timer = _timer(trainer)
    duration = timer._duration if timer is not None else None
    if timer is not None and duration is not None and timer.time_elapsed("train") >= duration:
        return "max_time"
    stoppers = [cb for cb in trainer.callbacks if isinstance(cb, EarlyStopping)]  # type: ignore[attr-defined]
    if any(cb.stopped_epoch > 0 for cb in stoppers):
        return "early_stopping"
    if trainer.max_epochs is not None and trainer.current_epoch >= trainer.max_epochs:
        return "max_epochs"
    return "other"


def time_capped(meta_stop_reason: str | None) -> bool:
    """True when a time cap, not the configured step budget, ended training."""
    return meta_stop_reason == "max_time"
