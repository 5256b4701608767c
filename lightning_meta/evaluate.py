"""`lightning-meta evaluate`: few-shot accuracy of any export, checkpoint or encoder on any source.

    lightning-meta evaluate --model runs/default/export --data wordnet --episodes 300
    lightning-meta evaluate --model runs/default/checkpoints/last.ckpt --data reviews.csv \\
        --n-way 2 --k-shot 8
    lightning-meta evaluate --model minilm --method centroid --data sentiment:movie --n-way 2

Prints ``acc: X ± CI`` and ``f1: Y ± CI`` (percent, 95% CI over the fixed test episodes).
"""

from __future__ import annotations

import argparse
from typing import Any

from lightning_meta.evaluation.loading import evaluate_episodes, load_any
from lightning_meta.report import fixed_episodes
from lightning_meta.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lightning-meta evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", required=True, help="exported directory, .ckpt file, or encoder name ('minilm')"
    )
    p.add_argument(
        "--method",
        default="finetune",
        choices=["finetune", "centroid"],
        help="finetune: adapt on the support set (inner-loop settings of the export); "
        "centroid: frozen encoder + nearest class centroid (cosine)",
    )
    p.add_argument("--data", default="wordnet", help="built-in name, local file, or hub name")
    p.add_argument(
        "--data-files", nargs="*", default=None, help="several local files of one format"
    )
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--split-mode", default="auto", choices=["auto", "classes", "examples"])
    p.add_argument(
        "--split-fractions",
        type=float,
        nargs=3,
        default=[0.5555556, 0.2222222, 0.2222222],
        help="train/val/test fractions (default: the WordNet 25/10/10 class split)",
    )
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=15)
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--tokenizer", default=None, help="default: the model directory, else 'minilm'")
    p.add_argument(
        "--inner-steps", type=int, default=None, help="override the export's inner steps"
    )
    p.add_argument("--inner-lr", type=float, default=None, help="override the export's inner lr")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    if a.episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {a.episodes})")
    is_ckpt = a.model.endswith(".ckpt")
    tokenizer = a.tokenizer or ("minilm" if is_ckpt or a.model in ("minilm", "tiny") else a.model)
    data: dict[str, Any] = {
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
    overrides = {
        k: v for k, v in (("inner_steps", a.inner_steps), ("inner_lr", a.inner_lr)) if v is not None
    }
    module = load_any(a.model, method=a.method, n_way=a.n_way, overrides=overrides)
    episodes = (
        fixed_episodes(data, a.episodes)
        if a.split == "test"
        else _split_episodes(data, a.split, a.episodes)
    )
    res = evaluate_episodes(module, episodes)
    print(
        f"model: {a.model} ({module.algorithm}, {a.method}) on {a.data} {a.split} split, "
        f"{a.n_way}-way {a.k_shot}-shot {a.q_query}-query, {res['acc'].n} episodes"
    )
    print(f"acc: {res['acc']}")
    print(f"f1: {res['f1']}")
    return 0


def _split_episodes(data: dict[str, Any], split: str, n: int) -> list:
    from lightning_meta.data import EpisodicDataModule

    dm = EpisodicDataModule(
        **{k: v for k, v in data.items() if v is not None}, val_episodes=n, test_episodes=n
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm.fixed_episodes(split, n)
