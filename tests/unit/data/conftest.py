"""Fixtures for the data tests: tiny synthetic corpora, tiny files, a private cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lightning_meta.data.tokens import TokenizedCorpus


def make_corpus(
    n_classes: int = 15, per_class: int | list[int] = 30, seed: int = 0
) -> TokenizedCorpus:
    """Row i has tokens [101, i + 1000 (repeated), 102], 3..9 tokens long, so a padded row
    gives its corpus index back: ``ids[:, 1] - 1000``."""
    sizes = [per_class] * n_classes if isinstance(per_class, int) else list(per_class)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 10, size=len(labels))
    rows = [
        np.array([101] + [i + 1000] * (n - 2) + [102], dtype=np.int32)
        for i, n in enumerate(lengths)
    ]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return TokenizedCorpus(
        ids=np.concatenate(rows),
        offsets=offsets,
        labels=labels.astype(np.int64),
        class_names=[f"class{c:02d}" for c in range(len(sizes))],
        pad_id=0,
    )


@pytest.fixture
def corpus() -> TokenizedCorpus:
    return make_corpus()


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write a csv with ``n_classes`` x ``per_class`` distinct rows (text,label by default)."""

    def write(
        name: str = "tiny.csv",
        n_classes: int = 8,
        per_class: int = 12,
        text_column: str = "text",
        label_column: str = "label",
        extra: str = "",
    ) -> Path:
        lines = [f"{text_column},{label_column}"]
        for c in range(n_classes):
            lines += [
                f"topic {c} sentence number {i} about thing{c}x{i},cls{c}" for i in range(per_class)
            ]
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    return write
