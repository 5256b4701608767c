"""`lightning-meta report` (issue 14): the paired difference by hand, a families export's
targets and full row set end to end on the tiny encoder, the results.csv header, and the
memoized logistic-regression features against the unmemoized ones."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_meta.bench.suite.paired import paired_differences, read_named_episodes
from lightning_meta.callbacks.export import export_module
from lightning_meta.cli import main
from lightning_meta.cli.report import main as report_main
from lightning_meta.data.episode import Episode
from lightning_meta.data.family_rules import DEFAULT_TARGETS
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation import paired_table, report
from lightning_meta.evaluation.baselines import LogisticRegressionHead
from lightning_meta.evaluation.baselines.text import output_from_logits
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.metrics import MeanCI
from lightning_meta.evaluation.paired_table import paired_to_best
from lightning_meta.evaluation.report import report_targets, target_args
from lightning_meta.evaluation.scoring import EpisodeScore, score_module
from lightning_meta.evaluation.tables import COLUMNS, PAIRED_COLUMNS, Paired, Result, render_wide
from lightning_meta.lightning import MAML
from tests.unit.fewshot.helpers import module

FAMILY_NAMES = [
    "wordnet test classes 5-way 5-shot", "fortunes test classes 5-way 5-shot",
    "sentiment:movie 2-way 8-shot", "sentiment:movie 2-way 16-shot",
]  # fmt: skip


def s(i: int, acc: float) -> EpisodeScore:
    return EpisodeScore(i, acc, acc, float("nan"), 0.0)


def test_paired_to_best_by_hand() -> None:
    scores = {
        "meta-trained init + fine-tuning": [s(0, 0.9), s(1, 0.7), s(2, 0.8)],
        "centroid": [s(0, 0.5), s(1, 0.5), s(2, 0.5)],
        "logreg": [s(0, 0.8), s(1, 0.6), s(2, 0.6)],  # best baseline: mean 0.667
        "SetFit": [s(0, 0.9)],  # fewer episodes, mean 0.9: not "best" on n=1
    }
    found = paired_to_best(scores)
    assert found is not None and found[0] == "logreg"  # best among the rows on all episodes
    del scores["SetFit"]
    found = paired_to_best(scores)
    assert found is not None
    d = found[1]["meta-trained init + fine-tuning"]
    # differences 0.1, 0.1, 0.2: mean 0.1333, std 0.0577, CI 1.96 * 0.0577 / sqrt(3) = 0.0653
    assert found[0] == "logreg" and d.n == 3
    assert d.mean == pytest.approx(0.13333, abs=1e-4) and d.ci == pytest.approx(0.06533, abs=1e-4)
    assert paired_to_best({"meta-trained x": scores["logreg"]}) is None  # no baseline: none


def test_paired_column_of_the_wide_table() -> None:
    r = [Result("meta-trained a", "T", MeanCI(0.8, 0.01, 3), MeanCI(0.7, 0.01, 3)),
         Result("base", "T", MeanCI(0.6, 0.02, 3), MeanCI(0.5, 0.02, 3)),
         Result("other", "T", MeanCI(0.5, 0.02, 3), MeanCI(0.5, 0.02, 3))]  # fmt: skip
    paired = {("meta-trained a", "T"): Paired("base", MeanCI(0.2, 0.05, 3))}
    lines = render_wide(r, {"T": 3}, paired=paired).splitlines()
    assert lines[2] == "| method | T: acc | T: macro-F1 | T: Δ acc vs best (pp) |"
    assert lines[4] == "| meta-trained a | 80.00 ± 1.00 | 70.00 ± 1.00 | +20.00 ± 5.00 (n=3) |"
    assert lines[5].endswith("| best baseline |") and lines[6].endswith("| - |")


def test_targets_of_a_families_export() -> None:
    data = {"families": [{"source": "wordnet"}], "targets": None, "max_length": 24,
            "tokenizer": "minilm", "cache_dir": "/c", "seed": 7}  # fmt: skip
    targets = report_targets(data, episodes=20, sentiment_episodes=10)
    assert [t.name for t in targets] == FAMILY_NAMES == [t.name for t in DEFAULT_TARGETS]
    assert [t.episodes for t in targets] == [20, 20, 10, 10]
    assert [t.sentiment for t in targets] == [False, False, True, True]
    assert targets[3].args == {
        "source": "sentiment:movie", "n_way": 2, "k_shot": 16, "q_query": 15, "max_length": 24,
        "tokenizer": "minilm", "seed": 0, "cache_dir": "/c", "split_mode": "examples",
    }  # fmt: skip
    assert targets[1].args["split_fractions"] == [0.5, 0.25, 0.25]  # fortunes' standard split
    assert targets[0].args == target_args(DEFAULT_TARGETS[0], 24, "minilm", "/c")
    picked = report_targets(data, 5, names=["sentiment:movie", FAMILY_NAMES[0]])
    assert [t.name for t in picked] == [FAMILY_NAMES[0], *FAMILY_NAMES[2:]]
    assert [t.name for t in report_targets(data, 5, sentiment=False)] == FAMILY_NAMES[:2]
    with pytest.raises(ConfigError, match=r"^targets: no target named 'imdb'"):
        report_targets(data, 5, names=["imdb"])
    with pytest.raises(ConfigError, match=r"^sentiment-shots: a families export"):
        report_targets(data, 5, sentiment_shots=16)
    with pytest.raises(ConfigError, match=r"^targets: none left"):
        report_targets(data, 5, sentiment=False, names=["sentiment:movie"])
    recorded = {**data, "targets": [{"source": "wordnet", "split_fractions": [0.5, 0.25, 0.25]}]}
    assert [t.name for t in report_targets(recorded, 5)] == [FAMILY_NAMES[0]]


def test_targets_of_a_single_source_export() -> None:
    data = {"source": "wordnet", "n_way": 5, "k_shot": 5, "max_length": 32, "seed": 3}
    targets = report_targets(data, 30, sentiment_episodes=12, sentiment_shots=16)
    assert [t.name for t in targets] == [
        "wordnet test classes 5-way 5-shot", "sentiment:movie 2-way 16-shot"]  # fmt: skip
    assert targets[0].args is data and [t.episodes for t in targets] == [30, 12]
    assert targets[1].args["seed"] == 3 and targets[1].args["max_length"] == 32


def write_rows(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


class FakeSetFit:
    """Stands in for SetFit (no library, no training): uniform logits, calls counted."""

    calls = 0

    bodies: list[tuple[str, bool]] = []

    def __init__(self, body: str, tokenizer: str, normalize: bool = False) -> None:
        self.device = torch.device("cpu")
        FakeSetFit.bodies.append((body, normalize))

    def eval(self) -> FakeSetFit:
        return self

    def evaluate_episode(self, episode: Episode) -> Any:
        FakeSetFit.calls += 1
        return output_from_logits(torch.zeros(len(episode.query), episode.n_way),
                                  episode.query.labels)  # fmt: skip


def tiny_movie(tmp_path: Path) -> Path:
    """A tiny 2-class movie CSV (four words, 30 sentences each)."""
    words = [("good", "positive"), ("great", "positive"), ("bad", "negative"),
             ("awful", "negative")]  # fmt: skip
    return write_rows(tmp_path / "movie.csv",
                      [(f"a {w} film number {i}", y) for i in range(30) for w, y in words])  # fmt: skip


def families_export(tmp_path: Path) -> Path:
    """An export of a tiny first-order MAML whose recorded data config is a families mixture."""
    data = {"class_path": "lightning_meta.data.families.FamilyDataModule", "init_args": {
        "families": [{"source": "wordnet"}], "targets": None,
        "tokens": {"tokenizer": "minilm", "max_length": 16}}}  # fmt: skip
    mod = module(MAML, first_order=True, inner_steps=1)
    return export_module(mod, tmp_path / "export", "minilm", {"config": {"data": data}})


def test_families_export_gets_the_family_targets_and_every_row(
    tmp_path: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    movie = tiny_movie(tmp_path)
    asked: list[dict[str, Any]] = []

    def tiny_episodes(args: dict[str, Any], n: int) -> list[Episode]:  # each target, tiny data
        asked.append(args)
        sentiment = args["source"].startswith("sentiment")
        small = {"source": str(movie if sentiment else tiny_csv), "n_way": 2 if sentiment else 3,
                 "k_shot": 2, "q_query": 3, "max_length": 16, "tokenizer": "minilm",
                 "split_mode": "examples" if sentiment else "classes",
                 "split_fractions": [0.34, 0.33, 0.33]}  # fmt: skip
        return fixed_episodes(small, n)

    monkeypatch.setattr(paired_table, "fixed_episodes", tiny_episodes)
    monkeypatch.setattr(report, "SetFitBaseline", FakeSetFit)
    FakeSetFit.calls, FakeSetFit.bodies = 0, []
    export = families_export(tmp_path)
    out = tmp_path / "out"
    argv = ["report", "--export", str(export), "--baseline", "tiny", "--episodes", "3",
            "--setfit-episodes", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert [a["k_shot"] for a in asked] == [5, 5, 8, 16]
    assert {a["max_length"] for a in asked} == {16}
    with (out / "results.csv").open() as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == COLUMNS + PAIRED_COLUMNS
    assert lines[0][:11] == ["method", "target", "acc", "acc_ci", "f1", "f1_ci", "episodes",
                             "precision", "precision_ci", "recall", "recall_ci"]  # fmt: skip
    rows = {(r[0], r[1]): r for r in lines[1:]}
    assert list(dict.fromkeys(r[1] for r in lines[1:])) == FAMILY_NAMES
    expected = ["meta-trained init (fomaml) + fine-tuning",
                "meta-trained embeddings + logistic regression",
                "meta-trained body + SetFit (library defaults) [2 episodes]",
                "pretrained init + same fine-tuning", "pretrained frozen + nearest centroid",
                "pretrained frozen + logistic regression", "VADER (zero-shot lexicon)",
                "SetFit (tiny body, library defaults) [2 episodes]"]  # fmt: skip
    assert list(dict.fromkeys(r[0] for r in lines[1:])) == expected
    # the meta-trained SetFit row fits 2 episodes x 4 targets; the SetFit baseline is memoized
    # per episode, and these tiny targets come in identical pairs (both 5-way targets read the
    # same tiny CSV with the same arguments, so do both movie targets): 2 x 2 more fits
    assert FakeSetFit.calls == 2 * 4 + 2 * 2 and rows[expected[-1], FAMILY_NAMES[0]][6] == "2"
    assert rows[expected[2], FAMILY_NAMES[0]][6] == "2"  # the meta-trained SetFit row too
    # SetFit from the export (normalised like MiniLM's stack) and from the baseline encoder
    assert sorted(FakeSetFit.bodies) == sorted([(str(export), True), ("tiny", False)])
    assert (expected[6], FAMILY_NAMES[0]) not in rows  # VADER: sentiment targets only
    assert rows[expected[6], FAMILY_NAMES[2]][6] == "3"
    for t in FAMILY_NAMES:  # paired to the best baseline (highest mean acc) of each target
        base = {m: float(r[2]) for (m, tt), r in rows.items() if tt == t and m in expected[3:]}
        (best,) = [m for m in base if rows[m, t][11] == "1"]  # flagged on its own row
        assert base[best] == max(base.values())
        n = 2 if best.startswith("SetFit") else 3
        for m in expected[:3]:
            r = rows[m, t]
            assert r[11] == "" and r[14] == str(2 if "SetFit" in m else n)
            if n == 3 and "SetFit" not in m:  # on every episode: the difference of the means
                assert float(r[12]) == pytest.approx(float(r[2]) - base[best])
        assert all(rows[m, t][12:] == ["", "", ""] for m in base)
    table = (out / "results.md").read_text()
    assert table.startswith("Exported checkpoint:") and "Δ acc vs best (pp)" in table
    notes = [line for line in table.splitlines() if line.startswith("- ")]
    assert len(notes) == 3 * (4 * 4 + 2)  # 3 meta rows x (4 baselines x 4 targets + VADER x 2)
    assert sum("(best baseline)" in n for n in notes) == 3 * 4
    card = (export / "README.md").read_text()
    assert "pretrained frozen + logistic regression" in card  # the full table, on the card
    only = tmp_path / "only"
    argv = [*argv[:-1], str(only), "--only-meta", "--targets", "sentiment:movie"]
    assert main(argv) == 0
    assert (export / "README.md").read_text() == card  # a partial report keeps the card
    methods = {r.split(",")[0] for r in (only / "results.csv").read_text().splitlines()[1:]}
    assert methods == set(expected[:3])  # --setfit-episodes 2: with the meta-trained SetFit
    # episodes.csv: every scored episode; two runs on the same episodes pair up by NAME=PATH
    scores = read_named_episodes([f"full={out / 'episodes.csv'}", f"only={only / 'episodes.csv'}"])
    t, meta = FAMILY_NAMES[2], expected[0]
    accs = scores[f"full: {meta}"][t]["acc"]
    assert sorted(accs) == [0, 1, 2]
    assert sum(accs.values()) / 3 == pytest.approx(float(rows[meta, t][2]))
    (best,) = [m for m in expected[3:] if rows[m, t][11] == "1"]
    diffs = paired_differences(scores, f"full: {best}")
    assert diffs[f"full: {meta}"][t]["acc"].mean == pytest.approx(float(rows[meta, t][12]))
    same = paired_differences(scores, f"full: {meta}")[f"only: {meta}"][t]["acc"]
    assert (same.mean, same.n) == (0.0, 3)  # the same model rescored: identical episodes
    with pytest.raises(ConfigError, match=r"^episodes_csv\.1: method 'meta-trained"):
        read_named_episodes([str(out / "episodes.csv"), str(only / "episodes.csv")])
    FakeSetFit.calls, FakeSetFit.bodies = 0, []
    base_only = tmp_path / "base_only"
    argv = ["report", "--export", str(export), "--baseline", "tiny", "--episodes", "3",
            "--setfit-episodes", "2", "--out", str(base_only), "--targets",
            "sentiment:movie 2-way 8-shot", "--setfit-rows", "baseline"]  # fmt: skip
    assert main(argv) == 0  # the SetFit baseline alone: no meta-trained body + SetFit row
    with (base_only / "results.csv").open() as fh:
        methods = {r[0] for r in list(csv.reader(fh))[1:]}
    assert methods == set(expected) - {expected[2]}
    assert FakeSetFit.bodies == [("tiny", False)] and FakeSetFit.calls == 2
    again = read_named_episodes([f"a={out / 'episodes.csv'}", f"b={base_only / 'episodes.csv'}"])
    setfit = paired_differences(again, f"a: {expected[-1]}")[f"b: {expected[-1]}"]
    assert (setfit[FAMILY_NAMES[2]]["acc"].mean, setfit[FAMILY_NAMES[2]]["acc"].n) == (0.0, 2)


def test_setfit_mix_row_shares_setfits_fit_with_the_setfit_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    movie = tiny_movie(tmp_path)
    small = {"source": str(movie), "n_way": 2, "k_shot": 2, "q_query": 3, "max_length": 16,
             "tokenizer": "minilm", "split_mode": "examples"}  # fmt: skip
    monkeypatch.setattr(paired_table, "fixed_episodes", lambda args, n: fixed_episodes(small, n))
    monkeypatch.setattr(report, "SetFitBaseline", FakeSetFit)
    FakeSetFit.calls, FakeSetFit.bodies = 0, []
    export = families_export(tmp_path)
    out = tmp_path / "out"
    assert main(["report", "--export", str(export), "--baseline", "tiny", "--episodes", "3",
                 "--setfit-episodes", "2", "--setfit-rows", "baseline", "--setfit-mix", "0.5",
                 "--targets", "sentiment:movie 2-way 8-shot", "--out", str(out)]) == 0  # fmt: skip
    assert FakeSetFit.calls == 2  # one SetFit fit per episode for the SetFit and the mix rows
    mix = "meta-trained init + fine-tuning, averaged with SetFit (SetFit weight 0.5) [2 episodes]"
    with (out / "episodes.csv").open() as fh:
        eps = list(csv.DictReader(fh))
    rows = list(dict.fromkeys(r["method"] for r in eps))
    assert rows[:3] == ["meta-trained init (fomaml) + fine-tuning",
                        "meta-trained embeddings + logistic regression", mix]  # fmt: skip
    # the fake SetFit is flat (probability 1/2 each), so the average keeps the meta-trained
    # fine-tuning's predictions: the same accuracy on each of the two episodes
    acc = {(r["method"], r["episode"]): r["acc"] for r in eps}
    assert [acc[mix, e] for e in "01"] == [acc[rows[0], e] for e in "01"]
    assert (mix, "2") not in acc


def test_bad_options_fail_before_scoring(tmp_path: Path) -> None:
    mod = module(MAML, first_order=True, inner_steps=1)
    data = {"init_args": {"families": [{"source": "wordnet"}]}}
    export = export_module(mod, tmp_path / "export", "minilm", {"config": {"data": data}})
    for extra, msg in [(["--episodes", "0"], "episodes: must be positive"),
                       (["--setfit-episodes", "-1"], "setfit-episodes: must be >= 0"),
                       (["--targets", "imdb"], "targets: no target named 'imdb'"),
                       (["--setfit-mix", "1.5"], r"setfit-mix: SetFit's weight must lie in \(0, 1\)"),
                       (["--setfit-mix", "0.5", "--setfit-episodes", "0"],
                        "setfit-mix: needs SetFit episodes"),
                       (["--setfit-mix", "0.5", "--rows", "basic"], "setfit-mix: the basic rows")]:  # fmt: skip
        with pytest.raises(ConfigError, match=msg):
            report_main(["--export", str(export), *extra])


def test_memoized_logreg_equals_unmemoized(tiny_csv: Path) -> None:
    args = {"source": str(tiny_csv), "n_way": 3, "k_shot": 2, "q_query": 3, "max_length": 16,
            "tokenizer": "minilm", "split_mode": "classes", "split_fractions": [0.34, 0.33, 0.33]}  # fmt: skip
    episodes = fixed_episodes(args, 12)
    memo = LogisticRegressionHead.from_encoder("tiny")
    plain = LogisticRegressionHead(memo.embedder, memoize=False)
    for ep in episodes:  # the features, to float32 rounding (see the logreg module doc)
        for batch in (ep.support, ep.query):
            got, want = memo._features(batch), plain._features(batch)
            assert abs(got - want).max() < 1e-6
    keys = {(int(b.input_ids.shape[1]), tuple(ids[m.bool()].tolist()))
            for ep in episodes for b in (ep.support, ep.query)
            for ids, m in zip(b.input_ids, b.attention_mask, strict=True)}  # fmt: skip
    total = sum(len(ep.support) + len(ep.query) for ep in episodes)
    assert memo.encoded == len(keys) < total == plain.encoded  # one pass per unique row
    prepared = LogisticRegressionHead(memo.embedder)
    prepared.prepare(episodes)  # every unique row up front, in full blocks
    assert prepared.encoded == len(keys)
    a = score_module(prepared, episodes, progress=False)
    assert prepared.encoded == len(keys)  # nothing encoded while scoring
    b = score_module(LogisticRegressionHead(memo.embedder, memoize=False), episodes, progress=False)
    assert [(x.acc, x.f1) for x in a] == [(y.acc, y.f1) for y in b]  # episode by episode
    assert [x.query_loss_after for x in a] == pytest.approx([y.query_loss_after for y in b])
    prepared.prepare(episodes[:2])  # the memo keeps the rows of the episodes at hand only
    assert prepared.memo is not None and len(prepared.memo) < len(keys)


def test_logreg_reads_the_shared_feature_cache(tiny_csv: Path) -> None:
    """With the report's FeatureCache, an LR row takes its embeddings from it (no encoder
    pass of its own): features equal the padded pass to float rounding, scores identical."""
    from lightning_meta.evaluation.feature_cache import FeatureCache

    args = {"source": str(tiny_csv), "n_way": 3, "k_shot": 2, "q_query": 3, "max_length": 16,
            "tokenizer": "minilm", "split_mode": "classes", "split_fractions": [0.34, 0.33, 0.33]}  # fmt: skip
    episodes = fixed_episodes(args, 12)
    cached = LogisticRegressionHead.from_encoder("tiny")
    plain = LogisticRegressionHead(cached.embedder, memoize=False)
    cache = FeatureCache(episodes)
    cached.prepare(episodes, cache=cache)
    assert cached.encoded == 0 and cached.cached == len(cache.index)  # one entry per unique row
    for ep in episodes:
        for batch in (ep.support, ep.query):
            assert abs(cached._features(batch) - plain._features(batch)).max() < 1e-6
    assert cached.encoded == 0  # nothing encoded while reading the features either
    a = score_module(cached, episodes, progress=False)
    b = score_module(plain, episodes, progress=False)
    assert [(x.acc, x.f1) for x in a] == [(y.acc, y.f1) for y in b]
    other = LogisticRegressionHead.from_encoder("tiny")
    other.prepare(episodes[:3], cache=cache)  # not the cache's episodes: encodes as before
    assert other.cached == 0 and other.encoded > 0


def test_adaptation_overrides_reach_both_fine_tuning_rows(tmp_path: Path) -> None:
    """--inner-steps/--inner-lr/--adapt (an adaptation tuned on validation): the meta-trained
    fine-tuning row and the pretrained 'same fine-tuning' row both adapt with them; the
    results.md line states them beside the export's own values."""
    from jsonargparse import Namespace

    from lightning_meta.cli.report import adaptation_overrides
    from lightning_meta.evaluation.export_meta import ExportMeta

    mod = module(MAML, first_order=True, inner_steps=1)
    data = {"init_args": {"families": [{"source": "wordnet"}]}}
    export = export_module(mod, tmp_path / "export", "minilm", {"config": {"data": data}})
    meta = ExportMeta.read(export)
    assert meta is not None
    tuned = {"inner_steps": 3, "inner_lr": 0.05, "adapt": "top2"}
    names = ["meta-trained init (fomaml) + fine-tuning", "pretrained init + same fine-tuning"]
    rows = report.report_rows(export, meta, "tiny", "basic", 0, adaptation=tuned)
    plain = report.report_rows(export, meta, "tiny", "basic", 0)
    for name in names:
        m, p = rows[name].evaluator, plain[name].evaluator
        assert (m.eval_steps, m.inner.lr, p.eval_steps, p.inner.lr) == (3, 0.05, 1, 0.01)
        assert any(".layer.0." in n for n in m.model.adapted_params())  # tiny: 2 layers
        assert not any(".layer.0." in n for n in p.model.adapted_params())  # top1: layer 1
    args = Namespace(inner_steps=3, inner_lr=None, adapt="top2", pair_weight=4.0)
    given, lines = adaptation_overrides(args, meta)
    assert given == {"inner_steps": 3, "adapt": "top2", "pair_weight": 4.0}
    assert lines == ["Fine-tuning rows adapt with adapt top2 (export: top1), inner_steps 3 "
                     "(export: 1), pair_weight 4.0 (export: 0.0)."]  # fmt: skip
    none = Namespace(inner_steps=None, inner_lr=None, adapt=None, pair_weight=None)
    assert adaptation_overrides(none, meta) == ({}, [])
    for extra, msg in [(["--inner-steps", "-1"], "inner-steps: must be >= 0"),
                       (["--inner-lr", "0"], "inner-lr: must be > 0"),
                       (["--pair-weight", "-1"], "pair-weight: must be >= 0")]:  # fmt: skip
        with pytest.raises(ConfigError, match=msg):
            report_main(["--export", str(export), *extra])
