"""bf16 mixed precision where the device computes bf16 natively, fp32 (``32-true``) elsewhere.

``make train`` meta-trains in bf16 on a CPU with AMX or AVX512-BF16 (1.6x the tasks/s of
fp32 there, same accuracy to within 0.05 points, docs/results.md) but must not on an
AVX2-only CPU, where bf16 is emulated and a fit runs ~20x slower
(:mod:`lightning_meta.lightning.precision`). Add the callback instead of setting
``trainer.precision``; at ``setup`` it looks at the device the run trains on and either
installs Lightning's own ``MixedPrecision("bf16-mixed")`` plugin or keeps fp32, says which in
one line, and the export records it (``meta_learning.json`` ``precision``, the first lines of
``report``'s table), so no number changes precision unannounced.
"""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.plugins.precision import MixedPrecision
from pytorch_lightning.utilities import rank_zero_info

from lightning_meta.errors import ConfigError
from lightning_meta.lightning.precision import cpu_capability, native_bf16

__all__ = ["BF16WhereNative"]


class BF16WhereNative(pl.Callback):
    """``bf16-mixed`` where :func:`~lightning_meta.lightning.precision.native_bf16` finds
    native bf16 on the training device, ``32-true`` elsewhere (leave ``trainer.precision``
    unset: any precision other than ``32-true`` next to the callback is refused)."""

    def __init__(self) -> None:
        self.precision: str | None = None
        """The precision the run trains in, once ``setup`` has chosen it."""
        self.reason: str = ""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.precision is not None and trainer.precision == self.precision:
            return  # chosen for this trainer already (fit, then test)
        if trainer.precision != "32-true":
            raise ConfigError(
                f"trainer.precision: {trainer.precision} is set and the BF16WhereNative "
                "callback chooses the precision itself; remove one of the two"
            )
        device = trainer.strategy.root_device
        why = native_bf16(device)
        if why is not None:
            trainer.strategy.precision_plugin = MixedPrecision("bf16-mixed", device.type)
            self.precision = "bf16-mixed"
            self.reason = f"native bf16 on this {device.type.upper()} ({why})"
        else:
            self.precision = "32-true"
            isa = f": {cpu_capability()} only" if device.type == "cpu" else ""
            self.reason = f"this {device.type.upper()} has no native bf16{isa}"
        rank_zero_info(f"precision: {self.precision} ({self.reason}; BF16WhereNative)")
