"""Ceiling of a whole encoder trained on a sentiment domain: full fine-tuning on thousands of labels.

    python scripts/finetune_ceiling.py --domain movie mpnet runs/families_mpnet/export

The counterpart of scripts/headroom.py (frozen encoders + logistic regression) for an encoder
that is trained: an analysis of how much a target can give, never a model choice. Nothing here
is trained into a model that is kept, selected or tuned. The domain's snippets are split once,
stratified and seeded, exactly as headroom.py splits them (the same pool and evaluation half).
Each encoder gets a linear head on its mean-pooled output and every weight is trained with
cross-entropy on ``--per-class`` labelled pool texts per class (default: the whole pool),
AdamW at ``--lr``, ``--epochs`` shuffled epochs of ``--batch-size``, bf16 autocast where the CPU
computes bf16 natively. Prints the evaluation-half accuracy (%, with a 95% binomial CI) after
every epoch, the paired difference of each encoder to the first on the same evaluation texts,
and the time taken. The best epoch is read on the evaluation half itself, so the ceiling it
reports is, if anything, optimistic.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel

from lightning_meta.data.cache import cache_root
from lightning_meta.data.sentiment import SENTIMENT_FILES, read_sentiment
from lightning_meta.evaluation.metrics import mean_ci
from lightning_meta.lightning.precision import native_bf16
from lightning_meta.resolve import resolve_pretrained


class MeanPoolClassifier(nn.Module):
    """An encoder, mean pooling over non-padding tokens, and a linear head."""

    def __init__(self, encoder: PreTrainedModel, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * mask).sum(1) / mask.sum(1))


def batches(
    tok: Any, texts: list[str], order: np.ndarray, size: int, max_length: int
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """Tokenized batches of ``texts`` in ``order``, yielded with their indices."""
    for i in range(0, len(order), size):
        ix = order[i : i + size]
        enc = tok(
            [texts[j] for j in ix],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        yield ix, enc["input_ids"], enc["attention_mask"]


def predict(
    model: MeanPoolClassifier,
    tok: Any,
    texts: list[str],
    *,
    max_length: int,
    bf16: bool,
    batch_size: int = 128,
) -> np.ndarray:
    """Predicted class of each text (length-sorted batches, no gradients)."""
    model.eval()
    pred = np.zeros(len(texts), dtype=np.int64)
    order = np.argsort([len(t) for t in texts], kind="stable")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for ix, ids, mask in batches(tok, texts, order, batch_size, max_length):
            pred[ix] = model(ids, mask).argmax(-1).numpy()
    return pred


def train_epoch(
    model: MeanPoolClassifier,
    opt: torch.optim.Optimizer,
    tok: Any,
    texts: list[str],
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    batch_size: int,
    max_length: int,
    bf16: bool,
) -> float:
    """One shuffled epoch of cross-entropy over every weight; returns the mean batch loss."""
    model.train()
    losses = []
    for ix, ids, mask in batches(tok, texts, rng.permutation(len(texts)), batch_size, max_length):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(ids, mask)
        loss = nn.functional.cross_entropy(logits.float(), torch.as_tensor(labels[ix]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def binomial_ci(correct: np.ndarray) -> str:
    """Accuracy (%) of 0/1 outcomes and its normal-approximation 95% CI half-width."""
    acc = correct.mean()
    return f"{100 * acc:.2f} ± {196 * math.sqrt(acc * (1 - acc) / len(correct)):.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("encoders", nargs="+", help="minilm, mpnet, an export or a model directory")
    p.add_argument("--domain", default="movie", choices=sorted(SENTIMENT_FILES))
    p.add_argument("--per-class", type=int, default=0, help="pool texts per class (0: all)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.epochs < 1 or a.per_class < 0:
        p.error(f"--epochs must be >= 1 and --per-class >= 0 (got {a.epochs}, {a.per_class})")
    texts, labels, _ = read_sentiment(a.domain, cache_root() / "downloads")
    y = np.asarray(labels)
    pool, held = train_test_split(
        np.arange(len(texts)), test_size=0.5, stratify=y, random_state=a.seed
    )  # headroom.py's split
    if a.per_class:
        if a.per_class > min(np.bincount(y[pool])):
            p.error(f"--per-class {a.per_class}: the pool has {np.bincount(y[pool]).tolist()}")
        rng = np.random.default_rng(a.seed)
        pool = np.concatenate(
            [rng.choice(pool[y[pool] == c], a.per_class, replace=False) for c in (0, 1)]
        )
    bf16 = native_bf16("cpu") is not None
    train_texts, eval_texts = [texts[i] for i in pool], [texts[i] for i in held]
    print(
        f"sentiment:{a.domain}: train {len(pool)}, evaluation {len(held)}; bf16 {bf16}", flush=True
    )
    correct: dict[str, np.ndarray] = {}
    for name in a.encoders:
        t0 = time.perf_counter()
        path = resolve_pretrained(name)
        tok = AutoTokenizer.from_pretrained(path)
        torch.manual_seed(a.seed)
        model = MeanPoolClassifier(AutoModel.from_pretrained(path), 2)
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
        rng = np.random.default_rng(a.seed)
        best: np.ndarray | None = None
        for epoch in range(1, a.epochs + 1):
            loss = train_epoch(
                model,
                opt,
                tok,
                train_texts,
                y[pool],
                rng,
                batch_size=a.batch_size,
                max_length=a.max_length,
                bf16=bf16,
            )
            hit = predict(model, tok, eval_texts, max_length=a.max_length, bf16=bf16) == y[held]
            best = hit if best is None or hit.mean() > best.mean() else best
            print(
                f"{name} epoch {epoch}: train loss {loss:.4f}, evaluation accuracy "
                f"{binomial_ci(hit)} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        assert best is not None  # --epochs >= 1, checked above
        correct[name] = best
    first, *rest = a.encoders
    for name in rest:
        diff = (correct[name].astype(float) - correct[first]).tolist()
        print(f"{name} - {first} (best epochs): {mean_ci(diff)} (paired over evaluation texts)")


if __name__ == "__main__":
    main()
