"""`lightning-meta report`: the results table of `make train`.

Rows: the meta-trained init (adapted per episode with its own inner-loop settings), the
pretrained init with the same fine-tuning, and the frozen pretrained encoder + nearest centroid
(cosine). Columns: accuracy ± 95% CI and macro-F1 ± CI on the held-out classes of the training
data (same class split as training) and on ``sentiment:movie`` (2-way, example-disjoint test
pool). Every row is scored on the identical fixed episodes.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import time
from pathlib import Path
from typing import Any

from lightning_meta.callbacks.export import META_FILE
from lightning_meta.data import EpisodicDataModule
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.loading import evaluate_episodes, load_module_from_export
from lightning_meta.lightning import ProtoNet
from lightning_meta.evaluation.metrics import MeanCI
from lightning_meta.errors import ConfigError


def fixed_episodes(data_args: dict[str, Any], n: int) -> list[Episode]:
    """The first ``n`` fixed test episodes of a DataModule built from ``data_args``."""
    accepted = inspect.signature(EpisodicDataModule.__init__).parameters
    args = {k: v for k, v in data_args.items() if k in accepted}
    args["test_episodes"] = n
    dm = EpisodicDataModule(**args)
    dm.prepare_data()
    dm.setup("test")
    return [ep for batch in dm.test_dataloader() for ep in batch]


def build_rows(export: Path, baseline: str) -> dict[str, Any]:
    meta = json.loads((export / META_FILE).read_text())
    inner = meta.get("inner_loop", {})
    same = {
        "adapt": inner.get("adapt") or "top1",
        "head_init": inner.get("head_init") or "prototype",
        "inner_steps": inner.get("eval_inner_steps") or inner.get("inner_steps") or 5,
        "inner_lr": inner.get("inner_lr") or 1e-2,
    }
    return {
        f"meta-trained init ({meta.get('algorithm', '?')}) + fine-tuning": load_module_from_export(
            export
        ),
        "pretrained init + same fine-tuning": load_module_from_export(baseline, overrides=same),
        "pretrained frozen + nearest centroid": ProtoNet(backbone=baseline, distance="cosine"),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lightning-meta report", description=__doc__)
    p.add_argument(
        "--export", required=True, help="exported model directory (has meta_learning.json)"
    )
    p.add_argument("--baseline", default="minilm", help="pretrained encoder for the baseline rows")
    p.add_argument("--episodes", type=int, default=300, help="fixed test episodes per target")
    p.add_argument("--sentiment-shots", type=int, default=8)
    p.add_argument("--sentiment-episodes", type=int, default=None, help="default: --episodes")
    p.add_argument("--no-sentiment", action="store_true", help="skip the sentiment:movie target")
    p.add_argument(
        "--out", default=None, help="where to write results.md/.csv (default: export's parent)"
    )
    a = p.parse_args(argv)
    export = Path(a.export)
    if not (export / META_FILE).is_file():
        raise ConfigError(f"export: {export} has no {META_FILE}; pass the directory HFExport wrote")
    if a.episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {a.episodes})")
    meta = json.loads((export / META_FILE).read_text())
    data_args = dict(((meta.get("config") or {}).get("data") or {}).get("init_args") or {})
    if not data_args:
        raise ConfigError(
            f"export: {export}/{META_FILE} holds no data config; was it written by `lightning-meta fit`?"
        )
    targets: dict[str, dict[str, Any]] = {
        f"{data_args.get('source', 'wordnet')} test classes {data_args.get('n_way', 5)}-way "
        f"{data_args.get('eval_k_shot') or data_args.get('k_shot', 5)}-shot": data_args,
    }
    if not a.no_sentiment:
        targets[f"sentiment:movie 2-way {a.sentiment_shots}-shot"] = {
            "source": "sentiment:movie",
            "n_way": 2,
            "k_shot": a.sentiment_shots,
            "q_query": 15,
            "split_mode": "examples",
            "max_length": data_args.get("max_length", 64),
            "tokenizer": data_args.get("tokenizer", "minilm"),
            "seed": data_args.get("seed", 0),
            "cache_dir": data_args.get("cache_dir"),
        }
    rows = build_rows(export, a.baseline)
    results: dict[str, dict[str, dict[str, MeanCI]]] = {name: {} for name in rows}
    counts = {t: a.episodes for t in targets}
    for t in targets:
        if t.startswith("sentiment") and a.sentiment_episodes:
            counts[t] = a.sentiment_episodes
    for target, args in targets.items():
        episodes = fixed_episodes(args, counts[target])
        for name, module in rows.items():
            t0 = time.perf_counter()
            results[name][target] = evaluate_episodes(module, episodes)
            r = results[name][target]
            print(
                f"[{target}] {name}: acc {r['acc']}  f1 {r['f1']}  ({time.perf_counter() - t0:.0f}s)",
                flush=True,
            )
    table = render(results, list(targets), counts)
    print("\n" + table)
    out = Path(a.out) if a.out else export.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    write_csv(out / "results.csv", results)
    print(f"\nwrote {out / 'results.md'} and {out / 'results.csv'}")
    return 0


def render(
    results: dict[str, dict[str, dict[str, MeanCI]]], targets: list[str], counts: dict[str, int]
) -> str:
    head = "| method | " + " | ".join(f"{t}: acc | {t}: macro-F1" for t in targets) + " |"
    sep = "|---|" + "---|---|" * len(targets)
    n = ", ".join(f"{counts[t]} ({t})" for t in targets)
    lines = [
        f"Few-shot accuracy and macro-F1 (%), mean ± 95% CI over fixed test episodes: {n}",
        "",
        head,
        sep,
    ]
    for name, per_target in results.items():
        cells = [f"{per_target[t]['acc']} | {per_target[t]['f1']}" for t in targets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(path: Path, results: dict[str, dict[str, dict[str, MeanCI]]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "target", "acc", "acc_ci", "f1", "f1_ci", "episodes"])
        for name, per_target in results.items():
            for target, r in per_target.items():
                w.writerow(
                    [name, target, r["acc"].mean, r["acc"].ci, r["f1"].mean, r["f1"].ci, r["acc"].n]
                )
