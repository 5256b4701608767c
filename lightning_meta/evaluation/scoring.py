"""Scoring fixed episodes: the one loop that adapts on each support set and scores its query.

Used by the episodic LightningModule's validation/test steps, by ``evaluate``/``report`` and by
the accuracy suite, so the three can never disagree. It imports nothing from
``lightning_meta.lightning``: it takes the ``evaluate_episode`` callable (or any object with
``eval``, ``device`` and ``evaluate_episode``, see :class:`EpisodeEvaluator`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.cached_scoring import cache_plan, cached_outputs
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.metrics import MeanCI, episode_metrics, mean_ci
from lightning_meta.evaluation.progress import Progress

__all__ = [
    "EpisodeEvaluator", "EpisodeScore", "episode_score", "evaluate_episodes", "score_episodes",
    "score_module", "summarise",
]  # fmt: skip


@dataclass(frozen=True)
class EpisodeScore:
    """One episode's query scores after adapting on its support set."""

    index: int
    acc: float
    f1: float  # macro-F1
    query_loss_before: float  # NaN where the method does not compute it
    query_loss_after: float
    precision: float = float("nan")  # macro-precision (NaN: not computed)
    recall: float = float("nan")  # macro-recall

    def row(self) -> tuple[float, ...]:
        """``(index, acc, f1, query_loss_before, query_loss_after)``."""
        return (self.index, self.acc, self.f1, self.query_loss_before, self.query_loss_after)


class EpisodeEvaluator(Protocol):
    """What :func:`score_module` needs of a model (every ``EpisodicModule`` has it)."""

    @property
    def device(self) -> torch.device: ...

    def eval(self) -> Any: ...

    def evaluate_episode(self, episode: Episode) -> TaskOutput: ...


def episode_score(ep: Episode, out: TaskOutput) -> EpisodeScore:
    """One episode's scores from its adapted query logits and losses."""
    m = episode_metrics(out.logits, ep.query.labels.to(out.logits.device), ep.n_way)
    before, after = float(out.loss_before), float(out.loss.detach())
    return EpisodeScore(
        int(ep.index), m["acc"], m["f1"], before, after, m["precision"], m["recall"]
    )


def score_episodes(
    evaluate_episode: Callable[[Episode], TaskOutput],
    episodes: Iterable[Episode],
    device: torch.device | None = None,
    progress: Progress | None = None,
) -> list[EpisodeScore]:
    """Adapt on every episode's support set (with gradients, also under ``no_grad``), score its
    query; the scores in episode order. ``device``: move each episode there first."""
    scores: list[EpisodeScore] = []
    with torch.enable_grad():
        for ep in episodes:
            if device is not None:
                ep = ep.to(device)
            scores.append(episode_score(ep, evaluate_episode(ep)))
            if progress is not None:
                progress.advance()
    return scores


def score_module(
    module: EpisodeEvaluator,
    episodes: Iterable[Episode],
    *,
    features: FeatureCache | None = None,
    progress: bool | str = True,
) -> list[EpisodeScore]:
    """Scores of a model in eval mode on ``episodes`` (moved to its device), in order.

    When :func:`~lightning_meta.evaluation.cached_scoring.cache_plan` accepts the model
    (``adapt: head | top<k>`` fine-tuning rows, nearest-centroid rows), from the frozen-feature
    cache, several episodes per batched inner loop: ``features`` (built for these same episodes;
    pass one cache to models scored on the same episodes and rows with equal bottoms share
    it) or a fresh one. Otherwise (``adapt: all``, the higher backend, ...) the per-episode
    loop. ``progress``: a bar (terminal) or plain lines on stderr named by the string; False:
    silent.
    """
    module.eval()
    eps = list(episodes) if features is None else features.episodes
    if features is not None and [e.index for e in eps] != [e.index for e in episodes]:
        raise ValueError("features: the cache was built for other episodes than these")
    if not eps:
        return []
    name = progress if isinstance(progress, str) else "scoring"
    with Progress(len(eps), name, enabled=progress is not False) as bar:
        if cache_plan(module) is not None:
            cache = features if features is not None else FeatureCache(eps, shared=False)
            outs = cached_outputs(module, cache, progress=bar)
            if outs is not None:
                return [episode_score(ep, out) for ep, out in zip(eps, outs, strict=True)]
        return score_episodes(module.evaluate_episode, eps, module.device, bar)


def summarise(scores: Sequence[EpisodeScore]) -> dict[str, MeanCI]:
    """Mean ± 95% CI over the episodes of accuracy, macro-F1 and (when every episode has them)
    macro-precision and macro-recall (keys ``acc``, ``f1``, ``precision``, ``recall``)."""
    out = {"acc": mean_ci([s.acc for s in scores]), "f1": mean_ci([s.f1 for s in scores])}
    for key in ("precision", "recall"):
        values = [getattr(s, key) for s in scores]
        if values and not any(math.isnan(v) for v in values):
            out[key] = mean_ci(values)
    return out


def evaluate_episodes(
    module: EpisodeEvaluator,
    episodes: Iterable[Episode],
    *,
    features: FeatureCache | None = None,
    progress: bool | str = True,
) -> dict[str, MeanCI]:
    """Adapt on every episode's support set, score its query: mean ± 95% CI of acc, F1,
    macro-precision and macro-recall (``features``, ``progress``: see :func:`score_module`)."""
    return summarise(score_module(module, episodes, features=features, progress=progress))
