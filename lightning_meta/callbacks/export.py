"""Export the best checkpoint as a Hugging Face model directory plus meta_learning.json."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from lightning_meta.callbacks.model_card import write_export_extras
from lightning_meta.callbacks.precision import BF16WhereNative
from lightning_meta.callbacks.run_end import stop_reason
from lightning_meta.data.config import flatten
from lightning_meta.evaluation.export_meta import META_FILE, ExportMeta, InnerLoopMeta
from lightning_meta.lightning.config import MODEL_GROUPS
from lightning_meta.models.encoder import attn_implementation
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.resolve import resolve_pretrained

log = logging.getLogger(__name__)
__all__ = ["META_FILE", "HFExport", "export_module"]


def export_module(
    module: Any, out_dir: str | Path, tokenizer: str | None, extra: dict[str, Any]
) -> Path:
    """Write ``module.model.encoder`` (save_pretrained), its tokenizer and meta_learning.json.

    The directory loads with plain ``AutoModel.from_pretrained(out_dir)``.
    """
    from transformers import AutoTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    encoder = module.model.encoder
    encoder.save_pretrained(out, safe_serialization=True)
    if tokenizer is not None:
        AutoTokenizer.from_pretrained(
            resolve_pretrained(tokenizer, field="tokenizer")
        ).save_pretrained(out)
    # flat names (pooling, adapt, inner_steps, inner_lr, ...) of the grouped hyper-parameters
    hp = flatten(dict(module.hparams), MODEL_GROUPS)
    data = ((extra.get("config") or {}).get("data") or {}).get("init_args") or {}
    meta = ExportMeta(
        algorithm=module.algorithm,
        pooling=hp.get("pooling", "mean"),
        attn_implementation=attn_implementation(encoder),
        inner_loop=InnerLoopMeta(
            adapt=hp.get("adapt"),
            head_init=hp.get("head_init"),
            inner_steps=hp.get("inner_steps"),
            eval_inner_steps=module.eval_steps,
            inner_lr=hp.get("inner_lr"),
            first_order=module.inner.first_order,
            pair_weight=module.inner.pair_weight,
            learned_inner_lrs=module.learned_inner_lrs(),
        ),
        n_way=flatten(data).get("n_way"),  # of the training episodes, when the run recorded it
        hyperparameters={
            k: v for k, v in hp.items() if isinstance(v, (str, int, float, bool, type(None)))
        },
        **extra,
    )
    meta.write(out)
    write_export_extras(out, meta, encoder)  # model card + sentence-transformers config
    return out


class HFExport(pl.Callback):
    """At the end of ``fit``: load the best checkpoint and export it in Hugging Face format."""

    def __init__(self, dirpath: str | None = None, tokenizer: str | None = None) -> None:
        """
        Args:
            dirpath: output directory (default: ``<log_dir>/export``).
            tokenizer: tokenizer to save beside the model (default: the datamodule's).
        """
        self.dirpath = dirpath
        self.tokenizer = tokenizer
        self.exported_to: Path | None = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        ckpt_cb = trainer.checkpoint_callback
        best_path = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
        best_score = getattr(ckpt_cb, "best_model_score", None) if ckpt_cb is not None else None
        state = pl_module.state_dict()
        exported_step = trainer.global_step
        if best_path:
            best = load_checkpoint_state(best_path)
            state, exported_step = best["state_dict"], int(best.get("global_step", -1))
        module = pl_module
        backup = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module.load_state_dict(state)
        dm = trainer.datamodule  # type: ignore[attr-defined]
        tokenizer = (
            self.tokenizer or getattr(dm, "tokenizer_name", None) or getattr(dm, "tokenizer", None)
        )
        if not isinstance(tokenizer, str):
            tokenizer = None
        out = Path(self.dirpath) if self.dirpath else Path(trainer.log_dir or ".") / "export"
        extra = {
            "best_checkpoint": best_path,
            "best_val_score": float(best_score)
            if isinstance(best_score, torch.Tensor)
            else best_score,
            "monitor": getattr(ckpt_cb, "monitor", None),
            "seed": int(os.environ.get("PL_GLOBAL_SEED", "-1")),
            "global_step": trainer.global_step,
            "exported_step": exported_step,
            "stop_reason": stop_reason(trainer),
            "precision": _precision(trainer),
            "config": _resolved_config(trainer),
        }
        self.exported_to = export_module(module, out, tokenizer, extra)
        module.load_state_dict(backup)
        log.info("exported best model to %s", out)


def _precision(trainer: pl.Trainer) -> str:
    """The precision the run trained in, with the reason when BF16WhereNative chose it."""
    chosen = [cb for cb in trainer.callbacks if isinstance(cb, BF16WhereNative)]  # type: ignore[attr-defined]
    reason = chosen[0].reason if chosen and chosen[0].reason else ""
    return f"{trainer.precision} ({reason})" if reason else str(trainer.precision)


def _resolved_config(trainer: pl.Trainer) -> Any:
    """The config LightningCLI saved for this run, if any."""
    log_dir = trainer.log_dir
    if log_dir is None:
        return None
    path = Path(log_dir) / "config.yaml"
    if not path.exists():
        return None
    import yaml

    return yaml.safe_load(path.read_text())
