"""`lightning-meta bench accuracy|paired|compare`: the accuracy benchmarks' commands.

    lightning-meta bench accuracy --suite configs/bench/default.yaml [--quick] [--out DIR]
    lightning-meta bench paired runs/bench/default/episodes.csv --baseline "FineTune (pretrained init)"
    lightning-meta bench compare --model minilm=minilm --model smlmt=DIR --centroid --episodes 150

The suite, paired differences and the encoder comparison live in
:mod:`lightning_meta.bench.suite`.
"""

from __future__ import annotations

import torch
from jsonargparse import ArgumentParser

from lightning_meta.bench.suite import accuracy, paired, smlmt_compare
from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import ADAPTATION_DEFAULTS

__all__ = ["accuracy_main", "compare_main", "compare_parser", "paired_main"]


def _first_line(doc: str | None) -> str | None:
    return doc.split("\n")[0] if doc else None


def accuracy_main(argv: list[str]) -> int:
    p = tool_parser("bench accuracy", _first_line(accuracy.__doc__), config=True)
    default = accuracy.DEFAULT_SUITE
    p.add_argument("--suite", type=str, default=default, help=f"suite YAML (default {default})")
    p.add_argument("--quick", action="store_true", help="apply the suite's `quick` overrides")
    p.add_argument(
        "--out",
        type=str,
        default=None,
        help="output directory (default runs/bench/<suite>[-quick])",
    )
    p.add_argument("--device", type=str, default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's); 1 is fastest on a shared machine")  # fmt: skip
    p.add_argument("--methods", type=str, nargs="+", default=None, metavar="NAME",
                   help="run only these methods (by name), plus any method a chosen logistic-regression row "
                        "embeds with; each row is independent of the others")  # fmt: skip
    p.add_argument(
        "--dry-run", action="store_true", help="validate, write config.yaml, run nothing"
    )
    a = p.parse_args(argv)
    return accuracy.run_accuracy(
        a.suite, a.out, argv, quick=a.quick, device=a.device, threads=a.threads,
        methods=a.methods, dry_run=a.dry_run,
    )  # fmt: skip


def paired_main(argv: list[str]) -> int:
    p = tool_parser("bench paired", _first_line(paired.__doc__), config=True)
    p.add_argument("episodes_csv", type=str, nargs="+", metavar="[NAME=]EPISODES_CSV",
                   help="episodes.csv of bench accuracy, bench compare or report; with NAME= "
                        "(several runs on the same episodes) its methods become 'NAME: method'")  # fmt: skip
    p.add_argument("--baseline", type=str, default=None, help="method to subtract (default: the first)")  # fmt: skip
    p.add_argument("--metric", type=str, nargs="+", default=["acc", "f1"], choices=["acc", "f1"])
    a = p.parse_args(argv)
    scores = paired.read_named_episodes(a.episodes_csv)
    baseline = a.baseline or next(iter(scores))
    targets = list(dict.fromkeys(t for per in scores.values() for t in per))
    diffs = paired.paired_differences(scores, baseline)
    print(paired.render_paired(diffs, baseline, targets, tuple(a.metric)))
    return 0


def compare_parser() -> ArgumentParser:
    d = ADAPTATION_DEFAULTS
    p = tool_parser("bench compare", smlmt_compare.__doc__, config=True)
    p.add_argument("--model", type=str, action="append", required=True, metavar="NAME=DIR",
                   help="encoder to score: an exported directory or 'minilm'; repeatable")  # fmt: skip
    p.add_argument("--episodes", type=int, default=1000, help="fixed test episodes per target")
    own = "default: each row's own recorded setting (meta_learning.json), for a plain encoder"
    p.add_argument("--adapt", type=str, default=None, help=f"what adapts at test time, every row ({own} {d['adapt']})")  # fmt: skip
    p.add_argument("--inner-steps", type=int, default=None, help=f"every row ({own} {d['inner_steps']})")  # fmt: skip
    p.add_argument("--inner-lr", type=float, default=None,
                   help=f"every row; replaces learned per-tensor rates ({own} {d['inner_lr']})")  # fmt: skip
    p.add_argument("--head-init", type=str, default=None, choices=["prototype", "zero"],
                   help=f"every row ({own} {d['head_init']})")  # fmt: skip
    p.add_argument("--centroid", action="store_true", help="add frozen nearest-centroid rows")
    p.add_argument("--targets", type=str, nargs="+", default=["fortunes", "sentiment"],
                   choices=list(smlmt_compare.TARGETS))  # fmt: skip
    p.add_argument("--baseline", type=str, default=None,
                   help="row the paired differences are taken against (default: the first row)")  # fmt: skip
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--out", type=str, default="runs/smlmt_compare", help="directory for the tables")  # fmt: skip
    return p


def compare_main(argv: list[str]) -> int:
    """Score every model on the same episodes; write results.md/.csv and episodes.csv."""
    a = compare_parser().parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    if a.episodes <= 0:
        raise ConfigError(f"--episodes: must be positive (got {a.episodes})")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    given = {"adapt": a.adapt, "head_init": a.head_init, "inner_steps": a.inner_steps,
             "inner_lr": a.inner_lr}  # fmt: skip
    same = {k: v for k, v in given.items() if v is not None}  # None: each model's own setting
    return smlmt_compare.compare_encoders(
        models, a.targets, a.episodes, same, a.out, centroid=a.centroid, baseline=a.baseline
    )
