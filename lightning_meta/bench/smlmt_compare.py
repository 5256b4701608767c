"""Pretrained vs SMLMT vs hybrid encoders on identical fixed test episodes (the issue-4 result).

``python -m lightning_meta.bench.smlmt compare --model minilm=minilm --model smlmt=DIR ...``

Every ``--model`` (an exported Hugging Face directory or ``minilm``) is scored on the same
fixed test episodes of each target with the same test-time adaptation (``--adapt``,
``--inner-steps``, ``--inner-lr``, ``--head-init``), optionally also frozen + nearest centroid
(``--centroid``). Targets: held-out ``fortunes`` categories (class split 50/25/25, 5-way 5-shot
15-query) and ``sentiment:movie`` (example split, 2-way 8-shot 15-query), episode seed 0.

Writes to ``--out``: ``results.md`` (mean ± 95% CI per row and target, then the *paired*
per-episode difference of every row against the baseline row, which is far tighter than the
marginal CIs because the episodes are shared), ``results.csv`` and ``episodes.csv`` (one line
per row, target and episode).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from lightning_meta.bench.paired import Scores, paired_differences, render_paired, write_episodes
from lightning_meta.evaluation.metrics import mean_ci

__all__ = ["TARGETS", "compare_parser", "smlmt_compare"]

FORTUNES_TARGET: dict[str, Any] = {
    "source": "fortunes", "split_fractions": (0.5, 0.25, 0.25), "split_mode": "classes",
    "split_seed": 0, "n_way": 5, "k_shot": 5, "q_query": 15, "max_length": 64, "seed": 0,
}  # fmt: skip
SENTIMENT_TARGET: dict[str, Any] = {
    "source": "sentiment:movie", "split_mode": "examples", "n_way": 2, "k_shot": 8,
    "q_query": 15, "max_length": 64, "seed": 0,
}  # fmt: skip
TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    "fortunes": ("fortunes held-out categories 5-way 5-shot", FORTUNES_TARGET),
    "sentiment": ("sentiment:movie 2-way 8-shot", SENTIMENT_TARGET),
}


def compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lightning_meta.bench.smlmt compare")
    p.add_argument("--model", action="append", required=True, metavar="NAME=DIR",
                   help="encoder to score: an exported directory or 'minilm'; repeatable")  # fmt: skip
    p.add_argument("--episodes", type=int, default=1000, help="fixed test episodes per target")
    p.add_argument("--adapt", default="top1", help="what adapts at test time (every row)")
    p.add_argument("--inner-steps", type=int, default=5)
    p.add_argument("--inner-lr", type=float, default=1e-2)
    p.add_argument("--head-init", default="prototype", choices=["prototype", "zero"])
    p.add_argument("--centroid", action="store_true", help="add frozen nearest-centroid rows")
    p.add_argument("--targets", nargs="+", default=["fortunes", "sentiment"], choices=list(TARGETS))
    p.add_argument("--baseline", default=None,
                   help="row the paired differences are taken against (default: the first row)")  # fmt: skip
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--out", default="runs/smlmt_compare", help="directory for the tables")
    return p


def smlmt_compare(argv: list[str] | None = None) -> int:
    """Score every model on the same episodes; write results.md/.csv and episodes.csv."""
    from lightning_meta.evaluation.loading import episode_score_lists, load_module_from_export
    from lightning_meta.report import fixed_episodes, render, write_csv
    from lightning_meta.errors import ConfigError

    a = compare_parser().parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    if a.episodes <= 0:
        raise ConfigError(f"--episodes: must be positive (got {a.episodes})")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    same = {"adapt": a.adapt, "head_init": a.head_init, "inner_steps": a.inner_steps,
            "inner_lr": a.inner_lr}  # fmt: skip
    chosen = dict(TARGETS[t] for t in a.targets)
    kinds = [("+ fine-tuning", "finetune")] + (
        [("frozen + centroid", "centroid")] if a.centroid else []
    )
    planned = [f"{name} {label}" for name in models for label, _ in kinds]
    baseline = a.baseline or planned[0]
    if baseline not in planned:  # checked before any model is loaded
        raise ConfigError(f"--baseline: {baseline!r} is not a row; rows: {', '.join(planned)}")
    scores: Scores = {}
    counts: dict[str, int] = {}
    for target, data_args in chosen.items():
        episodes = fixed_episodes(dict(data_args), a.episodes)
        counts[target] = len(episodes)
        n_way = int(data_args["n_way"])
        for name, path in models.items():
            for label, method in kinds:
                row = f"{name} {label}"
                t0 = time.perf_counter()
                overrides = same if method == "finetune" else None
                module = load_module_from_export(path, method, n_way=n_way, overrides=overrides)
                accs, f1s = episode_score_lists(module, episodes)
                scores.setdefault(row, {})[target] = {"acc": accs, "f1": f1s}
                print(f"[{target}] {row}: acc {mean_ci(accs)}  f1 {mean_ci(f1s)}  "
                      f"({time.perf_counter() - t0:.0f}s)", flush=True)  # fmt: skip
    results = {
        row: {t: {m: mean_ci(v) for m, v in ms.items()} for t, ms in per.items()}
        for row, per in scores.items()
    }
    table = render(results, list(chosen), counts)
    paired = render_paired(paired_differences(scores, baseline), baseline, list(chosen))
    text = f"test-time adaptation for every row: {same}\n\n{table}\n\n{paired}\n"
    print("\n" + text)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    write_csv(out / "results.csv", results)
    write_episodes(out / "episodes.csv", (
        (row, t, i, acc, f1)
        for row, per in scores.items() for t, m in per.items()
        for i, (acc, f1) in enumerate(zip(m["acc"], m["f1"], strict=True))
    ))  # fmt: skip
    print(f"wrote {out / 'results.md'}, {out / 'results.csv'} and {out / 'episodes.csv'}")
    return 0
