"""Combining test-time adaptations of one episode: a weighted average of their query probabilities.

Two adaptations of the same support set can err on different queries: SetFit (contrastive
fine-tuning of the whole pretrained encoder, then a logistic-regression head) and the
meta-trained model's own fine-tuning (a few steps from the meta-learned initialisation).
:class:`ProbabilityAverage` scores the weighted mean of their class probabilities,
``p = sum_m w_m softmax(logits_m)`` with weights summing to 1, as query logits ``log p``; its
weights are chosen on validation episodes, never on the test targets.

:class:`Memoized` keeps an evaluator's output per episode, so a table that has both the SetFit
row and an average containing SetFit fits SetFit once per episode (the two rows then see the
very same SetFit predictions). Episodes are told apart by their source, index, class names and
token ids (:func:`episode_key`), never by object identity (scoring moves them between devices).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.baselines.text import CPU, output_from_logits

__all__ = ["Memoized", "ProbabilityAverage", "episode_key"]


def episode_key(episode: Episode) -> tuple[Any, ...]:
    """What identifies an episode: source, index, class names and a digest of its rows."""
    digest = hashlib.sha1()
    for batch in (episode.support, episode.query):
        for t in (batch.input_ids, batch.attention_mask, batch.labels):
            digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    names = tuple(episode.class_names or ())
    return episode.task_source, int(episode.index), names, digest.hexdigest()


class Memoized:
    """An evaluator whose per-episode output is computed once and then returned again."""

    def __init__(self, evaluator: Any) -> None:
        self.inner = evaluator
        self._outputs: dict[tuple[Any, ...], TaskOutput] = {}

    @property
    def device(self) -> torch.device:
        return torch.device(self.inner.device)

    def eval(self) -> Memoized:
        self.inner.eval()
        return self

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        key = episode_key(episode)
        if key not in self._outputs:
            out = self.inner.evaluate_episode(episode.to(self.device))
            self._outputs[key] = output_from_logits(out.logits, episode.query.labels)
        return self._outputs[key]

    def __repr__(self) -> str:
        return f"Memoized({self.inner!r}, {len(self._outputs)} episodes)"


class ProbabilityAverage:
    """Query probabilities of several evaluators on the same episode, averaged with weights."""

    def __init__(self, members: Sequence[tuple[Any, float]]) -> None:
        """
        Args:
            members: ``(evaluator, weight)`` pairs (anything with ``evaluate_episode``,
                ``eval`` and ``device``), at least two, weights > 0; they are normalised to
                sum to 1.
        """
        if len(members) < 2:
            raise ValueError(f"members: average at least two evaluators (got {len(members)})")
        weights = [float(w) for _, w in members]
        if any(not w > 0 for w in weights):
            raise ValueError(f"members: every weight must be > 0 (got {weights})")
        total = sum(weights)
        self.members = [m for m, _ in members]
        self.weights = [w / total for w in weights]

    @property
    def device(self) -> torch.device:
        return CPU  # each member gets the episode on its own device

    def eval(self) -> ProbabilityAverage:
        for m in self.members:
            m.eval()
        return self

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        probs = torch.zeros(())
        for member, w in zip(self.members, self.weights, strict=True):
            logits = member.evaluate_episode(episode.to(member.device)).logits
            probs = probs + w * torch.softmax(logits.detach().float().cpu(), dim=-1)
        return output_from_logits(probs.clamp_min(1e-12).log(), episode.query.labels)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{w:.3g}: {m!r}" for m, w in zip(self.members, self.weights, strict=True)
        )
        return f"ProbabilityAverage({parts})"
