"""`lightning-meta evaluate`: few-shot accuracy of any export, checkpoint or encoder on any source.

    lightning-meta evaluate --model runs/default/export --data wordnet --episodes 300
    lightning-meta evaluate --model runs/default/checkpoints/last.ckpt --data reviews.csv \\
        --n-way 2 --k-shot 8
    lightning-meta evaluate --model minilm --method centroid --data sentiment:movie --n-way 2
    lightning-meta evaluate --config my_eval.yaml --episodes 100   # options from YAML

An export or checkpoint of a run on the same source is scored on that run's own held-out split:
the split (fractions, mode, seed, class lists), the columns, ``max_length`` and the tokenizer
come from what the run recorded unless a flag overrides them (``--split-seed`` ...); an override
that puts training classes into the evaluated split prints a ``WARNING`` line on stderr naming
them. Prints the data settings, the evaluated classes, then ``acc``, ``f1``, ``precision`` and
``recall`` (macro, percent, mean ± 95% CI over the fixed episodes); with ``--out DIR`` also
writes ``results.csv`` and ``results.md`` there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentParser, Namespace

from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.loading import METHODS, load_any
from lightning_meta.evaluation.metrics import METRICS
from lightning_meta.evaluation.recorded import (
    SOURCE_SETTINGS,
    SPLIT_SETTINGS,
    model_tokenizer,
    overlap_warning,
    recorded_data,
    same_source,
    split_classes,
)
from lightning_meta.evaluation.scoring import evaluate_episodes
from lightning_meta.evaluation.tables import from_summary, render_wide, write_csv

RECORDED = "the model's recorded run on the same source, else"
TRAINED = "the model's recorded run, else"
# what `evaluate` uses when the model records nothing (or another source is evaluated)
DEFAULTS: dict[str, Any] = {
    "text_column": "text", "label_column": "label", "split_mode": "auto",
    "split_fractions": (0.5555556, 0.2222222, 0.2222222), "split_seed": 0, "max_length": 64,
}  # fmt: skip


def build_parser() -> ArgumentParser:
    p = tool_parser("evaluate", __doc__, config=True)
    p.add_argument(
        "--model", type=str, required=True,
        help="exported directory, .ckpt file, or encoder name ('minilm')",
    )  # fmt: skip
    p.add_argument(
        "--method", type=str, default="finetune", choices=list(METHODS),
        help="finetune: adapt on the support set (inner-loop settings of the export); "
        "centroid: frozen encoder + nearest class centroid (cosine)",
    )  # fmt: skip
    p.add_argument(
        "--data", type=str, default=None,
        help="built-in name, local file, or hub name (default: the source the model was trained "
        "on, else wordnet)",
    )  # fmt: skip
    p.add_argument(
        "--data-files", type=str, nargs="*", default=None, help="several local files of one format"
    )
    p.add_argument("--text-column", type=str, default=None, help=f"default: {RECORDED} 'text'")
    p.add_argument("--label-column", type=str, default=None, help=f"default: {RECORDED} 'label'")
    p.add_argument("--split", type=str, default="test", choices=["train", "val", "test"])
    p.add_argument(
        "--split-mode", type=str, default=None, choices=["auto", "classes", "examples"],
        help=f"default: {RECORDED} auto",
    )  # fmt: skip
    p.add_argument(
        "--split-fractions", type=float, nargs=3, default=None,
        help=f"train/val/test fractions (default: {RECORDED} the WordNet 25/10/10 class split)",
    )  # fmt: skip
    p.add_argument("--split-seed", type=int, default=None, help=f"default: {RECORDED} 0")
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=15)
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--max-length", type=int, default=None, help=f"default: {TRAINED} 64")
    p.add_argument(
        "--tokenizer", type=str, default=None, help=f"default: {TRAINED} the model's own"
    )
    p.add_argument(
        "--inner-steps", type=int, default=None, help="override the export's inner steps"
    )
    p.add_argument("--inner-lr", type=float, default=None, help="override the export's inner lr")
    p.add_argument(
        "--pair-weight", type=float, default=None,
        help="override the weight of SetFit's cosine pair loss in the inner loop",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", type=str, default=None, help="also write results.csv and results.md here"
    )
    return p


def data_args(a: Namespace, recorded: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The DataModule arguments of the evaluated episodes and where they came from: a flag
    when given, else (same source) what the model's run recorded, else the defaults."""
    source = a.data if a.data is not None else recorded.get("source", "wordnet")
    data_files = a.data_files if a.data is not None else recorded.get("data_files")
    same = same_source(recorded, source, data_files)
    given = {
        "text_column": a.text_column, "label_column": a.label_column, "split_mode": a.split_mode,
        "split_fractions": None if a.split_fractions is None else tuple(a.split_fractions),
        "split_seed": a.split_seed, "max_length": a.max_length, "tokenizer": a.tokenizer,
    }  # fmt: skip
    taken = (*SPLIT_SETTINGS, *SOURCE_SETTINGS) if same else ()
    args: dict[str, Any] = {}
    for key in (*SPLIT_SETTINGS, *SOURCE_SETTINGS, "max_length", "tokenizer"):
        if given.get(key) is not None:
            args[key] = given[key]
        elif (key in taken or key in ("max_length", "tokenizer")) and recorded.get(key) is not None:
            args[key] = recorded[key]
        elif key in DEFAULTS:
            args[key] = DEFAULTS[key]
    args.setdefault("tokenizer", model_tokenizer(a.model))
    args.update(source=source, data_files=data_files, n_way=a.n_way, k_shot=a.k_shot,
                q_query=a.q_query, seed=a.seed)  # fmt: skip
    origin = "the model's recorded run" if same else "defaults (not the model's training source)"
    if not recorded:
        origin = "defaults (the model records no data config)"
    return args, origin


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    if a.episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {a.episodes})")
    given = (("inner_steps", a.inner_steps), ("inner_lr", a.inner_lr), ("pair_weight", a.pair_weight))  # fmt: skip
    overrides = {k: v for k, v in given if v is not None}
    recorded = recorded_data(a.model)
    args, origin = data_args(a, recorded)
    module = load_any(a.model, method=a.method, n_way=a.n_way, overrides=overrides)
    if same_source(recorded, args["source"], args["data_files"]):
        warning = overlap_warning(recorded, args, a.split)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
    mode, classes = split_classes(args, a.split)
    episodes = fixed_episodes(args, a.episodes, split=a.split)
    res = evaluate_episodes(module, episodes, progress=f"evaluate {a.model}")
    print(
        f"model: {a.model} ({module.algorithm}, {a.method}) on {args['source']} {a.split} split, "
        f"{a.n_way}-way {a.k_shot}-shot {a.q_query}-query, {res['acc'].n} episodes"
    )
    split = ", ".join(f"{k}={args[k]}" for k in ("split_mode", "split_fractions", "split_seed"))
    print(
        f"data: {split}, max_length={args['max_length']}, tokenizer={args['tokenizer']} ({origin})"
    )
    shown = ", ".join(classes[:12]) + (
        f", ... ({len(classes)} in all)" if len(classes) > 12 else ""
    )
    print(f"{a.split} {'classes' if mode == 'classes' else 'classes (example split)'}: {shown}")
    for key in METRICS:
        if key in res:
            print(f"{key}: {res[key]}")
    if a.out is not None:
        target = f"{args['source']} {a.split} {a.n_way}-way {a.k_shot}-shot"
        rows = [from_summary(f"{a.model} ({a.method})", target, res)]
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "results.csv", rows)
        (out / "results.md").write_text(render_wide(rows, {target: res["acc"].n}) + "\n")
        print(f"wrote {out / 'results.csv'} and {out / 'results.md'}")
    return 0
