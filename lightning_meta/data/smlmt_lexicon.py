"""Lexicon-guided SMLMT: was the masked word positive or negative? (no labels used).

A 2-way self-supervised task family. A sentiment lexicon (VADER's ``vader_lexicon.txt``, read
from the installed ``vaderSentiment`` package, or a ``word<TAB>valence`` file) splits the
indexed words into a positive pool (valence >= ``min_valence``) and a negative pool
(valence <= -``min_valence``). Episode ``index`` of ``split`` is a pure function of
``(seed, split, index)``::

    rng    = np.random.default_rng([seed, SPLIT_IDS[split], index, SALT])
    order  = rng.permutation(2)                 # which polarity is label 0 in this episode
    for each polarity: k_shot + q_query words drawn uniformly from its pool (distinct unless
                       the pool is smaller), one random sentence of each; the episode's
                       sentences distinct (else redrawn)
    mask   = every occurrence of the drawn word -> ONE mask token (as in SMLMT)

So a label is the polarity of a word the model cannot see: it must read it from the context
("what a [MASK] film, I loved it"). Many words share a class, so the task is about polarity,
not about one word. The word split (``SMLMTText.split_fractions``) runs over the lexicon words
of each polarity, so the ``val``/``test`` tasks ask about words never masked in ``train``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightning_meta.data.smlmt import SMLMTText, load_index
from lightning_meta.data.smlmt_index import SMLMTIndex, special_frame
from lightning_meta.data.smlmt_tasks import SMLMTTaskBuilder, split_ids
from lightning_meta.data.splits import SPLIT_IDS
from lightning_meta.errors import ConfigError

__all__ = ["LEXICON_SMLMT", "LexiconMask", "LexiconTaskBuilder", "build_lexicon_smlmt",
           "load_lexicon"]  # fmt: skip

log = logging.getLogger(__name__)
LEXICON_SMLMT = "smlmt-lexicon"
"""``TaskFamily.source`` of the lexicon-guided SMLMT family."""
POLARITIES = ("negative word", "positive word")
_SALT = 0x1E71
MAX_ATTEMPTS = 16


@dataclass(frozen=True)
class LexiconMask:
    """Which lexicon, and how strong a word's polarity must be to be masked."""

    lexicon: str = "vader"
    """``vader`` (the installed vaderSentiment package's lexicon) or a ``word<TAB>valence``
    file (further tab-separated columns are ignored)."""
    min_valence: float = 1.0
    """Mask only words with valence >= this (positive) or <= -this (negative); VADER's
    valences lie in [-4, 4] ('good' 1.9, 'bad' -2.5, 'okay' 0.9)."""

    def validate(self, where: str) -> None:
        if not self.min_valence > 0:
            raise ConfigError(
                f"{where}.min_valence: must be > 0 (got {self.min_valence}); e.g. 1.0"
            )


def load_lexicon(name: str) -> dict[str, float]:
    """``word -> valence`` of the lexicon (lower-cased words)."""
    if name == "vader":
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as err:  # pragma: no cover - a project dependency
            raise ConfigError(
                "lexicon: 'vader' needs the package vaderSentiment; run `pip install vaderSentiment`"
            ) from err
        return {w.lower(): float(v) for w, v in SentimentIntensityAnalyzer().lexicon.items()}
    path = Path(name)
    if not path.is_file():
        raise ConfigError(
            f"lexicon: '{name}' is neither 'vader' nor a file; give a word<TAB>valence file"
        )
    out: dict[str, float] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if not line.strip():
            continue
        try:
            out[parts[0].strip().lower()] = float(parts[1])
        except (IndexError, ValueError):
            raise ConfigError(
                f"lexicon: {path} line {n} is not word<TAB>valence: {line[:60]!r}"
            ) from None
    return out


def polarity_pools(
    index: SMLMTIndex, lexicon: dict[str, float], min_valence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Word ids of the index whose lexicon valence is <= -min_valence / >= min_valence."""
    val = np.array([lexicon.get(w.lower(), 0.0) for w in index.words])
    return np.flatnonzero(val <= -min_valence), np.flatnonzero(val >= min_valence)


class LexiconTaskBuilder(SMLMTTaskBuilder):
    """Task provider: 2-way 'masked word negative vs positive' episodes (module docstring)."""

    def __init__(
        self, index: SMLMTIndex, pools: dict[str, tuple[np.ndarray, np.ndarray]], *,
        k_shot: int, q_query: int, seed: int, mask_id: int, pad_id: int,
        frame: tuple[list[int], list[int]],
    ) -> None:  # fmt: skip
        words = {s: np.concatenate(p) for s, p in pools.items()}
        super().__init__(index, words, n_way=2, k_shot=k_shot, q_query=q_query, seed=seed,
                         mask_id=mask_id, pad_id=pad_id, frame=frame)  # fmt: skip
        self.pools = pools

    def sample(self, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Polarity of each label (2,) (0 negative, 1 positive) and pair ids (2, K+Q)."""
        if split not in self.pools:
            raise KeyError(f"split '{split}' not available; have {list(self.pools)}")
        need = self.k_shot + self.q_query
        rng = np.random.default_rng([self.seed, SPLIT_IDS[split], index, _SALT])
        order = rng.permutation(2)
        for _ in range(MAX_ATTEMPTS):
            rows = []
            for pol in order.tolist():
                pool = self.pools[split][pol]
                wids = pool[rng.choice(len(pool), need, replace=len(pool) < need)]
                pick = (rng.random(need) * self._counts[wids]).astype(np.int64)
                rows.append(self._word_ptr[wids] + pick)  # one random sentence per word
            pairs = np.stack(rows)
            if len(np.unique(self._pair_sent[pairs])) == pairs.size:
                return order, pairs
        raise ConfigError(
            f"smlmt-lexicon: episode {index} of split '{split}': {MAX_ATTEMPTS} draws repeated a "
            f"sentence; add text or lower k_shot/q_query"
        )

    task_source = LEXICON_SMLMT

    def class_names(self, drawn: np.ndarray) -> list[str]:
        return [POLARITIES[p] for p in drawn.tolist()]


def build_lexicon_smlmt(
    text: SMLMTText, lexicon: LexiconMask, *, k_shot: int, q_query: int, max_length: int,
    tokenizer: str, seed: int, cache_dir: str | None, splits: tuple[str, ...] = ("train",),
) -> LexiconTaskBuilder:  # fmt: skip
    """Cached word index -> lexicon polarity pools -> word split per polarity -> builder."""
    tok, index = load_index(text, max_length=max_length, tokenizer=tokenizer, cache_dir=cache_dir)
    neg, pos = polarity_pools(index, load_lexicon(lexicon.lexicon), lexicon.min_valence)
    parts = []  # per polarity: its word ids in each split
    for pol, ids in enumerate((neg, pos)):
        if len(ids) < 3:
            raise ConfigError(
                f"smlmt-lexicon: the texts hold {len(ids)} {POLARITIES[pol]}s of the lexicon "
                f"(need >= 3); add text, lower min_valence or relax the word filters"
            )
        by_split = split_ids(len(ids), text.split_fractions, text.split_seed)
        if empty := [s for s in splits if len(by_split[s]) == 0]:
            raise ConfigError(
                f"smlmt-lexicon: no {POLARITIES[pol]}s in split '{empty[0]}'; add text"
            )
        parts.append({s: ids[by_split[s]] for s in splits})
    pools = {s: (parts[0][s], parts[1][s]) for s in splits}
    log.info("smlmt-lexicon: %d negative and %d positive words (|valence| >= %g)",
             len(neg), len(pos), lexicon.min_valence)  # fmt: skip
    return LexiconTaskBuilder(
        index, pools, k_shot=k_shot, q_query=q_query, seed=seed, mask_id=int(tok.mask_token_id),
        pad_id=int(tok.pad_token_id), frame=special_frame(tok),
    )  # fmt: skip
