"""ProbabilityAverage and Memoized: hand-worked probabilities, one fit per episode."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.evaluation.baselines.text import output_from_logits
from lightning_meta.evaluation.ensemble import Memoized, ProbabilityAverage, episode_key
from lightning_meta.evaluation.scoring import score_module


def episode(index: int = 0, source: str = "nyt", labels: tuple[int, ...] = (0, 1, 1)) -> Episode:
    def batch(n: int, ys: tuple[int, ...]) -> TextBatch:
        ids = torch.arange(n * 4).reshape(n, 4) + 100 * index
        return TextBatch(ids, torch.ones_like(ids), torch.tensor(ys))

    return Episode(batch(2, (0, 1)), batch(len(labels), labels), 2, index, "val", source)


class Fixed:
    """Returns the given query probabilities (as log-probabilities); counts its calls."""

    def __init__(self, probs: list[list[float]]) -> None:
        self.logits = torch.tensor(probs).log()
        self.calls = 0
        self.device = torch.device("cpu")
        self.evaluated = False

    def eval(self) -> Fixed:
        self.evaluated = True
        return self

    def evaluate_episode(self, ep: Episode) -> TaskOutput:
        self.calls += 1
        return output_from_logits(self.logits, ep.query.labels)


def test_weighted_average_of_probabilities_by_hand() -> None:
    a = Fixed([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    b = Fixed([[0.2, 0.8], [0.2, 0.8], [0.4, 0.6]])
    out = ProbabilityAverage([(a, 1.0), (b, 3.0)]).evaluate_episode(episode())
    # weights 1:3 -> 0.25, 0.75: 0.25 * 0.9 + 0.75 * 0.2 = 0.375; 0.25 * 0.6 + 0.75 * 0.2 = 0.3;
    # 0.25 * 0.2 + 0.75 * 0.4 = 0.35
    want = torch.tensor([[0.375, 0.625], [0.3, 0.7], [0.35, 0.65]])
    assert torch.allclose(out.logits.exp(), want, atol=1e-6)
    # query labels (0, 1, 1): a alone gets 2/3 (the second query wrong), the average all three
    # wrong on the first only; its loss is the mean of -log(0.375), -log(0.7), -log(0.65)
    want_loss = -(math.log(0.375) + math.log(0.7) + math.log(0.65)) / 3
    assert float(out.loss) == pytest.approx(want_loss, rel=1e-5)
    (s,) = score_module(ProbabilityAverage([(a, 0.25), (b, 0.75)]), [episode()], progress=False)
    assert s.acc == pytest.approx(2 / 3)
    assert a.evaluated and b.evaluated  # score_module put every member in eval mode


def test_bad_members_are_refused() -> None:
    a = Fixed([[0.5, 0.5]])
    with pytest.raises(ValueError, match="at least two"):
        ProbabilityAverage([(a, 1.0)])
    with pytest.raises(ValueError, match="every weight must be > 0"):
        ProbabilityAverage([(a, 1.0), (a, 0.0)])


def test_memoized_fits_once_per_episode_and_tells_episodes_apart() -> None:
    setfit = Fixed([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    shared = Memoized(setfit)
    mixed = ProbabilityAverage([(Fixed([[0.5, 0.5]] * 3), 0.5), (shared, 0.5)])
    eps = [episode(0), episode(1)]
    alone = score_module(shared, eps, progress=False)
    both = score_module(mixed, eps, progress=False)
    assert setfit.calls == 2  # one call per episode serves the SetFit row and the average
    assert [x.acc for x in alone] == [x.acc for x in both]  # a flat member keeps the argmax
    rebuilt = episode(1)  # an equal episode (a new object) is the same key; others are not
    assert episode_key(rebuilt) == episode_key(eps[1])
    assert episode_key(episode(1, source="amazon")) != episode_key(eps[1])
    assert episode_key(episode(1, labels=(1, 0, 1))) != episode_key(eps[1])
    shared.evaluate_episode(rebuilt)
    assert setfit.calls == 2
    shared.evaluate_episode(episode(2))
    assert setfit.calls == 3
