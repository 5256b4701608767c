"""Packed BERT and MPNet layers: transformer blocks over the real tokens of a stack of episodes.

A padded ``(B, T, H)`` batch spends about half its work on padding (WordNet glosses at
``max_length: 32``: 52% of the slots are real tokens). Here the rows of ``E`` episodes are
packed token by token into ``(E, n, H)`` (``n``: the most real tokens of any episode): every
linear map, the layer norms and the activation run on real tokens only, and only the (cheap)
attention scores are formed per row, ``(E*R, heads, T, T)`` (the layout: :mod:`.packing`).

Parameters are either shared (the module's own, the shape of the module parameter) or
per-episode, stacked on a leading ``E`` axis (the inner loop of ``E`` episodes at once); each
linear map is then one batched matmul. The result equals the module's own forward on the
padded rows (tests check it against ``functional_call`` of the Hugging Face layer), for the
BERT-like and MPNet layers :func:`packable` accepts (MPNet: the same post-norm block under other
names, plus the relative-position bias its encoder adds to every layer's scores,
:func:`attention_bias`); everything else keeps the padded path.

Every op reproduces the module's own forward kernel by kernel (``F.linear`` / ``baddbmm``,
layer norms with the fused kernel's rounding, the SDPA kernel when the layer is an SDPA one, else the eager formula, which second-order
MAML needs: :func:`~lightning_meta.models.encoder.ensure_eager` switches the layers first), so
results differ from the padded path only by the summation order of a few reductions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.models.features import position_bias
from lightning_meta.models.packing import Packing

__all__ = ["Packing", "attention_bias", "packable", "packed_bottom", "packed_layer"]

_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
_NORMS = ("attention.output.LayerNorm", "output.LayerNorm")
_MPNET = {  # BERT name -> MPNetLayer name (same block: q/k/v, output map inside ``attn``)
    "attention.self": "attention.attn",
    "attention.self.query": "attention.attn.q",
    "attention.self.key": "attention.attn.k",
    "attention.self.value": "attention.attn.v",
    "attention.output.dense": "attention.attn.o",
    "attention.output.LayerNorm": "attention.LayerNorm",
}


def _name(layer: nn.Module, bert_name: str) -> str:
    """The layer's own name for a BERT block part (MPNet keeps them under ``attention.attn``)."""
    mpnet = type(layer).__name__ == "MPNetLayer"
    return _MPNET.get(bert_name, bert_name) if mpnet else bert_name


def packable(encoder: nn.Module, start: int = 0) -> bool:
    """True when every layer ``start..`` of a BERT-like or MPNet ``encoder`` is a plain
    post-norm block (absolute or MPNet's relative positions, no cross-attention, no pruned
    heads, no active dropout) that :func:`packed_layer` reproduces exactly."""
    config = getattr(encoder, "config", None)
    if config is None or getattr(config, "is_decoder", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    try:
        layers = list(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))
    except AttributeError:
        return False
    for layer in layers[start:]:
        if getattr(layer, "add_cross_attention", False) or getattr(layer, "is_decoder", False):
            return False
        try:
            for name in _LINEARS:
                if not isinstance(layer.get_submodule(_name(layer, name)), nn.Linear):
                    return False
            for name in _NORMS:
                if not isinstance(layer.get_submodule(_name(layer, name)), nn.LayerNorm):
                    return False
            attn = layer.get_submodule(_name(layer, "attention.self"))
            act = layer.get_submodule("intermediate").intermediate_act_fn
        except AttributeError:
            return False
        if not callable(act) or getattr(layer.get_submodule("attention"), "pruned_heads", None):
            return False
        if getattr(attn, "position_embedding_type", "absolute") != "absolute":
            return False
        if any(isinstance(m, nn.Dropout) and m.p > 0 and m.training for m in layer.modules()):
            return False
        if float(getattr(attn, "dropout_prob", 0.0) or 0.0) > 0 and attn.training:
            return False
    return True


def _get(layer: nn.Module, params: Mapping[str, Tensor], name: str) -> Tensor:
    return params[name] if name in params else layer.get_parameter(name)


def _linear(layer: nn.Module, params: Mapping[str, Tensor], bert_name: str, x: Tensor) -> Tensor:
    """(E, n, in) -> (E, n, out) with a shared (out, in) or per-episode (E, out, in) weight.

    Shared: ``F.linear`` (addmm, as ``nn.Linear``); per-episode: one ``baddbmm`` (on CPU the
    same kernel per episode: every token gets the module's own rounding)."""
    name = _name(layer, bert_name)
    w, b = _get(layer, params, f"{name}.weight"), _get(layer, params, f"{name}.bias")
    if w.dim() == 2 and b.dim() == 1:
        return F.linear(x, w, b)
    E = x.shape[0]
    w = w if w.dim() == 3 else w.expand(E, *w.shape)
    b = b if b.dim() == 2 else b.expand(E, *b.shape)
    return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))


def _norm(layer: nn.Module, params: Mapping[str, Tensor], bert_name: str, x: Tensor) -> Tensor:
    """LayerNorm with shared or per-episode (E, H) affine (``addcmul``: the fused kernel's
    rounding)."""
    name = _name(layer, bert_name)
    eps = cast(nn.LayerNorm, layer.get_submodule(name)).eps
    w, b = _get(layer, params, f"{name}.weight"), _get(layer, params, f"{name}.bias")
    if w.dim() == 1 and b.dim() == 1:
        return F.layer_norm(x, (x.shape[-1],), w, b, eps)
    y = F.layer_norm(x, (x.shape[-1],), None, None, eps)
    return torch.addcmul(_rows(b), y, _rows(w))


def _rows(t: Tensor) -> Tensor:
    """(E, H) per-episode -> (E, 1, H); (H,) shared stays (broadcast)."""
    return t.unsqueeze(1) if t.dim() == 2 else t


def _sdpa(attn: nn.Module) -> bool:
    """The layer uses the fused SDPA kernel (``Bert*SdpaSelfAttention``): use it too."""
    return "Sdpa" in type(attn).__name__


def packed_layer(
    layer: nn.Module,
    params: Mapping[str, Tensor],
    x: Tensor,
    packing: Packing,
    ext: Tensor,
    position: Tensor | None = None,
) -> Tensor:
    """One BERT (or MPNet) block on packed tokens: (E, n, H) -> (E, n, H).

    ``params``: layer-local names (``attention.self.query.weight``, ...; MPNet's own
    ``attention.attn.q.weight``, ...) -> shared or (E, ...) tensors; missing names use the
    layer's own parameters. ``ext``: (E*R, 1, 1, T) additive attention mask; ``position``:
    MPNet's (1, heads, T, T) relative-position bias, added to the scores first, as its layers
    do (both from :func:`attention_bias`).
    """
    attn: Any = layer.get_submodule(_name(layer, "attention.self"))
    heads, d = int(attn.num_attention_heads), int(attn.attention_head_size)
    E, R, T = packing.episodes, packing.rows, packing.T

    def heads_of(name: str) -> Tensor:  # (E, n, A) -> (E*R, heads, T, d)
        rows = packing.to_rows(_linear(layer, params, f"attention.self.{name}", x))
        return rows.view(E * R, T, heads, d).transpose(1, 2)

    q, k, v = heads_of("query"), heads_of("key"), heads_of("value")
    if _sdpa(attn) and position is None:
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=ext)  # (E*R, heads, T, d)
    else:
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)  # (E*R, heads, T, T)
        if position is not None:
            scores += position  # in place, MPNet's rounding (bf16 scores stay bf16)
        scores = scores + ext
        ctx = torch.softmax(scores, dim=-1) @ v  # (E*R, heads, T, d)
    ctx = packing.to_packed(ctx.transpose(1, 2).reshape(E, R, T, heads * d))  # (E, n, A)
    a = _norm(layer, params, "attention.output.LayerNorm",
              _linear(layer, params, "attention.output.dense", ctx) + x)  # fmt: skip
    act: Any = layer.get_submodule("intermediate").intermediate_act_fn
    inter = act(_linear(layer, params, "intermediate.dense", a))  # (E, n, I)
    return _norm(
        layer, params, "output.LayerNorm", _linear(layer, params, "output.dense", inter) + a
    )


def additive_mask(packing: Packing, dtype: torch.dtype) -> Tensor:
    """(E*R, 1, 1, T) attention mask: 0 for real keys, dtype-min for padding."""
    m = packing.mask.reshape(-1, 1, 1, packing.T).to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def attention_bias(
    encoder: nn.Module, packing: Packing, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """``(ext, position)`` for :func:`packed_layer`: the additive mask, and MPNet's
    relative-position bias (1, heads, T, T) from its encoder's shared table (None for
    absolute-position encoders). It depends on ``T`` only, like the encoder's own."""
    ext = additive_mask(packing, dtype)
    return ext, position_bias(encoder, ext.new_empty(1, packing.T, 0))


def packed_bottom(
    encoder: nn.Module,
    start: int,
    input_ids: Tensor,
    attention_mask: Tensor,
    pad_to: int | None = None,
) -> tuple[Tensor, Packing]:
    """Embeddings and layers ``0..start-1`` (the module's own parameters) over right-padded
    rows ``(B, T)``, packed as one episode: ((1, n, H) token states, its :class:`Packing`);
    ``pad_to``: see :meth:`Packing.from_lengths`."""
    packing = Packing.from_lengths(attention_mask.sum(1, keepdim=True).T, pad_to)  # (1, B)
    ids = input_ids[:, : packing.T]
    if ids.shape[1] < packing.T:
        ids = F.pad(ids, (0, packing.T - ids.shape[1]))
    hidden = encoder.embeddings(input_ids=ids)  # type: ignore[operator]  # (B, T, E)
    project = getattr(encoder, "embeddings_project", None)  # ELECTRA: E -> H
    if project is not None:
        hidden = project(hidden)
    x = packing.to_packed(hidden.unsqueeze(0))  # (1, n, H)
    ext, position = attention_bias(encoder, packing, x.dtype)
    layers = list(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))
    for layer in layers[:start]:
        x = packed_layer(layer, {}, x, packing, ext, position)
    return x, packing
