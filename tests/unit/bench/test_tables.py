"""results.csv round trip, Markdown tables (best per column in bold) and the bar chart."""

from __future__ import annotations

from pathlib import Path

from lightning_meta.evaluation.metrics import MeanCI
from lightning_meta.evaluation.tables import (
    Result,
    metric_table,
    plot_results,
    read_csv,
    render_markdown,
    render_wide,
    write_csv,
)


def results() -> list[Result]:
    def r(m: str, t: str, acc: float, f1: float) -> Result:
        return Result(m, t, MeanCI(acc, 0.05, 10), MeanCI(f1, 0.04, 10))

    return [
        r("MAML", "A", 0.61, 0.50), r("MAML", "B", 0.70, 0.72),
        r("ProtoNet", "A", 0.65, 0.49), r("ProtoNet", "B", 0.70, 0.69),
    ]  # fmt: skip


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    rows = results() + [Result("x", "y", MeanCI(1 / 3, 0.1 / 7, 3), MeanCI(2 / 3, 0.0, 3))]
    write_csv(tmp_path / "r.csv", rows)
    assert read_csv(tmp_path / "r.csv") == rows
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == (
        "method,target,acc,acc_ci,f1,f1_ci,episodes,precision,precision_ci,recall,recall_ci"
    )


def with_pr() -> list[Result]:
    """Rows that also carry macro-precision and macro-recall."""
    return [
        Result(r.method, r.target, r.acc, r.f1, MeanCI(r.acc.mean + 0.01, 0.03, 10),
               MeanCI(r.acc.mean - 0.01, 0.02, 10))
        for r in results()
    ]  # fmt: skip


def test_precision_and_recall_columns_follow_the_first_seven(tmp_path: Path) -> None:
    write_csv(tmp_path / "r.csv", with_pr())
    assert read_csv(tmp_path / "r.csv") == with_pr()
    line = (tmp_path / "r.csv").read_text().splitlines()[1]
    assert line == "MAML,A,0.61,0.05,0.5,0.04,10,0.62,0.03,0.6,0.02"
    # rows without them leave the cells empty, and an older results.csv still reads
    write_csv(tmp_path / "old.csv", results())
    assert (tmp_path / "old.csv").read_text().splitlines()[1] == "MAML,A,0.61,0.05,0.5,0.04,10,,,,"
    (tmp_path / "seven.csv").write_text(
        "method,target,acc,acc_ci,f1,f1_ci,episodes\nm,t,0.5,0.1,0.4,0.1,3\n"
    )
    assert read_csv(tmp_path / "seven.csv") == [
        Result("m", "t", MeanCI(0.5, 0.1, 3), MeanCI(0.4, 0.1, 3))
    ]


def test_markdown_shows_precision_and_recall_when_every_row_has_them() -> None:
    md = render_markdown(with_pr(), "t", [])
    assert "## macro-precision (%), mean ± 95% CI" in md and "## macro-recall (%)" in md
    assert "| MAML | 62.00 ± 3.00 | **71.00 ± 3.00** |" in md
    assert "macro-precision" not in render_markdown(results(), "t", [])
    wide = render_wide(with_pr(), {"A": 10}).splitlines()
    assert wide[2] == "| method | A: acc | A: macro-F1 | A: macro-P | A: macro-R |"
    assert wide[4] == "| MAML | 61.00 ± 5.00 | 50.00 ± 4.00 | 62.00 ± 3.00 | 60.00 ± 2.00 |"
    assert render_wide(results(), {"A": 10}).splitlines()[2] == "| method | A: acc | A: macro-F1 |"


def test_best_per_column_in_bold_ties_included() -> None:
    acc = metric_table(results(), "acc").splitlines()
    assert acc[0] == "| method | A | B |"
    assert acc[2] == "| MAML | 61.00 ± 5.00 | **70.00 ± 5.00** |"
    assert acc[3] == "| ProtoNet | **65.00 ± 5.00** | **70.00 ± 5.00** |"
    f1 = metric_table(results(), "f1").splitlines()
    assert f1[2] == "| MAML | **50.00 ± 4.00** | **72.00 ± 4.00** |"


def test_markdown_has_both_metrics_and_notes() -> None:
    md = render_markdown(results(), "t", ["seed 0"])
    assert md.startswith("# t\n\n- seed 0\n")
    assert "## accuracy (%), mean ± 95% CI" in md and "## macro-F1 (%), mean ± 95% CI" in md


def test_missing_cell_is_a_dash() -> None:
    table = metric_table(results()[:3], "acc")
    assert table.splitlines()[3] == "| ProtoNet | **65.00 ± 5.00** | - |"


def test_plot_writes_png(tmp_path: Path) -> None:
    fig = plot_results(results(), "title", tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2
