"""`lightning-meta export`: write any lightning-meta checkpoint as a Hugging Face directory.

    lightning-meta export --ckpt runs/default/checkpoints/best-step=50.ckpt \\
        --config runs/default/config.yaml --out runs/default/export

The same output as the ``HFExport`` callback at the end of ``fit`` (``save_pretrained`` model and
tokenizer plus ``meta_learning.json``), for checkpoints of runs that were stopped early.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser

from lightning_meta.callbacks.export import export_module
from lightning_meta.cli.parser import tool_parser
from lightning_meta.data.config import AUTO_TOKENIZER, flatten
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.loading import load_module_from_checkpoint
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.resolve import backbone_tokenizer


def build_parser() -> ArgumentParser:
    # --config here is the run's config.yaml (recorded), not a file of this command's options
    p = tool_parser("export", __doc__)
    p.add_argument(
        "--ckpt", type=str, required=True, help="checkpoint written by lightning-meta fit"
    )
    p.add_argument(
        "--config", type=str, default=None,
        help="the run's config.yaml (recorded in meta_learning.json)",
    )  # fmt: skip
    p.add_argument("--out", type=str, required=True, help="output directory")
    p.add_argument(
        "--tokenizer", type=str, default=None,
        help="default: the config's data tokenizer, else the checkpoint backbone's own",
    )  # fmt: skip
    return p


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    config: Any = None
    if a.config is not None:
        path = Path(a.config)
        if not path.is_file():
            raise ConfigError(f"config: {path} does not exist; pass the run's config.yaml")
        config = yaml.safe_load(path.read_text())
    state = load_checkpoint_state(a.ckpt)
    module = load_module_from_checkpoint(a.ckpt)
    recorded = flatten(((config or {}).get("data") or {}).get("init_args") or {}).get("tokenizer")
    if a.tokenizer is not None:
        tokenizer = a.tokenizer
    elif isinstance(recorded, str) and recorded != AUTO_TOKENIZER:
        tokenizer = recorded
    else:  # not recorded, or 'auto': the checkpoint's backbone's own
        tokenizer = backbone_tokenizer(module.encoder_config.backbone)
    callbacks = state.get("callbacks", {})
    best = next(
        (
            v.get("best_model_score")
            for k, v in callbacks.items()
            if k.startswith("ModelCheckpoint")
        ),
        None,
    )
    extra = {
        "best_checkpoint": str(a.ckpt),
        "best_val_score": float(best) if best is not None else None,
        "global_step": state.get("global_step"),
        "config": config,
    }
    out = export_module(module, a.out, tokenizer if tokenizer != "tiny" else None, extra)
    print(f"exported {a.ckpt} to {out}")
    return 0
