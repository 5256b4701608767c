"""Callbacks and loggers: model export, plots, experiment tracking.

- :class:`HFExport`, :func:`export_module` - best checkpoint as a Hugging Face directory.
- :class:`Plots` - adaptation and learning curves (PNG + loggers).
- :class:`WandbLogger` - W&B, offline whenever no API key is configured.
- :class:`LoggedSaveConfig` - LightningCLI's config saving that also logs the config.
- :class:`TaskMixLogger` - train tasks per task family (hybrid training).
- :class:`BF16WhereNative` - bf16 mixed precision where the device computes bf16 natively,
  fp32 elsewhere.
- :class:`TailAveraging` - the uniform mean of the weights over a run's last meta-steps.
- :class:`FinalValidation` - validate and checkpoint the step at which ``max_steps`` ends a run
  (the CLI adds it to every Trainer).

Imports are lazy (PEP 562): ``lightning_meta.callbacks.HFExport`` does not load matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning_meta.callbacks.averaging import TailAveraging
    from lightning_meta.callbacks.export import HFExport, export_module
    from lightning_meta.callbacks.plots import Plots
    from lightning_meta.callbacks.precision import BF16WhereNative
    from lightning_meta.callbacks.run_end import FinalValidation
    from lightning_meta.callbacks.task_mix import TaskMixLogger
    from lightning_meta.callbacks.tracking import LoggedSaveConfig, WandbLogger

_EXPORTS = {
    "HFExport": "lightning_meta.callbacks.export",
    "export_module": "lightning_meta.callbacks.export",
    "Plots": "lightning_meta.callbacks.plots",
    "LoggedSaveConfig": "lightning_meta.callbacks.tracking",
    "WandbLogger": "lightning_meta.callbacks.tracking",
    "TaskMixLogger": "lightning_meta.callbacks.task_mix",
    "FinalValidation": "lightning_meta.callbacks.run_end",
    "BF16WhereNative": "lightning_meta.callbacks.precision",
    "TailAveraging": "lightning_meta.callbacks.averaging",
}
__all__ = [
    "BF16WhereNative", "FinalValidation", "HFExport", "LoggedSaveConfig", "Plots", "TailAveraging", "TaskMixLogger",
    "WandbLogger",
    "export_module",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lightning_meta.callbacks' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
