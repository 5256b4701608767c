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
    assert (tmp_path / "r.csv").read_text().splitlines()[
        0
    ] == "method,target,acc,acc_ci,f1,f1_ci,episodes"


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
