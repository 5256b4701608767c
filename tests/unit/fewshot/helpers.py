"""Shared pieces of the few-shot tests: tiny modules built from flat arguments, tiny tasks, and
episodes laid out like the episode sampler's (support and query padded to one width)."""

from __future__ import annotations

from typing import Any

import torch

from lightning_meta.data.config import build
from lightning_meta.data.episode import Episode
from lightning_meta.data.tokens import load_tokenizer
from lightning_meta.evaluation.fewshot_batches import encode, pad

# (text, label) rows; unbalanced: 3 / 1 / 2 examples
SUPPORT = [
    ("the dog chased the cat", "animals"),
    ("a horse in the field", "animals"),
    ("the tiger sleeps", "animals"),
    ("red and blue paint", "colors"),
    ("bread with cheese", "food"),
    ("hot soup and rice", "food"),
]
QUERY = [
    ("a lion and a cow", "animals"),
    ("green yellow purple", "colors"),
    ("apple cake", "food"),
    ("the sheep and the goat", "animals"),
    ("orange and white", "colors"),
    ("pasta salad", "food"),
]
CLASSES = sorted({y for _, y in SUPPORT})


def module(cls: type, **args: Any) -> Any:
    """A lightning-meta module on the tiny backbone, from flat (or grouped) arguments."""
    return build(cls, {"backbone": "tiny", **args})


def episode(support: list[tuple[str, str]], query: list[tuple[str, str]]) -> Episode:
    """The episode of these rows: labels index the sorted class names, one padded width."""
    tok = load_tokenizer("minilm")
    classes = sorted({y for _, y in support})
    rows_s = encode(tok, [t for t, _ in support], 64)
    rows_q = encode(tok, [t for t, _ in query], 64)
    width = max(len(r) for r in rows_s + rows_q)
    pad_id = int(tok.pad_token_id)
    s = pad(rows_s, pad_id, [classes.index(y) for _, y in support], width)
    q = pad(rows_q, pad_id, [classes.index(y) for _, y in query], width)
    return Episode(s, q, n_way=len(classes), index=0, split="test", class_names=classes)


def perturb_inner_lrs(mod: Any, seed: int = 0) -> None:
    """Distinct learned inner learning rates per tensor (as after meta-training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in mod.inner_lrs.values():
            p.fill_(float(0.005 + 0.05 * torch.rand((), generator=g)))
