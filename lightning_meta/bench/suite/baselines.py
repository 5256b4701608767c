"""Baseline rows of a suite at run time: which fixed episodes of a target a row scores, its
label, and the evaluator that :func:`~lightning_meta.evaluation.scoring.score_module` scores.

The evaluators are the ones ``report`` uses (:mod:`lightning_meta.evaluation.baselines`); the
text baselines decode the episodes with the target's own tokenizer, so every row sees the same
texts with the same truncation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import torch

from lightning_meta.bench.suite.baseline_spec import BaselineSpec
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.scoring import EpisodeEvaluator
from lightning_meta.lightning import EpisodicModule

__all__ = ["BaselineRow", "SENTIMENT_CLASSES", "cell_episodes", "is_sentiment", "row_label"]

SENTIMENT_CLASSES = ("negative", "positive")


def is_sentiment(episodes: Sequence[Episode]) -> bool:
    """Every episode is 2-way with the classes negative/positive (the ``sentiment:*`` sources,
    or any source labelled that way): a target VADER can score."""
    return bool(episodes) and all(
        ep.n_way == 2 and sorted(ep.class_names) == list(SENTIMENT_CLASSES) for ep in episodes
    )


def cell_episodes(baseline: BaselineSpec | None, episodes: list[Episode]) -> list[Episode]:
    """The fixed episodes a row scores on a target: all of them for a module; for a baseline
    the first ``baseline.episodes``; none (its cell is ``-``) for VADER on a non-sentiment
    target."""
    if baseline is None:
        return episodes
    if baseline.kind == "vader" and not is_sentiment(episodes):
        return []
    return episodes if baseline.episodes is None else episodes[: baseline.episodes]


def row_label(name: str, scored: int, available: int) -> str:
    """The table label: the method name, with the episode count when it scored fewer."""
    return name if scored == available else f"{name} [{scored} episode{'s' * (scored != 1)}]"


class BaselineRow:
    """One baseline method's evaluators (one per target tokenizer for the text baselines)."""

    def __init__(
        self, spec: BaselineSpec, device: torch.device, module: EpisodicModule | None = None
    ) -> None:
        """
        Args:
            spec: the method's ``baseline`` block.
            device: where encoders run (SetFit: its device; VADER: CPU).
            module: logreg: the module whose ``model.embed`` gives the embeddings (the method's
                own frozen ``model``, or the meta-trained ``embeddings_of`` method); setfit on
                ``embeddings_of``: the meta-trained module whose encoder SetFit starts from.
        """
        if module is None and (spec.kind == "logreg" or spec.embeddings_of is not None):
            raise ValueError(f"{spec.kind}: needs the module whose encoder it uses")
        self.spec, self.device, self.module = spec, device, module
        self._built: dict[str, Any] = {}

    def evaluator(self, tokenizer: str) -> EpisodeEvaluator:
        """The evaluator for episodes built with ``tokenizer`` (built once per tokenizer)."""
        key = "" if self.spec.kind == "logreg" else tokenizer
        if key not in self._built:
            self._built[key] = self._build(tokenizer)
        out: EpisodeEvaluator = self._built[key]
        return out

    def _build(self, tokenizer: str) -> Any:
        from lightning_meta.evaluation import baselines  # imported here: lets tests fake SetFit

        if self.spec.kind == "logreg":
            assert self.module is not None
            self.module.eval()
            return baselines.LogisticRegressionHead(
                self.module.model.embed, C=self.spec.c, device=self.device
            )
        if self.spec.kind == "setfit" and self.module is not None:
            return self._setfit_on_module(baselines.SetFitBaseline, tokenizer)
        if self.spec.kind == "setfit":
            return baselines.SetFitBaseline(
                body=self.spec.body_name, tokenizer=tokenizer, device=self.device.type
            )
        return baselines.VaderZeroShot(tokenizer=tokenizer)

    def _setfit_on_module(self, setfit: Any, tokenizer: str) -> Any:
        """SetFit from the module's (meta-trained) encoder: written as ``report`` exports it
        (Hugging Face weights, tokenizer, Transformer + pooling stack), loaded, then removed."""
        from lightning_meta.callbacks.export import export_module

        assert self.module is not None
        with tempfile.TemporaryDirectory() as tmp:
            export_module(self.module, tmp, tokenizer, {})
            return setfit(body=tmp, tokenizer=tokenizer, device=self.device.type, normalize=True)
