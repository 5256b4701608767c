"""VADER (Hutto & Gilbert 2014): a rule-based sentiment lexicon, zero-shot (no labels used).

For a 2-way sentiment episode whose classes are ``negative`` and ``positive`` (the built-in
``sentiment:*`` sources), the query logits are ``+compound`` for the positive class and
``-compound`` for the negative one, ``compound`` being VADER's normalised score in [-1, 1] of
the row's text (decoded from its tokens, see :mod:`.text`). A text with no sentiment words
(compound 0) ties; arg-max then picks episode label 0.
"""

from __future__ import annotations

from typing import Any

import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.baselines.text import (
    CPU,
    decode_rows,
    load_tokenizer,
    output_from_logits,
)

__all__ = ["VaderZeroShot"]


class VaderZeroShot:
    """VADER's compound score as the logit of the positive class."""

    def __init__(
        self, tokenizer: str = "minilm", positive: str = "positive", negative: str = "negative"
    ) -> None:
        """
        Args:
            tokenizer: the tokenizer the episodes were built with (to decode their rows).
            positive: class name of positive texts in ``Episode.class_names``.
            negative: class name of negative texts.
        """
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as err:  # pragma: no cover - a project dependency
            raise ConfigError(
                "vader: needs the package vaderSentiment; run `pip install vaderSentiment`"
            ) from err
        self.analyzer: Any = SentimentIntensityAnalyzer()
        self.tokenizer = load_tokenizer(tokenizer)
        self.positive, self.negative = positive, negative

    @property
    def device(self) -> torch.device:
        return CPU

    def eval(self) -> VaderZeroShot:
        return self

    def compound(self, texts: list[str]) -> torch.Tensor:
        """VADER's compound score of each text, (B,)."""
        return torch.tensor([self.analyzer.polarity_scores(t)["compound"] for t in texts])

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        names = list(episode.class_names)
        if episode.n_way != 2 or sorted(names) != sorted([self.positive, self.negative]):
            raise ConfigError(
                f"vader: needs 2-way episodes of classes {self.negative!r}/{self.positive!r} "
                f"(got {names}); use it on sentiment targets only"
            )
        score = self.compound(decode_rows(episode.query, self.tokenizer))  # (N*Q,)
        pos = names.index(self.positive)
        logits = torch.zeros(len(score), 2)
        logits[:, pos], logits[:, 1 - pos] = score, -score
        return output_from_logits(logits, episode.query.labels)
