"""Logistic regression on frozen embeddings, fitted per episode on its support set.

With the pretrained encoder it is the "frozen + logistic regression" baseline (the linear
probe); with the meta-trained encoder it is a second test-time adaptation of the meta-trained
model (its embeddings, a fresh convex head per episode, no encoder step).

scikit-learn's ``LogisticRegression`` minimises ``0.5 * ||w||^2 + C * sum_i log_loss_i`` (the
intercept unpenalised with lbfgs); query logits are its log-probabilities, (N*Q, N).

The encoder is frozen, so a row's embedding is the same in every episode that holds it:
with ``memoize`` (default) each row's pooled embedding is kept, keyed by its real token ids
and its padded length (attention reductions depend on the padded length), and only rows not
seen before are encoded (:meth:`prepare` encodes every unique row of a list of episodes up
front, ``block`` rows per call). An LR row then costs one encoder pass per unique text.
The result equals the unmemoized path (each support/query batch encoded whole) up to float
rounding, not bit for bit: CPU kernels do not give a row the same last bits in every batch
it may sit in (the tiny test encoder differs by ~1e-8 between a batch of 6 rows and of 2).
The test checks the features to 1e-6 and that every episode's scores are identical.

Given the report's :class:`~lightning_meta.evaluation.feature_cache.FeatureCache` of the same
episodes (``prepare(..., cache=)``), a head built by :meth:`from_encoder` takes the pooled
embeddings from it (rows whose encoder holds the same numbers share them: the meta-trained
fine-tuning row's, the frozen centroid's) instead of encoding again; the cache's embeddings are
a packed pass over real tokens at each episode's padded length, equal to the padded pass up to
float rounding (as above).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.baselines.text import CPU, output_from_logits
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.progress import Progress

__all__ = ["LogisticRegressionHead"]

Embedder = Callable[[TextBatch], Tensor]  # (B, T) rows -> (B, H) embeddings
Key = tuple[int, tuple[int, ...]]  # (padded length T, real token ids) of one row


def row_keys(batch: TextBatch) -> list[Key]:
    """The memo key of each row of ``batch``."""
    T = int(batch.input_ids.shape[1])
    return [
        (T, tuple(ids[mask.bool()].tolist()))
        for ids, mask in zip(batch.input_ids, batch.attention_mask, strict=True)
    ]


class LogisticRegressionHead:
    """Per-episode logistic regression on the support embeddings of a frozen encoder."""

    def __init__(
        self,
        embedder: Embedder,
        C: float = 1.0,
        solver: str = "lbfgs",
        max_iter: int = 1000,
        normalize: bool = True,
        device: torch.device | None = None,
        memoize: bool = True,
        block: int = 64,
    ) -> None:
        """
        Args:
            embedder: rows -> pooled embeddings (e.g. an ``EpisodicClassifier.embed``).
            C: inverse L2 strength of scikit-learn's LogisticRegression (> 0).
            solver: its solver ('lbfgs', 'liblinear', 'newton-cg', ...).
            max_iter: its iteration cap.
            normalize: L2-normalise the embeddings first (as sentence-transformers does).
            device: where the embedder runs (episodes are moved there).
            memoize: keep each row's embedding (key: real token ids, padded length) and
                encode only rows not seen before (equal to rounding, see the module doc).
            block: at most this many rows per encoder call (memoized path).
        """
        if not C > 0:
            raise ConfigError(f"C: must be > 0 (got {C}); e.g. 1.0")
        if block < 1:
            raise ConfigError(f"block: must be >= 1 (got {block}); e.g. 64")
        self.embedder, self.C, self.solver, self.max_iter = embedder, float(C), solver, max_iter
        self.normalize = normalize
        self._device = device or CPU
        self.last_coef: np.ndarray | None = None  # (N or 1, H) weights of the last episode
        self.block = int(block)
        self.memo: dict[Key, Tensor] | None = {} if memoize else None
        self.encoded = 0  # rows that went through the embedder (memo misses)
        self.cached = 0  # rows whose embedding came from a FeatureCache
        self.classifier: Any = None  # the EpisodicClassifier of ``embedder`` (from_encoder)

    @classmethod
    def from_encoder(
        cls, name_or_export: str, pooling: str | None = None, **kwargs: Any
    ) -> LogisticRegressionHead:
        """Over an encoder name ('minilm') or an exported directory (its recorded pooling,
        unless ``pooling`` is given)."""
        from lightning_meta.evaluation.loading import load_module_from_export

        overrides = None if pooling is None else {"pooling": pooling}
        module = load_module_from_export(name_or_export, "centroid", overrides=overrides)
        module.eval()
        head = cls(module.model.embed, **kwargs)
        head.classifier = module.model
        return head

    @property
    def device(self) -> torch.device:
        return self._device

    def eval(self) -> LogisticRegressionHead:
        return self

    def _encode(self, ids: Tensor, mask: Tensor, bar: Progress | None = None) -> Tensor:
        """(R, T) rows -> (R, H) embeddings, at most ``block`` rows per call."""
        out = []
        for start in range(0, len(ids), self.block):
            stop = min(start + self.block, len(ids))
            rows = TextBatch(ids[start:stop], mask[start:stop], torch.zeros(stop - start).long())
            out.append(self.embedder(rows.to(self._device)))
            if bar is not None:
                bar.advance(stop - start)
        self.encoded += len(ids)
        return torch.cat(out)

    def _fill(self, rows: dict[Key, tuple[Tensor, Tensor]], bar: Progress | None = None) -> None:
        """Encode the memo misses ``rows`` (key -> (ids, mask) at the key's padded length)."""
        assert self.memo is not None
        by_length: dict[int, list[Key]] = {}
        for key in rows:
            by_length.setdefault(key[0], []).append(key)
        for keys in by_length.values():
            ids = torch.stack([rows[k][0] for k in keys])  # (R, T)
            mask = torch.stack([rows[k][1] for k in keys])
            self.memo.update(zip(keys, self._encode(ids, mask, bar), strict=True))

    def _missing(self, batch: TextBatch) -> dict[Key, tuple[Tensor, Tensor]]:
        assert self.memo is not None
        return {
            k: (ids, mask)
            for k, ids, mask in zip(row_keys(batch), batch.input_ids, batch.attention_mask,
                                    strict=True)
            if k not in self.memo
        }  # fmt: skip

    def prepare(
        self,
        episodes: Sequence[Episode],
        progress: bool | str = False,
        cache: FeatureCache | None = None,
    ) -> None:
        """Keep exactly the rows of ``episodes`` in the memo, encoding the new ones in full
        blocks (the scores do not change; the encoder runs once per unique row), or reading
        them from ``cache`` (a FeatureCache of ``episodes``) where it can serve this encoder.
        ``progress``: a bar/lines named by the string (see ``evaluation.progress``)."""
        if self.memo is None:
            return
        if cache is not None:
            self._from_cache(cache, episodes)
        needed: dict[Key, tuple[Tensor, Tensor]] = {}
        for ep in episodes:
            for batch in (ep.support, ep.query):
                for k, ids, mask in zip(row_keys(batch), batch.input_ids, batch.attention_mask,
                                        strict=True):  # fmt: skip
                    needed.setdefault(k, (ids, mask))
        self.memo = {k: v for k, v in self.memo.items() if k in needed}
        todo = {k: v for k, v in needed.items() if k not in self.memo}
        name = f"{progress}: encoding" if isinstance(progress, str) else "encoding"
        with torch.no_grad(), Progress(len(todo), name, "texts", enabled=bool(progress)) as bar:
            self._fill(todo, bar)

    def _from_cache(self, cache: FeatureCache, episodes: Sequence[Episode]) -> None:
        """Memo entries of every row of ``episodes`` from the cache's pooled embeddings (no-op
        unless the cache holds exactly these episodes at their padded lengths and the encoder
        is one the packed path reproduces)."""
        from lightning_meta.models.packed import packable

        model, memo = self.classifier, self.memo
        if model is None or memo is None or not cache.match_padding:
            return
        encoder = model.encoder
        same = len(cache.episodes) == len(episodes) and all(
            a is b for a, b in zip(cache.episodes, episodes, strict=True)
        )
        if not same or not hasattr(encoder, "embeddings") or not packable(encoder, 0):
            return
        index = cache.index
        texts = torch.arange(len(index))
        with torch.no_grad():
            pooled = cache.pooled(encoder, cache.keys(encoder), model.pooling, texts)  # (U, H)
        for i, ep in enumerate(episodes):
            for split in ("support", "query"):
                entries = getattr(index, split)[i].tolist()
                for key, u in zip(row_keys(getattr(ep, split)), entries, strict=True):
                    if key not in memo:
                        memo[key] = pooled[u].to(self._device)
                        self.cached += 1

    def _embed(self, batch: TextBatch) -> Tensor:
        """(B, H) embeddings of ``batch``: from the memo (misses encoded first)."""
        if self.memo is None:  # the whole batch at once, as before memoization
            self.encoded += len(batch)
            return self.embedder(batch.to(self._device))
        self._fill(self._missing(batch))
        return torch.stack([self.memo[k] for k in row_keys(batch)])

    def _features(self, batch: TextBatch) -> np.ndarray:
        with torch.no_grad():
            h = self._embed(batch).float()  # (B, H)
            if self.normalize:
                h = F.normalize(h, dim=-1)
        return h.cpu().double().numpy()

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        from sklearn.linear_model import LogisticRegression

        xs, ys = self._features(episode.support), episode.support.labels.cpu().numpy()
        if len(np.unique(ys)) != episode.n_way:
            raise ConfigError(f"episode {episode.index}: support set lacks some of its classes")
        clf = LogisticRegression(C=self.C, solver=self.solver, max_iter=self.max_iter)
        clf.fit(xs, ys)
        self.last_coef = clf.coef_
        log_p = clf.predict_log_proba(self._features(episode.query))  # (N*Q, N), classes 0..N-1
        return output_from_logits(torch.from_numpy(log_p), episode.query.labels)
