"""Meta-splits: which classes (or which examples) each of train/val/test may draw from.

Two modes:

- ``classes``: class-disjoint splits (the meta-learning default). Classes are shuffled with
  ``np.random.default_rng(seed)`` and cut by ``fractions``, or taken from explicit lists
  (classes not listed anywhere are shared out by ``fractions`` among the splits without a list).
- ``examples``: every split sees every class, but each class's examples are cut into disjoint
  pools by ``fractions``, so no text is in two splits. For few-class data (sentiment).

``auto`` picks ``classes`` when explicit class lists are given or when the fraction cut gives
every split at least ``n_way`` classes, and ``examples`` otherwise (e.g. 2 sentiment classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lightning_meta.errors import ConfigError

SPLITS = ("train", "val", "test")
SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}
SPLIT_MODES = ("auto", "classes", "examples")

Pool = dict[int, np.ndarray]  # class id -> row indices into the corpus


@dataclass(frozen=True)
class SplitPlan:
    """The chosen mode and, per split, the rows available for each class."""

    mode: str
    pools: dict[str, Pool]

    def classes(self, split: str) -> list[int]:
        return sorted(self.pools[split])


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Cut ``n`` items by ``fractions`` (largest remainder), at least one per split when n allows."""
    raw = [f * n for f in fractions]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: n - sum(counts)]:
        counts[i] += 1
    for i in range(len(counts)):  # take one from the largest split for any empty one
        if counts[i] == 0 and fractions[i] > 0 and n >= len(counts):
            counts[int(np.argmax(counts))] -= 1
            counts[i] = 1
    return counts


def resolve_mode(
    mode: str, n_classes: int, fractions: Sequence[float], n_way: int, explicit: bool
) -> str:
    if mode != "auto":
        return mode
    if explicit:
        return "classes"
    return "classes" if min(split_counts(n_classes, fractions)) >= n_way else "examples"


def _check_lists(
    class_names: Sequence[str], class_lists: Sequence[Sequence[str] | None]
) -> dict[str, list[int]]:
    index = {name: i for i, name in enumerate(class_names)}
    taken: dict[int, str] = {}
    out: dict[str, list[int]] = {}
    for split, names in zip(SPLITS, class_lists, strict=True):
        if names is None:
            continue
        field = f"{split}_classes"
        unknown = [n for n in names if n not in index]
        if unknown:
            shown = ", ".join(list(class_names)[:20])
            raise ConfigError(f"{field}: unknown classes {unknown}; classes present: {shown}")
        ids = [index[n] for n in names]
        clash = [class_names[i] for i in ids if i in taken]
        if clash:
            raise ConfigError(
                f"{field}: {clash} already in {taken[ids[0]]}_classes; lists must be disjoint"
            )
        taken.update({i: split for i in ids})
        out[split] = ids
    return out


def _class_split(
    labels: np.ndarray,
    class_names: Sequence[str],
    fractions: Sequence[float],
    class_lists: Sequence[Sequence[str] | None],
    seed: int,
) -> dict[str, list[int]]:
    chosen = _check_lists(class_names, class_lists)
    taken = {i for ids in chosen.values() for i in ids}
    present = np.unique(labels)
    rest = [int(c) for c in np.random.default_rng(seed).permutation(present) if int(c) not in taken]
    open_splits = [s for s in SPLITS if s not in chosen]
    if open_splits:
        fr = np.array([fractions[SPLIT_IDS[s]] for s in open_splits], dtype=float)
        counts = split_counts(len(rest), list(fr / fr.sum()))
        start = 0
        for split, count in zip(open_splits, counts, strict=True):
            chosen[split] = rest[start : start + count]
            start += count
    return chosen


def make_splits(
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    class_lists: Sequence[Sequence[str] | None] = (None, None, None),
    mode: str = "auto",
    n_way: int = 5,
    seed: int = 0,
) -> SplitPlan:
    """Split rows (given by their ``labels``) into train/val/test pools."""
    explicit = any(c is not None for c in class_lists)
    n_classes = len(np.unique(labels))
    mode = resolve_mode(mode, n_classes, fractions, n_way, explicit)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(len(class_names) + 1))
    rows = {
        c: order[bounds[c] : bounds[c + 1]]
        for c in range(len(class_names))
        if bounds[c + 1] > bounds[c]
    }
    if mode == "classes":
        by_split = _class_split(labels, class_names, fractions, class_lists, seed)
        return SplitPlan(mode, {s: {c: rows[c] for c in by_split[s] if c in rows} for s in SPLITS})
    if explicit:
        raise ConfigError(
            "split_mode: 'examples' cannot use train/val/test_classes; set split_mode: classes"
        )
    rng = np.random.default_rng(seed)
    pools: dict[str, Pool] = {s: {} for s in SPLITS}
    for c, idx in rows.items():
        perm = idx[rng.permutation(len(idx))]
        start = 0
        for split, count in zip(SPLITS, split_counts(len(idx), fractions), strict=True):
            if count:
                pools[split][c] = np.sort(perm[start : start + count])
            start += count
    return SplitPlan(mode, pools)
