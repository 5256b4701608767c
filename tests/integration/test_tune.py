"""`lightning-meta tune` resume: a study whose process is SIGKILLed during trial 3 continues to N
trials when the same command runs again; the first two trials are kept as they were and the
killed one is FAIL (its heartbeat went stale). A real subprocess, so it pays one import of torch."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from lightning_meta.cli.main import main
from tests.unit.tuning.conftest import TINY_SPACE, tiny_experiment, write_yaml

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
HEARTBEAT = 1  # s; a trial silent for 2 s is stale


def states(db: Path) -> list[tuple[int, str, int]]:
    """(number, state, heartbeats recorded) of every trial so far."""
    if not db.is_file():
        return []
    query = (
        "SELECT t.number, t.state, COUNT(h.trial_id) FROM trials t LEFT JOIN trial_heartbeats h"
        " ON h.trial_id = t.trial_id GROUP BY t.trial_id ORDER BY t.number"
    )
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return list(con.execute(query))
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return []


def test_killed_study_resumes_to_n_trials_keeping_the_first_two(
    tmp_path: Path, tiny_csv: Path, isolated_cache: Path
) -> None:
    experiment = write_yaml(tmp_path / "experiment.yaml", tiny_experiment(tmp_path, tiny_csv))
    space = write_yaml(tmp_path / "space.yaml", TINY_SPACE)
    study_dir = tmp_path / "study"
    args = [
        "tune", "--config", str(experiment), "--space", str(space), "--n-trials", "3",
        "--study-dir", str(study_dir), "--study-name", "r", "--heartbeat", str(HEARTBEAT),
        "--no-test",
    ]  # fmt: skip
    code = "import sys; from lightning_meta.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "LIGHTNING_META_CACHE": str(isolated_cache), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = study_dir / "study.db"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            rows = states(db)
            done = [state for _, state, _ in rows[:2]] == ["COMPLETE", "COMPLETE"]
            if done and rows[2:3] == [(2, "RUNNING", 1)]:  # trial 3 running, heartbeat on
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the study finished before trial 3 could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # mid-trial: no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    storage = f"sqlite:///{db}"
    before = optuna.load_study(study_name="r", storage=storage).trials
    assert [t.state.name for t in before] == ["COMPLETE", "COMPLETE", "RUNNING"]
    time.sleep(2 * HEARTBEAT + 2)  # stale: silent > 2 heartbeats (SQLite clock: 1 s steps)

    assert main(args) == 0  # the same command again
    after = optuna.load_study(study_name="r", storage=storage).trials
    assert [t.state.name for t in after] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    for old, new in zip(before[:2], after[:2], strict=True):
        assert (new.params, new.value, new.datetime_complete) == (
            old.params,
            old.value,
            old.datetime_complete,
        )
    # the resumed sampler does not replay the first run's draws
    assert after[3].params not in [t.params for t in after[:3]]
    assert (study_dir / "best.yaml").is_file()
    rows = (study_dir / "trials.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == [t.state.name for t in after]
