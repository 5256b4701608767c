"""Issue 15 loose end: macro-precision and macro-recall go through the one scoring loop into
the summaries, beside accuracy and macro-F1 (values worked out by hand)."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.evaluation.scoring import EpisodeScore, score_episodes, summarise


def episode(labels: list[int], index: int) -> Episode:
    rows = torch.zeros(len(labels), 2, dtype=torch.long)
    query = TextBatch(rows, torch.ones_like(rows), torch.tensor(labels))
    return Episode(query, query, n_way=3, index=index, split="test", class_names=["a", "b", "c"])


def test_scores_and_summary_hold_hand_computed_precision_and_recall() -> None:
    # episode 0: preds 0 0 1 2 2 2, labels 0 1 1 2 2 0 (see test_episode_scores)
    #   P = (1/2 + 1 + 2/3) / 3 = 13/18, R = (1/2 + 1/2 + 1) / 3 = 2/3
    # episode 1: every prediction right: P = R = 1
    preds = {0: [0, 0, 1, 2, 2, 2], 1: [0, 1, 2, 0, 1, 2]}
    eps = [episode([0, 1, 1, 2, 2, 0], 0), episode([0, 1, 2, 0, 1, 2], 1)]

    def evaluate(ep: Episode) -> TaskOutput:
        logits = torch.nn.functional.one_hot(torch.tensor(preds[ep.index]), 3).float()
        zero = torch.tensor(0.0)
        return TaskOutput(zero, logits, zero, zero)

    scores = score_episodes(evaluate, eps)
    assert scores[0].precision == pytest.approx(13 / 18) and scores[0].recall == pytest.approx(
        2 / 3
    )
    assert (scores[1].precision, scores[1].recall) == (1.0, 1.0)
    assert scores[0].row() == (0, pytest.approx(4 / 6), scores[0].f1, 0.0, 0.0)  # unchanged layout
    summary = summarise(scores)
    assert list(summary) == ["acc", "f1", "precision", "recall"]
    assert summary["precision"].mean == pytest.approx((13 / 18 + 1) / 2)
    assert summary["recall"].mean == pytest.approx((2 / 3 + 1) / 2) and summary["recall"].n == 2


def test_scores_without_precision_summarise_acc_and_f1_only() -> None:
    scores = [EpisodeScore(0, 0.5, 0.4, float("nan"), 0.0)]  # built by older callers
    assert list(summarise(scores)) == ["acc", "f1"]


def test_per_source_groups_by_source_id() -> None:
    from lightning_meta.evaluation.metrics import per_source, source_id

    a, b = source_id("wordnet"), source_id("sentiment:nyt")
    assert a == source_id("wordnet") and a != b and float(a) == a  # stable, exact in float64
    acc = torch.tensor([1.0, 0.5, 0.0, 0.75], dtype=torch.float64)
    ids = torch.tensor([a, b, a, 7], dtype=torch.float64)
    res = per_source(acc, ids, {a: "wordnet", b: "sentiment:nyt"})
    assert list(res) == ["sentiment:nyt", "source-7", "wordnet"]
    assert (res["wordnet"].mean, res["wordnet"].n) == (0.5, 2)
    # std of (1, 0) with ddof 1 is sqrt(0.5): CI = 1.96 * sqrt(0.5) / sqrt(2) = 0.98
    assert res["wordnet"].ci == pytest.approx(0.98)
    assert (res["sentiment:nyt"].mean, res["source-7"].mean) == (0.5, 0.75)
