"""Every row on the same fixed episodes of every target, with paired comparisons.

The table of ``lightning-meta report``: per target, each row's mean ± 95% CI (accuracy,
macro-F1, macro-precision/recall) and, for each meta-trained row (name starting with
``meta-trained``), the paired difference to the target's **best baseline** (the baseline
row with the highest mean accuracy): mean ± 95% CI of the per-episode accuracy differences
on the episodes both rows scored (a row scored on fewer episodes, SetFit, pairs on those).
The notes list the paired difference of every meta-trained row to every baseline.

A row is anything :func:`~lightning_meta.evaluation.scoring.score_module` scores (an
``EpisodicModule`` or a baseline of :mod:`~lightning_meta.evaluation.baselines`). Rows with a
cacheable evaluation plan share one frozen-feature cache per target.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.metrics import MeanCI, mean_ci
from lightning_meta.evaluation.scoring import EpisodeScore, score_module, summarise
from lightning_meta.evaluation.tables import Cell, Paired, Result, from_summary

__all__ = [
    "META_PREFIX", "RowSpec", "Table", "TargetSpec", "paired_to", "paired_to_best",
    "score_table",
]  # fmt: skip

META_PREFIX = "meta-trained"
"""Rows whose name starts with this are the meta-trained model's; every other row is a baseline."""


@dataclass(frozen=True)
class TargetSpec:
    """One held-out target: its name (a table column), episode arguments and count."""

    name: str
    args: dict[str, Any]  # DataModule arguments of its fixed test episodes
    episodes: int
    sentiment: bool = False  # 2-way negative/positive: the sentiment-only rows apply


@dataclass
class RowSpec:
    """One table row: its evaluator and where it applies."""

    evaluator: Any  # what score_module scores
    sentiment_only: bool = False  # VADER: only on sentiment targets
    max_episodes: int | None = None  # SetFit: the first this many episodes (label states it)


@dataclass
class Table:
    """Scores of every row on every target."""

    results: list[Result] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # target -> episodes
    paired: dict[Cell, Paired] = field(default_factory=dict)  # meta-trained rows vs best
    notes: list[str] = field(default_factory=list)  # paired differences to every baseline
    episodes: list[tuple[str, str, int, float, float]] = field(default_factory=list)
    """``(row, target, episode, acc, f1)`` of every scored episode (``episodes.csv``)."""


def paired_to(scores: Mapping[str, list[EpisodeScore]], baseline: str) -> dict[str, MeanCI]:
    """Per meta-trained row: mean ± CI of its per-episode accuracy difference to ``baseline``
    on the episodes both scored."""
    ref = {s.index: s.acc for s in scores[baseline]}
    return {
        name: mean_ci([s.acc - ref[s.index] for s in rows if s.index in ref])
        for name, rows in scores.items()
        if name.startswith(META_PREFIX)
    }


def paired_to_best(
    scores: Mapping[str, list[EpisodeScore]],
) -> tuple[str, dict[str, MeanCI]] | None:
    """The best baseline of one target (highest mean accuracy among the baseline rows scored
    on the most episodes: a row capped to a few episodes, e.g. SetFit, is not the "best" on
    a mean over n=1; its paired differences are still listed) and each meta-trained row's
    paired difference to it; None when no baseline was scored."""
    base = [n for n in scores if not n.startswith(META_PREFIX)]
    if not base:
        return None
    most = max(len(scores[n]) for n in base)
    full = [n for n in base if len(scores[n]) == most]
    best = max(full, key=lambda n: mean_ci([s.acc for s in scores[n]]).mean)
    return best, paired_to(scores, best)


def _label(name: str, used: int, total: int) -> str:
    return name if used == total else f"{name} [{used} episode{'s' if used > 1 else ''}]"


def _score_target(
    target: TargetSpec, episodes: list[Episode], rows: Mapping[str, RowSpec]
) -> tuple[list[Result], dict[str, list[EpisodeScore]]]:
    """Every applicable row on ``episodes``; results and per-episode scores by row label."""
    features = FeatureCache(episodes)  # rows with equal bottoms share the cached states
    results: list[Result] = []
    scores: dict[str, list[EpisodeScore]] = {}
    for name, row in rows.items():
        if row.sentiment_only and not target.sentiment:
            continue
        n = len(episodes) if row.max_episodes is None else min(row.max_episodes, len(episodes))
        if n == 0:
            continue
        label = _label(name, n, len(episodes))
        t0 = time.perf_counter()
        cache = features if n == len(episodes) else None
        prepare = getattr(row.evaluator, "prepare", None)  # e.g. LR: each unique text once
        if callable(prepare):  # (from the shared cache's embeddings where it can)
            prepare(episodes[:n], progress=f"[{target.name}] {label}", cache=cache)
        scores[label] = score_module(
            row.evaluator, episodes[:n], features=cache, progress=f"[{target.name}] {label}"
        )
        r = summarise(scores[label])
        results.append(from_summary(label, target.name, r))
        print(
            f"[{target.name}] {label}: acc {r['acc']}  f1 {r['f1']}  "
            f"({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
    return results, scores


def score_table(rows: Mapping[str, RowSpec], targets: list[TargetSpec]) -> Table:
    """Every row on the same fixed test episodes of every target, with the paired columns."""
    table = Table()
    per_target: dict[str, list[Result]] = {}
    for target in targets:
        episodes = fixed_episodes(target.args, target.episodes)
        table.counts[target.name] = len(episodes)
        per_target[target.name], scores = _score_target(target, episodes, rows)
        table.episodes += [(name, target.name, e.index, e.acc, e.f1)
                           for name, eps in scores.items() for e in eps]  # fmt: skip
        found = paired_to_best(scores)
        if found is None:
            continue
        best, diffs = found
        table.paired |= {(name, target.name): Paired(best, d) for name, d in diffs.items()}
        for base in [n for n in scores if not n.startswith(META_PREFIX)]:
            tag = " (best baseline)" if base == best else ""
            for name, d in paired_to(scores, base).items():
                table.notes.append(
                    f"{target.name}: {name} - {base}{tag}: {100 * d.mean:+.2f} ± "
                    f"{100 * d.ci:.2f} pp (paired, n={d.n})"
                )
    # row order, then target order (a table lists its methods in first-seen order)
    names = list(rows)
    flat = [r for rs in per_target.values() for r in rs]
    table.results = sorted(flat, key=lambda r: names.index(_row_of(r.method, names)))
    return table


def _row_of(label: str, names: list[str]) -> str:
    """The row name of a result label (``name`` or ``name [n episodes]``)."""
    return label if label in names else label.rsplit(" [", 1)[0]
