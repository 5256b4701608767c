"""N-way K-shot episodes from a tokenised corpus: sampling and dynamic padding, in numpy.

Every episode is a pure function of ``(seed, split, index)``::

    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    classes = rng.choice(C, n_way, replace=False)   # random order: label i <- classes[i]
    rows_c  = rng.choice(|pool_c|, k + q, replace=False) for each chosen class
    support = first k rows of each class, query = the other q (disjoint by construction)

so any episode can be rebuilt anywhere (other worker, other rank, after a resume). Support and
query are padded together to the episode's longest row.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.data.splits import SPLIT_IDS, SPLITS, SplitPlan
from lightning_meta.data.tokens import TokenizedCorpus
from lightning_meta.errors import ConfigError


def eligible_classes(
    plan: SplitPlan,
    class_names: Sequence[str],
    split: str,
    n_way: int,
    k_shot: int,
    q_query: int,
    shot_fields: tuple[str, str] = ("k_shot", "q_query"),
) -> list[int]:
    """Classes of ``split`` with at least k_shot + q_query rows; warn about the rest, and raise
    a one-line ConfigError when fewer than n_way remain."""
    pool = plan.pools[split]
    need = k_shot + q_query
    keep = [c for c in sorted(pool) if len(pool[c]) >= need]
    dropped = [class_names[c] for c in sorted(pool) if len(pool[c]) < need]
    k_field, q_field = shot_fields
    if len(pool) < n_way:
        raise ConfigError(
            f"n_way: {n_way} exceeds the {len(pool)} classes in split '{split}' ({plan.mode} split); "
            f"lower n_way or give that split more classes (split_fractions / {split}_classes)"
        )
    if not keep:
        largest = max((len(v) for v in pool.values()), default=0)
        raise ConfigError(
            f"{k_field}: {k_field} + {q_field} = {need} exceeds every class in split '{split}' "
            f"(largest has {largest} examples); lower {k_field} or {q_field}"
        )
    if dropped:
        warnings.warn(
            f"split '{split}': left out {len(dropped)} classes with fewer than {need} "
            f"({k_field} + {q_field}) examples: {dropped}",
            UserWarning,
            stacklevel=2,
        )
    if len(keep) < n_way:
        raise ConfigError(
            f"n_way: only {len(keep)} classes of split '{split}' have >= {need} examples "
            f"({k_field} + {q_field}); lower n_way, {k_field} or {q_field}"
        )
    return keep


def pad_rows(
    corpus: TokenizedCorpus, rows: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the corpus as (B, length) ids and attention mask, right-padded."""
    starts = corpus.offsets[rows]  # (B,)
    lens = corpus.offsets[rows + 1] - starts  # (B,)
    pos = np.arange(length)  # (T,)
    mask = pos[None, :] < lens[:, None]  # (B, T)
    idx = np.where(mask, starts[:, None] + pos[None, :], 0)
    ids = np.where(mask, corpus.ids[idx], corpus.pad_id)
    return ids.astype(np.int64), mask.astype(np.int64)


class EpisodeSampler:
    """Task provider over a tokenised corpus and its meta-splits: ``episode(split, index)``."""

    def __init__(
        self,
        corpus: TokenizedCorpus,
        plan: SplitPlan,
        *,
        n_way: int = 5,
        k_shot: int = 5,
        q_query: int = 15,
        eval_k_shot: int | None = None,
        eval_q_query: int | None = None,
        seed: int = 0,
        source: str = "",
        splits: Sequence[str] = SPLITS,
    ) -> None:
        self.corpus = corpus
        self.n_way = n_way
        self.seed = seed
        self.source = source
        self._shots: dict[str, tuple[int, int]] = {}
        self._classes: dict[str, np.ndarray] = {}
        self._pools: dict[str, list[np.ndarray]] = {}
        for split in splits:
            is_eval = split != "train"
            k = eval_k_shot if is_eval and eval_k_shot is not None else k_shot
            q = eval_q_query if is_eval and eval_q_query is not None else q_query
            fields = (
                ("eval_k_shot", "eval_q_query")
                if is_eval and eval_k_shot is not None
                else ("k_shot", "q_query")
            )
            keep = eligible_classes(plan, corpus.class_names, split, n_way, k, q, fields)
            self._shots[split] = (k, q)
            self._classes[split] = np.asarray(keep, dtype=np.int64)
            self._pools[split] = [plan.pools[split][c] for c in keep]

    def classes(self, split: str) -> list[str]:
        """Names of the classes episodes of ``split`` draw from."""
        return [self.corpus.class_names[c] for c in self._classes[split]]

    def shots(self, split: str) -> tuple[int, int]:
        return self._shots[split]

    def rows(self, split: str, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Chosen class ids (N,), support rows (N, K) and query rows (N, Q) of one episode."""
        if split not in self._pools:
            raise KeyError(f"split '{split}' not available; have {list(self._pools)}")
        k, q = self._shots[split]
        rng = np.random.default_rng([self.seed, SPLIT_IDS[split], index])
        pools = self._pools[split]
        picked = rng.choice(len(pools), self.n_way, replace=False)  # (N,)
        sel = np.stack([pools[p][rng.choice(len(pools[p]), k + q, replace=False)] for p in picked])
        return self._classes[split][picked], sel[:, :k], sel[:, k:]

    def episode(self, split: str, index: int) -> Episode:
        classes, support, query = self.rows(split, index)
        k, q = support.shape[1], query.shape[1]
        rows = np.concatenate([support.reshape(-1), query.reshape(-1)])  # (N*(K+Q),)
        length = int((self.corpus.offsets[rows + 1] - self.corpus.offsets[rows]).max())
        ids, mask = pad_rows(self.corpus, rows, length)  # (N*(K+Q), T)
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        n_s = self.n_way * k
        labels = np.repeat(np.tile(np.arange(self.n_way), 2), [k] * self.n_way + [q] * self.n_way)
        labels_t = torch.from_numpy(labels)  # (N*K + N*Q,): 0..0 1..1 ... for support, then query
        return Episode(
            support=TextBatch(ids_t[:n_s], mask_t[:n_s], labels_t[:n_s]),
            query=TextBatch(ids_t[n_s:], mask_t[n_s:], labels_t[n_s:]),
            n_way=self.n_way,
            index=index,
            split=split,
            task_source=self.source,
            class_names=[self.corpus.class_names[c] for c in classes],
        )
