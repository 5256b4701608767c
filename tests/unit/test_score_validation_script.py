"""scripts/score_validation.py: its row specs (test-time overrides, SetFit) and their errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "score_validation.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_validation", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_adaptation_parses_overrides(script: ModuleType) -> None:
    assert script.adaptation("runs/x/export") == ("runs/x/export", None)
    assert script.adaptation("runs/x/export@top12/10/0.003") == (
        "runs/x/export",
        {"inner": {"adapt": "top12", "steps": 10, "lr": 0.003}},
    )
    with pytest.raises(SystemExit, match="EXPORT@ADAPT/STEPS/LR"):
        script.adaptation("runs/x/export@top2/15")


def test_setfit_first_is_refused_before_any_work(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["score_validation.py", "setfit:mpnet", "runs/x/export"])
    monkeypatch.setattr(script, "resolve_config", lambda _: {"data": {"init_args": {}}})
    monkeypatch.setattr(script, "fixed_episodes", lambda *a: pytest.fail("built episodes"))
    with pytest.raises(SystemExit, match="put an export first"):
        script.main()


def test_out_writes_each_rows_per_episode_accuracies(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    episodes = [SimpleNamespace(task_source="nyt 16-shot", index=i) for i in range(3)]
    accs = {"a": [1.0, 0.5, 0.75], "b": [0.5, 0.5, 1.0], "setfit:mpnet": [0.25, 1.0, 0.5]}
    monkeypatch.setattr(script, "resolve_config", lambda _: {"data": {"init_args": {}}})
    monkeypatch.setattr(script, "export_tokenizer", lambda *_: "tiny")
    monkeypatch.setattr(script, "fixed_episodes", lambda *_: episodes)
    monkeypatch.setattr(script, "load_any", lambda path, overrides: path)
    monkeypatch.setattr(script, "same_tasks", lambda *_: None)
    monkeypatch.setattr(
        script, "score_module", lambda m, eps, **_: [SimpleNamespace(acc=x) for x in accs[m]]
    )
    monkeypatch.setattr(script, "score_setfit", lambda spec, tok, eps: np.array(accs[spec]))
    out = tmp_path / "scores.csv"
    monkeypatch.setattr(
        sys, "argv", ["score_validation.py", "--out", str(out), "a", "setfit:mpnet", "b"]
    )
    script.main()
    rows = out.read_text().splitlines()
    assert rows[0] == "episode,family,a,setfit:mpnet,b"
    assert rows[2] == "1,nyt 16-shot,0.500000,1.000000,0.500000"
    assert len(rows) == 4


def test_paired_lines_per_family_by_hand(script: ModuleType) -> None:
    # Two families, two episodes each; b - a per episode: wordnet (+0.5, 0.0), nyt (-0.25, -0.25).
    scores = {"a": np.array([0.5, 1.0, 0.75, 0.5]), "b": np.array([1.0, 1.0, 0.5, 0.25])}
    families = ["wordnet", "wordnet", "nyt", "nyt"]
    lines = script.paired_lines(["a", "b"], families, scores)
    # overall: mean 0.0, sd of (0.5, 0, -0.25, -0.25) = 0.3536 -> 1.96 * 0.3536 / 2 = 0.3465
    assert lines[0] == "b - a: 0.00 ± 34.65 pp"
    # wordnet: mean 0.25, sd 0.3536, n 2 -> 1.96 * 0.3536 / sqrt(2) = 0.49; nyt: -0.25 ± 0
    assert lines[1:] == ["  wordnet: 25.00 ± 49.00 pp", "  nyt: -25.00 ± 0.00 pp"]
    # one family: no per-family lines; three rows: the last minus the mean of the others
    one = script.paired_lines(["a", "b", "b"], ["x"] * 4, {**scores})
    assert one[-1] == "b - mean of the others: 0.00 ± 17.32 pp"
    assert len(one) == 3
