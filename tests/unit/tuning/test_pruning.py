"""The pruning callback: reports validation scores by global step, prunes below the threshold."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import pytorch_lightning as pl
import torch

from lightning_meta.errors import ConfigError
from lightning_meta.tuning.pruning import OptunaPruning
from lightning_meta.tuning.study import PrunerSpec, StudySpec, open_study


def trainer_at(step: int, acc: float | None) -> pl.Trainer:
    """What the callback reads from the trainer after a validation (a stand-in, no fit)."""
    metrics = {} if acc is None else {"val/acc": torch.tensor(acc)}
    return SimpleNamespace(sanity_checking=False, callback_metrics=metrics, global_step=step)  # type: ignore[return-value]


def study_with_history(tmp_path: Path, pruner: PrunerSpec, history: list[list[float]]) -> StudySpec:
    """Completed trials whose val/acc at steps 1, 2, ... is ``history[i]``."""
    spec = StudySpec(study_dir=tmp_path, study_name="s", pruner=pruner)
    study = open_study(spec)
    for values in history:
        trial = study.ask()
        for step, v in enumerate(values, start=1):
            trial.report(v, step)
            assert not trial.should_prune()  # as a real trial asks (hyperband records rungs)
        study.tell(trial, max(values))
    study.ask()  # the running trial the callback belongs to: number len(history)
    return spec


def callback(spec: StudySpec, number: int) -> OptunaPruning:
    return OptunaPruning(spec.storage_url, spec.study_name, number, "val/acc", spec.pruner)


def test_median_prunes_below_the_median_of_earlier_trials_at_the_same_step(tmp_path: Path) -> None:
    spec = study_with_history(
        tmp_path, PrunerSpec("median", n_startup_trials=3), [[0.5, 0.6], [0.6, 0.7], [0.7, 0.8]]
    )
    cb = callback(spec, 3)
    cb.on_validation_end(trainer_at(1, 0.65), None)  # type: ignore[arg-type]  # median 0.6: kept
    with pytest.raises(optuna.TrialPruned, match="pruned at step 2"):
        cb.on_validation_end(trainer_at(2, 0.69), None)  # type: ignore[arg-type]  # median 0.7
    assert cb.reported == [(1, pytest.approx(0.65)), (2, pytest.approx(0.69))]
    stored = optuna.load_study(study_name="s", storage=spec.storage_url).trials[3]
    assert stored.intermediate_values == {1: pytest.approx(0.65), 2: pytest.approx(0.69)}


def test_median_keeps_a_trial_at_or_above_the_threshold(tmp_path: Path) -> None:
    spec = study_with_history(
        tmp_path, PrunerSpec("median", n_startup_trials=3), [[0.5, 0.6], [0.6, 0.7], [0.7, 0.8]]
    )
    cb = callback(spec, 3)
    for step, acc in ((1, 0.6), (2, 0.75)):
        cb.on_validation_end(trainer_at(step, acc), None)  # type: ignore[arg-type]
    assert len(cb.reported) == 2


def test_no_pruning_before_the_startup_trials_and_with_pruner_none(tmp_path: Path) -> None:
    history = [[0.9, 0.9], [0.9, 0.9]]
    for i, pruner in enumerate((PrunerSpec("median", n_startup_trials=3), PrunerSpec("none"))):
        spec = study_with_history(tmp_path / str(i), pruner, history)
        callback(spec, 2).on_validation_end(trainer_at(1, 0.1), None)  # type: ignore[arg-type]


def test_hyperband_prunes_a_trial_outside_the_top_share_of_its_rung(tmp_path: Path) -> None:
    # max_resource 2, min_resource 1, factor 3: one bracket; rung 0 at step 1 keeps the top 1/3
    pruner = PrunerSpec("hyperband", min_resource=1, max_resource=2, reduction_factor=3)
    spec = study_with_history(tmp_path, pruner, [[0.7, 0.7], [0.8, 0.8]])
    with pytest.raises(optuna.TrialPruned):
        callback(spec, 2).on_validation_end(trainer_at(1, 0.2), None)  # type: ignore[arg-type]
    assert isinstance(pruner.build(), optuna.pruners.HyperbandPruner)


def test_missing_metric_is_one_line_naming_the_logged_ones(tmp_path: Path) -> None:
    spec = study_with_history(tmp_path, PrunerSpec("none"), [])
    cb = OptunaPruning(spec.storage_url, "s", 0, "val/f2")
    trainer = trainer_at(1, 0.5)
    with pytest.raises(
        ConfigError, match=r"'val/f2' was not logged by validation \(logged: val/acc\)"
    ):
        cb.on_validation_end(trainer, None)  # type: ignore[arg-type]


def test_sanity_check_validation_is_not_reported(tmp_path: Path) -> None:
    spec = study_with_history(tmp_path, PrunerSpec("none"), [])
    cb = callback(spec, 0)
    trainer = trainer_at(0, 0.5)
    trainer.sanity_checking = True  # type: ignore[misc]
    cb.on_validation_end(trainer, None)  # type: ignore[arg-type]
    assert cb.reported == []


def test_optuna_integration_callback_is_not_a_pytorch_lightning_callback() -> None:
    """Why OptunaPruning exists: optuna-integration builds its callback on the `lightning`
    package, which this project does not use; Lightning would reject it as a callback."""
    from optuna_integration import PyTorchLightningPruningCallback

    assert not issubclass(PyTorchLightningPruningCallback, pl.Callback)
    assert issubclass(OptunaPruning, pl.Callback)
