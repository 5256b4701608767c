"""`lightning-meta tune`: hyper-parameter search on validation episodes (Optuna).

    lightning-meta tune --config configs/experiment/default.yaml \\
        --space configs/tune/default.yaml --n-trials 20
    lightning-meta tune --eval-only --model minilm \\
        --config configs/experiment/finetune_wordnet.yaml \\
        --space configs/tune/eval_only.yaml --n-trials 16
    lightning-meta tune --eval-only --model runs/families_mpnet/export \\
        --config configs/experiment/families.yaml --config configs/experiment/train/mpnet.yaml \\
        --config configs/experiment/tune/val_sentiment16.yaml \\
        --space configs/tune/eval_only_deep.yaml --n-trials 10   # configs merged as in fit

Each trial is a `fit` of the experiment (in-process LightningCLI, sampled values as overrides)
scored on validation episodes; --eval-only instead scores a fixed export or encoder with the
sampled test-time adaptation settings (no training). Outputs in the study directory: best.yaml,
trials.csv, history.png, importances.png, summary.md; test episodes are scored once, after the
search. Rerun the same command to resume; several workers share a study through --storage.
See docs/tuning.md.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonargparse import ArgumentParser

from lightning_meta.cli.lightning import run_cli
from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError


def resolve_config(argv: list[str]) -> dict[str, Any]:
    """The parsed `fit` config of ``argv`` (LightningCLI's --print_config, nothing built)."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            run_cli(["fit", *argv, "--print_config"])
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise ConfigError(f"--config: the experiment does not parse ({stop.code})") from stop
    config = yaml.safe_load(out.getvalue())
    if not isinstance(config, dict):
        raise ConfigError("--config: LightningCLI printed no config for the experiment")
    return config


def run_fit(argv: list[str]) -> object:
    """One in-process `lightning-meta fit` with ``argv``."""
    return run_cli(["fit", *argv])


def build_parser() -> ArgumentParser:
    p = tool_parser("tune", __doc__)
    p.add_argument(
        "--config",
        type=str,
        action="append",
        required=True,
        help="experiment YAML (what `fit --config` takes; repeat to merge, like fit)",
    )
    p.add_argument("--space", type=str, required=True, help="search-space YAML (see configs/tune/)")
    p.add_argument("--n-trials", type=int, required=True, help="complete+pruned trials to reach")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after S s")
    p.add_argument(
        "--storage", type=str, default=None, help="Optuna RDB URL (default: SQLite in study dir)"
    )
    p.add_argument(
        "--study-name", type=str, default=None, help="default: the experiment file's name"
    )
    p.add_argument("--study-dir", type=str, default=None, help="default: runs/tune/<study-name>")
    p.add_argument(
        "--metric", type=str, default="val/acc", help="logged validation metric to optimise"
    )
    p.add_argument("--direction", type=Literal["maximize", "minimize"], default="maximize")
    p.add_argument("--sampler", type=Literal["tpe", "random"], default="tpe")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (one per worker)")
    p.add_argument("--pruner", type=Literal["median", "hyperband", "none"], default="median")
    p.add_argument("--startup-trials", type=int, default=2, help="median: trials before pruning")
    p.add_argument("--warmup-steps", type=int, default=0, help="median: steps before pruning")
    p.add_argument("--min-resource", type=int, default=1, help="hyperband: first rung (steps)")
    p.add_argument("--reduction-factor", type=int, default=3, help="hyperband: 1/promoted share")
    p.add_argument("--heartbeat", type=int, default=60, help="s; silent for 2x -> trial FAIL")
    p.add_argument("--eval-only", action="store_true", help="tune test-time adaptation only")
    p.add_argument("--model", type=str, default=None, help="eval-only: export dir or encoder name")
    p.add_argument("--val-episodes", type=int, default=None, help="eval-only validation episodes")
    p.add_argument("--test-episodes", type=int, default=None, help="test episodes after search")
    p.add_argument("--no-test", action="store_true", help="skip scoring test episodes at the end")
    p.add_argument(
        "--no-default-trial", action="store_true", help="do not run the experiment's own values"
    )
    return p


def main(argv: list[str]) -> int:
    from lightning_meta.tuning.study import PrunerSpec, StudySpec
    from lightning_meta.tuning.tuner import TuneOptions, run_tuning

    a = build_parser().parse_args(argv)
    name = a.study_name or "+".join(Path(c).stem for c in a.config) + (
        "-eval" if a.eval_only else ""
    )
    study_dir = Path(a.study_dir or Path("runs") / "tune" / name)
    spec = StudySpec(
        study_dir=study_dir,
        study_name=name,
        storage=a.storage,
        direction=a.direction,
        seed=a.seed,
        sampler=a.sampler,
        pruner=PrunerSpec(
            name=a.pruner,
            n_startup_trials=a.startup_trials,
            n_warmup_steps=a.warmup_steps,
            min_resource=a.min_resource,
            reduction_factor=a.reduction_factor,
        ),
        heartbeat_interval=a.heartbeat,
    )
    opts = TuneOptions(
        config=Path(a.config[0]),
        more_configs=tuple(Path(c) for c in a.config[1:]),
        space=Path(a.space),
        n_trials=a.n_trials,
        study=spec,
        metric=a.metric,
        timeout=a.timeout,
        eval_only=a.eval_only,
        model=a.model,
        val_episodes=a.val_episodes,
        test_episodes=a.test_episodes,
        score_test=not a.no_test,
        default_trial=not a.no_default_trial,
        command="lightning-meta tune " + shlex.join(argv),
    )
    result = run_tuning(opts, resolve_config, run_fit)
    best = result.study.best_trial
    print(f"best trial #{best.number}: {a.metric} = {best.value:.4f}  {best.params}")
    if result.held_out is not None:
        for split in ("val", "test"):
            rows = result.held_out.summary(split)
            print(f"{split}: " + "; ".join(f"{k} {v}" for k, v in rows.items()))
    print(f"wrote {result.best_yaml}, trials.csv, summary.md and plots in {study_dir}")
    return 0
