"""The Optuna study: storage, seeded sampler, pruner, resume and killed trials.

Storage is any Optuna RDB URL; the default is ``sqlite:///<study_dir>/study.db``. The study is
created with ``load_if_exists``, so rerunning the same command continues it. Storage heartbeats
(``heartbeat_interval`` seconds, stale after ``2 * heartbeat_interval``) mark a trial whose
process was killed as FAIL: :func:`open_study` runs ``fail_stale_trials`` and Optuna does again
before every new trial. The sampler is seeded from ``(seed, trials already in the study)``: a
fresh study with the same seed samples the same trials, and a resumed one does not replay the
first trials' parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import optuna
import sqlalchemy.exc
from optuna.trial import TrialState

from lightning_meta.errors import ConfigError

DONE_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
PrunerName = Literal["median", "hyperband", "none"]


@dataclass(frozen=True)
class PrunerSpec:
    """Which pruner stops unpromising trials early, from their intermediate validation scores.

    Attributes:
        name: 'median' (below the median of earlier trials at the same step), 'hyperband', or
            'none'.
        n_startup_trials: median: no pruning until this many trials have finished.
        n_warmup_steps: median: no pruning before this training step.
        min_resource: hyperband: training steps every trial gets before its first rung.
        max_resource: hyperband: training steps of a full trial (the experiment's max_steps).
        reduction_factor: hyperband: 1 / the fraction of trials promoted at each rung.
    """

    name: PrunerName = "median"
    n_startup_trials: int = 2
    n_warmup_steps: int = 0
    min_resource: int = 1
    max_resource: int | None = None
    reduction_factor: int = 3

    def build(self) -> optuna.pruners.BasePruner:
        if self.name == "median":
            return optuna.pruners.MedianPruner(
                n_startup_trials=self.n_startup_trials, n_warmup_steps=self.n_warmup_steps
            )
        if self.name == "hyperband":
            return optuna.pruners.HyperbandPruner(
                min_resource=self.min_resource,
                max_resource=self.max_resource if self.max_resource is not None else "auto",
                reduction_factor=self.reduction_factor,
            )
        if self.name == "none":
            return optuna.pruners.NopPruner()
        raise ConfigError(f"--pruner: '{self.name}' is not one of median, hyperband, none")


@dataclass(frozen=True)
class StudySpec:
    """Where the study lives and how it samples.

    Attributes:
        study_dir: study outputs (best.yaml, trials.csv, plots, summary.md, trial runs).
        study_name: the study's name in the storage (several workers share one name).
        storage: Optuna RDB URL; None: ``sqlite:///<study_dir>/study.db``.
        direction: 'maximize' or 'minimize' the metric.
        seed: sampler seed (same seed, fresh study -> same trials).
        sampler: 'tpe' or 'random'.
        pruner: the pruner.
        heartbeat_interval: seconds between trial heartbeats; a RUNNING trial silent for twice
            as long is marked FAIL.
    """

    study_dir: Path
    study_name: str
    storage: str | None = None
    direction: Literal["maximize", "minimize"] = "maximize"
    seed: int = 0
    sampler: Literal["tpe", "random"] = "tpe"
    pruner: PrunerSpec = PrunerSpec()
    heartbeat_interval: int = 60

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.study_dir / 'study.db').resolve()}"


def sampler_seed(seed: int, n_existing: int) -> int:
    """``seed`` for a fresh study, a seed derived from (seed, n_existing) for a resumed one."""
    if n_existing == 0:
        return seed
    return int(np.random.SeedSequence([seed, n_existing]).generate_state(1)[0])


def make_sampler(kind: str, seed: int) -> optuna.samplers.BaseSampler:
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"--sampler: '{kind}' is not one of tpe, random")


def make_storage(spec: StudySpec) -> optuna.storages.RDBStorage:
    if spec.heartbeat_interval <= 0:
        raise ConfigError(
            f"--heartbeat: must be a positive number of seconds (got {spec.heartbeat_interval})"
        )
    url = spec.storage_url
    if url.startswith("sqlite:///"):
        spec.study_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=spec.heartbeat_interval,
                grace_period=2 * spec.heartbeat_interval,
            )
        except (ImportError, ValueError, sqlalchemy.exc.SQLAlchemyError) as err:
            raise ConfigError(
                f"--storage: cannot open {url} ({str(err).splitlines()[0]}); use sqlite:///FILE "
                f"or a PostgreSQL/MySQL URL whose driver is installed"
            ) from err


def open_study(spec: StudySpec) -> optuna.Study:
    """Create or load the study; killed trials (stale heartbeat) are marked FAIL first."""
    storage = make_storage(spec)
    study = optuna.create_study(
        study_name=spec.study_name,
        storage=storage,
        direction=spec.direction,
        pruner=spec.pruner.build(),
        load_if_exists=True,
    )
    if study.direction.name.lower() != spec.direction:
        raise ConfigError(
            f"--direction: study '{spec.study_name}' in {spec.storage_url} was created to "
            f"{study.direction.name.lower()}; use that direction or another --study-name"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    study.sampler = make_sampler(spec.sampler, sampler_seed(spec.seed, len(study.trials)))
    return study


def done_trials(study: optuna.Study) -> int:
    """Trials that count toward ``--n-trials``: completed or pruned (failed ones do not)."""
    return len(study.get_trials(deepcopy=False, states=DONE_STATES))
