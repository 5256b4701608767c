"""`lightning-meta export`: write any lightning-meta checkpoint as a Hugging Face directory.

    lightning-meta export --ckpt runs/default/checkpoints/best-step=50.ckpt \\
        --config runs/default/config.yaml --out runs/default/export

The same output as the ``HFExport`` callback at the end of ``fit`` (``save_pretrained`` model and
tokenizer plus ``meta_learning.json``), for checkpoints of runs that were stopped early.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from lightning_meta.callbacks.export import export_module
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.evaluation.loading import load_module_from_checkpoint
from lightning_meta.errors import ConfigError


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="lightning-meta export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--ckpt", required=True, help="checkpoint written by lightning-meta fit")
    p.add_argument(
        "--config", default=None, help="the run's config.yaml (recorded in meta_learning.json)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--tokenizer", default=None, help="default: the config's data tokenizer, else 'minilm'"
    )
    a = p.parse_args(argv)
    config: Any = None
    if a.config is not None:
        path = Path(a.config)
        if not path.is_file():
            raise ConfigError(f"config: {path} does not exist; pass the run's config.yaml")
        config = yaml.safe_load(path.read_text())
    state = load_checkpoint_state(a.ckpt)
    module = load_module_from_checkpoint(a.ckpt)
    tokenizer = (
        a.tokenizer
        or (((config or {}).get("data") or {}).get("init_args") or {}).get("tokenizer")
        or "minilm"
    )
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
