"""Few-shot evaluation metrics: per-episode accuracy, macro-precision, macro-recall and macro-F1,
mean with a 95% CI."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

METRICS = ("acc", "precision", "recall", "f1")
"""Keys of :func:`episode_metrics`, in table order."""


def episode_scores(logits: Tensor, labels: Tensor, n_way: int) -> tuple[float, float]:
    """Accuracy and macro-F1 of one episode's query predictions. logits: (Q, N), labels: (Q,)."""
    preds = logits.argmax(dim=-1)
    acc = (preds == labels).float().mean().item()
    f1 = multiclass_f1_score(preds, labels, num_classes=n_way, average="macro").item()
    return acc, f1


def episode_metrics(logits: Tensor, labels: Tensor, n_way: int) -> dict[str, float]:
    """Accuracy, macro-precision, macro-recall and macro-F1 of one set of predictions.

    logits: (Q, N), labels: (Q,) in [0, n_way). Macro averages (torchmetrics) run over the
    classes that occur in the labels or the predictions; a class that is never predicted has
    precision 0 (and one never present, recall 0), as scikit-learn's ``zero_division=0``.
    """
    preds = logits.argmax(dim=-1)
    n = n_way
    return {
        "acc": (preds == labels).float().mean().item(),
        "precision": multiclass_precision(preds, labels, num_classes=n, average="macro").item(),
        "recall": multiclass_recall(preds, labels, num_classes=n, average="macro").item(),
        "f1": multiclass_f1_score(preds, labels, num_classes=n, average="macro").item(),
    }


@dataclass(frozen=True)
class MeanCI:
    """Mean and half-width of the 95% confidence interval, 1.96 * std / sqrt(n) (std with ddof=1)."""

    mean: float
    ci: float
    n: int

    def __str__(self) -> str:
        return f"{100 * self.mean:.2f} ± {100 * self.ci:.2f}"


def mean_ci(values: Sequence[float] | Tensor) -> MeanCI:
    """Mean and 95% CI half-width of per-episode scores."""
    t = torch.as_tensor(
        list(values) if not isinstance(values, Tensor) else values, dtype=torch.float64
    )
    n = int(t.numel())
    if n == 0:
        raise ValueError("mean_ci: no values (did the evaluation run any episode?)")
    std = t.std(unbiased=True).item() if n > 1 else 0.0
    return MeanCI(mean=t.mean().item(), ci=1.96 * std / math.sqrt(n), n=n)


def source_id(name: str) -> int:
    """A stable number for a task source (CRC-32 of its name): exact in float64 rows, equal on
    every rank, so per-source scores survive an all-gather of numeric rows."""
    return zlib.crc32(name.encode())


def per_source(values: Tensor, ids: Tensor, names: dict[int, str]) -> dict[str, MeanCI]:
    """Mean and 95% CI of ``values`` for each source in ``ids`` (:func:`source_id` numbers),
    keyed by ``names[id]`` (``source-<id>`` for an id without a name); sorted by name."""
    out: dict[str, MeanCI] = {}
    for i in sorted(set(int(x) for x in ids.tolist())):
        out[names.get(i, f"source-{i}")] = mean_ci(values[ids == i])
    return dict(sorted(out.items()))
