"""One trial = one ``fit`` of the experiment through LightningCLI, scored on validation.

The trial's argv is the experiment's own command plus overrides:

    --config EXPERIMENT.yaml --config <trial_dir>/trial.yaml --model.init_args.inner_lr=0.03 ...

``trial.yaml`` sends every output of the run (``default_root_dir``, each logger's ``save_dir``,
each callback's ``dirpath``) into the trial's directory, so trials never overwrite each other
or the experiment's own ``runs/``, and appends :class:`~lightning_meta.tuning.pruning.OptunaPruning`
to the callbacks. The callback reports the validation metric after every validation; the trial's
value is the best reported value (the checkpoint ``ModelCheckpoint`` keeps and ``HFExport``
exports when it monitors the same metric).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from lightning_meta.errors import ConfigError
from lightning_meta.tuning.paths import overrides
from lightning_meta.tuning.space import Param, suggest
from lightning_meta.tuning.study import StudySpec

FitRunner = Callable[[list[str]], object]
"""Runs ``lightning-meta fit`` in-process with this argv (everything after ``fit``)."""

EXPORT_FILE = "meta_learning.json"
PRUNING_CALLBACK = "lightning_meta.tuning.pruning.OptunaPruning"


def trial_dir(study_dir: Path, number: int) -> Path:
    return study_dir / "trials" / f"{number:04d}"


def _entries(value: Any) -> list[Any]:
    if value is None or isinstance(value, bool):
        return []
    return list(value) if isinstance(value, list) else [value]


def redirect_outputs(trainer: Mapping[str, Any], out: Path) -> dict[str, Any]:
    """The trainer's loggers and callbacks with every output path moved under ``out``."""
    loggers = copy.deepcopy(_entries(trainer.get("logger")))
    for entry in loggers:
        args = entry.get("init_args") if isinstance(entry, dict) else None
        if isinstance(args, dict) and "save_dir" in args:
            args["save_dir"] = str(out / "logs")
    callbacks = copy.deepcopy(_entries(trainer.get("callbacks")))
    used: set[str] = set()
    for entry in callbacks:
        args = entry.get("init_args") if isinstance(entry, dict) else None
        if isinstance(args, dict) and args.get("dirpath"):
            name = Path(str(args["dirpath"])).name or "out"
            while name in used or name == "logs":
                name += "_"
            used.add(name)
            args["dirpath"] = str(out / name)
    redirected: dict[str, Any] = {"default_root_dir": str(out), "callbacks": callbacks}
    if loggers:
        redirected["logger"] = loggers
    elif "logger" in trainer:
        redirected["logger"] = trainer["logger"]
    return redirected


def pruning_callback(spec: StudySpec, number: int, metric: str) -> dict[str, Any]:
    return {
        "class_path": PRUNING_CALLBACK,
        "init_args": {
            "storage": spec.storage_url,
            "study_name": spec.study_name,
            "trial_number": number,
            "monitor": metric,
            "pruner": asdict(spec.pruner),
        },
    }


def best_reported(values: Mapping[int, float], direction: str) -> float:
    pick = max if direction == "maximize" else min
    return float(pick(values.values()))


def find_export(root: Path) -> Path | None:
    """The directory ``HFExport`` wrote under ``root`` (the one holding meta_learning.json)."""
    found = sorted(root.rglob(EXPORT_FILE))
    return found[0].parent if found else None


@dataclass
class FitObjective:
    """Optuna objective: sample, fit through ``run_fit``, return the best validation score."""

    params: list[Param]
    config: dict[str, Any]  # the experiment's parsed config (LightningCLI, defaults filled in)
    base_argv: list[str]  # ["--config", EXPERIMENT.yaml, ...]
    spec: StudySpec
    metric: str
    run_fit: FitRunner

    def argv(self, number: int, values: Mapping[str, Any]) -> list[str]:
        out = trial_dir(self.spec.study_dir, number).resolve()
        out.mkdir(parents=True, exist_ok=True)
        trainer = redirect_outputs(self.config.get("trainer") or {}, out)
        trainer["callbacks"].append(pruning_callback(self.spec, number, self.metric))
        path = out / "trial.yaml"
        path.write_text(yaml.safe_dump({"trainer": trainer}, sort_keys=False))
        return [*self.base_argv, "--config", str(path), *overrides(values, self.config)]

    def __call__(self, trial: optuna.Trial) -> float:
        values = suggest(trial, self.params)
        argv = self.argv(trial.number, values)
        trial.set_user_attr("trial_dir", str(trial_dir(self.spec.study_dir, trial.number)))
        self.run_fit(argv)
        frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
        reported = frozen.intermediate_values  # written by OptunaPruning during the fit
        if not reported:
            raise ConfigError(
                f"--metric: no validation ran in trial {trial.number}, so '{self.metric}' was "
                f"never reported; make the experiment validate (val_episodes, val_check_interval)"
            )
        export = find_export(trial_dir(self.spec.study_dir, trial.number))
        trial.set_user_attr("export", str(export) if export else None)
        return best_reported(reported, self.spec.direction)
