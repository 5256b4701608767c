"""Load and save what a :class:`~lightning_meta.evaluation.fewshot.FewShotClassifier` is made of.

Loading accepts, in this order:

- a directory written by ``save_pretrained`` (it has ``fewshot.json``): the export below plus
  the adapted classifier (classes, adapted tensors and head in ``fewshot_head.safetensors``);
- a ``.ckpt`` of any lightning-meta module (its recipe, learned inner lrs included);
- an export directory (``meta_learning.json`` gives the recipe) or any encoder: 'minilm', a
  local ``save_pretrained`` directory, a hub name (cached or reachable), 'tiny' (tests).

A saved classifier directory is itself an export (encoder, tokenizer, ``meta_learning.json``
with the recipe, model card, sentence-transformers config), so ``evaluate``, ``report`` and
``SentenceTransformer`` all load it too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from lightning_meta.data.config import AUTO_TOKENIZER
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.fewshot_batches import Label
from lightning_meta.evaluation.fewshot_recipe import (
    Recipe,
    find_key,
    read_meta,
    recipe_from_meta,
    recipe_from_module,
)
from lightning_meta.models.classifier import EpisodicClassifier

FEWSHOT_FILE = "fewshot.json"
HEAD_FILE = "fewshot_head.safetensors"
FORMAT = 1
DEFAULT_MAX_LENGTH = 64
TINY = "tiny"


@dataclass
class Loaded:
    model: EpisodicClassifier
    tokenizer: Any
    recipe: Recipe
    meta: ExportMeta
    max_length: int = DEFAULT_MAX_LENGTH
    fitted: tuple[list[Label], dict[str, Tensor]] | None = None


def _tokenizer(name: str) -> Any:
    from lightning_meta.data.tokens import load_tokenizer

    return load_tokenizer(name)


def _max_length(meta: ExportMeta) -> int:
    config = meta.config if isinstance(meta.config, dict) else {}
    found = find_key(config.get("data"), "max_length")
    return int(found) if isinstance(found, int) and found >= 2 else DEFAULT_MAX_LENGTH


def encoder_tokenizer(encoder: Any) -> str:
    """The tokenizer an encoder was loaded with: its ``name_or_path`` when that has one (a
    directory with tokenizer files, a hub name), else 'minilm' (also for 'tiny')."""
    name = str(getattr(getattr(encoder, "config", None), "_name_or_path", "") or "")
    if not name:
        return "minilm"
    path = Path(name)
    if path.is_dir():
        return name if _has_tokenizer(path) else "minilm"
    return "minilm" if name.startswith((".", "/", "~")) else name


def from_module(module: Any, tokenizer: str | None = None) -> Loaded:
    """Wrap an ``EpisodicModule`` (its encoder is shared, not copied); ``tokenizer`` default:
    the encoder's own (:func:`encoder_tokenizer`)."""
    recipe = recipe_from_module(module)
    meta = recipe.to_meta(ExportMeta(n_way=getattr(module, "n_way", None)))
    name = tokenizer or encoder_tokenizer(module.model.encoder)
    return Loaded(module.model, _tokenizer(name), recipe, meta)


def _from_checkpoint(path: str, tokenizer: str | None) -> Loaded:
    from lightning_meta.evaluation.loading import load_module_from_checkpoint
    from lightning_meta.reliability.checkpoint import load_checkpoint_state

    module = load_module_from_checkpoint(path)
    state = load_checkpoint_state(path)
    data_hp = state.get("datamodule_hyper_parameters") or {}
    if tokenizer is None:
        found = find_key(data_hp, "tokenizer")  # 'auto': the backbone's own, found below
        tokenizer = found if isinstance(found, str) and found != AUTO_TOKENIZER else None
    loaded = from_module(module, tokenizer)
    found_len = find_key(data_hp, "max_length")
    if isinstance(found_len, int) and found_len >= 2:
        loaded.max_length = found_len
    return loaded


def _has_tokenizer(directory: Path) -> bool:
    return any((directory / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))


def _from_encoder(name: str, tokenizer: str | None, attn: str | None = None) -> Loaded:
    from lightning_meta.lightning.base import disable_dropout
    from lightning_meta.models.encoder import load_encoder, tiny_encoder

    path = Path(name).expanduser()
    found = read_meta(path) if path.is_dir() else None
    recipe = recipe_from_meta(found)
    meta = found or ExportMeta()
    if attn is None:  # an export runs with the attention it was exported with (exact scores)
        attn = meta.attn_implementation
    encoder = tiny_encoder(seed=0) if name == TINY else load_encoder(name, attn)
    disable_dropout(encoder)
    model = EpisodicClassifier(
        encoder, pooling=recipe.pooling, adapt=recipe.adapt, head_init=recipe.head_init
    )
    if tokenizer is None:  # the directory's own, else MiniLM's vocabulary ('tiny' uses it)
        if path.is_dir():
            tokenizer = name if _has_tokenizer(path) else "minilm"
        else:
            tokenizer = "minilm" if name == TINY else name
    return Loaded(model, _tokenizer(tokenizer), recipe, meta, max_length=_max_length(meta))


def load(name: str, tokenizer: str | None = None) -> Loaded:
    """See the module docstring; one-line ConfigError for anything that does not load."""
    if not name:
        raise ConfigError("model: empty name; give an export directory, a .ckpt or 'minilm'")
    if name.endswith(".ckpt"):
        return _from_checkpoint(name, tokenizer)
    path = Path(name).expanduser()
    saved = path / FEWSHOT_FILE
    info = json.loads(saved.read_text()) if saved.is_file() else None
    # a saved classifier runs with the attention implementation it was fitted with
    loaded = _from_encoder(name, tokenizer, (info or {}).get("attn_implementation"))
    if info is not None:
        _load_fitted(path, info, loaded)
    return loaded


def _load_fitted(path: Path, info: dict[str, Any], loaded: Loaded) -> None:
    from safetensors.torch import load_file

    if int(info.get("format", 0)) > FORMAT:
        raise ConfigError(
            f"model: {path / FEWSHOT_FILE} has format {info.get('format')}, newer than this "
            f"lightning-meta reads ({FORMAT}); upgrade lightning-meta"
        )
    loaded.max_length = int(info.get("max_length") or loaded.max_length)
    classes = info.get("classes")
    if not classes:
        return
    if not (path / HEAD_FILE).is_file():
        raise ConfigError(f"model: {path} has {FEWSHOT_FILE} but no {HEAD_FILE}; save it again")
    loaded.fitted = (list(classes), load_file(str(path / HEAD_FILE)))


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def save(
    out: Path,
    model: EpisodicClassifier,
    tokenizer: Any,
    recipe: Recipe,
    meta: ExportMeta,
    *,
    max_length: int,
    classes: list[Label] | None,
    tensors: dict[str, Tensor],
) -> Path:
    """Write a classifier directory (see the module docstring); returns ``out``."""
    from safetensors.torch import save_file

    from lightning_meta.callbacks.model_card import write_model_card, write_sentence_transformers

    if out.exists() and not out.is_dir():
        raise ConfigError(f"directory: {out} exists and is not a directory; choose another path")
    out.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(out, safe_serialization=True)  # type: ignore[operator]
    tokenizer.save_pretrained(out)
    full_meta = recipe.to_meta(meta)
    full_meta.write(out)
    if classes:
        cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        save_file(cpu, str(out / (HEAD_FILE + ".tmp")))
        os.replace(out / (HEAD_FILE + ".tmp"), out / HEAD_FILE)
    elif (out / HEAD_FILE).exists():
        (out / HEAD_FILE).unlink()
    from lightning_meta.models.encoder import attn_implementation

    info = {
        "format": FORMAT,
        "classes": classes,
        "max_length": max_length,
        "attn_implementation": attn_implementation(model.encoder),
    }
    _write_json(out / FEWSHOT_FILE, info)
    hidden = int(getattr(getattr(model.encoder, "config", None), "hidden_size", 0) or 0)
    write_sentence_transformers(out, pooling=recipe.pooling, max_length=max_length, hidden=hidden)
    write_model_card(out, full_meta, classes=classes)
    return out
