"""Logistic regression on frozen embeddings, fitted per episode on its support set.

With the pretrained encoder it is the "frozen + logistic regression" baseline (the linear
probe); with the meta-trained encoder it is a second test-time adaptation of the meta-trained
model (its embeddings, a fresh convex head per episode, no encoder step).

scikit-learn's ``LogisticRegression`` minimises ``0.5 * ||w||^2 + C * sum_i log_loss_i`` (the
intercept unpenalised with lbfgs); query logits are its log-probabilities, (N*Q, N).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.baselines.text import CPU, output_from_logits

__all__ = ["LogisticRegressionHead"]

Embedder = Callable[[TextBatch], Tensor]  # (B, T) rows -> (B, H) embeddings


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
    ) -> None:
        """
        Args:
            embedder: rows -> pooled embeddings (e.g. an ``EpisodicClassifier.embed``).
            C: inverse L2 strength of scikit-learn's LogisticRegression (> 0).
            solver: its solver ('lbfgs', 'liblinear', 'newton-cg', ...).
            max_iter: its iteration cap.
            normalize: L2-normalise the embeddings first (as sentence-transformers does).
            device: where the embedder runs (episodes are moved there).
        """
        if not C > 0:
            raise ConfigError(f"C: must be > 0 (got {C}); e.g. 1.0")
        self.embedder, self.C, self.solver, self.max_iter = embedder, float(C), solver, max_iter
        self.normalize = normalize
        self._device = device or CPU
        self.last_coef: np.ndarray | None = None  # (N or 1, H) weights of the last episode

    @classmethod
    def from_encoder(cls, name_or_export: str, **kwargs: Any) -> LogisticRegressionHead:
        """Over an encoder name ('minilm') or an exported directory (its recorded pooling)."""
        from lightning_meta.evaluation.loading import load_module_from_export

        module = load_module_from_export(name_or_export, "centroid")
        module.eval()
        return cls(module.model.embed, **kwargs)

    @property
    def device(self) -> torch.device:
        return self._device

    def eval(self) -> LogisticRegressionHead:
        return self

    def _features(self, batch: TextBatch) -> np.ndarray:
        with torch.no_grad():
            h = self.embedder(batch.to(self._device)).float()  # (B, H)
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
