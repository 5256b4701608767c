"""Headroom of frozen encoders on a sentiment domain: a linear probe from 8 labels per class to
thousands.

    python scripts/headroom.py --domain movie mpnet runs/families_mpnet/export

An analysis of how much a target can give, never a model choice: nothing here is trained into
a model, selected or tuned for one. The domain's snippets (vaderSentiment's ground truth, the
report's ``sentiment:<domain>`` target) are split once, stratified and seeded, into a pool and
an evaluation half. Each encoder (``minilm``, ``mpnet``, an export or a model directory) embeds
both halves frozen (mean pooling, unit length, ``--max-length`` tokens as the report's episodes);
scikit-learn's ``LogisticRegression`` is fitted on n labelled pool texts per class, ``--draws``
seeded draws per n (the same draws for every encoder), with C=1 as the report's frozen + LR row,
and for the whole pool also with C chosen by 5-fold cross-validation on the pool. Prints the
evaluation-half accuracy (%, mean ± 95% CI over draws) per encoder and n, and the paired
difference of each encoder to the first.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from frozen_lr_validation import embed  # scripts/ is on sys.path when this file runs
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import train_test_split

from lightning_meta.data.cache import cache_root
from lightning_meta.data.sentiment import SENTIMENT_FILES, read_sentiment
from lightning_meta.evaluation.metrics import mean_ci
from lightning_meta.resolve import resolve_pretrained


def draws(labels: np.ndarray, n: int, k: int, seed: int) -> list[np.ndarray]:
    """``k`` seeded draws of ``n`` pool indices per class (the same for every encoder)."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    return [np.concatenate([rng.choice(ix, n, replace=False) for ix in by_class]) for _ in range(k)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("encoders", nargs="+", help="minilm, mpnet, an export or a model directory")
    p.add_argument("--domain", default="movie", choices=sorted(SENTIMENT_FILES))
    p.add_argument("--shots", default="8,16,64,256,1024", help="labelled pool texts per class")
    p.add_argument("--draws", type=int, default=20, help="seeded draws per shot count")
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
    texts, labels, _ = read_sentiment(a.domain, cache_root() / "downloads")
    y = np.asarray(labels)
    pool, held = train_test_split(
        np.arange(len(texts)), test_size=0.5, stratify=y, random_state=a.seed
    )
    shots = [int(s) for s in a.shots.split(",")]
    plan = {n: draws(y[pool], n, a.draws, a.seed + n) for n in shots}
    print(
        f"sentiment:{a.domain}: {len(texts)} snippets, pool {len(pool)}, evaluation {len(held)}; "
        f"{a.draws} draws per shot count",
        flush=True,
    )
    scores: dict[str, dict[str, np.ndarray]] = {}
    for name in a.encoders:
        t0 = time.perf_counter()
        emb = embed(resolve_pretrained(name), sorted(set(texts), key=len), a.max_length)
        x = np.stack([emb[t] for t in texts])
        xp, yp, xh, yh = x[pool], y[pool], x[held], y[held]
        row: dict[str, np.ndarray] = {}
        for n, picks in plan.items():
            row[f"{n}/class"] = np.array(
                [
                    LogisticRegression(max_iter=1000).fit(xp[i], yp[i]).score(xh, yh)
                    for i in picks
                ]
            )
        row["whole pool, C=1"] = np.array(
            [LogisticRegression(max_iter=2000).fit(xp, yp).score(xh, yh)]
        )
        cv = LogisticRegressionCV(Cs=10, cv=5, max_iter=2000).fit(xp, yp)
        row[f"whole pool, CV C={cv.C_[0]:.3g}"] = np.array([cv.score(xh, yh)])
        scores[name] = row
        cells = "; ".join(f"{k} {mean_ci(v.tolist())}" for k, v in row.items())
        print(f"{name}: {cells} ({time.perf_counter() - t0:.0f} s)", flush=True)
    first, *rest = a.encoders
    for name in rest:
        paired = [
            f"{n}/class {mean_ci((scores[name][f'{n}/class'] - scores[first][f'{n}/class']).tolist())}"
            for n in shots
        ]
        print(f"{name} - {first}: {'; '.join(paired)} pp (paired over draws)")


if __name__ == "__main__":
    main()
