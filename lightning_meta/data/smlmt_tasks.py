"""Subset-masked-word (SMLMT) tasks: a task provider over an :class:`SMLMTIndex`.

Episode ``index`` of ``split`` (Bansal et al., EMNLP 2020) is a pure function of
``(seed, split, index)``::

    rng   = np.random.default_rng([seed, SPLIT_IDS[split], index])
    words = rng.choice(words of split, n_way, replace=False)   # label i <- words[i]
    rows  = for each word, k_shot + q_query random sentences that contain it and none of the
            other chosen words (so a row never shows another class's word unmasked)
    mask  = every occurrence of the word -> ONE mask token, whatever its number of sub-tokens

One mask per word (not per sub-token) keeps the word's length from giving the label away; all
of the word's sub-tokens are removed. Support = the first k_shot rows of each word, query = the
other q_query (disjoint by construction); rows are padded per episode like labelled episodes.

Word-disjoint splits: the eligible words are split train/val/test (``split_fractions``,
``split_seed``), so validation and test tasks ask about words never masked in training.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.data.smlmt_index import SMLMTIndex
from lightning_meta.data.splits import SPLIT_IDS, SPLITS
from lightning_meta.errors import ConfigError

log = logging.getLogger(__name__)
TASK_SOURCE = "smlmt"
OVERSAMPLE = 2  # candidate sentences drawn per needed row before the co-occurrence check
MAX_ATTEMPTS = 32  # word draws before giving up on a task (words that always co-occur)
_WORD_SPLIT_SALT = 0x5317


def split_words(
    index: SMLMTIndex, fractions: tuple[float, float, float], split_seed: int
) -> dict[str, np.ndarray]:
    """Word ids of each split: a seeded permutation of all indexed words cut by fractions."""
    return split_ids(len(index.words), fractions, split_seed)


def split_ids(
    n: int, fractions: tuple[float, float, float], split_seed: int
) -> dict[str, np.ndarray]:
    """Positions ``0..n-1`` of each split: a seeded permutation cut by ``fractions``."""
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3 or min(fr) <= 0 or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
        raise ConfigError(
            f"split_fractions: need three positive train/val/test word fractions summing to 1 "
            f"(got {list(fractions)})"
        )
    perm = np.random.default_rng([split_seed, _WORD_SPLIT_SALT]).permutation(n)
    cuts = np.round(np.cumsum(fr) * n).astype(int)
    parts = np.split(perm, cuts[:2])
    return {s: np.sort(p) for s, p in zip(SPLITS, parts, strict=True)}


def usable_words(
    index: SMLMTIndex, words: np.ndarray, split: str, n_way: int, k_shot: int, q_query: int
) -> np.ndarray:
    """Words of a split with at least k_shot + q_query sentences; ConfigError if < n_way."""
    need = k_shot + q_query
    counts = index.counts[words]
    keep = words[counts >= need]
    left_out = len(words) - len(keep)
    if left_out:
        log.info(
            "smlmt split '%s': left out %d of %d words with fewer than %d (k_shot + q_query) "
            "sentences; %d words remain", split, left_out, len(words), need, len(keep),
        )  # fmt: skip
    if len(keep) < n_way:
        raise ConfigError(
            f"n_way: only {len(keep)} eligible words in SMLMT split '{split}' have >= {need} "
            f"(k_shot + q_query) sentences; lower n_way, k_shot or q_query, relax the word "
            f"filters (min_count, max_count, min_length, exclude_stopwords) or add more text"
        )
    return keep


class SMLMTTaskBuilder:
    """Task provider: ``episode(split, index)`` -> masked-word classification Episode."""

    def __init__(
        self,
        index: SMLMTIndex,
        words: dict[str, np.ndarray],
        *,
        n_way: int,
        k_shot: int,
        q_query: int,
        seed: int,
        mask_id: int,
        pad_id: int,
        frame: tuple[list[int], list[int]],
    ) -> None:
        self.index, self.words = index, words
        self.n_way, self.k_shot, self.q_query, self.seed = n_way, k_shot, q_query, seed
        self.mask_id, self.pad_id = mask_id, pad_id
        self.prefix = np.asarray(frame[0], dtype=np.int64)
        self.suffix = np.asarray(frame[1], dtype=np.int64)
        a = index.arrays
        self._counts = index.counts
        self._word_ptr, self._pair_sent = a["word_ptr"], a["pair_sent"].astype(np.int64)
        self._pair_ptr, self._sent_ptr = a["pair_ptr"], a["sent_ptr"]
        self._sent_len = np.diff(a["sent_ptr"])
        self._sw_ptr, self._sent_words = a["sent_word_ptr"], a["sent_words"]
        self._tokens = a["tokens"].astype(np.int64)
        self._occ_start, self._occ_end = a["occ_start"], a["occ_end"]
        self._labels_s = torch.arange(n_way).repeat_interleave(k_shot)  # (N*K,)
        self._labels_q = torch.arange(n_way).repeat_interleave(q_query)  # (N*Q,)

    # ---- sampling --------------------------------------------------------------------------
    def _alone(self, pairs: np.ndarray, wids: np.ndarray) -> np.ndarray:
        """Per pair: its sentence contains exactly one of ``wids`` (its own word), (P,) bool."""
        sents = self._pair_sent[pairs]
        lo, hi = self._sw_ptr[sents], self._sw_ptr[sents + 1]
        lens = hi - lo  # >= 1: every sentence holds its own word
        offs = np.cumsum(lens) - lens
        flat = np.repeat(lo - offs, lens) + np.arange(int(lens.sum()))
        hits = (self._sent_words[flat][:, None] == wids[None, :]).any(1)
        return np.add.reduceat(hits.astype(np.int64), offs) == 1

    def _pick_rows(self, rng: np.random.Generator, wids: np.ndarray) -> np.ndarray | None:
        """(N, K+Q) pair ids, or None when some word lacks sentences free of the others."""
        need = self.k_shot + self.q_query
        counts = self._counts[wids].tolist()
        cand = [
            self._word_ptr[w] + rng.choice(c, min(c, OVERSAMPLE * need), replace=False)
            for w, c in zip(wids.tolist(), counts, strict=True)
        ]
        sizes = np.array([len(c) for c in cand])
        pairs = np.concatenate(cand)  # candidates of word 0, then word 1, ...
        ok = np.flatnonzero(self._alone(pairs, wids))
        n_ok = np.bincount(np.repeat(np.arange(len(wids)), sizes)[ok], minlength=len(wids))
        if (n_ok >= need).all():  # the usual case: first `need` clean candidates per word
            first = np.cumsum(n_ok) - n_ok
            return pairs[ok[first[:, None] + np.arange(need)[None, :]]]
        rows = []
        for i, (w, c) in enumerate(zip(wids.tolist(), counts, strict=True)):
            mine = cand[i]
            clean = mine[self._alone(mine, wids)]
            if len(clean) < need and len(mine) < c:  # rare: fall back to all of its sentences
                mine = self._word_ptr[w] + rng.permutation(c)
                clean = mine[self._alone(mine, wids)]
            if len(clean) < need:
                return None
            rows.append(clean[:need])
        return np.stack(rows)

    def sample(self, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Chosen word ids (N,) and their sentence pairs (N, K+Q) for one episode."""
        if split not in self.words:
            raise KeyError(f"split '{split}' not available; have {list(self.words)}")
        pool = self.words[split]
        rng = np.random.default_rng([self.seed, SPLIT_IDS[split], index])
        for _ in range(MAX_ATTEMPTS):
            wids = pool[rng.choice(len(pool), self.n_way, replace=False)]
            rows = self._pick_rows(rng, wids)
            if rows is not None:
                return wids, rows
        raise ConfigError(
            f"n_way: episode {index} of split '{split}': {MAX_ATTEMPTS} draws of {self.n_way} "
            f"words all co-occur too often for {self.k_shot + self.q_query} clean sentences "
            f"each; lower n_way, k_shot or q_query, or raise min_count"
        )

    # ---- masking ---------------------------------------------------------------------------
    def masked_rows(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sentences of ``pairs`` (B,) with every occurrence of the pair's word replaced by
        one mask token: flat content tokens and per-row lengths (B,)."""
        b = len(pairs)
        sents = self._pair_sent[pairs]
        start, lens = self._sent_ptr[sents], self._sent_len[sents]  # (B,)
        row_off = np.cumsum(lens) - lens
        tok = self._tokens[np.repeat(start - row_off, lens) + np.arange(int(lens.sum()))]
        o_lo = self._pair_ptr[pairs]
        o_n = self._pair_ptr[pairs + 1] - o_lo  # occurrences per row, >= 1
        o_off = np.cumsum(o_n) - o_n
        occ = np.repeat(o_lo - o_off, o_n) + np.arange(int(o_n.sum()))
        shift = np.repeat(row_off, o_n)
        o_start, o_end = self._occ_start[occ] + shift, self._occ_end[occ] + shift
        tok[o_start] = self.mask_id  # first sub-token -> mask ...
        depth = np.zeros(len(tok) + 1, dtype=np.int64)
        depth[o_start + 1] += 1  # ... and the other sub-tokens are dropped
        depth[o_end] -= 1
        keep = np.cumsum(depth[:-1]) == 0
        row = np.repeat(np.arange(b), lens)[keep]
        return tok[keep], np.bincount(row, minlength=b)

    def pad(self, tok: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, T) ids with the tokenizer's special tokens around each row, and attention mask."""
        n_pre, n_suf = len(self.prefix), len(self.suffix)
        full = lens + n_pre + n_suf
        ids = np.full((len(lens), int(full.max())), self.pad_id, dtype=np.int64)
        row = np.repeat(np.arange(len(lens)), lens)
        pos = np.arange(len(tok)) - np.repeat(np.cumsum(lens) - lens, lens)
        ids[row, n_pre + pos] = tok
        ids[:, :n_pre] = self.prefix
        for j, sid in enumerate(self.suffix.tolist()):
            ids[np.arange(len(lens)), n_pre + lens + j] = sid
        mask = (np.arange(ids.shape[1])[None, :] < full[:, None]).astype(np.int64)
        return ids, mask

    task_source = TASK_SOURCE

    def class_names(self, drawn: np.ndarray) -> list[str]:
        """Names of an episode's classes from what :meth:`sample` drew (here: word ids)."""
        return [self.index.words[w] for w in drawn.tolist()]

    def episode(self, split: str, index: int) -> Episode:
        wids, pairs = self.sample(split, index)
        k, n = self.k_shot, self.n_way
        rows = np.concatenate([pairs[:, :k].reshape(-1), pairs[:, k:].reshape(-1)])
        ids, mask = self.pad(*self.masked_rows(rows))  # (N*(K+Q), T)
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        return Episode(
            support=TextBatch(ids_t[: n * k], mask_t[: n * k], self._labels_s.clone()),
            query=TextBatch(ids_t[n * k :], mask_t[n * k :], self._labels_q.clone()),
            n_way=n,
            index=index,
            split=split,
            task_source=self.task_source,
            class_names=self.class_names(wids),
        )
