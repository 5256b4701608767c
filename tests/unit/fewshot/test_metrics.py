"""episode_metrics against a confusion matrix worked out by hand."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.evaluation.metrics import METRICS, episode_metrics, episode_scores


def test_macro_precision_recall_f1_by_hand() -> None:
    # rows = true class, columns = predicted class (4-way; class 3 never occurs)
    #            pred 0  pred 1  pred 2
    # true 0       2       0       1
    # true 1       1       2       0
    # class 0: precision 2/3, recall 2/3, F1 2/3
    # class 1: precision 2/2, recall 2/3, F1 0.8
    # class 2: precision 0/1, recall 0 (no true example: 0/0 counted as 0), F1 0
    # class 3: absent from labels and predictions: left out of the macro average
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    preds = torch.tensor([0, 0, 2, 0, 1, 1])
    logits = torch.nn.functional.one_hot(preds, 4).float()  # (6, 4): argmax = preds
    got = episode_metrics(logits, labels, n_way=4)
    assert list(got) == list(METRICS)
    assert got == pytest.approx(
        {"acc": 4 / 6, "precision": (2 / 3 + 1 + 0) / 3, "recall": (2 / 3 + 2 / 3 + 0) / 3,
         "f1": (2 / 3 + 0.8 + 0) / 3}, abs=1e-6
    )  # fmt: skip
    # the pair the rest of the package uses is unchanged
    assert episode_scores(logits, labels, 4) == pytest.approx((got["acc"], got["f1"]))


def test_perfect_predictions_score_one() -> None:
    labels = torch.tensor([2, 0, 1, 1])
    logits = torch.nn.functional.one_hot(labels, 3).float()
    assert episode_metrics(logits, labels, 3) == pytest.approx(dict.fromkeys(METRICS, 1.0))
