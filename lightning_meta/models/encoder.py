"""Backbones: load any ``transformers`` encoder offline-first, build tiny random ones for tests,
and switch attention to the eager implementation when second-order gradients are needed.

Why eager: the fused CPU SDPA kernel has no double backward ("derivative for
aten::_scaled_dot_product_flash_attention_for_cpu_backward is not implemented"), so
second-order MAML through attention must use the plain matmul/softmax implementation.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, cast

import torch
from torch import nn
from transformers import AutoModel, BertConfig, BertModel, PreTrainedModel

from lightning_meta.resolve import resolve_pretrained

logger = logging.getLogger(__name__)

__all__ = ["attn_implementation", "ensure_eager", "load_encoder", "tiny_encoder"]


def load_encoder(
    name_or_path: str = "minilm", attn_implementation: str | None = None
) -> PreTrainedModel:
    """Load a pretrained encoder (``AutoModel``) from an alias, local directory or hub name.

    ``attn_implementation`` ("eager" | "sdpa" | None for the library default) is passed to
    ``from_pretrained``; second-order MAML needs "eager" (switched automatically when missing).
    """
    path = resolve_pretrained(name_or_path)
    kwargs = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    model = AutoModel.from_pretrained(path, **kwargs)
    return model


def tiny_encoder(
    seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 2, vocab_size: int = 30522
) -> BertModel:
    """A randomly initialised BERT (eager attention, no dropout) for fast deterministic tests."""
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="eager",
    )
    config._attn_implementation = "eager"
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = BertModel(config)
    finally:
        torch.random.set_rng_state(state)
    return model


def attn_implementation(model: nn.Module) -> str | None:
    """The attention implementation recorded on the model's config (None when unknown)."""
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None) if config is not None else None


def _eager_classes(model: nn.Module) -> dict[type, type]:
    """Map each non-eager attention class of an old-style HF model to its eager base class.

    Old-style models (BERT, RoBERTa, ELECTRA in transformers 4.x) pick the attention class at
    construction from a module-level table such as ``BERT_SELF_ATTENTION_CLASSES``; the SDPA
    class subclasses the eager one and adds no parameters, so swapping ``__class__`` is safe.
    """
    modeling = sys.modules.get(type(model).__module__)
    mapping: dict[type, type] = {}
    for name, table in vars(modeling).items() if modeling is not None else []:
        if not (name.endswith("ATTENTION_CLASSES") and isinstance(table, dict)):
            continue
        eager = table.get("eager")
        if eager is None:
            continue
        for cls in table.values():
            if cls is not eager and issubclass(cls, eager):
                mapping[cls] = eager
    return mapping


def ensure_eager(model: nn.Module) -> bool:
    """Switch ``model`` to eager attention in place; True when something changed.

    Raises ValueError when the model cannot be switched (load it with
    ``attn_implementation="eager"`` instead).
    """
    if attn_implementation(model) in ("eager", None):
        return False  # already eager, or not a transformers model (nothing to switch)
    changed = False
    if isinstance(model, PreTrainedModel) and model._can_set_attn_implementation():
        model.set_attn_implementation("eager")
        changed = True
    else:
        mapping = _eager_classes(model)
        for module in model.modules():
            eager = mapping.get(type(module))
            if eager is not None:
                module.__class__ = eager
                changed = True
        for module in model.modules():  # e.g. BertModel.attn_implementation picks the mask format
            if isinstance(getattr(module, "attn_implementation", None), str):
                cast(Any, module).attn_implementation = "eager"
        config = getattr(model, "config", None)
        if config is not None:
            config._attn_implementation = "eager"
            changed = True
    if not changed:
        raise ValueError(
            f"attn_implementation: cannot switch {type(model).__name__} to eager attention; "
            "load it with attn_implementation='eager'"
        )
    logger.info(
        "switched %s to eager attention: second-order gradients need a double backward, "
        "which the fused SDPA kernel lacks",
        type(model).__name__,
    )
    return True
