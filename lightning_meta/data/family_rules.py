"""Held out means held out: the rule a task-family mixture must satisfy, checked in code.

A **target** is what a meta-trained model is scored on: the test classes of a labelled corpus
(``held_out: classes``) or a whole domain (``held_out: domain``, e.g. ``sentiment:movie``).
The rule, for every meta-training family and every validation family:

- same source as a ``classes`` target: the family must split that source by classes with the
  target's own ``split_fractions``/``split_seed``, so it trains on (or validates on) the train
  (or validation) classes of the very split whose test classes are the target: disjoint;
- same source as a ``domain`` target: not allowed at all (the whole domain is held out);
- SMLMT texts: never a ``domain`` target's text; the built-in labelled corpora (``wordnet``,
  ``fortunes``) as SMLMT text keep only the train classes of their standard split
  (:mod:`~lightning_meta.data.heldout`), so a ``classes`` target on them must use that split.

``sentiment:movie`` (:data:`ALWAYS_HELD_OUT`) is never meta-trained on, target or not. Every
violation is a one-line :class:`~lightning_meta.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lightning_meta.data.heldout import STANDARD_SPLITS
from lightning_meta.errors import ConfigError

__all__ = ["ALWAYS_HELD_OUT", "DEFAULT_TARGETS", "HeldOutTarget", "check_family", "check_texts"]

ALWAYS_HELD_OUT = ("sentiment:movie",)
"""Domains no family, validation set or SMLMT text may use."""


@dataclass(frozen=True)
class HeldOutTarget:
    """One held-out evaluation target: a corpus's test classes or a whole domain."""

    source: str = "wordnet"
    """Labelled source (built-in name, file or hub name)."""
    held_out: Literal["classes", "domain"] = "classes"
    """``classes``: the test classes of the class split below; ``domain``: every text."""
    split_fractions: tuple[float, float, float] = (0.5555556, 0.2222222, 0.2222222)
    """Train/val/test class shares of the target's split (``classes``)."""
    split_seed: int = 0
    """Seed of that class split."""
    n_way: int = 5
    """Classes per target episode."""
    k_shot: int = 5
    """Support examples per class of a target episode."""
    q_query: int = 15
    """Query examples per class of a target episode."""

    @property
    def name(self) -> str:
        """Row label in the results table, e.g. ``wordnet test classes 5-way 5-shot``."""
        what = " test classes" if self.held_out == "classes" else ""
        return f"{self.source}{what} {self.n_way}-way {self.k_shot}-shot"


DEFAULT_TARGETS: tuple[HeldOutTarget, ...] = (
    HeldOutTarget("wordnet", "classes", STANDARD_SPLITS["wordnet"].fractions),
    HeldOutTarget("fortunes", "classes", STANDARD_SPLITS["fortunes"].fractions),
    HeldOutTarget("sentiment:movie", "domain", n_way=2, k_shot=8, q_query=15),
    HeldOutTarget("sentiment:movie", "domain", n_way=2, k_shot=16, q_query=15),
)
"""WordNet test classes and fortunes test categories (5-way 5-shot), movie reviews (2-way
8-shot and 16-shot)."""


def _same_split(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True)
    )


def check_family(
    where: str,
    source: str,
    split_mode: str,
    split_fractions: Sequence[float],
    split_seed: int,
    targets: Sequence[HeldOutTarget],
) -> None:
    """ConfigError (naming ``where``) when a labelled family may see a target's texts."""
    if source in ALWAYS_HELD_OUT:
        raise ConfigError(
            f"{where}.source: {source} is held out from every meta-training and validation "
            f"set (it is a test domain); remove this family"
        )
    for t in targets:
        if t.source != source:
            continue
        if t.held_out == "domain":
            raise ConfigError(
                f"{where}.source: {source} is a held-out target domain; no family may use it "
                f"(remove the family or the target)"
            )
        ok = split_mode == "classes" and split_seed == t.split_seed
        if not (ok and _same_split(split_fractions, t.split_fractions)):
            raise ConfigError(
                f"{where}: {source} is also a target (its test classes); use split_mode: classes, "
                f"split_fractions: {list(t.split_fractions)}, split_seed: {t.split_seed} "
                f"so the classes are disjoint"
            )


def check_texts(where: str, texts: Sequence[object], targets: Sequence[HeldOutTarget]) -> None:
    """ConfigError when SMLMT ``texts`` include a held-out domain or a target's test classes."""
    domains = {t.source for t in targets if t.held_out == "domain"} | set(ALWAYS_HELD_OUT)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            continue  # an in-memory table: the caller vouches for it
        if text in domains or "movieReviewSnippets" in text:
            raise ConfigError(
                f"{where}.texts.{i}: '{text}' is a held-out target domain; SMLMT text must not "
                f"include it"
            )
        standard = STANDARD_SPLITS.get(text)
        for t in targets:
            if standard is None or t.source != text or t.held_out != "classes":
                continue
            if not (
                _same_split(standard.fractions, t.split_fractions) and standard.seed == t.split_seed
            ):
                raise ConfigError(
                    f"{where}.texts.{i}: SMLMT text from {text} keeps the train classes of its "
                    f"standard split {list(standard.fractions)}, but the target splits it "
                    f"{list(t.split_fractions)}; use the standard split for the target"
                )
