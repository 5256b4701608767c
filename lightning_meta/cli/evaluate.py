"""`lightning-meta evaluate`: few-shot accuracy of any export, checkpoint or encoder on any source.

    lightning-meta evaluate --model runs/default/export --data wordnet --episodes 300
    lightning-meta evaluate --model runs/default/checkpoints/last.ckpt --data reviews.csv \\
        --n-way 2 --k-shot 8
    lightning-meta evaluate --model minilm --method centroid --data sentiment:movie --n-way 2
    lightning-meta evaluate --config my_eval.yaml --episodes 100   # options from YAML

Prints ``acc: X ± CI`` and ``f1: Y ± CI`` (percent, 95% CI over the fixed test episodes);
with ``--out DIR`` also writes ``results.csv`` and ``results.md`` there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonargparse import ArgumentParser, Namespace

from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.loading import METHODS, load_any
from lightning_meta.evaluation.scoring import evaluate_episodes
from lightning_meta.evaluation.tables import Result, render_wide, write_csv


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
    p.add_argument("--data", type=str, default="wordnet", help="built-in name, local file, or hub name")  # fmt: skip
    p.add_argument(
        "--data-files", type=str, nargs="*", default=None, help="several local files of one format"
    )
    p.add_argument("--text-column", type=str, default="text")
    p.add_argument("--label-column", type=str, default="label")
    p.add_argument("--split", type=str, default="test", choices=["train", "val", "test"])
    p.add_argument("--split-mode", type=str, default="auto", choices=["auto", "classes", "examples"])  # fmt: skip
    p.add_argument(
        "--split-fractions", type=float, nargs=3, default=[0.5555556, 0.2222222, 0.2222222],
        help="train/val/test fractions (default: the WordNet 25/10/10 class split)",
    )  # fmt: skip
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=15)
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument(
        "--tokenizer", type=str, default=None, help="default: the model directory, else 'minilm'"
    )
    p.add_argument(
        "--inner-steps", type=int, default=None, help="override the export's inner steps"
    )
    p.add_argument("--inner-lr", type=float, default=None, help="override the export's inner lr")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", type=str, default=None, help="also write results.csv and results.md here"
    )
    return p


def data_args(a: Namespace) -> dict[str, Any]:
    """The DataModule arguments of the evaluated episodes."""
    is_ckpt = a.model.endswith(".ckpt")
    tokenizer = a.tokenizer or ("minilm" if is_ckpt or a.model in ("minilm", "tiny") else a.model)
    return {
        "source": a.data,
        "data_files": a.data_files,
        "text_column": a.text_column,
        "label_column": a.label_column,
        "split_mode": a.split_mode,
        "split_fractions": tuple(a.split_fractions),
        "n_way": a.n_way,
        "k_shot": a.k_shot,
        "q_query": a.q_query,
        "max_length": a.max_length,
        "tokenizer": tokenizer,
        "seed": a.seed,
    }


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    if a.episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {a.episodes})")
    overrides = {
        k: v for k, v in (("inner_steps", a.inner_steps), ("inner_lr", a.inner_lr)) if v is not None
    }
    module = load_any(a.model, method=a.method, n_way=a.n_way, overrides=overrides)
    episodes = fixed_episodes(data_args(a), a.episodes, split=a.split)
    res = evaluate_episodes(module, episodes, progress=f"evaluate {a.model}")
    print(
        f"model: {a.model} ({module.algorithm}, {a.method}) on {a.data} {a.split} split, "
        f"{a.n_way}-way {a.k_shot}-shot {a.q_query}-query, {res['acc'].n} episodes"
    )
    print(f"acc: {res['acc']}")
    print(f"f1: {res['f1']}")
    if a.out is not None:
        target = f"{a.data} {a.split} {a.n_way}-way {a.k_shot}-shot"
        rows = [Result(f"{a.model} ({a.method})", target, res["acc"], res["f1"])]
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "results.csv", rows)
        (out / "results.md").write_text(render_wide(rows, {target: res["acc"].n}) + "\n")
        print(f"wrote {out / 'results.csv'} and {out / 'results.md'}")
    return 0
