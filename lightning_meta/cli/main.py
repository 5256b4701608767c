"""`lightning-meta` entry point: LightningCLI subcommands plus data, bench, evaluate, report.

lightning-meta fit|validate|test --config configs/experiment/fomaml_wordnet.yaml
lightning-meta data describe wordnet
lightning-meta predict --model runs/default/export --support labelled.csv --input texts.csv --out preds.csv
lightning-meta evaluate --model runs/default/export --data wordnet --episodes 300
lightning-meta bench data|speed|memory|throughput|episodes|accuracy|paired|compare

Each command is a ``module:function`` taking its remaining arguments; the command modules are
imported only when their command runs, so ``lightning-meta --help`` imports no torch.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from lightning_meta.errors import ConfigError, LightningMetaError
from lightning_meta.evaluation.importing import import_object

LIGHTNING_COMMANDS = ("fit", "validate", "test")
TOOL_COMMANDS: dict[str, str] = {
    "predict": "lightning_meta.cli.predict:main",
    "evaluate": "lightning_meta.cli.evaluate:main",
    "report": "lightning_meta.cli.report:main",
    "export": "lightning_meta.cli.export:main",
    "soup": "lightning_meta.cli.soup:main",
    "tune": "lightning_meta.cli.tune:main",
}
GROUP_COMMANDS: dict[str, dict[str, str]] = {
    "data": {"describe": "lightning_meta.cli.describe:main"},
    "bench": {
        "data": "lightning_meta.cli.bench:data_main",
        "speed": "lightning_meta.cli.bench:speed_main",
        "memory": "lightning_meta.cli.bench:memory_main",
        "throughput": "lightning_meta.cli.bench:throughput_main",
        "episodes": "lightning_meta.cli.bench:episodes_main",
        "accuracy": "lightning_meta.cli.bench_suite:accuracy_main",
        "paired": "lightning_meta.cli.bench_suite:paired_main",
        "compare": "lightning_meta.cli.bench_suite:compare_main",
    },
}
SMLMT_DATA_BENCH = "lightning_meta.cli.bench:smlmt_data_main"
USAGE = (
    "usage: lightning-meta {fit,validate,test} --config FILE [...]\n"
    "       lightning-meta data describe SOURCE [options]\n"
    "       lightning-meta predict --model DIR_OR_CKPT --support LABELLED --input TEXTS --out PREDS\n"
    "       lightning-meta evaluate --model DIR_OR_CKPT --data SOURCE [--episodes N] [--config FILE]\n"
    "       lightning-meta report --export DIR [options] [--config FILE]\n"
    "       lightning-meta export --ckpt FILE --out DIR [--config RUN/config.yaml]\n"
    "       lightning-meta soup --exports DIR DIR [DIR ...] --out DIR\n"
    "       lightning-meta tune --config FILE --space SPACE.yaml --n-trials N [--eval-only]\n"
    "       lightning-meta bench {data,speed,memory,throughput,episodes,accuracy,paired,compare} [options]\n"
    "add --help after any command for its options (with types and defaults)\n"
    "add --debug to any command to see full tracebacks"
)


def _load(target: str) -> Callable[[list[str]], int]:
    return import_object(target, "command")


def run_lightning(argv: list[str]) -> int:
    from lightning_meta.cli.lightning import run_cli

    run_cli(argv)
    return 0


def dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd in LIGHTNING_COMMANDS:
        return run_lightning(argv)
    if cmd in TOOL_COMMANDS:
        return _load(TOOL_COMMANDS[cmd])(rest)
    if cmd in GROUP_COMMANDS:
        group = GROUP_COMMANDS[cmd]
        if not rest or rest[0] not in group:
            raise ConfigError(
                f"{cmd}: expected one of {', '.join(group)}; e.g. `lightning-meta {cmd} {next(iter(group))}`"
            )
        target = group[rest[0]]
        if cmd == "bench" and rest[0] == "data" and "--smlmt" in rest:
            target = SMLMT_DATA_BENCH
            rest = [a for a in rest if a != "--smlmt"]
        return _load(target)(rest[1:])
    raise ConfigError(
        f"command: unknown command '{cmd}'; use one of fit, validate, test, data, predict, evaluate, report, export, soup, tune, bench"
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    from lightning_meta.callbacks.tracking import wandb_api_key_configured

    if not wandb_api_key_configured():  # never prompt, never block on the network
        os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        from lightning_meta.cli import banner

        banner.install()  # Lightning's adverts and device lines stay out of error output
    try:
        return dispatch(args)
    except LightningMetaError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
