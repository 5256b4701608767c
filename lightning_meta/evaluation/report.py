"""The results table of `make train` (``lightning-meta report``): rows, targets and scores.

Rows: the meta-trained init (adapted per episode with its own inner-loop settings), the
pretrained init with the same fine-tuning, and the frozen pretrained encoder + nearest centroid
(cosine). Targets: the held-out classes of the training data (same class split as training)
and ``sentiment:movie`` (2-way, example-disjoint test pool). Every row is scored on the
identical fixed episodes of each target.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.export_meta import META_FILE, ExportMeta
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.loading import load_module_from_export
from lightning_meta.evaluation.scoring import evaluate_episodes
from lightning_meta.evaluation.tables import Result, from_summary
from lightning_meta.lightning.base import EpisodicModule

__all__ = ["build_rows", "build_targets", "read_export", "score_rows"]


def read_export(export: Path) -> tuple[ExportMeta, dict[str, Any]]:
    """The export's metadata and its training data config (one-line errors when missing)."""
    meta = ExportMeta.read(export)
    if meta is None:
        raise ConfigError(f"export: {export} has no {META_FILE}; pass the directory HFExport wrote")
    data_args = meta.data_args()
    if not data_args:
        raise ConfigError(
            f"export: {export}/{META_FILE} holds no data config; was it written by `lightning-meta fit`?"
        )
    return meta, data_args


def build_targets(
    data_args: dict[str, Any], sentiment_shots: int = 8, sentiment: bool = True
) -> dict[str, dict[str, Any]]:
    """Target name -> DataModule arguments of its fixed test episodes."""
    targets: dict[str, dict[str, Any]] = {
        f"{data_args.get('source', 'wordnet')} test classes {data_args.get('n_way', 5)}-way "
        f"{data_args.get('eval_k_shot') or data_args.get('k_shot', 5)}-shot": data_args,
    }
    if sentiment:
        targets[f"sentiment:movie 2-way {sentiment_shots}-shot"] = {
            "source": "sentiment:movie",
            "n_way": 2,
            "k_shot": sentiment_shots,
            "q_query": 15,
            "split_mode": "examples",
            "max_length": data_args.get("max_length", 64),
            "tokenizer": data_args.get("tokenizer", "minilm"),
            "seed": data_args.get("seed", 0),
            "cache_dir": data_args.get("cache_dir"),
        }
    return targets


def build_rows(export: Path, meta: ExportMeta, baseline: str) -> dict[str, EpisodicModule]:
    """Row name -> evaluation module. The baseline rows take every evaluation setting from the
    export (``meta.adaptation()``: pooling, what adapts, head init, steps, lr and the learned
    per-tensor rates), so "same fine-tuning" differs from the first row in the init only."""
    same = meta.adaptation()
    return {
        f"meta-trained init ({meta.algorithm}) + fine-tuning": load_module_from_export(export),
        "pretrained init + same fine-tuning": load_module_from_export(baseline, overrides=same),
        "pretrained frozen + nearest centroid": load_module_from_export(
            baseline, "centroid", overrides={"pooling": same["pooling"]}
        ),
    }


def score_rows(
    rows: dict[str, EpisodicModule],
    targets: dict[str, dict[str, Any]],
    counts: dict[str, int],
) -> list[Result]:
    """Every row on the same ``counts[target]`` fixed test episodes of every target; one
    progress line per cell. Results in row order, then target order."""
    results: dict[str, dict[str, Result]] = {name: {} for name in rows}
    for target, args in targets.items():
        episodes = fixed_episodes(args, counts[target])
        features = FeatureCache(episodes)  # rows with equal bottoms share the cached states
        for name, module in rows.items():
            t0 = time.perf_counter()
            r = evaluate_episodes(
                module, episodes, features=features, progress=f"[{target}] {name}"
            )
            results[name][target] = from_summary(name, target, r)
            print(
                f"[{target}] {name}: acc {r['acc']}  f1 {r['f1']}  ({time.perf_counter() - t0:.0f}s)",
                flush=True,
            )
    return [r for per_target in results.values() for r in per_target.values()]
