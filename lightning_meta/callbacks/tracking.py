"""Experiment tracking: Weights & Biases that never needs the network, and the resolved config
in every logger.

- :class:`WandbLogger` (``lightning_meta.callbacks.WandbLogger``): Lightning's ``WandbLogger``
  that runs offline whenever no W&B API key is configured (``WANDB_API_KEY`` or a
  ``~/.netrc`` entry for ``api.wandb.ai``), so it never prompts for a login, never blocks and
  never needs the network. The run directory ``<save_dir>/wandb/offline-run-*`` uploads later
  with ``wandb sync <dir>`` (docs/tracking.md).
- :class:`LoggedSaveConfig`: LightningCLI's ``SaveConfigCallback`` that also sends the resolved
  config (every default filled in) to each logger as hyper-parameters under ``config``.

Model and data hyper-parameters reach every logger through ``save_hyperparameters``; metrics
are logged by :class:`~lightning_meta.lightning.base.EpisodicModule`.
"""

from __future__ import annotations

import logging
import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import yaml
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.loggers import WandbLogger as _WandbLogger

from lightning_meta.errors import ConfigError

log = logging.getLogger(__name__)

WANDB_HOST = "api.wandb.ai"
WandbMode = Literal["online", "offline", "disabled"]


def wandb_api_key_configured(
    environ: Mapping[str, str] | None = None, netrc_file: str | None = None
) -> bool:
    """True when W&B could log in without asking: ``WANDB_API_KEY`` or a netrc entry."""
    env = os.environ if environ is None else environ
    if env.get("WANDB_API_KEY"):
        return True
    path = netrc_file or env.get("NETRC") or str(Path.home() / ".netrc")
    try:
        auth = netrc.netrc(path).authenticators(WANDB_HOST)
    except (FileNotFoundError, PermissionError, netrc.NetrcParseError):
        return False
    return bool(auth and auth[2])


def resolve_wandb_mode(offline: bool | None, environ: Mapping[str, str] | None = None) -> WandbMode:
    """``offline`` if asked (argument, else ``WANDB_MODE``) or when no API key is configured."""
    env = os.environ if environ is None else environ
    wanted = env.get("WANDB_MODE", "").lower()
    if wanted == "disabled":
        return "disabled"
    if offline is None:
        offline = wanted in ("offline", "dryrun")
    if offline:
        return "offline"
    if not wandb_api_key_configured(env):
        log.info("W&B: no API key configured (WANDB_API_KEY or ~/.netrc); logging offline")
        return "offline"
    return "online"


class WandbLogger(_WandbLogger):
    """Lightning's WandbLogger, offline unless an API key is configured (never prompts)."""

    def __init__(
        self,
        name: str | None = None,
        save_dir: str = "runs",
        project: str = "lightning-meta",
        version: str | None = None,
        offline: bool | None = None,
        log_model: Literal["all"] | bool = False,
        group: str | None = None,
        tags: list[str] | None = None,
        prefix: str = "",
    ) -> None:
        """
        Args:
            name: display name of the run.
            save_dir: the run directory goes to ``<save_dir>/wandb/``.
            project: W&B project.
            version: run id (to resume a run).
            offline: force offline (True) or online (False); None: ``WANDB_MODE``, else online
                only when an API key is configured. Without a key it is always offline.
            log_model: upload checkpoints as artifacts (online only).
            group: W&B group (e.g. one per sweep).
            tags: W&B tags.
            prefix: prefix for metric keys.
        """
        mode = resolve_wandb_mode(offline)
        if log_model and mode != "online":
            raise ConfigError(
                f"trainer.logger.init_args.log_model: {log_model!r} needs W&B online (mode is "
                f"{mode}); set log_model: false or configure WANDB_API_KEY"
            )
        Path(save_dir).mkdir(parents=True, exist_ok=True)  # wandb falls back to /tmp otherwise
        super().__init__(
            name=name,
            save_dir=save_dir,
            version=version,
            project=project,
            log_model=log_model,
            prefix=prefix,
            mode=mode,
            group=group,
            tags=tags,
        )
        self.mode: WandbMode = mode

    @property
    def run_dir(self) -> Path | None:
        """Local run directory (``.../wandb/offline-run-*``) once the run exists, on rank 0."""
        experiment = self._experiment
        directory = getattr(experiment, "dir", None)  # <run dir>/files
        return Path(directory).parent if directory else None


def config_as_dict(parser: Any, config: Any) -> dict[str, Any]:
    """The resolved LightningCLI config as plain YAML types."""
    dumped = parser.dump(config, skip_none=False)
    loaded = yaml.safe_load(dumped)
    return loaded if isinstance(loaded, dict) else {"config": loaded}


class LoggedSaveConfig(SaveConfigCallback):
    """Save ``config.yaml`` in the log dir (as LightningCLI does) and log it to every logger.

    Pass as ``LightningCLI(..., save_config_callback=LoggedSaveConfig)``.
    """

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        config = config_as_dict(self.parser, self.config)
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": config})
