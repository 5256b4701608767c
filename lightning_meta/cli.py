"""`lightning-meta` entry point: LightningCLI subcommands plus data, bench, evaluate, report.

lightning-meta fit|validate|test --config configs/experiment/fomaml_wordnet.yaml
lightning-meta data describe wordnet
lightning-meta evaluate --model runs/default/export --data wordnet --episodes 300
lightning-meta bench data|speed|accuracy|paired
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable

from lightning_meta.errors import ConfigError, LightningMetaError

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
TOOL_COMMANDS: dict[str, str] = {
    "evaluate": "lightning_meta.evaluate:main",
    "report": "lightning_meta.report:main",
    "export": "lightning_meta.export_cli:main",
}
GROUP_COMMANDS: dict[str, dict[str, str]] = {
    "data": {"describe": "lightning_meta.data.describe:main"},
    "bench": {
        "data": "lightning_meta.bench.data:main",
        "speed": "lightning_meta.bench.speed:main",
        "accuracy": "lightning_meta.bench.accuracy:main",
        "paired": "lightning_meta.bench.paired:main",
    },
}
USAGE = (
    "usage: lightning-meta {fit,validate,test} --config FILE [...]\n"
    "       lightning-meta data describe SOURCE [options]\n"
    "       lightning-meta evaluate --model DIR_OR_CKPT --data SOURCE [--episodes N]\n"
    "       lightning-meta report --export DIR [options]\n"
    "       lightning-meta export --ckpt FILE --out DIR [--config RUN/config.yaml]\n"
    "       lightning-meta bench {data,speed,accuracy,paired} [options]\n"
    "add --debug to any command to see full tracebacks"
)


def _load(target: str) -> Callable[[list[str]], int]:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def run_lightning(argv: list[str]) -> int:
    from lightning_meta.lightning_cli import run_cli

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
            target = "lightning_meta.bench.smlmt:smlmt_bench"
            rest = [a for a in rest if a != "--smlmt"]
        return _load(target)(rest[1:])
    raise ConfigError(
        f"command: unknown command '{cmd}'; use one of fit, validate, test, data, evaluate, report, bench"
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
    try:
        return dispatch(args)
    except LightningMetaError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
