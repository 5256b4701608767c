"""Report every validation score of a trial's ``fit`` to Optuna and prune unpromising trials.

Why not ``optuna_integration.PyTorchLightningPruningCallback``: it imports the ``lightning``
package (``lightning.pytorch``); this project uses ``pytorch_lightning``, which is not the same
``Callback`` class, so Lightning would reject it (and it reports ``step=epoch``, while episodic
training validates several times per epoch). :class:`OptunaPruning` is the same idea for
``pytorch_lightning``: after each validation it reports the monitored metric at the current
global step and raises :class:`optuna.TrialPruned` when the study's pruner says so.

It is a plain YAML-configurable callback (the tuner appends it to each trial's
``trainer.callbacks``): it reconnects to the trial through the study's storage by name and trial
number, so the trial's ``fit`` runs through LightningCLI like any other run.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna
import pytorch_lightning as pl

from lightning_meta.errors import ConfigError
from lightning_meta.tuning.study import PrunerSpec


class OptunaPruning(pl.Callback):
    """Report ``monitor`` after every validation; prune when the pruner says so."""

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_number: int,
        monitor: str = "val/acc",
        pruner: PrunerSpec | None = None,
    ) -> None:
        """
        Args:
            storage: the study's Optuna RDB URL.
            study_name: the study's name in that storage.
            trial_number: the number of the running trial this fit belongs to.
            monitor: the logged validation metric to report (e.g. val/acc).
            pruner: the study's pruner (default: median).
        """
        self.storage, self.study_name = storage, study_name
        self.trial_number, self.monitor = trial_number, monitor
        self.pruner = pruner or PrunerSpec()
        self.reported: list[tuple[int, float]] = []
        self._trial: optuna.Trial | None = None

    def trial(self) -> optuna.Trial:
        if self._trial is None:
            study = optuna.load_study(
                study_name=self.study_name, storage=self.storage, pruner=self.pruner.build()
            )
            trial_id = study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, self.trial_number
            )
            self._trial = optuna.Trial(study, trial_id)
        return self._trial

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score: Any = trainer.callback_metrics.get(self.monitor)
        if score is None:
            logged = ", ".join(sorted(k for k in trainer.callback_metrics if "/" in k)) or "none"
            raise ConfigError(
                f"--metric: '{self.monitor}' was not logged by validation (logged: {logged}); "
                f"pass one of those"
            )
        value, step = float(score), int(trainer.global_step)
        if not math.isfinite(value):
            return  # a NaN score is not evidence; the trial's own error handling decides
        trial = self.trial()
        with warnings.catch_warnings():
            # several validations at one step (e.g. the last one): keep the first report
            warnings.simplefilter("ignore", UserWarning)
            trial.report(value, step=step)
        self.reported.append((step, value))
        if trial.should_prune():
            raise optuna.TrialPruned(
                f"trial {self.trial_number} pruned at step {step} ({self.monitor}={value:.4f})"
            )
