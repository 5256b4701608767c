"""Task-family config: one family of a meta-training mixture, and the built-in mixture.

Each :class:`TaskFamily` is a labelled source with its own split and episode shape, an SMLMT
stream (``source: smlmt``) or a lexicon-guided SMLMT stream (``source: smlmt-lexicon``,
:mod:`~lightning_meta.data.smlmt_lexicon`). :class:`~lightning_meta.data.families.FamilyDataModule`
mixes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lightning_meta.data.config import EpisodeShape
from lightning_meta.data.heldout import STANDARD_SPLITS
from lightning_meta.data.smlmt import SMLMTText
from lightning_meta.data.smlmt_lexicon import LEXICON_SMLMT, LexiconMask

__all__ = ["BUILTIN_FAMILIES", "BUILTIN_VALIDATION", "LEXICON_SMLMT", "LEXICON_TEXT", "SMLMT",
           "SMLMT_TEXT", "TaskFamily"]  # fmt: skip

SMLMT = "smlmt"


@dataclass(frozen=True)
class TaskFamily:
    """One task family: a labelled source (its split, its episode shape) or SMLMT."""

    source: str = "wordnet"
    """Labelled source (built-in, ``files`` with data_files, a path, a hub name), ``smlmt`` or
    ``smlmt-lexicon``."""
    name: str = ""
    """Label in counts and logs (default: the source)."""
    n_way: int = 5
    """Classes per task of this family."""
    k_shot: int = 5
    """Support examples per class."""
    q_query: int = 5
    """Query examples per class."""
    weight: float = 1.0
    """Mixing weight under ``mixing: fixed``."""
    split_mode: Literal["auto", "classes", "examples"] = "classes"
    """Class-disjoint (``classes``) or example-disjoint (``examples``: a 2-way domain)."""
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """Train/val/test shares of the classes (or of each class's examples)."""
    split_seed: int = 0
    """Seed of the split."""
    data_files: tuple[str, ...] = ()
    """Local files when ``source: files``."""
    text_column: str = "text"
    """Column holding the text."""
    label_column: str = "label"
    """Column holding the label."""
    smlmt: SMLMTText | None = None
    """SMLMT texts and word filters (``source: smlmt``; null: WordNet + fortunes train text;
    ``smlmt-lexicon``; null: :data:`LEXICON_TEXT`)."""
    lexicon: LexiconMask | None = None
    """``source: smlmt-lexicon``: the lexicon and its valence threshold (null: VADER, 1.0)."""

    @property
    def label(self) -> str:
        return self.name or self.source

    def shape(self) -> EpisodeShape:
        return EpisodeShape(n_way=self.n_way, k_shot=self.k_shot, q_query=self.q_query)


def _classes(source: str, q_query: int = 5) -> TaskFamily:
    return TaskFamily(source, split_fractions=STANDARD_SPLITS[source].fractions, q_query=q_query)


def _domain(source: str, weight: float = 1.0, k_shot: int = 8, q_query: int = 8) -> TaskFamily:
    return TaskFamily(source, n_way=2, k_shot=k_shot, q_query=q_query, weight=weight,
                      split_mode="examples")  # fmt: skip


SMLMT_TEXT = SMLMTText(texts=("wordnet", "fortunes"), max_count=1000)
LEXICON_TEXT = SMLMTText(texts=("wordnet", "fortunes", "sentiment:amazon", "sentiment:tweets"))
"""Lexicon-guided SMLMT text: WordNet and fortunes train-class text and the amazon and tweets
review texts (not nyt, whose val split validates; never movie). Every word count kept."""
BUILTIN_FAMILIES: tuple[TaskFamily, ...] = (
    _classes("wordnet"),
    _classes("fortunes"),
    _domain("sentiment:amazon"),
    _domain("sentiment:tweets"),
    _domain("sentiment:nyt"),
    TaskFamily(SMLMT, smlmt=SMLMT_TEXT),
)
"""WordNet train classes, fortunes train categories, three 2-way sentiment domains, SMLMT over
the WordNet + fortunes train-class text. The movie domain is in none of them."""
BUILTIN_VALIDATION: tuple[TaskFamily, ...] = (
    _classes("wordnet", q_query=15),
    _classes("fortunes", q_query=15),
    _domain("sentiment:nyt", q_query=15),
)
"""WordNet validation classes, fortunes validation categories, the nyt domain's val split."""
