"""`tune --eval-only`: test-time adaptation of a fixed model searched on validation episodes;
the held-out table is checked against an independent evaluation of the same episodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_meta.cli.main import main
from lightning_meta.cli.tune import resolve_config, run_fit
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.scoring import score_module
from lightning_meta.tuning.study import StudySpec
from lightning_meta.tuning.tuner import TuneOptions, run_tuning
from tests.unit.tuning.conftest import finetune_experiment, write_yaml
from tests.unit.tuning.test_tune_fit import Spy

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SPACE = {
    "model.init_args.inner.steps": {"type": "int", "low": 1, "high": 6},
    "model.init_args.inner.lr": {"type": "float", "low": 1e-3, "high": 0.5, "log": True},
    "model.init_args.inner.adapt": {"type": "categorical", "choices": ["head", "top1"]},
}


def test_eval_only_tunes_on_val_and_scores_test_once_paired(
    tmp_path: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = finetune_experiment(tmp_path, tiny_csv)
    experiment = write_yaml(tmp_path / "ft.yaml", cfg)
    space = write_yaml(tmp_path / "space.yaml", SPACE)
    spy = Spy(monkeypatch)
    opts = TuneOptions(
        config=experiment,
        space=space,
        n_trials=4,
        study=StudySpec(study_dir=tmp_path / "e", study_name="e", seed=1),
        eval_only=True,
        model="tiny",
    )
    result = run_tuning(opts, resolve_config, run_fit)
    study, held = result.study, result.held_out
    assert held is not None and len(study.trials) == 4

    end = spy.index(("search ended",))
    assert not [e for e in spy.events[:end] if "test" in e]  # no test episode during the search
    assert not [e for e in spy.events if "train" in e]  # no training at all
    n_val, n_test = cfg["data"]["init_args"]["stream"]["val_episodes"], 3
    assert [e for e in spy.events[:end] if e[0] == "built"] == [("built", "val")] * n_val  # once
    test_scorings = [e for e in spy.events[end:] if e[:2] == ("scored", "test")]
    assert len(test_scorings) == (1 if study.best_trial.user_attrs.get("default") else 2)

    # trial 0 ran the experiment's own settings: identical to the plain evaluator of `tiny`
    data = cfg["data"]["init_args"]
    val = fixed_episodes(data, n_val, split="val")
    reference = [s.acc for s in score_module(load_any("tiny", n_way=3), val)]
    assert (
        study.trials[0].user_attrs["default"] and study.trials[0].user_attrs["val_acc"] == reference
    )
    assert held.untuned["val"]["acc"] == reference
    assert study.best_value == pytest.approx(sum(held.tuned["val"]["acc"]) / n_val)
    # test: the untuned row is the plain evaluator on the same fixed test episodes
    test = fixed_episodes(data, n_test, split="test")
    assert held.untuned["test"]["acc"] == [
        s.acc for s in score_module(load_any("tiny", n_way=3), test)
    ]
    for split in ("val", "test"):
        rows = held.summary(split)
        diffs = [
            a - b for a, b in zip(held.tuned[split]["acc"], held.untuned[split]["acc"], strict=True)
        ]
        assert rows["tuned - default"].mean == pytest.approx(sum(diffs) / len(diffs))
        assert rows["tuned - default"].mean == pytest.approx(
            rows["tuned"].mean - rows["default"].mean
        )
    best_yaml = result.best_yaml.read_text()
    assert "backbone: tiny" in best_yaml
    summary = (tmp_path / "e" / "summary.md").read_text()
    assert f"test ({n_test} episodes) acc" in summary and "tuned - default (paired)" in summary


def test_eval_only_space_outside_model_settings_fails_before_any_trial(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    experiment = write_yaml(tmp_path / "ft.yaml", finetune_experiment(tmp_path, tiny_csv))
    space = write_yaml(
        tmp_path / "space.yaml", {"trainer.max_steps": {"type": "int", "low": 1, "high": 3}}
    )
    args = ["tune", "--eval-only", "--model", "tiny", "--config", str(experiment), "--space",
            str(space), "--n-trials", "2", "--study-dir", str(tmp_path / "s")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: space: trainer.max_steps: --eval-only tunes the model's")
    assert not (tmp_path / "s").exists()  # nothing created: no study, no trial


def test_eval_only_refuses_a_checkpoint(tmp_path: Path) -> None:
    from lightning_meta.tuning.trial_eval import EvalObjective

    with pytest.raises(ConfigError, match="not a .ckpt"):
        EvalObjective([], "runs/x/last.ckpt", 3, [])


def test_repeated_config_merges_like_fit(tmp_path: Path, tiny_csv: Path) -> None:
    """`tune --config A --config B`: B overrides A as in `fit`, and every trial gets both."""
    from lightning_meta.cli.tune import build_parser
    from lightning_meta.tuning.tuner import prepare

    experiment = write_yaml(tmp_path / "ft.yaml", finetune_experiment(tmp_path, tiny_csv))
    overlay = write_yaml(
        tmp_path / "more_val.yaml", {"data": {"init_args": {"stream": {"val_episodes": 7}}}}
    )
    space = write_yaml(tmp_path / "space.yaml", SPACE)
    argv = ["--config", str(experiment), "--config", str(overlay), "--space", str(space)]
    args = build_parser().parse_args([*argv, "--n-trials", "1"])
    assert args.config == [str(experiment), str(overlay)]
    opts = TuneOptions(
        config=experiment,
        more_configs=(overlay,),
        space=space,
        n_trials=1,
        study=StudySpec(study_dir=tmp_path / "m", study_name="m"),
        eval_only=True,
        model="tiny",
    )
    plan = prepare(opts, resolve_config)
    assert plan.base[:4] == ["--config", str(experiment), "--config", str(overlay)]
    assert plan.counts["val"] == 7  # the overlay's value, not the experiment's 3
