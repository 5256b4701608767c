"""`lightning-meta tune` on the tiny backbone: a 3-trial study, its outputs, best.yaml accepted by
`fit`, same seed -> same trials, test episodes untouched until the search ends, pruning in a fit."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from lightning_meta.cli.main import main
from lightning_meta.data.sampler import EpisodeSampler
from lightning_meta.evaluation import scoring
from tests.conftest import tiny_rows
from tests.unit.tuning.conftest import TINY_SPACE, tiny_experiment, write_yaml

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class Spy:
    """Every episode built and every scoring call, in order, with the end of the search."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, ...]] = []
        episode, optimize, score = (
            EpisodeSampler.episode,
            optuna.Study.optimize,
            scoring.score_episodes,
        )

        def built(sampler: EpisodeSampler, split: str, index: int) -> Any:
            self.events.append(("built", split))
            return episode(sampler, split, index)

        def searched(study: optuna.Study, *args: Any, **kwargs: Any) -> None:
            optimize(study, *args, **kwargs)
            self.events.append(("search ended",))

        def scored(fn: Any, episodes: Any, *args: Any, **kwargs: Any) -> Any:
            episodes = list(episodes)
            self.events.append(("scored", episodes[0].split, str(len(episodes))))
            return score(fn, episodes, *args, **kwargs)

        monkeypatch.setattr(EpisodeSampler, "episode", built)
        monkeypatch.setattr(optuna.Study, "optimize", searched)
        monkeypatch.setattr(scoring, "score_episodes", scored)
        # every scoring through the per-episode loop, so each call is counted once (the cached
        # path gives the same scores: tests/unit/evaluation checks that)
        monkeypatch.setattr(scoring, "cached_outputs", lambda *args, **kwargs: None)

    def index(self, event: tuple[str, ...]) -> int:
        return self.events.index(event)


def tune_args(root: Path, study: str, *extra: str) -> list[str]:
    return [
        "tune",
        "--config", str(root / "experiment.yaml"),
        "--space", str(root / "space.yaml"),
        "--study-dir", str(root / study),
        "--study-name", study,
        *extra,
    ]  # fmt: skip


def read_trials(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def study_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Spy]]:
    """One 3-trial study (seed 7) shared by the tests below; the spy saw all of it."""
    root = tmp_path_factory.mktemp("tune")
    csv_path = root / "tiny.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(tiny_rows())
    write_yaml(root / "experiment.yaml", tiny_experiment(root, csv_path))
    write_yaml(root / "space.yaml", TINY_SPACE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIGHTNING_META_CACHE", str(tmp_path_factory.getbasetemp() / "lm_cache"))
        mp.chdir(root)
        spy = Spy(mp)
        assert main(tune_args(root, "a", "--n-trials", "3", "--seed", "7")) == 0
        yield root, spy


def test_three_trial_study_writes_every_output(study_a: tuple[Path, Spy]) -> None:
    root, _ = study_a
    out = root / "a"
    for name in ("best.yaml", "trials.csv", "summary.md", "history.png", "study.db"):
        assert (out / name).is_file(), name
    rows = read_trials(out / "trials.csv")
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    assert rows[0]["default"] == "True"  # trial 0: the experiment's own values
    assert float(rows[0]["model.init_args.inner.lr"]) == 0.01
    assert all(float(r["duration_s"]) > 0 for r in rows)
    summary = (out / "summary.md").read_text()
    assert "3 trials (3 complete)" in summary and "tuned - default (paired)" in summary
    # each trial wrote into its own directory, never into the experiment's runs/
    assert not (root / "runs").exists()
    assert (out / "trials" / "0002" / "export" / "meta_learning.json").is_file()


def test_best_yaml_is_the_full_config_with_the_best_values_and_fit_accepts_it(
    study_a: tuple[Path, Spy], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = study_a
    best_yaml = root / "a" / "best.yaml"
    best = yaml.safe_load(best_yaml.read_text())
    study = optuna.load_study(study_name="a", storage=f"sqlite:///{root / 'a' / 'study.db'}")
    for path, value in study.best_trial.params.items():
        node: Any = best
        for part in path.split("."):
            node = node[part]
        assert node == value
    experiment = yaml.safe_load((root / "experiment.yaml").read_text())
    assert best["data"]["init_args"]["source"] == experiment["data"]["init_args"]["source"]
    assert best["trainer"]["max_steps"] == 2
    assert "OptunaPruning" not in best_yaml.read_text()  # the search's own callback is not in it
    monkeypatch.chdir(root)
    assert main(["fit", "--config", str(best_yaml)]) == 0  # accepted as is: a real (tiny) fit
    assert (root / "runs" / "export" / "meta_learning.json").is_file()


def test_same_seed_gives_the_same_trials(
    study_a: tuple[Path, Spy], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = study_a
    monkeypatch.chdir(root)
    assert main(tune_args(root, "b", "--n-trials", "3", "--seed", "7", "--no-test")) == 0
    a, b = read_trials(root / "a" / "trials.csv"), read_trials(root / "b" / "trials.csv")
    drop = ("duration_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in a] == [
        {k: v for k, v in r.items() if k not in drop} for r in b
    ]
    assert len({r["model.init_args.inner.lr"] for r in a}) == 3


def test_test_episodes_are_untouched_until_the_search_ends(study_a: tuple[Path, Spy]) -> None:
    root, spy = study_a
    end = spy.index(("search ended",))
    before, after = spy.events[:end], spy.events[end:]
    assert ("built", "val") in before and ("built", "train") in before  # the trials ran
    assert not [e for e in before if "test" in e]
    data = yaml.safe_load((root / "experiment.yaml").read_text())["data"]["init_args"]
    n_test = data["stream"]["test_episodes"]
    assert after.count(("built", "test")) == n_test  # one set of fixed test episodes
    test_scorings = [e for e in after if e[:2] == ("scored", "test")]
    study = optuna.load_study(study_name="a", storage=f"sqlite:///{root / 'a' / 'study.db'}")
    expected = 1 if study.best_trial.user_attrs.get("default") else 2  # best (+ the default)
    assert test_scorings == [("scored", "test", str(n_test))] * expected


def test_a_trial_below_the_median_is_pruned_inside_its_fit(
    tmp_path: Path, experiment: Path, space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'p' / 'study.db'}"
    (tmp_path / "p").mkdir()
    study = optuna.create_study(study_name="p", storage=storage, direction="maximize")
    for _ in range(2):  # two finished trials that scored 1.0 at every validation
        trial = study.ask()
        trial.suggest_float("model.init_args.inner.lr", 1e-3, 0.3, log=True)
        trial.suggest_int("model.init_args.inner.steps", 1, 2)
        for step in (1, 2):
            trial.report(1.0, step)
        study.tell(trial, 1.0)
    rc = main(tune_args(tmp_path, "p", "--n-trials", "3", "--startup-trials", "2", "--no-test"))
    assert rc == 0
    pruned = optuna.load_study(study_name="p", storage=storage).trials[2]
    assert pruned.state == optuna.trial.TrialState.PRUNED
    assert list(pruned.intermediate_values) == [1]  # stopped at its first validation
    assert not (tmp_path / "p" / "trials" / "0002" / "export").exists()  # no export of it
