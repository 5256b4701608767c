"""Packed BERT layers: transformer blocks over the real tokens of a stack of episodes.

A padded ``(B, T, H)`` batch spends about half its work on padding (WordNet glosses at
``max_length: 32``: 52% of the slots are real tokens). Here the rows of ``E`` episodes are
packed token by token into ``(E, n, H)`` (``n``: the most real tokens of any episode): every
linear map, the layer norms and the activation run on real tokens only, and only the (cheap)
attention scores are formed per row, ``(E*R, heads, T, T)``.

Parameters are either shared (the module's own, the shape of the module parameter) or
per-episode, stacked on a leading ``E`` axis (the inner loop of ``E`` episodes at once); each
linear map is then one batched matmul. The result equals the module's own forward on the
padded rows (tests check it against ``functional_call`` of the Hugging Face layer), for the
BERT-like layers :func:`packable` accepts; everything else keeps the padded path.

Every op reproduces the module's own forward kernel by kernel (``F.linear`` / ``baddbmm``,
layer norms with the fused kernel's rounding, the SDPA kernel when the layer is an SDPA one, else the eager formula, which second-order
MAML needs: :func:`~lightning_meta.models.encoder.ensure_eager` switches the layers first), so
results differ from the padded path only by the summation order of a few reductions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["Packing", "packable", "packed_bottom", "packed_layer"]

Pooling = Literal["mean", "cls"]
_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
_NORMS = ("attention.output.LayerNorm", "output.LayerNorm")


@dataclass(frozen=True)
class Packing:
    """Where the tokens of ``R`` rows of each of ``E`` episodes sit in a packed ``(E, n, C)``.

    Row ``r`` of episode ``e`` holds packed slots ``starts[e, r] .. starts[e, r] + len - 1``;
    slots past an episode's token count are padding (finite values nobody reads).
    """

    lengths: Tensor  # (E, R) long, real tokens per row (>= 1)
    starts: Tensor  # (E, R) long, first packed slot of each row
    mask: Tensor  # (E, R, T) bool, real token
    rows_index: Tensor  # (E*R*T,) flat packed position of row token (e, r, t); padding -> e*n
    packed_index: Tensor  # (E*n,) flat row position of packed slot (e, p); padding -> e*R*T
    n: int  # packed slots per episode
    T: int  # longest row

    @classmethod
    def from_lengths(cls, lengths: Tensor, pad_to: int | None = None) -> Packing:
        """``lengths`` (E, R): real tokens of every row (right-padded rows). ``pad_to``: the
        row length attention sees (default the longest row): a padded batch's own ``T``
        reproduces that batch's attention reductions exactly."""
        lengths = lengths.long()
        E, R = lengths.shape
        T, n = max(int(lengths.max()), pad_to or 0), int(lengths.sum(1).max())
        starts = lengths.cumsum(1) - lengths  # (E, R)
        t = torch.arange(T, device=lengths.device)
        mask = t < lengths[..., None]  # (E, R, T)
        base = torch.arange(E, device=lengths.device)[:, None, None]  # (E, 1, 1)
        pos = torch.where(mask, starts[..., None] + t, 0) + base * n  # (E, R, T)
        packed_index = (base * (R * T)).expand(E, n, 1).reshape(-1).clone()  # (E*n,)
        flat_rows = torch.arange(E * R * T, device=lengths.device).view(E, R, T)
        packed_index[pos[mask]] = flat_rows[mask]
        return cls(lengths, starts, mask, pos.reshape(-1), packed_index, n, T)

    @property
    def episodes(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def rows(self) -> int:
        return int(self.lengths.shape[1])

    def to_rows(self, x: Tensor) -> Tensor:
        """(E, n, C) packed -> (E, R, T, C) per row (padding positions hold some real token)."""
        E, _, C = x.shape
        return x.reshape(-1, C).index_select(0, self.rows_index).view(E, self.rows, self.T, C)

    def to_packed(self, y: Tensor) -> Tensor:
        """(E, R, T, C) per row -> (E, n, C) packed."""
        C = y.shape[-1]
        out = y.reshape(-1, C).index_select(0, self.packed_index)
        return out.view(self.episodes, self.n, C)

    def source_index(self, row_start: Tensor) -> Tensor:
        """(E*n,) source positions of every packed slot when row (e, r) is stored contiguously
        from ``row_start[e, r]`` in some flat token table (padding slots -> a real token)."""
        E, R = self.lengths.shape
        t = torch.arange(self.T, device=row_start.device)
        src = (row_start[..., None] + t)[self.mask]  # (tokens,)
        out = row_start[:, :1].expand(E, self.n).reshape(-1).clone()  # (E*n,)
        out[self.rows_index.view(E, R, self.T)[self.mask]] = src
        return out

    def pool(self, x: Tensor, pooling: Pooling) -> Tensor:
        """(E, n, H) packed token states -> (E, R, H): masked mean per row, or its first token."""
        if pooling == "cls":
            base = torch.arange(self.episodes, device=x.device)[:, None] * self.n
            first = (self.starts + base).reshape(-1)  # (E*R,)
            return (
                x.reshape(-1, x.shape[-1])
                .index_select(0, first)
                .view(self.episodes, -1, x.shape[-1])
            )
        rows = self.to_rows(x)  # (E, R, T, H)
        m = self.mask.to(x.dtype).unsqueeze(-1)  # (E, R, T, 1)
        return (rows * m).sum(2) / m.sum(2).clamp(min=1.0)  # (E, R, H)


def packable(encoder: nn.Module, start: int = 0) -> bool:
    """True when every layer ``start..`` of a BERT-like ``encoder`` is a plain post-norm block
    (absolute positions, no cross-attention, no pruned heads, no active dropout) that
    :func:`packed_layer` reproduces exactly."""
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
                if not isinstance(layer.get_submodule(name), nn.Linear):
                    return False
            for name in _NORMS:
                if not isinstance(layer.get_submodule(name), nn.LayerNorm):
                    return False
            attn = layer.get_submodule("attention.self")
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


def _linear(layer: nn.Module, params: Mapping[str, Tensor], name: str, x: Tensor) -> Tensor:
    """(E, n, in) -> (E, n, out) with a shared (out, in) or per-episode (E, out, in) weight.

    Shared: ``F.linear`` (addmm, as ``nn.Linear``); per-episode: one ``baddbmm`` (on CPU the
    same kernel per episode: every token gets the module's own rounding)."""
    w, b = _get(layer, params, f"{name}.weight"), _get(layer, params, f"{name}.bias")
    if w.dim() == 2 and b.dim() == 1:
        return F.linear(x, w, b)
    E = x.shape[0]
    w = w if w.dim() == 3 else w.expand(E, *w.shape)
    b = b if b.dim() == 2 else b.expand(E, *b.shape)
    return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))


def _norm(layer: nn.Module, params: Mapping[str, Tensor], name: str, x: Tensor) -> Tensor:
    """LayerNorm with shared or per-episode (E, H) affine (``addcmul``: the fused kernel's
    rounding)."""
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
    layer: nn.Module, params: Mapping[str, Tensor], x: Tensor, packing: Packing, ext: Tensor
) -> Tensor:
    """One BERT block on packed tokens: (E, n, H) -> (E, n, H).

    ``params``: layer-local names (``attention.self.query.weight``, ...) -> shared or (E, ...)
    tensors; missing names use the layer's own parameters. ``ext``: (E*R, 1, 1, T) additive
    attention mask (:func:`additive_mask`).
    """
    attn: Any = layer.get_submodule("attention.self")
    heads, d = int(attn.num_attention_heads), int(attn.attention_head_size)
    E, R, T = packing.episodes, packing.rows, packing.T

    def heads_of(name: str) -> Tensor:  # (E, n, A) -> (E*R, heads, T, d)
        rows = packing.to_rows(_linear(layer, params, f"attention.self.{name}", x))
        return rows.view(E * R, T, heads, d).transpose(1, 2)

    q, k, v = heads_of("query"), heads_of("key"), heads_of("value")
    if _sdpa(attn):
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=ext)  # (E*R, heads, T, d)
    else:
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + ext  # (E*R, heads, T, T)
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
    ext = additive_mask(packing, x.dtype)
    layers = list(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))
    for layer in layers[:start]:
        x = packed_layer(layer, {}, x, packing, ext)
    return x, packing
