"""Held out means held out: self-supervised text from a labelled corpus skips its test classes.

The built-in labelled corpora (``wordnet``, ``fortunes``) are also raw-text sources for SMLMT.
Their validation and test *classes* are few-shot targets, so by default a self-supervised corpus
built from them keeps only the texts of the classes a labelled experiment on the same source
trains on, under that experiment's class split (:data:`STANDARD_SPLITS`: the split every shipped
config uses; the hybrid DataModule passes its own). The same :func:`make_splits` that the
labelled DataModule runs decides the classes, so the two agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lightning_meta.data import builtin
from lightning_meta.data.splits import make_splits

__all__ = ["STANDARD_SPLITS", "ClassSplit", "train_class_texts", "train_classes"]


@dataclass(frozen=True)
class ClassSplit:
    """A class-disjoint train/val/test split of a labelled corpus (as in EpisodicDataModule)."""

    fractions: tuple[float, float, float]
    """Train/val/test shares of the classes."""
    seed: int = 0
    """``split_seed`` of the labelled experiment."""
    class_lists: tuple[tuple[str, ...] | None, ...] = (None, None, None)
    """Explicit train/val/test class names, as ``train_classes``/``val_classes``/``test_classes``."""


STANDARD_SPLITS: dict[str, ClassSplit] = {
    "wordnet": ClassSplit((0.5555556, 0.2222222, 0.2222222)),  # 25/10/10 lexicographer classes
    "fortunes": ClassSplit((0.5, 0.25, 0.25)),  # the accuracy suite's fortunes target
}


def _read(source: str) -> builtin.Corpus:
    if source == "wordnet":
        return builtin.read_wordnet()
    if source == "fortunes":
        return builtin.read_fortunes()
    raise ValueError(f"source: '{source}' is not a labelled built-in (wordnet, fortunes)")


def train_classes(labels: Sequence[int], names: Sequence[str], split: ClassSplit) -> list[str]:
    """Names of the train classes of ``split`` over these labels (sorted by class id)."""
    plan = make_splits(
        np.asarray(labels),
        list(names),
        fractions=split.fractions,
        class_lists=split.class_lists,
        mode="classes",
        seed=split.seed,
    )
    return [names[c] for c in plan.classes("train")]


def train_class_texts(source: str, split: ClassSplit | None) -> list[str]:
    """Texts of ``source`` (wordnet glosses / fortunes) of the train classes of ``split``;
    every text when ``split`` is None."""
    texts, labels, names = _read(source)
    if split is None:
        return texts
    keep = {names.index(n) for n in train_classes(labels, names, split)}
    return [t for t, y in zip(texts, labels, strict=True) if y in keep]
