"""Shared fixtures: tiny labelled text files and an isolated cache, no downloads."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CLASS_WORDS = {
    "animals": ["dog", "cat", "horse", "cow", "sheep", "goat", "lion", "tiger"],
    "colors": ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"],
    "food": ["bread", "cheese", "apple", "rice", "soup", "pasta", "salad", "cake"],
    "weather": ["rain", "snow", "wind", "storm", "sun", "cloud", "fog", "thunder"],
    "music": ["guitar", "piano", "drum", "violin", "song", "melody", "choir", "flute"],
    "sports": ["football", "tennis", "golf", "hockey", "rugby", "boxing", "skiing", "cycling"],
    "tools": ["hammer", "saw", "drill", "wrench", "shovel", "axe", "knife", "ladder"],
    "body": ["hand", "foot", "head", "knee", "elbow", "shoulder", "finger", "neck"],
    "vehicles": ["car", "bus", "train", "truck", "bicycle", "plane", "boat", "tram"],
}


def tiny_rows(per_class: int = 24) -> list[tuple[str, str]]:
    rows = []
    for label, words in CLASS_WORDS.items():
        for i in range(per_class):
            a, b = words[i % len(words)], words[(3 * i + 1) % len(words)]
            rows.append((f"the {a} and the {b} number {i}", label))
    return rows


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(tiny_rows())
    return path


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test session shares one cache dir under pytest's tmp (never ~/.cache)."""
    cache = tmp_path_factory.getbasetemp() / "lm_cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("LIGHTNING_META_CACHE", str(cache))
    return cache
