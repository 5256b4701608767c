"""Resume: a study whose process is SIGKILLed during trial 3 continues to N trials when the same
command runs again; the first two trials are kept as they were and the killed one is FAIL."""

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

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
HEARTBEAT = 1  # s; a trial silent for 2 s is stale


def states(db: Path) -> list[tuple[int, str]]:
    if not db.is_file():
        return []
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return list(con.execute("SELECT number, state FROM trials ORDER BY number"))
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return []


def test_killed_study_resumes_to_n_trials_keeping_the_first_two(
    tmp_path: Path, experiment: Path, space: Path, isolated_cache: Path
) -> None:
    study_dir = tmp_path / "study"
    args = [
        "tune", "--config", str(experiment), "--space", str(space), "--n-trials", "4",
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
            if [s for _, s in rows[:2]] == ["COMPLETE", "COMPLETE"] and rows[2:3] == [
                (2, "RUNNING")
            ]:
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
    time.sleep(2 * HEARTBEAT + 1)  # the killed trial's heartbeat goes stale

    assert main(args) == 0  # the same command again
    after = optuna.load_study(study_name="r", storage=storage).trials
    assert [t.state.name for t in after] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    for old, new in zip(before[:2], after[:2], strict=True):
        assert (new.params, new.value, new.datetime_complete) == (
            old.params,
            old.value,
            old.datetime_complete,
        )
    # the resumed sampler does not replay the first trials' parameters
    assert after[3].params != after[1].params and after[4].params != after[2].params
    assert (study_dir / "best.yaml").is_file()
    rows = (study_dir / "trials.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == [t.state.name for t in after]
