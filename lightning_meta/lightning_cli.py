"""LightningCLI wiring: linked data/model fields, trainer defaults for meta-learning."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_meta.lightning.base import EpisodicModule

TRAINER_DEFAULTS: dict[str, Any] = {
    # validation adapts with gradients; the evaluation code detaches the query loss itself
    "inference_mode": False,
    # the episodic DataModule partitions tasks across ranks itself (deterministic union)
    "use_distributed_sampler": False,
}


class MetaCLI(LightningCLI):
    """LightningCLI whose data and model agree on the episode shape."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.init_args.n_way", "model.init_args.n_way", apply_on="parse")


def make_cli(args: list[str], run: bool = True) -> MetaCLI:
    return MetaCLI(
        model_class=EpisodicModule,
        datamodule_class=pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def run_cli(args: list[str]) -> MetaCLI:
    return make_cli(args, run=True)
