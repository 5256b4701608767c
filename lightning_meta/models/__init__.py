"""Backbones (any transformers encoder, a tiny random BERT for tests) and the episodic head."""

from lightning_meta.models.adapt import AdaptSpec, find_layers, parse_adapt, resolve_adapted
from lightning_meta.models.classifier import (
    HEAD_BIAS,
    HEAD_WEIGHT,
    EpisodicClassifier,
    class_means,
    head_logits,
    prototype_head,
)
from lightning_meta.models.encoder import (
    attn_implementation,
    ensure_eager,
    load_encoder,
    tiny_encoder,
)
from lightning_meta.models.features import FullFeatures, TopFeatures, extended_mask, pool

__all__ = [
    "HEAD_BIAS",
    "HEAD_WEIGHT",
    "AdaptSpec",
    "EpisodicClassifier",
    "FullFeatures",
    "TopFeatures",
    "attn_implementation",
    "class_means",
    "ensure_eager",
    "extended_mask",
    "find_layers",
    "head_logits",
    "load_encoder",
    "parse_adapt",
    "pool",
    "prototype_head",
    "resolve_adapted",
    "tiny_encoder",
]
