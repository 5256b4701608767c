"""Score exports on an experiment's fixed VALIDATION episodes (never test), paired.

    python scripts/score_validation.py --episodes 90 runs/families/export \\
        runs/seed1/runs/families/export runs/soup012/export

Each export adapts with its own settings on the first N validation episodes of the experiment
(default configs/experiment/families.yaml: its validation families in turn, seed 0), the same
episodes for every export. Prints each export's mean accuracy, per validation family, and the
paired per-episode difference to the first export and to the mean of the others (mean ± 95%
CI, pp): what docs/results.md ("Seeds") decided the weight soup on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.metrics import mean_ci
from lightning_meta.evaluation.scoring import score_module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exports", nargs="+", help="exported directories; the first is the reference")
    p.add_argument("--config", default="configs/experiment/families.yaml")
    p.add_argument("--episodes", type=int, default=90, help="first N validation episodes")
    a = p.parse_args()
    data = yaml.safe_load(Path(a.config).read_text())["data"]["init_args"]
    by_tokenizer: dict[str, list[Any]] = {}
    scores = {}
    for path in a.exports:
        tokens = {**(data.get("tokens") or {}), "tokenizer": export_tokenizer(path, data)}
        key = str(tokens["tokenizer"])
        if key not in by_tokenizer:
            by_tokenizer[key] = fixed_episodes({**data, "tokens": tokens}, a.episodes, "val")
        episodes = by_tokenizer[key]
        scores[path] = np.array([s.acc for s in score_module(load_any(path), episodes)])
        same_tasks(episodes, next(iter(by_tokenizer.values())))
        families = [e.task_source or "all" for e in episodes]
        per = {
            f: 100 * scores[path][[g == f for g in families]].mean()
            for f in dict.fromkeys(families)
        }
        shown = ", ".join(f"{f} {v:.2f}" for f, v in per.items())
        print(f"{path}: val acc {100 * scores[path].mean():.2f} ({shown})", flush=True)
    first, *rest = a.exports
    for path in rest:
        print(f"{path} - {first}: {mean_ci(list(scores[path] - scores[first]))} pp")
    if len(a.exports) >= 3:
        last, others = a.exports[-1], a.exports[:-1]
        mean = np.mean([scores[o] for o in others], axis=0)
        print(f"{last} - mean of the others: {mean_ci(list(scores[last] - mean))} pp")


def export_tokenizer(path: str, data: dict[str, Any]) -> str:
    """The tokenizer the export was meta-trained with (its recorded config), else the config's."""
    meta = json.loads((Path(path) / "meta_learning.json").read_text())
    recorded = ((meta.get("config") or {}).get("data") or {}).get("init_args") or {}
    fallback = (data.get("tokens") or {}).get("tokenizer", "minilm")
    return str((recorded.get("tokens") or {}).get("tokenizer") or fallback)


def same_tasks(a: list[Any], b: list[Any]) -> None:
    """Episodes built with two tokenizers must be the same tasks: classes, labels, sizes."""
    for x, y in zip(a, b, strict=True):
        if (x.task_source, x.class_names, x.index) != (
            y.task_source,
            y.class_names,
            y.index,
        ) or not (
            x.support.labels.equal(y.support.labels) and x.query.labels.equal(y.query.labels)
        ):
            raise SystemExit(f"episode {x.index}: the tokenizers' episodes differ; not comparable")


if __name__ == "__main__":
    main()
