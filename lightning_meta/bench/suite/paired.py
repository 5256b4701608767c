"""Paired comparisons on shared episodes (``lightning-meta bench paired EPISODES_CSV``).

Every method of an accuracy suite (``bench accuracy``) or of the encoder comparison
(``bench compare``) is scored on the *same* fixed episodes, so
the difference of two methods is best estimated per episode: mean ± 95% CI of
``score(method, episode) - score(baseline, episode)``. Episode-to-episode difficulty cancels,
and the interval is usually several times narrower than the two marginal CIs. A row scored on
fewer episodes (a SetFit row capped at its first few) is paired on the episodes both scored,
matched by episode index; the table then states that count ``(n=K)``.

``lightning-meta bench paired runs/bench/default/episodes.csv --baseline "FineTune (pretrained
init)"`` prints the Markdown table (percentage points) from any ``episodes.csv`` with the
columns ``method, target, episode, acc, f1``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.metrics import MeanCI, mean_ci

__all__ = [
    "Scores", "paired_differences", "read_episodes", "render_paired", "scores_from_rows",
    "write_episodes",
]  # fmt: skip

# method -> target -> metric -> per episode: {episode index: value}, or a list (position = index)
Scores = Mapping[str, Mapping[str, Mapping[str, Mapping[int, float] | Sequence[float]]]]
Diffs = dict[str, dict[str, dict[str, MeanCI]]]
EPISODE_COLUMNS = ("method", "target", "episode", "acc", "f1")


def scores_from_rows(
    rows: Iterable[tuple[str, str, int, float, float]],
) -> dict[str, dict[str, dict[str, dict[int, float]]]]:
    """``(method, target, episode, acc, f1)`` rows -> scores ``{episode: value}``, by episode."""
    by: dict[str, dict[str, dict[int, tuple[float, float]]]] = {}
    for method, target, episode, acc, f1 in rows:
        by.setdefault(method, {}).setdefault(target, {})[int(episode)] = (float(acc), float(f1))
    return {
        m: {t: {"acc": {i: eps[i][0] for i in sorted(eps)}, "f1": {i: eps[i][1] for i in sorted(eps)}}
            for t, eps in per_t.items()}
        for m, per_t in by.items()
    }  # fmt: skip


def write_episodes(path: str | Path, rows: Iterable[tuple[str, str, int, float, float]]) -> None:
    """Write ``(method, target, episode, acc, f1)`` rows as ``episodes.csv``."""
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(EPISODE_COLUMNS)
        w.writerows([m, t, k, repr(a), repr(f)] for m, t, k, a, f in rows)


def read_episodes(path: str | Path) -> dict[str, dict[str, dict[str, dict[int, float]]]]:
    """``episodes.csv`` (columns method, target, episode, acc, f1) -> scores."""
    with Path(path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(EPISODE_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"episodes_csv: {path} lacks the columns {sorted(missing)}")
        return scores_from_rows(
            (r["method"], r["target"], int(r["episode"]), float(r["acc"]), float(r["f1"]))
            for r in reader
        )


def read_named_episodes(
    items: Sequence[str],
) -> dict[str, dict[str, dict[str, dict[int, float]]]]:
    """Several ``[NAME=]episodes.csv`` -> one score table; a NAME prefixes its methods
    (``NAME: method``), so runs scored on the same episodes pair up episode by episode."""
    out: dict[str, dict[str, dict[str, dict[int, float]]]] = {}
    for i, item in enumerate(items):
        name, sep, path = item.partition("=")
        if not sep:
            name, path = "", item
        if not Path(path).is_file():
            raise ConfigError(f"episodes_csv.{i}: {path} does not exist; give an episodes.csv")
        scores = read_episodes(path)
        if not scores:
            raise ConfigError(f"episodes_csv.{i}: {path} has no rows")
        for method, per in scores.items():
            label = f"{name}: {method}" if name else method
            if label in out:
                raise ConfigError(
                    f"episodes_csv.{i}: method {label!r} is in two files; name them NAME=PATH"
                )
            out[label] = per
    return out


def by_episode(values: Mapping[int, float] | Sequence[float]) -> dict[int, float]:
    """Per-episode values keyed by episode index (a list: its positions)."""
    return dict(values) if isinstance(values, Mapping) else dict(enumerate(values))


def paired_differences(scores: Scores, baseline: str) -> Diffs:
    """Per method (not the baseline) and shared target: mean ± 95% CI of the per-episode
    difference to the baseline, on the episodes (by index) both scored; none shared: no cell."""
    if baseline not in scores:
        raise ConfigError(f"baseline: {baseline!r} is not a method; methods: {', '.join(scores)}")
    base = scores[baseline]
    out: Diffs = {}
    for row, per_target in scores.items():
        if row == baseline:
            continue
        for target, metrics in per_target.items():
            if target not in base:
                continue
            cell: dict[str, MeanCI] = {}
            for m, v in metrics.items():
                mine, ref = by_episode(v), by_episode(base[target][m])
                shared = sorted(set(mine) & set(ref))
                if shared:
                    cell[m] = mean_ci([mine[k] - ref[k] for k in shared])
            if cell:
                out.setdefault(row, {})[target] = cell
    return out


def _signed(x: MeanCI, most: int) -> str:
    """``+d ± ci``, with the count ``(n=K)`` when paired on fewer episodes than the most."""
    return f"{100 * x.mean:+.2f} ± {100 * x.ci:.2f}" + (f" (n={x.n})" if x.n < most else "")


def render_paired(
    diffs: Diffs, baseline: str, targets: list[str], metrics: tuple[str, ...] = ("acc", "f1")
) -> str:
    """Markdown table of paired differences (percentage points)."""
    label = {"acc": "Δacc", "f1": "Δmacro-F1"}
    lines = [
        f"Paired difference to `{baseline}` (percentage points), mean ± 95% CI of the "
        "per-episode difference on the same episodes",
        "",
        "| method | " + " | ".join(f"{t}: {label[m]}" for t in targets for m in metrics) + " |",
        "|---|" + "---|" * (len(targets) * len(metrics)),
    ]
    most = {t: max((d.n for per in diffs.values() for d in per.get(t, {}).values()), default=0)
            for t in targets}  # fmt: skip
    for row, per_target in diffs.items():
        cells = [_signed(per_target[t][m], most[t]) if m in per_target.get(t, {}) else ""
                 for t in targets for m in metrics]  # fmt: skip
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
