"""The study: SQLite next to the runs by default, resumable, stale trials FAIL, seeded sampler."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest

from lightning_meta.errors import ConfigError
from lightning_meta.tuning.study import StudySpec, done_trials, open_study, sampler_seed

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


def test_default_storage_is_a_sqlite_file_in_the_study_dir_and_reopens(tmp_path: Path) -> None:
    spec = StudySpec(study_dir=tmp_path / "s", study_name="s")
    assert spec.storage_url == f"sqlite:///{(tmp_path / 's' / 'study.db').resolve()}"
    study = open_study(spec)
    trial = study.ask()
    study.tell(trial, 0.5)
    again = open_study(spec)  # load_if_exists
    assert (tmp_path / "s" / "study.db").is_file()
    assert [t.value for t in again.trials] == [0.5] and done_trials(again) == 1


def test_a_silent_running_trial_is_marked_fail_when_the_study_reopens(tmp_path: Path) -> None:
    spec = StudySpec(study_dir=tmp_path, study_name="s", heartbeat_interval=1)
    study = open_study(spec)
    trial = study.ask()
    study._storage.record_heartbeat(trial._trial_id)  # as the heartbeat thread of a trial does
    assert open_study(spec).trials[0].state == optuna.trial.TrialState.RUNNING  # still alive
    time.sleep(3.2)  # > 2 heartbeats without a beat (SQLite's clock has 1 s steps)
    reopened = open_study(spec)
    assert reopened.trials[0].state == optuna.trial.TrialState.FAIL
    assert done_trials(reopened) == 0  # failed trials do not count toward --n-trials


def test_resumed_sampler_is_reseeded_from_the_trials_so_far() -> None:
    assert sampler_seed(7, 0) == 7  # fresh study: the seed itself
    assert sampler_seed(7, 3) == sampler_seed(7, 3) != sampler_seed(7, 4) != 7


def test_direction_of_an_existing_study_cannot_change(tmp_path: Path) -> None:
    open_study(StudySpec(study_dir=tmp_path, study_name="s"))
    with pytest.raises(ConfigError, match="^--direction: study 's' in .* was created to maximize"):
        open_study(StudySpec(study_dir=tmp_path, study_name="s", direction="minimize"))


@pytest.mark.parametrize("url", ["nosuch://host/db", "sqlite:////nonexistent/dir/study.db"])
def test_unusable_storage_is_one_line(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"^--storage: cannot open ") as info:
        open_study(StudySpec(study_dir=tmp_path, study_name="s", storage=url))
    assert "\n" not in str(info.value)
