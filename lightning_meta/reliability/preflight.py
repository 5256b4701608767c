"""Cheap checks after the config is parsed and before Lightning creates any directory.

Run by :class:`~lightning_meta.cli.lightning.MetaCLI` before fit/validate/test, in this order:

1. every output directory (``default_root_dir``, logger ``save_dir``, checkpoint and export
   ``dirpath``) can be created: checked on the nearest existing parent, nothing is written
   (then a bf16 ``trainer.precision`` on a device without native bf16 warns: it is emulated);
2. the tokenizer matches the model: it is the backbone's own (same vocabulary and special
   tokens; ``tokens.tokenizer: auto`` links it), its vocabulary fits the embedding table and
   ``max_length`` fits the position embeddings;
3. the optimizer and scheduler can be built (``lr < 0`` fails here, not in the first step);
4. the data is loadable and large enough (``prepare_data`` + ``setup``: columns, classes per
   split, n_way, ...); it writes only to the tokenisation cache.

Each failure is a one-line :class:`ConfigError` naming the config field and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_warn

from lightning_meta.errors import ConfigError
from lightning_meta.lightning.precision import BF16_PRECISIONS, cpu_capability, native_bf16
from lightning_meta.reliability.errors import has_section, with_fix
from lightning_meta.resolve import backbone_tokenizer, resolve_pretrained

# encoders whose position ids start after the padding index (usable positions = max - 2)
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "longformer")


def output_dirs(trainer: pl.Trainer) -> Iterator[tuple[str, str]]:
    """(config field, directory) of every place this run will write to."""
    yield "trainer.default_root_dir", str(trainer.default_root_dir)
    for i, logger in enumerate(trainer.loggers):
        save_dir = getattr(logger, "save_dir", None) or getattr(logger, "root_dir", None)
        if save_dir:
            yield f"trainer.logger[{i}] ({type(logger).__name__}).save_dir", str(save_dir)
    for cb in trainer.callbacks:  # type: ignore[attr-defined]
        dirpath = getattr(cb, "dirpath", None)
        if isinstance(dirpath, (str, os.PathLike)) and str(dirpath):
            yield f"trainer.callbacks ({type(cb).__name__}).dirpath", str(dirpath)


def check_writable(field: str, path: str) -> None:
    """``path`` exists as a writable directory or can be created; nothing is written."""
    if "://" in path and not path.startswith("file://"):
        return  # remote storage: checked by its own client
    p = Path(path.removeprefix("file://")).expanduser().absolute()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{field}: {p} is a file, not a directory; choose a directory path")
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(
            f"{field}: cannot create {p}: {parent} is a file; choose another directory"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{field}: {p} is not writable (no write permission on {parent}); "
            f"choose a writable directory"
        )


def check_outputs(trainer: pl.Trainer) -> None:
    for field, path in output_dirs(trainer):
        check_writable(field, path)


def _load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_pretrained(name, field="tokenizer"))


SPECIAL_TOKENS = ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token", "bos_token",
                  "eos_token")  # fmt: skip


def tokenizer_mismatch(tok: Any, own: Any) -> str | None:
    """What differs between tokenizer ``tok`` and the backbone's ``own`` (None: they agree):
    the vocabulary (token -> id) or the special tokens (text and id)."""
    vocab, own_vocab = tok.get_vocab(), own.get_vocab()
    if vocab != own_vocab:
        moved = sum(1 for t, i in own_vocab.items() if vocab.get(t) != i)
        return (
            f"vocabulary differs: {len(vocab)} vs {len(own_vocab)} tokens, {moved} of the "
            f"backbone's tokens missing or at other ids"
        )
    for name in SPECIAL_TOKENS:
        mine, theirs = getattr(tok, name, None), getattr(own, name, None)
        if str(mine) != str(theirs):
            return f"special token {name} differs: {mine!r} vs {theirs!r}"
    return None


def _own_tokenizer(backbone: str) -> tuple[str, Any] | None:
    """(name, tokenizer) of ``backbone``'s own tokenizer; None when it has none to compare
    with (e.g. a directory saved without tokenizer files)."""
    name = backbone_tokenizer(backbone)
    try:
        return name, _load_tokenizer(name)
    except (OSError, ValueError, ConfigError):
        return None


def check_tokenizer(model: pl.LightningModule, datamodule: pl.LightningDataModule | None) -> None:
    """The data's tokenizer is the backbone's own (same vocabulary and special tokens) and
    its lengths fit the model's position embeddings."""
    encoder = getattr(getattr(model, "model", None), "encoder", None)
    tok_name = getattr(datamodule, "tokenizer", None)
    if (
        encoder is None
        or not isinstance(tok_name, str)
        or not hasattr(encoder, "get_input_embeddings")
    ):
        return
    rows = int(encoder.get_input_embeddings().num_embeddings)
    backbone = getattr(getattr(model, "encoder_config", None), "backbone", "?")
    tok = _load_tokenizer(tok_name)
    if len(tok) > rows:
        raise ConfigError(
            f"data.tokens.tokenizer: '{tok_name}' has {len(tok)} tokens but the model's embedding "
            f"table (model.encoder.backbone: {backbone}) has {rows} rows; use the model's own "
            f"tokenizer (tokenizer: auto, the default)"
        )
    same = resolve_pretrained(tok_name, "tokenizer") == resolve_pretrained(
        backbone_tokenizer(backbone), "tokenizer"
    )
    own = None if same or backbone == "?" else _own_tokenizer(backbone)
    if own is not None and (diff := tokenizer_mismatch(tok, own[1])) is not None:
        raise ConfigError(
            f"data.tokens.tokenizer: '{tok_name}' does not match the tokenizer of "
            f"model.encoder.backbone '{backbone}' ({diff}); remove data.tokens.tokenizer (default "
            f"'auto': the backbone's own) or set it to '{own[0]}'"
        )
    config = getattr(encoder, "config", None)
    max_pos = getattr(config, "max_position_embeddings", None)
    max_length = getattr(datamodule, "max_length", None)
    if isinstance(max_pos, int) and isinstance(max_length, int):
        usable = max_pos - 2 if getattr(config, "model_type", "") in OFFSET_POSITIONS else max_pos
        if max_length > usable:
            raise ConfigError(
                f"data.tokens.max_length: {max_length} exceeds the {usable} positions of the "
                f"model (model.encoder.backbone: {backbone}); set data.tokens.max_length <= "
                f"{usable}"
            )


def check_algorithm(model: pl.LightningModule) -> None:
    """Settings a module accepts but that cannot train (pending a check in the module itself)."""
    inner = getattr(model, "inner", None)
    if getattr(model, "algorithm", "") == "reptile" and inner is not None and inner.steps < 1:
        raise ConfigError(
            "model.inner.steps: Reptile needs at least one inner step (with 0 the meta-update is "
            "always zero); set model.init_args.inner.steps >= 1"
        )


def check_optimizers(model: pl.LightningModule) -> None:
    """Build the optimizer(s) and scheduler(s) once, so bad arguments fail before training."""
    try:
        model.configure_optimizers()
    except ConfigError:
        raise
    except (ValueError, TypeError, KeyError) as err:
        raise ConfigError(
            f"model.optimizer: {str(err).strip().splitlines()[0][:200]}; fix the optimizer/scheduler "
            f"init_args in the config (e.g. lr > 0)"
        ) from err


def check_data(datamodule: pl.LightningDataModule | None, stage: str) -> None:
    """Load (and cache) the data and build the episode samplers; errors name ``data.<field>``."""
    if datamodule is None:
        return
    try:
        datamodule.prepare_data()
        datamodule.setup(stage)
    except ConfigError as err:
        message = str(err)
        if not has_section(message.split(":", 1)[0]):
            message = f"data.{message}"
        raise ConfigError(with_fix(message)) from err


def check_precision(trainer: pl.Trainer) -> None:
    """A warning (the run goes on) when ``trainer.precision`` asks for bf16 on a device that
    has no native bf16 and would emulate every bf16 matmul."""
    if str(trainer.precision) not in BF16_PRECISIONS:
        return
    device = trainer.strategy.root_device
    if device.type not in ("cpu", "cuda") or native_bf16(device) is not None:
        return
    isa = f" ({cpu_capability()} only)" if device.type == "cpu" else ""
    rank_zero_warn(
        f"trainer.precision: {trainer.precision} on a {device.type.upper()} without native "
        f"bf16{isa} is emulated and far slower than fp32 (~20x for a meta-training step on an "
        "AVX2 CPU); set trainer.precision: 32-true, or use the BF16WhereNative callback"
    )


def run_preflight(
    trainer: pl.Trainer,
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule | None,
    stage: str,
) -> None:
    """All checks; data last (it is the only one that may take a while on a cold cache)."""
    check_outputs(trainer)
    check_precision(trainer)
    check_tokenizer(model, datamodule)
    if stage == "fit":
        check_algorithm(model)
        check_optimizers(model)
    if trainer.local_rank == 0:
        check_data(datamodule, stage)
