"""Pretrained vs SMLMT vs hybrid encoders on identical fixed test episodes (the issue-4 result).

``lightning-meta bench compare --model minilm=minilm --model smlmt=DIR ...``

Every model (an exported Hugging Face directory or ``minilm``) is scored on the same fixed test
episodes of each target, adapting with its own recorded inner loop (``meta_learning.json``:
pooling, steps, lr, learned per-tensor rates; defaults for a plain encoder) unless
``--adapt``, ``--inner-steps``, ``--inner-lr`` or ``--head-init`` set one for every row;
optionally also frozen + nearest centroid (``--centroid``).
Targets: held-out ``fortunes`` categories (class split 50/25/25, 5-way 5-shot 15-query) and
``sentiment:movie`` (example split, 2-way 8-shot 15-query), episode seed 0.

Writes to the output directory: ``results.md`` (mean ± 95% CI per row and target, then the
*paired* per-episode difference of every row against the baseline row, which is far tighter
than the marginal CIs because the episodes are shared), ``results.csv`` and ``episodes.csv``
(one line per row, target and episode).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning_meta.bench.suite.paired import (
    paired_differences,
    render_paired,
    write_episodes,
)
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.loading import evaluation_settings, load_module_from_export
from lightning_meta.evaluation.metrics import MeanCI
from lightning_meta.evaluation.scoring import score_module, summarise
from lightning_meta.evaluation.tables import from_summary, render_wide, write_csv

__all__ = ["TARGETS", "adaptation_notes", "compare_encoders"]

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


def compare_encoders(
    models: dict[str, str],
    targets: list[str],
    episodes: int,
    adaptation: dict[str, Any],
    out: str | Path,
    centroid: bool = False,
    baseline: str | None = None,
) -> int:
    """Score every model (row name -> export directory or encoder name) on the same episodes of
    each target (keys of :data:`TARGETS`); write results.md/.csv and episodes.csv to ``out``."""
    if episodes <= 0:
        raise ConfigError(f"--episodes: must be positive (got {episodes})")
    chosen = dict(TARGETS[t] for t in targets)
    kinds = [("+ fine-tuning", "finetune")] + (
        [("frozen + centroid", "centroid")] if centroid else []
    )
    planned = [f"{name} {label}" for name in models for label, _ in kinds]
    baseline = baseline or planned[0]
    if baseline not in planned:  # checked before any model is loaded
        raise ConfigError(f"--baseline: {baseline!r} is not a row; rows: {', '.join(planned)}")
    scores: dict[str, dict[str, dict[str, list[float]]]] = {}
    summaries: dict[str, dict[str, dict[str, MeanCI]]] = {}
    counts: dict[str, int] = {}
    for target, data_args in chosen.items():
        eps = fixed_episodes(dict(data_args), episodes)
        counts[target] = len(eps)
        n_way = int(data_args["n_way"])
        features = FeatureCache(eps)  # rows with equal bottoms share the cached states
        for name, path in models.items():
            for label, method in kinds:
                row = f"{name} {label}"
                t0 = time.perf_counter()
                overrides = adaptation if method == "finetune" else None
                module = load_module_from_export(path, method, n_way=n_way, overrides=overrides)
                scored = score_module(module, eps, features=features, progress=f"[{target}] {row}")
                summary = summaries.setdefault(row, {})[target] = summarise(scored)
                scores.setdefault(row, {})[target] = {
                    "acc": [s.acc for s in scored], "f1": [s.f1 for s in scored],
                }  # fmt: skip
                print(f"[{target}] {row}: acc {summary['acc']}  f1 {summary['f1']}  "
                      f"({time.perf_counter() - t0:.0f}s)", flush=True)  # fmt: skip
    results = [
        from_summary(row, t, summary)
        for row, per in summaries.items()
        for t, summary in per.items()
    ]
    table = render_wide(results, counts)
    paired = render_paired(paired_differences(scores, baseline), baseline, list(chosen))
    text = f"{adaptation_notes(models, adaptation)}\n\n{table}\n\n{paired}\n"
    print("\n" + text)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(text)
    write_csv(out_dir / "results.csv", results)
    write_episodes(out_dir / "episodes.csv", (
        (row, t, i, acc, f1)
        for row, per in scores.items() for t, m in per.items()
        for i, (acc, f1) in enumerate(zip(m["acc"], m["f1"], strict=True))
    ))  # fmt: skip
    print(
        f"wrote {out_dir / 'results.md'}, {out_dir / 'results.csv'} and {out_dir / 'episodes.csv'}"
    )
    return 0


def adaptation_notes(models: dict[str, str], overrides: dict[str, Any]) -> str:
    """One line per model: the test-time adaptation its fine-tuning rows use."""
    lines = []
    for name, path in models.items():
        meta = (ExportMeta.read(path) if Path(path).is_dir() else None) or ExportMeta()
        settings = evaluation_settings(meta, overrides)
        learned = settings.pop("learned_inner_lrs")
        rates = f", learned per-tensor lrs ({len(learned)} tensors)" if learned else ""
        lines.append(f"- {name}: test-time adaptation {settings}{rates}")
    return "\n".join(lines)
