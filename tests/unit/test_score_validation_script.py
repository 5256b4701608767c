"""scripts/score_validation.py: its row specs (test-time overrides, SetFit, mixes) and their errors."""

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
    assert script.adaptation("runs/x/export@top2/30/0.02/4") == (
        "runs/x/export",
        {"inner": {"adapt": "top2", "steps": 30, "lr": 0.02, "pair_weight": 4.0}},
    )
    for bad in ("runs/x/export@top2/15", "runs/x/export@top2/15/0.1/4/5"):
        with pytest.raises(SystemExit, match=r"EXPORT@ADAPT/STEPS/LR\[/PAIR_WEIGHT\]"):
            script.adaptation(bad)


def test_setfit_first_is_refused_before_any_work(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["score_validation.py", "setfit:mpnet", "runs/x/export"])
    monkeypatch.setattr(script, "resolve_config", lambda _: {"data": {"init_args": {}}})
    monkeypatch.setattr(script, "fixed_episodes", lambda *a: pytest.fail("built episodes"))
    with pytest.raises(SystemExit, match="put an export first"):
        script.main()


def _fake_scoring(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, accs: dict[str, list[float]]
) -> list[SimpleNamespace]:
    """Five nyt 16-shot episodes (validation indices 3, 7, ...) among 20 of two families; a
    row's accuracies are looked up by its name, in the order of the episodes it is given."""
    built = [
        SimpleNamespace(task_source="nyt 16-shot" if i % 4 == 3 else "wordnet", index=i)
        for i in range(20)
    ]
    monkeypatch.setattr(script, "resolve_config", lambda _: {"data": {"init_args": {}}})
    monkeypatch.setattr(script, "export_tokenizer", lambda *_: "tiny")
    monkeypatch.setattr(script, "fixed_episodes", lambda *_: built)
    monkeypatch.setattr(script, "load_any", lambda path, overrides: path)
    monkeypatch.setattr(script, "same_tasks", lambda *_: None)
    monkeypatch.setattr(
        script,
        "score_module",
        lambda m, eps, **_: [SimpleNamespace(acc=accs[m][i]) for i in range(len(eps))],
    )
    monkeypatch.setattr(script.Rows, "build", lambda self, spec: spec)  # SetFit rows by name
    return built


def test_out_writes_each_rows_per_episode_accuracies(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    accs = {"a": [1.0, 0.5, 0.75], "b": [0.5, 0.5, 1.0], "setfit:mpnet": [0.25, 1.0, 0.5]}
    _fake_scoring(script, monkeypatch, {k: v + [0.0] * 2 for k, v in accs.items()})
    out = tmp_path / "scores.csv"
    argv = ["--only-family", "nyt 16-shot", "--skip", "2", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["score_validation.py", *argv, "a", "setfit:mpnet", "b"])
    script.main()
    rows = out.read_text().splitlines()
    assert rows[0] == "episode,family,a,setfit:mpnet,b"
    # --skip 2 leaves the 3rd to 5th nyt episodes: validation indices 11, 15, 19
    assert [r.split(",")[0] for r in rows[1:]] == ["11", "15", "19"]
    assert rows[2] == "15,nyt 16-shot,0.500000,1.000000,0.500000"


def test_skip_past_every_episode_is_refused(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_scoring(script, monkeypatch, {"a": [1.0] * 5})
    argv = ["--only-family", "nyt 16-shot", "--skip", "5", "a"]
    monkeypatch.setattr(sys, "argv", ["score_validation.py", *argv])
    with pytest.raises(SystemExit, match="--skip: 5 leaves none of 5 episodes"):
        script.main()


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
    one = script.paired_lines(["a", "b", "b"], ["x"] * 4, scores)
    assert one[-1] == "b - mean of the others: 0.00 ± 17.32 pp"
    assert len(one) == 3


class _Fixed:
    """A row whose query probabilities are fixed; counts the episodes it evaluates."""

    def __init__(self, probs: list[list[float]]) -> None:
        import torch

        self.logits, self.calls, self.device = torch.tensor(probs).log(), 0, "cpu"

    def eval(self) -> _Fixed:
        return self

    def evaluate_episode(self, ep: object) -> object:
        from lightning_meta.evaluation.baselines.text import output_from_logits

        self.calls += 1
        return output_from_logits(self.logits, ep.query.labels)  # type: ignore[attr-defined]


def test_mix_rows_share_one_setfit_fit_per_episode(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from lightning_meta.data.episode import Episode, TextBatch
    from lightning_meta.evaluation import baselines

    setfit = _Fixed([[0.9, 0.1], [0.3, 0.7]])  # right on both queries (labels 0, 1)
    meta = _Fixed([[0.4, 0.6], [0.45, 0.55]])  # wrong on the first
    monkeypatch.setattr(baselines, "SetFitBaseline", lambda **_: setfit)
    monkeypatch.setattr(script, "load_any", lambda path, overrides: meta)
    monkeypatch.setattr(script, "export_tokenizer", lambda *_: "tiny")
    rows = script.Rows("tiny", {})
    ids = torch.arange(8).reshape(2, 4)
    batch = TextBatch(ids, torch.ones_like(ids), torch.tensor([0, 1]))
    ep = Episode(batch, batch, 2, 0, "val", "nyt 16-shot")
    from lightning_meta.evaluation.scoring import score_module

    accs = {
        spec: score_module(rows.get(spec), [ep], progress=False)[0].acc
        for spec in ["setfit:mpnet", "mix:0.25:setfit:mpnet+E", "mix:0.75:setfit:mpnet+E"]
    }
    # SetFit weight 0.25: first query 0.25 * 0.9 + 0.75 * 0.4 = 0.525 for class 0 (right);
    # both mixes right on both queries, SetFit fitted once for the three rows
    assert accs == {"setfit:mpnet": 1.0, "mix:0.25:setfit:mpnet+E": 1.0,
                    "mix:0.75:setfit:mpnet+E": 1.0}  # fmt: skip
    assert setfit.calls == 1 and meta.calls == 1
    low = rows.get("mix:0.1:setfit:mpnet+E").evaluate_episode(ep).logits.exp()
    assert low[0].tolist() == pytest.approx([0.1 * 0.9 + 0.9 * 0.4, 0.1 * 0.1 + 0.9 * 0.6])
    for bad in ["mix:1.5:setfit:mpnet+E", "mix:0.5:setfit:mpnet", "mix:x:a+b", "mix:0.5"]:
        with pytest.raises(SystemExit, match="write mix:W:A\\+B"):
            rows.get(bad)
    monkeypatch.setattr(script, "export_tokenizer", lambda *_: "other")
    with pytest.raises(SystemExit, match="share the first export's tokenizer"):
        script.Rows("tiny", {}).get("mix:0.5:setfit:mpnet+E2")


def test_a_mix_with_test_time_overrides_is_scored_as_a_mix(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mix spec holding ``EXPORT@ADAPT/STEPS/LR`` is not parsed as an export's overrides."""
    accs = {"a": [1.0] * 5, "mix:0.5:a@top2/15/0.01+setfit:mpnet": [0.5] * 5}
    _fake_scoring(script, monkeypatch, accs)
    argv = ["--only-family", "nyt 16-shot", "a", "mix:0.5:a@top2/15/0.01+setfit:mpnet"]
    monkeypatch.setattr(sys, "argv", ["score_validation.py", *argv])
    script.main()
