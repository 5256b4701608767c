"""Scoring fixed episodes: the one loop that adapts on each support set and scores its query.

Used by the episodic LightningModule's validation/test steps, by ``evaluate``/``report`` and by
the accuracy suite, so the three can never disagree. It imports nothing from
``lightning_meta.lightning``: it takes the ``evaluate_episode`` callable (or any object with
``eval``, ``device`` and ``evaluate_episode``, see :class:`EpisodeEvaluator`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.metrics import MeanCI, episode_scores, mean_ci

__all__ = [
    "EpisodeEvaluator", "EpisodeScore", "evaluate_episodes", "score_episodes", "score_module",
    "summarise",
]  # fmt: skip


@dataclass(frozen=True)
class EpisodeScore:
    """One episode's query scores after adapting on its support set."""

    index: int
    acc: float
    f1: float  # macro-F1
    query_loss_before: float  # NaN where the method does not compute it
    query_loss_after: float

    def row(self) -> tuple[float, ...]:
        """``(index, acc, f1, query_loss_before, query_loss_after)``."""
        return (self.index, self.acc, self.f1, self.query_loss_before, self.query_loss_after)


class EpisodeEvaluator(Protocol):
    """What :func:`score_module` needs of a model (every ``EpisodicModule`` has it)."""

    @property
    def device(self) -> torch.device: ...

    def eval(self) -> Any: ...

    def evaluate_episode(self, episode: Episode) -> TaskOutput: ...


def score_episodes(
    evaluate_episode: Callable[[Episode], TaskOutput],
    episodes: Iterable[Episode],
    device: torch.device | None = None,
) -> list[EpisodeScore]:
    """Adapt on every episode's support set (with gradients, also under ``no_grad``), score its
    query; the scores in episode order. ``device``: move each episode there first."""
    scores: list[EpisodeScore] = []
    with torch.enable_grad():
        for ep in episodes:
            if device is not None:
                ep = ep.to(device)
            out = evaluate_episode(ep)
            acc, f1 = episode_scores(out.logits, ep.query.labels, ep.n_way)
            before, after = float(out.loss_before), float(out.loss.detach())
            scores.append(EpisodeScore(int(ep.index), acc, f1, before, after))
    return scores


def score_module(module: EpisodeEvaluator, episodes: Iterable[Episode]) -> list[EpisodeScore]:
    """:func:`score_episodes` of a model in eval mode, episodes moved to its device."""
    module.eval()
    return score_episodes(module.evaluate_episode, episodes, module.device)


def summarise(scores: Sequence[EpisodeScore]) -> dict[str, MeanCI]:
    """Mean ± 95% CI of accuracy and macro-F1 over the episodes."""
    return {"acc": mean_ci([s.acc for s in scores]), "f1": mean_ci([s.f1 for s in scores])}


def evaluate_episodes(module: EpisodeEvaluator, episodes: Iterable[Episode]) -> dict[str, MeanCI]:
    """Adapt on every episode's support set, score its query: mean ± 95% CI of acc and F1."""
    return summarise(score_module(module, episodes))
