"""Fault injection for testing pre-emption: kill the training process at a chosen step.

    trainer:
      callbacks:
        - class_path: lightning_meta.reliability.KillAtStep
          init_args: {step: 5}          # or leave step unset and export LIGHTNING_META_KILL_AT_STEP=5

The process sends itself ``signal`` (default SIGKILL: no cleanup, no final checkpoint, exactly
like a pre-empted job) at the end of training step ``step`` (``trainer.global_step == step``),
before any checkpoint of that step is written. Resume with ``--ckpt_path last``.
"""

from __future__ import annotations

import os
import signal as _signal
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from lightning_meta.errors import ConfigError

ENV_STEP = "LIGHTNING_META_KILL_AT_STEP"


class KillAtStep(Callback):
    """Send ``signal`` to this process once ``trainer.global_step`` reaches ``step``."""

    def __init__(self, step: int | None = None, signal: str = "SIGKILL") -> None:
        """
        Args:
            step: global step after which to die (default: ``$LIGHTNING_META_KILL_AT_STEP``;
                neither set: the callback does nothing).
            signal: signal name, e.g. SIGKILL (default) or SIGTERM.
        """
        if step is None and os.environ.get(ENV_STEP):
            step = int(os.environ[ENV_STEP])
        if step is not None and step < 1:
            raise ConfigError(
                f"KillAtStep.step: must be >= 1, got {step}; use the step to die after"
            )
        if not hasattr(_signal, signal):
            raise ConfigError(
                f"KillAtStep.signal: unknown signal '{signal}'; use e.g. SIGKILL or SIGTERM"
            )
        self.step = step
        self.signal = signal

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.step is not None and trainer.global_step >= self.step:
            os.kill(os.getpid(), getattr(_signal, self.signal))
