"""The tool commands' one flag style: `--config FILE` gives the same result as the flags, typed
`--help`, one-line errors, and `evaluate`/`report` writing the shared results table."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from lightning_meta.cli.main import main
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.tables import COLUMNS, read_csv
from lightning_meta.models.encoder import tiny_encoder


def _data(tiny_csv: Path) -> dict[str, Any]:
    return {"data": str(tiny_csv), "n_way": 3, "k_shot": 2, "q_query": 3, "episodes": 3,
            "max_length": 16, "split_mode": "classes", "split_fractions": [0.34, 0.33, 0.33],
            "tokenizer": "minilm"}  # fmt: skip


def _flags(options: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in options.items():
        out.append("--" + key.replace("_", "-"))
        out += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out


def test_evaluate_config_file_equals_flags(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"model": "tiny", "method": "centroid", **_data(tiny_csv)}
    assert main(["evaluate", *_flags(options)]) == 0
    by_flags = capsys.readouterr().out
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({**options, "episodes": 2}))
    # the file first, then a flag overriding one of its values
    assert main(["evaluate", "--config", str(cfg), "--episodes", "3", "--out", str(tmp_path)]) == 0
    by_file = capsys.readouterr().out
    assert by_file.splitlines()[:3] == by_flags.splitlines()[:3]
    assert "3 episodes" in by_file
    rows = read_csv(tmp_path / "results.csv")
    assert len(rows) == 1 and rows[0].acc.n == 3
    assert f"acc: {rows[0].acc}" in by_file
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert (
        header
        == ",".join(COLUMNS)
        == ("method,target,acc,acc_ci,f1,f1_ci,episodes,precision,precision_ci,recall,recall_ci")
    )
    assert rows[0].precision is not None and f"precision: {rows[0].precision}" in by_file
    assert rows[0].recall is not None and f"recall: {rows[0].recall}" in by_file


def test_report_from_config_file(tmp_path: Path, tiny_csv: Path) -> None:
    export = tmp_path / "export"
    tiny_encoder(seed=0).save_pretrained(export)
    data = {"source": str(tiny_csv), "n_way": 3, "k_shot": 2, "q_query": 3, "max_length": 16,
            "split_mode": "classes", "split_fractions": [0.34, 0.33, 0.33]}  # fmt: skip
    ExportMeta(algorithm="fomaml", config={"data": {"init_args": data}}).write(export)
    cfg = tmp_path / "report.yaml"
    out = tmp_path / "out"
    cfg.write_text(yaml.safe_dump({"export": str(export), "baseline": "tiny", "episodes": 3,
                                   "no_sentiment": True, "out": str(out)}))  # fmt: skip
    assert main(["report", "--config", str(cfg)]) == 0
    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == [
        "meta-trained init (fomaml) + fine-tuning",
        "pretrained init + same fine-tuning",
        "pretrained frozen + nearest centroid",
    ]
    assert {r["episodes"] for r in rows} == {"3"}
    # same export, same baseline weights, same episodes, same adaptation: identical rows
    assert rows[0]["acc"] == rows[1]["acc"]
    md = (out / "results.md").read_text()
    assert "Few-shot accuracy, macro-F1, macro-P and macro-R (%), mean ± 95% CI over fixed" in md
    assert [r["precision"] for r in rows][:1] == [rows[1]["precision"]]  # same adaptation


def test_help_shows_types(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--n-way N_WAY" in text and "type: int, default: 5" in text and "--config" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--model", "tiny", "--episodes", "0"], "error: episodes: must be positive"),
        (["report", "--export", "/nonexistent"], "error: export: /nonexistent has no meta_learning.json"),
        (["bench", "paired", "/nonexistent.csv"], "error: episodes_csv.0: /nonexistent.csv does not exist"),
        (["bench", "nope"], "error: bench: expected one of data, speed, memory"),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err, err
