"""LightningCLI wiring: linked data/model fields, reliable trainer defaults, one-line errors.

What :class:`MetaCLI` adds to LightningCLI (see docs/reliability.md):

- ``--config`` files are read first: a missing file or a YAML syntax error is one line;
- parse and constructor errors become one-line ``ConfigError``s naming the config key
  (jsonargparse's multi-line usage dumps are reduced, see :mod:`lightning_meta.reliability.errors`);
- an explicit ``--ckpt_path`` file is loaded safely before anything else (refused if its pickle
  could run code, one-line error naming it if truncated); resumes use ``weights_only=True``;
- before fit/validate/test, :func:`~lightning_meta.reliability.preflight.run_preflight` checks
  output directories, tokenizer/model agreement, optimizer arguments and the data, so a bad run
  fails before Lightning creates log or checkpoint directories;
- every trainer gets :class:`~lightning_meta.reliability.AtomicCheckpointIO` (atomic writes,
  safe loads) and :class:`~lightning_meta.reliability.RNGState` (RNG states in checkpoints).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml
from jsonargparse import set_parsing_settings
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_meta.callbacks.run_end import FinalValidation
from lightning_meta.cli import banner
from lightning_meta.data.config import AUTO_TOKENIZER
from lightning_meta.errors import ConfigError
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.reliability.atomic_io import AtomicCheckpointIO
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.reliability.errors import (
    reduce_instantiation_error,
    reduce_parser_error,
    trainer_error,
    with_fix,
    yaml_error,
)
from lightning_meta.reliability.preflight import run_preflight
from lightning_meta.reliability.rng import RNGState
from lightning_meta.resolve import backbone_tokenizer

SUBCOMMANDS = ("fit", "validate", "test")  # `predict` is lightning-meta's own command
CKPT_ALIASES = ("last", "best", "hpc", "registry")
TRAINER_DEFAULTS: dict[str, Any] = {
    # validation adapts with gradients; the evaluation code detaches the query loss itself
    "inference_mode": False,
    # the episodic DataModule partitions tasks across ranks itself (deterministic union)
    "use_distributed_sampler": False,
    # atomic checkpoint writes (temp file + fsync + os.replace) and weights_only loads
    "plugins": [{"class_path": "lightning_meta.reliability.AtomicCheckpointIO"}],
}
# jsonargparse raises instead of printing a usage dump and exiting; MetaCLI reduces the error
PARSER_KWARGS: dict[str, Any] = {
    "exit_on_error": False,
    **{c: {"exit_on_error": False} for c in SUBCOMMANDS},
}


def config_paths(args: list[str]) -> list[str]:
    """The values of every ``--config``/``-c`` option in ``args``."""
    paths = []
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            paths.append(args[i + 1])
        elif arg.startswith("--config="):
            paths.append(arg.split("=", 1)[1])
    return paths


def check_config_files(args: list[str]) -> None:
    """Each ``--config`` file exists and is valid YAML (inline YAML strings are left alone)."""
    for value in config_paths(args):
        if "\n" in value or value.lstrip().startswith("{"):
            continue
        path = Path(value)
        if not path.is_file():
            raise ConfigError(
                f"--config: {value} does not exist; pass an existing YAML file "
                f"(e.g. configs/experiment/fomaml_wordnet.yaml)"
            )
        try:
            yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(yaml_error(value, err)) from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(
                f"--config: cannot read {value} ({err}); pass a readable YAML file"
            ) from err


def ensure_reliability(trainer: pl.Trainer) -> None:
    """Atomic checkpoint IO, RNG-state checkpoints and a validated last step, whatever the
    config says about plugins and callbacks."""
    strategy = trainer.strategy
    if type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = AtomicCheckpointIO()
    callbacks: list[pl.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    rng = [cb for cb in callbacks if isinstance(cb, RNGState)]
    for cb in rng:
        callbacks.remove(cb)
    # first, so its per-batch reseed happens before any other callback draws random numbers
    callbacks.insert(0, rng[0] if rng else RNGState())
    if not any(isinstance(cb, FinalValidation) for cb in callbacks):
        callbacks.append(FinalValidation())  # max_steps mid-epoch: validate + checkpoint the end


def _get(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    return getattr(node, key, None)


def link_tokenizer(config: Any) -> str | None:
    """``data.init_args.tokens.tokenizer: auto`` (the default) becomes the tokenizer of
    ``model.init_args.encoder.backbone`` in the parsed ``config``, in place, before anything is
    built; an explicit tokenizer stays (preflight refuses one that does not match the backbone).
    A LightningCLI ``link_arguments`` cannot do this: a link target cannot also be given.
    Returns the tokenizer set, None when nothing was linked."""
    tokens = _get(_get(_get(config, "data"), "init_args"), "tokens")
    encoder = _get(_get(_get(config, "model"), "init_args"), "encoder")
    backbone = _get(encoder, "backbone")
    if (
        tokens is None
        or _get(tokens, "tokenizer") != AUTO_TOKENIZER
        or not isinstance(backbone, str)
    ):
        return None
    tokenizer = backbone_tokenizer(backbone)
    if isinstance(tokens, dict):
        tokens["tokenizer"] = tokenizer
    else:
        tokens.tokenizer = tokenizer
    return tokenizer


class MetaCLI(LightningCLI):
    """LightningCLI with safe checkpoint loading and preflight checks; errors are one line."""

    def before_instantiate_classes(self) -> None:
        """The data tokenizer defaults to the model backbone's own (:func:`link_tokenizer`)."""
        sub = self.config.get("subcommand")
        link_tokenizer(self.config.get(sub) if sub else self.config)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """fit, validate, test (Lightning's ``predict`` needs a ``predict_step`` no episodic
        module has; ``lightning-meta predict`` is the few-shot classifier command)."""
        subs = LightningCLI.subcommands()
        return {k: v for k, v in subs.items() if k in SUBCOMMANDS}

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        try:
            with warnings.catch_warnings():
                # `lightning-meta` passes its argv explicitly; Lightning would warn that it
                # ignores sys.argv, which is the same list
                warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
                super().parse_arguments(parser, args)
        except argparse.ArgumentError as err:
            raise ConfigError(reduce_parser_error(str(err))) from err

    def _parse_ckpt_path(self) -> None:
        sub = self.config.get("subcommand")
        cfg = self.config.get(sub, {}) if sub else {}
        ckpt = cfg.get("ckpt_path") if cfg else None
        if ckpt and str(ckpt) not in CKPT_ALIASES and cfg.get("weights_only") is not False:
            load_checkpoint_state(ckpt)  # one-line error for a missing, unsafe or corrupt file
        super()._parse_ckpt_path()

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ConfigError as err:
            raise ConfigError(with_fix(str(err))) from err
        except Exception as err:
            line = reduce_instantiation_error(err)
            if line is None:
                raise
            raise ConfigError(line) from err

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except ConfigError:
            raise
        except (ValueError, TypeError, ImportError, MisconfigurationException) as err:
            raise ConfigError(trainer_error(err)) from err
        ensure_reliability(trainer)
        return trainer

    # ---- subcommands: checks first, then the run with safe checkpoint loading --------------
    def _preflight(self, stage: str) -> None:
        run_preflight(self.trainer, self.model, self.datamodule, stage)
        banner.release()  # checks passed: now show which device the run uses

    def before_fit(self) -> None:
        self._preflight("fit")

    def before_validate(self) -> None:
        self._preflight("validate")

    def before_test(self) -> None:
        self._preflight("test")

    @staticmethod
    def _safe(kwargs: dict[str, Any]) -> dict[str, Any]:
        if "weights_only" in kwargs and kwargs["weights_only"] is None:
            kwargs["weights_only"] = True
        return kwargs

    def fit(self, model: pl.LightningModule, **kwargs: Any) -> None:
        self.trainer.fit(model, **self._safe(kwargs))

    def validate(self, model: pl.LightningModule, **kwargs: Any) -> None:
        self.trainer.validate(model, **self._safe(kwargs))

    def test(self, model: pl.LightningModule, **kwargs: Any) -> None:
        self.trainer.test(model, **self._safe(kwargs))


def make_cli(args: list[str], run: bool = True) -> MetaCLI:
    from lightning_meta.callbacks.tracking import LoggedSaveConfig
    from lightning_meta.lightning.distributed import register_strategy

    check_config_files(args)
    register_strategy()  # `--trainer.strategy meta_ddp` by name
    # `--help` shows the attribute docstrings of the argument groups (EncoderConfig, ...)
    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    return MetaCLI(
        model_class=EpisodicModule,
        datamodule_class=pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_callback=LoggedSaveConfig,  # resolved config to every logger
        save_config_kwargs={"overwrite": True},
        parser_kwargs=PARSER_KWARGS if run else {"exit_on_error": False},
        args=args,
        run=run,
    )


def run_cli(args: list[str]) -> MetaCLI:
    return make_cli(args, run=True)
