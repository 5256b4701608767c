"""Results tables: one row per (method, target), as CSV, Markdown and a bar chart.

The one results writer of ``report``, ``evaluate``, the accuracy suite (``bench accuracy``) and
the encoder comparison (``bench compare``). ``results.csv`` columns: ``method, target, acc,
acc_ci, f1, f1_ci, episodes, precision, precision_ci, recall, recall_ci`` (fractions, the CI is
the 95% half-width ``1.96 * std / sqrt(n)``; macro-precision/recall empty for a row that has
none). It holds no timings, so two runs with the same seed give byte-identical files.
``report`` appends the paired comparison to the best baseline (:data:`PAIRED_COLUMNS`):
``best_baseline`` is 1 on the row of each target's best baseline, ``delta_best, delta_best_ci,
delta_n`` the paired accuracy difference of a meta-trained row to that row (empty elsewhere;
no row names in these cells, so a row's line names one method only).
Markdown: :func:`render_markdown` (one table per metric: accuracy, macro-F1 and, when every row
has them, macro-precision and macro-recall; percent, mean ± CI, best mean per column in bold)
or :func:`render_wide` (one table, the metrics side by side per target, optionally the paired
difference to the best baseline).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from lightning_meta.evaluation.metrics import MeanCI

__all__ = [
    "COLUMNS", "METRICS", "PAIRED_COLUMNS", "Paired", "Result", "from_summary", "metric_table",
    "metrics_of", "plot_results", "read_csv", "render_markdown", "render_wide", "write_csv",
]  # fmt: skip

COLUMNS = ["method", "target", "acc", "acc_ci", "f1", "f1_ci", "episodes",
           "precision", "precision_ci", "recall", "recall_ci"]  # fmt: skip
PAIRED_COLUMNS = ["best_baseline", "delta_best", "delta_best_ci", "delta_n"]
REQUIRED = COLUMNS[:7]  # results.csv files written before precision/recall still read
METRICS = {"acc": "accuracy", "f1": "macro-F1", "precision": "macro-precision",
           "recall": "macro-recall"}  # fmt: skip
SHORT = {"acc": "acc", "f1": "macro-F1", "precision": "macro-P", "recall": "macro-R"}
OPTIONAL = ("precision", "recall")


@dataclass(frozen=True)
class Result:
    """Scores of one method on one target's fixed episodes."""

    method: str
    target: str
    acc: MeanCI
    f1: MeanCI
    precision: MeanCI | None = None  # macro-precision (None: not measured for this row)
    recall: MeanCI | None = None  # macro-recall

    def metric(self, key: str) -> MeanCI:
        value = getattr(self, key)
        if not isinstance(value, MeanCI):
            raise KeyError(f"{self.method} on {self.target} has no {key}")
        return value


@dataclass(frozen=True)
class Paired:
    """A row's paired accuracy difference to the best baseline of one target."""

    baseline: str  # the best baseline's row name
    diff: MeanCI  # mean ± 95% CI of the per-episode differences (fractions), n episodes

    def __str__(self) -> str:
        return f"{100 * self.diff.mean:+.2f} ± {100 * self.diff.ci:.2f} (n={self.diff.n})"


Cell = tuple[str, str]  # (method, target)


def from_summary(method: str, target: str, summary: dict[str, MeanCI]) -> Result:
    """A row from ``scoring.summarise`` output (acc, f1 and, when present, precision/recall)."""
    extra = {k: summary[k] for k in OPTIONAL if k in summary}
    return Result(method, target, summary["acc"], summary["f1"], **extra)


def metrics_of(results: list[Result]) -> list[str]:
    """The metric keys every row has, in table order (acc, f1, then precision, recall)."""
    keys = ["acc", "f1"]
    return keys + [k for k in OPTIONAL if results and all(getattr(r, k) for r in results)]


def write_csv(
    path: str | Path, results: list[Result], paired: dict[Cell, Paired] | None = None
) -> None:
    """``results.csv``: one line per result, floats written exactly (``repr``); with
    ``paired`` (even empty) the :data:`PAIRED_COLUMNS` follow the 11 standard ones."""
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS + (PAIRED_COLUMNS if paired is not None else []))
        best = _best(paired or {})
        for r in results:
            extra = [x for k in OPTIONAL for x in _cells(getattr(r, k))]
            if paired is not None:
                d = paired.get((r.method, r.target))
                flag = "1" if (r.method, r.target) in best else ""
                extra += [flag, "", "", ""] if d is None else [
                    flag, repr(d.diff.mean), repr(d.diff.ci), str(d.diff.n)]  # fmt: skip
            w.writerow([r.method, r.target, repr(r.acc.mean), repr(r.acc.ci), repr(r.f1.mean),
                        repr(r.f1.ci), r.acc.n, *extra])  # fmt: skip


def _best(paired: dict[Cell, Paired]) -> set[Cell]:
    """(method, target) of each target's best baseline."""
    return {(d.baseline, t) for (_, t), d in paired.items()}


def _cells(value: MeanCI | None) -> list[str]:
    return ["", ""] if value is None else [repr(value.mean), repr(value.ci)]


def _read(row: dict[str, str], key: str) -> MeanCI | None:
    if not row.get(key):
        return None
    return MeanCI(float(row[key]), float(row[f"{key}_ci"]), int(row["episodes"]))


def read_csv(path: str | Path) -> list[Result]:
    """Rows of a ``results.csv`` written by :func:`write_csv` (or ``lightning-meta report``)."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not set(REQUIRED) <= set(rows[0]):
        missing = sorted(set(REQUIRED) - set(rows[0]))
        raise ValueError(f"{path}: not a results.csv (missing columns {', '.join(missing)})")
    return [
        Result(
            r["method"], r["target"],
            MeanCI(float(r["acc"]), float(r["acc_ci"]), int(r["episodes"])),
            MeanCI(float(r["f1"]), float(r["f1_ci"]), int(r["episodes"])),
            _read(r, "precision"), _read(r, "recall"),
        )
        for r in rows
    ]  # fmt: skip


def _ordered(results: list[Result]) -> tuple[list[str], list[str], dict[tuple[str, str], Result]]:
    methods = list(dict.fromkeys(r.method for r in results))
    targets = list(dict.fromkeys(r.target for r in results))
    return methods, targets, {(r.method, r.target): r for r in results}


def metric_table(results: list[Result], key: str) -> str:
    """Markdown table of one metric: methods x targets, best mean per column in bold."""
    methods, targets, cell = _ordered(results)
    best = {
        t: max((cell[m, t].metric(key).mean for m in methods if (m, t) in cell), default=None)
        for t in targets
    }
    lines = [
        "| method | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for m in methods:
        cells = []
        for t in targets:
            if (m, t) not in cell:
                cells.append("-")
                continue
            v = cell[m, t].metric(key)
            text = str(v)
            cells.append(f"**{text}**" if v.mean == best[t] else text)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(results: list[Result], title: str, notes: list[str]) -> str:
    """Both tables with a header (title, notes such as the command, seed and episodes)."""
    parts = [f"# {title}", ""] + [f"- {n}" for n in notes] + [""]
    for key in metrics_of(results):
        parts += [f"## {METRICS[key]} (%), mean ± 95% CI", "", metric_table(results, key), ""]
    return "\n".join(parts)


def render_wide(
    results: list[Result],
    counts: dict[str, int],
    paired: dict[Cell, Paired] | None = None,
) -> str:
    """One table, one row per method: accuracy, macro-F1 and (when every row has them)
    macro-precision and macro-recall (%) side by side per target; ``counts``: the number of
    fixed test episodes of each target (in column order).
    ``paired``: one more column per target, the paired accuracy difference (pp) of a row to
    the target's best baseline (that row reads ``best baseline``)."""
    methods, targets, cell = _ordered(results)
    targets = [t for t in counts if t in targets]
    keys = metrics_of(results)
    delta = [] if paired is None else ["Δ acc vs best (pp)"]
    head = "| method | " + " | ".join(f"{t}: {c}" for t in targets
                                      for c in [SHORT[k] for k in keys] + delta) + " |"  # fmt: skip
    n = ", ".join(f"{counts[t]} ({t})" for t in targets)
    what = "accuracy and macro-F1" if len(keys) == 2 else "accuracy, macro-F1, macro-P and macro-R"
    width = (len(keys) + len(delta)) * len(targets)
    lines = [
        f"Few-shot {what} (%), mean ± 95% CI over fixed test episodes: {n}",
        "",
        head,
        "|---|" + "---|" * width,
    ]
    best = _best(paired or {})
    for m in methods:
        cells = []
        for t in targets:
            r = cell.get((m, t))
            cells += [str(r.metric(k)) if r else "-" for k in keys]
            if paired is not None:
                d = paired.get((m, t))
                mark = "best baseline" if r and (m, t) in best else "-"
                cells.append(str(d) if d else mark)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_results(results: list[Result], title: str = "", path: Path | None = None):
    """Grouped bars (targets x methods) with 95% CI whiskers, accuracy and macro-F1 panels.

    Returns the matplotlib ``Figure`` (no pyplot state is touched); saved as PNG when ``path``.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods, targets, cell = _ordered(results)
    fig = Figure(figsize=(max(8.0, 1.6 * len(targets) + 3.0), 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(targets))
    width = 0.8 / max(len(methods), 1)
    for ax, key in zip(axes, ("acc", "f1"), strict=True):
        label = METRICS[key]
        for i, m in enumerate(methods):
            vals = [cell[m, t].metric(key) if (m, t) in cell else None for t in targets]
            mean = [100 * v.mean if v else np.nan for v in vals]
            ci = [100 * v.ci if v else 0.0 for v in vals]
            ax.bar(x - 0.4 + width * (i + 0.5), mean, width, yerr=ci, capsize=2, label=m)
        ax.set_ylabel(f"{label} (%)")
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xticks(x, [t.replace(" ", "\n", 2) for t in targets], fontsize=8)
    axes[0].legend(fontsize=7, ncols=min(len(methods), 4), loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
