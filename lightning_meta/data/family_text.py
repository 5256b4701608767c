"""The self-supervised families of a mixture: SMLMT and lexicon-guided SMLMT.

:func:`checked_text_family` applies the held-out rule to their texts (never a target domain,
never a target's test classes, never a validation family's own examples) and fills defaults;
:func:`build_text_family` builds the task provider and its size for the mixing rules;
:func:`prepare_text_family` builds the cached word index once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lightning_meta.data.config import as_group, grouped_errors
from lightning_meta.data.family_config import (
    LEXICON_SMLMT,
    LEXICON_TEXT,
    SMLMT,
    SMLMT_TEXT,
    TaskFamily,
)
from lightning_meta.data.family_rules import HeldOutTarget, check_texts
from lightning_meta.data.smlmt import GROUPS, SMLMTText, build_smlmt, check_max_length, load_index
from lightning_meta.data.smlmt_lexicon import LexiconMask, build_lexicon_smlmt
from lightning_meta.data.stream import TaskProvider
from lightning_meta.errors import ConfigError

__all__ = ["TEXT_SOURCES", "build_text_family", "check_validation_text", "checked_text_family",
           "prepare_text_family"]  # fmt: skip

TEXT_SOURCES = (SMLMT, LEXICON_SMLMT)
"""``TaskFamily.source`` values of the self-supervised families."""
GROUPS_LEX = {**GROUPS, "lexicon": LexiconMask}


def checked_text_family(
    at: str, f: TaskFamily, targets: Sequence[HeldOutTarget], max_length: int
) -> TaskFamily:
    """``f`` with its text (and lexicon) defaults filled, after the held-out checks."""
    default = LEXICON_TEXT if f.source == LEXICON_SMLMT else SMLMT_TEXT
    text = as_group(SMLMTText, f.smlmt, f"{at}.smlmt", default).normalised()
    check_texts(f"{at}.smlmt", text.texts, targets)
    check_max_length(max_length)
    if f.source != LEXICON_SMLMT:
        return replace(f, smlmt=text)
    if f.n_way != 2:
        raise ConfigError(f"{at}.n_way: smlmt-lexicon tasks are 2-way (negative vs positive word); "
                          f"set n_way: 2 (got {f.n_way})")  # fmt: skip
    lexicon = as_group(LexiconMask, f.lexicon, f"{at}.lexicon", LexiconMask())
    lexicon.validate(f"{at}.lexicon")
    return replace(f, smlmt=text, lexicon=lexicon)


def check_validation_text(families: Sequence[TaskFamily], validation: Sequence[TaskFamily]) -> None:
    """A validation family split by examples must not be read as self-supervised text (its
    val examples would be trained on)."""
    by_examples = {v.source for v in validation if v.split_mode == "examples"}
    for i, f in enumerate(families):
        if f.source not in TEXT_SOURCES or f.smlmt is None:
            continue
        for j, t in enumerate(f.smlmt.texts):
            if isinstance(t, str) and t in by_examples:
                raise ConfigError(
                    f"families.{i}.smlmt.texts.{j}: '{t}' is also a validation family split by "
                    f"examples, so its val examples would be meta-trained on; drop it from texts"
                )


def build_text_family(
    f: TaskFamily, *, max_length: int, tokenizer: str, seed: int, cache_dir: str | None,
    size_by: str,
) -> tuple[TaskProvider, float]:  # fmt: skip
    """Train-split task provider of a self-supervised family, and its size (words or
    sentences; the lexicon family: 2 classes or its pools' sentences)."""
    assert f.smlmt is not None
    if f.source == LEXICON_SMLMT:
        assert f.lexicon is not None
        with grouped_errors("", GROUPS_LEX):
            lex = build_lexicon_smlmt(
                f.smlmt, f.lexicon, k_shot=f.k_shot, q_query=f.q_query, max_length=max_length,
                tokenizer=tokenizer, seed=seed, cache_dir=cache_dir,
            )  # fmt: skip
        words = lex.words["train"]
        size = 2 if size_by == "classes" else int(lex.index.counts[words].sum())
        return lex, float(size)
    with grouped_errors("", GROUPS):
        b = build_smlmt(
            f.smlmt, n_way=f.n_way, k_shot=f.k_shot, q_query=f.q_query, max_length=max_length,
            tokenizer=tokenizer, seed=seed, cache_dir=cache_dir, splits=("train",),
        )  # fmt: skip
    train = b.words["train"]
    size = len(train) if size_by == "classes" else int(b.index.counts[train].sum())
    return b, float(size)


def prepare_text_family(
    f: TaskFamily, *, max_length: int, tokenizer: str, cache_dir: str | None
) -> None:
    """Build (or find) the family's cached word index."""
    assert f.smlmt is not None
    with grouped_errors("", GROUPS):
        load_index(f.smlmt, max_length=max_length, tokenizer=tokenizer, cache_dir=cache_dir)
