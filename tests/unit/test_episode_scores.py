"""Issue 12.8: episode accuracy and macro-F1 against a hand-computed confusion matrix, and the
95% CI against the textbook formula."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_meta.evaluation.metrics import episode_scores, mean_ci


def _one_hot_logits(preds: list[int], n_way: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(preds), n_way).float()


def test_episode_scores_hand_computed() -> None:
    # preds  0 0 1 2 2 2
    # labels 0 1 1 2 2 0   -> 4 of 6 correct
    # class 0: TP 1, FP 1, FN 1 -> F1 1/2
    # class 1: TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 2/3
    # class 2: TP 2, FP 1, FN 0 -> P 2/3, R 1, F1 4/5
    logits = _one_hot_logits([0, 0, 1, 2, 2, 2], 3)
    labels = torch.tensor([0, 1, 1, 2, 2, 0])
    acc, f1 = episode_scores(logits, labels, n_way=3)
    assert acc == pytest.approx(4 / 6)
    assert f1 == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)


def test_perfect_and_constant_predictions() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    assert episode_scores(_one_hot_logits([0, 0, 1, 1], 2), labels, 2) == (1.0, 1.0)
    acc, f1 = episode_scores(_one_hot_logits([0, 0, 0, 0], 2), labels, 2)
    # class 0: P 1/2, R 1 -> F1 2/3; class 1: never predicted, TP 0 -> F1 0
    assert acc == 0.5 and f1 == pytest.approx((2 / 3 + 0.0) / 2)


def test_mean_ci_textbook() -> None:
    values = [0.5, 0.7, 0.9, 0.6]
    mean = sum(values) / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    r = mean_ci(values)
    assert r.mean == pytest.approx(mean) and r.n == 4
    assert r.ci == pytest.approx(1.96 * std / 2)
    assert str(r) == f"{100 * mean:.2f} ± {100 * 1.96 * std / 2:.2f}"
