"""The SMLMT comparison script: paired differences against hand numbers, and a tiny end-to-end run."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from lightning_meta.bench.suite import smlmt_compare as sc
from lightning_meta.bench.suite.paired import paired_differences, read_episodes, render_paired
from lightning_meta.cli.bench_suite import compare_main, compare_parser, paired_main
from lightning_meta.models.encoder import tiny_encoder


def test_paired_differences_match_hand_computation() -> None:
    scores = {
        "base": {"t": {"acc": [0.5, 0.6, 0.7], "f1": [0.4, 0.4, 0.4]}},
        "new": {"t": {"acc": [0.6, 0.6, 0.9], "f1": [0.4, 0.5, 0.6]}},
    }
    d = paired_differences(scores, "base")
    assert list(d) == ["new"]
    acc = d["new"]["t"]["acc"]  # differences 0.1, 0.0, 0.2: mean 0.1, sd 0.1
    assert acc.mean == pytest.approx(0.1)
    assert acc.ci == pytest.approx(1.96 * 0.1 / math.sqrt(3))
    assert d["new"]["t"]["f1"].mean == pytest.approx(0.1)
    table = render_paired(d, "base", ["t"])
    assert "| new | +10.00 ± 11.32 | +10.00 ± 11.32 |" in table


def test_compare_end_to_end_on_a_tiny_export(
    tmp_path: Path,
    tiny_csv: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    export = tmp_path / "tiny_export"
    tiny_encoder(seed=0).save_pretrained(export)
    target = {"source": str(tiny_csv), "split_mode": "classes", "split_fractions": (0.34, 0.33, 0.33), "n_way": 3, "k_shot": 2,
              "q_query": 3, "max_length": 16, "seed": 0}  # fmt: skip
    monkeypatch.setitem(sc.TARGETS, "fortunes", ("tiny 3-way 2-shot", target))
    out = tmp_path / "out"
    argv = ["--model", f"a={export}", "--model", f"b={export}", "--centroid", "--episodes", "3",
            "--targets", "fortunes", "--inner-steps", "2", "--threads", "1", "--out", str(out)]  # fmt: skip
    assert compare_main(argv) == 0
    rows = list(csv.DictReader((out / "episodes.csv").open()))
    assert len(rows) == 4 * 3  # (a, b) x (fine-tuning, centroid) x 3 episodes
    by_row: dict[str, list[float]] = {}
    for r in rows:
        by_row.setdefault(r["method"], []).append(float(r["acc"]))
    assert by_row["a + fine-tuning"] == by_row["b + fine-tuning"]  # same weights, same episodes
    summary = {r["method"]: float(r["acc"]) for r in csv.DictReader((out / "results.csv").open())}
    for name, accs in by_row.items():
        assert summary[name] == pytest.approx(sum(accs) / len(accs))
    md = (out / "results.md").read_text()
    assert "Paired difference to `a + fine-tuning`" in md
    assert "| b + fine-tuning | +0.00 ± 0.00 | +0.00 ± 0.00 |" in md
    # the paired command re-derives the same table from episodes.csv
    assert (
        list(
            read_episodes(out / "episodes.csv")["a + fine-tuning"]["tiny 3-way 2-shot"][
                "acc"
            ].values()
        )
        == (by_row["a + fine-tuning"])
    )
    assert paired_main([str(out / "episodes.csv")]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-3:] == md.strip().splitlines()[-3:]


def test_bad_arguments_fail_before_any_model_is_loaded() -> None:
    from lightning_meta.errors import ConfigError

    with pytest.raises(SystemExit):
        compare_parser().parse_args(["--model", "x", "--targets", "nope"])
    with pytest.raises(ConfigError, match="--baseline: 'x frozen"):
        compare_main(["--model", "x=/nonexistent", "--baseline", "x frozen + centroid"])
    with pytest.raises(ConfigError, match="--episodes"):
        compare_main(["--model", "x=/nonexistent", "--episodes", "0"])
