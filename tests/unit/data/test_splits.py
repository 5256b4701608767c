"""Meta-splits: class-disjoint by fractions or lists, example-disjoint pools, auto mode."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_meta.data.splits import SPLITS, make_splits, resolve_mode, split_counts
from lightning_meta.errors import ConfigError

NAMES = [f"c{i}" for i in range(20)]
LABELS = np.repeat(np.arange(20), 10)


def test_split_counts() -> None:
    assert split_counts(45, (0.6, 0.2, 0.2)) == [27, 9, 9]
    assert split_counts(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert split_counts(3, (0.98, 0.01, 0.01)) == [1, 1, 1]
    assert sum(split_counts(17, (0.5, 0.3, 0.2))) == 17


def test_class_disjoint_seeded() -> None:
    plan = make_splits(LABELS, NAMES, mode="classes", seed=3)
    sets = [set(plan.pools[s]) for s in SPLITS]
    assert [len(x) for x in sets] == [12, 4, 4]
    assert (
        sets[0].isdisjoint(sets[1]) and sets[0].isdisjoint(sets[2]) and sets[1].isdisjoint(sets[2])
    )
    assert set.union(*sets) == set(range(20))
    again = make_splits(LABELS, NAMES, mode="classes", seed=3)
    other = make_splits(LABELS, NAMES, mode="classes", seed=4)
    assert again.classes("val") == plan.classes("val") != other.classes("val")
    for c, rows in plan.pools["train"].items():  # every row of a class, nothing else
        assert (LABELS[rows] == c).all() and len(rows) == 10


def test_explicit_lists_and_remaining_classes() -> None:
    plan = make_splits(LABELS, NAMES, class_lists=(None, ["c1", "c2"], ["c3", "c4", "c5"]))
    assert plan.mode == "classes"
    assert plan.classes("val") == [1, 2] and plan.classes("test") == [3, 4, 5]
    assert set(plan.classes("train")) == set(range(20)) - {1, 2, 3, 4, 5}


def test_explicit_list_errors() -> None:
    with pytest.raises(ConfigError, match=r"^val_classes: unknown classes \['nope'\]"):
        make_splits(LABELS, NAMES, class_lists=(None, ["nope"], None))
    with pytest.raises(ConfigError, match=r"^test_classes: .*disjoint"):
        make_splits(LABELS, NAMES, class_lists=(["c1"], None, ["c1"]))
    with pytest.raises(ConfigError, match=r"^split_mode: "):
        make_splits(LABELS, NAMES, class_lists=(["c1"], None, None), mode="examples")


def test_example_pools_are_disjoint_over_the_same_classes() -> None:
    labels = np.repeat([0, 1], [50, 30])
    plan = make_splits(labels, ["neg", "pos"], n_way=2, seed=0)
    assert plan.mode == "examples"
    seen: set[int] = set()
    for split, n_neg in zip(SPLITS, (30, 10, 10), strict=True):
        assert plan.classes(split) == [0, 1]
        assert len(plan.pools[split][0]) == n_neg
        rows = set(np.concatenate(list(plan.pools[split].values())).tolist())
        assert rows.isdisjoint(seen)
        seen |= rows
    assert seen == set(range(80))


def test_auto_mode() -> None:
    fr = (0.6, 0.2, 0.2)
    assert resolve_mode("auto", 45, fr, 5, explicit=False) == "classes"
    assert resolve_mode("auto", 20, fr, 5, explicit=False) == "examples"  # val would get 4
    assert resolve_mode("auto", 2, fr, 2, explicit=False) == "examples"
    assert resolve_mode("auto", 2, fr, 2, explicit=True) == "classes"
