"""The families experiment's table: every row on the same fixed episodes of every held-out
target, with the paired difference of each meta-trained row to the best baseline.

Rows (the meta-trained ones start with ``meta-trained``): the meta-trained init + its own
fine-tuning; the meta-trained embeddings + a logistic-regression head; the pretrained init +
the same fine-tuning; the frozen pretrained encoder + nearest centroid; + logistic regression;
SetFit (on the first ``setfit_episodes`` episodes only, stated in the table); VADER on sentiment
targets. Run (until ``report`` takes it over)::

    python -m lightning_meta.evaluation.baselines.families_report --export runs/families/export \
        --episodes 100 --setfit-episodes 20 --out runs/families
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from lightning_meta.data.episode import Episode
from lightning_meta.data.family_rules import DEFAULT_TARGETS, HeldOutTarget
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.metrics import MeanCI, mean_ci
from lightning_meta.evaluation.scoring import EpisodeEvaluator, EpisodeScore, score_module
from lightning_meta.evaluation.tables import Result, render_wide, write_csv

__all__ = ["build_rows", "paired_to", "paired_to_best", "score_table", "target_args"]

META_PREFIX = "meta-trained"


def target_args(t: HeldOutTarget, max_length: int, tokenizer: str = "minilm") -> dict[str, Any]:
    """DataModule arguments of a target's fixed test episodes."""
    args: dict[str, Any] = {
        "source": t.source, "n_way": t.n_way, "k_shot": t.k_shot, "q_query": t.q_query,
        "max_length": max_length, "tokenizer": tokenizer, "seed": 0,
    }  # fmt: skip
    if t.held_out == "domain":  # the whole domain is unseen: score its example-disjoint test pool
        return {**args, "split_mode": "examples"}
    return {**args, "split_mode": "classes", "split_fractions": list(t.split_fractions),
            "split_seed": t.split_seed}  # fmt: skip


def build_rows(export: str, baseline: str = "minilm", setfit: bool = True) -> dict[str, Any]:
    """Row name -> evaluator (anything :func:`score_module` scores)."""
    from lightning_meta.evaluation.baselines import (
        LogisticRegressionHead,
        SetFitBaseline,
        VaderZeroShot,
    )
    from lightning_meta.evaluation.export_meta import ExportMeta
    from lightning_meta.evaluation.loading import load_module_from_export

    meta = ExportMeta.read(export) or ExportMeta()
    rows: dict[str, Any] = {
        f"meta-trained init ({meta.algorithm}) + fine-tuning": load_module_from_export(export),
        "meta-trained embeddings + logistic regression": LogisticRegressionHead.from_encoder(
            export
        ),
        "pretrained init + same fine-tuning": load_module_from_export(
            baseline, overrides=meta.adaptation()
        ),
        "pretrained frozen + nearest centroid": load_module_from_export(baseline, "centroid"),
        "pretrained frozen + logistic regression": LogisticRegressionHead.from_encoder(baseline),
        "VADER (zero-shot lexicon)": VaderZeroShot(),
    }
    if setfit:
        rows["SetFit (MiniLM body, defaults)"] = SetFitBaseline(body=baseline)
    return rows


def paired_to_best(
    scores: dict[str, list[EpisodeScore]],
) -> tuple[str, dict[str, MeanCI]]:
    """The best baseline (highest mean accuracy) of one target and, per meta-trained row, the
    mean ± CI of its per-episode accuracy difference to it (on the episodes both scored)."""
    base = [n for n in scores if not n.startswith(META_PREFIX)]
    best = max(base, key=lambda n: mean_ci([s.acc for s in scores[n]]).mean)
    return best, paired_to(scores, best)


def paired_to(scores: dict[str, list[EpisodeScore]], baseline: str) -> dict[str, MeanCI]:
    """Per meta-trained row: mean ± CI of its per-episode accuracy difference to ``baseline``
    on the episodes both scored."""
    ref = {s.index: s.acc for s in scores[baseline]}
    return {
        name: mean_ci([s.acc - ref[s.index] for s in rows if s.index in ref])
        for name, rows in scores.items()
        if name.startswith(META_PREFIX)
    }


def score_table(
    rows: dict[str, Any], targets: list[HeldOutTarget], episodes: int, setfit_episodes: int,
    max_length: int,
) -> tuple[list[Result], dict[str, int], list[str]]:  # fmt: skip
    """Scores of every row on every target; the results, episodes per target, paired notes."""
    results: list[Result] = []
    notes: list[str] = []
    counts: dict[str, int] = {}
    for t in targets:
        eps: list[Episode] = fixed_episodes(target_args(t, max_length), episodes)
        counts[t.name] = len(eps)
        scores: dict[str, list[EpisodeScore]] = {}
        for name, row in rows.items():
            if name.startswith("VADER") and not t.source.startswith("sentiment"):
                continue
            use = eps[:setfit_episodes] if name.startswith("SetFit") else eps
            if not use:
                continue
            t0 = time.perf_counter()
            module: EpisodeEvaluator = row
            scores[name] = score_module(module, use)
            acc = mean_ci([s.acc for s in scores[name]])
            f1 = mean_ci([s.f1 for s in scores[name]])
            label = name if len(use) == len(eps) else f"{name} [{len(use)} episodes]"
            results.append(Result(label, t.name, acc, f1))
            print(f"[{t.name}] {label}: acc {acc}  f1 {f1}  ({time.perf_counter() - t0:.0f}s)",
                  flush=True)  # fmt: skip
        if all(n.startswith(META_PREFIX) for n in scores):
            continue
        best, _ = paired_to_best(scores)
        for base in [n for n in scores if not n.startswith(META_PREFIX)]:
            tag = " (best baseline)" if base == best else ""
            for name, d in paired_to(scores, base).items():
                notes.append(f"{t.name}: {name} - {base}{tag}: "
                             f"{100 * d.mean:+.2f} ± {100 * d.ci:.2f} pp (paired, n={d.n})")  # fmt: skip
    return results, counts, notes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--export", required=True)
    p.add_argument("--baseline", default="minilm")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--setfit-episodes", type=int, default=20)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--targets", default="all", help="comma-separated target sources, or all")
    p.add_argument("--only-meta", action="store_true", help="score the meta-trained rows only")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    targets = [t for t in DEFAULT_TARGETS if a.targets == "all" or t.source in a.targets.split(",")]
    rows = build_rows(a.export, a.baseline, setfit=a.setfit_episodes > 0)
    if a.only_meta:  # e.g. an ablation scored against baselines measured before
        rows = {n: r for n, r in rows.items() if n.startswith(META_PREFIX)}
    results, counts, notes = score_table(rows, targets, a.episodes, a.setfit_episodes, a.max_length)
    table = render_wide(results, counts) + "\n\n" + "\n".join(f"- {n}" for n in notes)
    print("\n" + table)
    out = Path(a.out or Path(a.export).parent)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    write_csv(out / "results.csv", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
