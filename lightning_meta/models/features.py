"""Per-episode feature extractors: pooled embeddings as a function of the adapted parameters.

``TopFeatures`` (BERT-like encoders: ``embeddings`` + ``encoder.layer``; MPNet too, whose
layers also take the relative-position bias the encoder computes once) runs the fixed bottom
(embeddings and the layers below the first adapted one) ONCE per episode, for support and query,
and re-runs only the adapted top layers functionally for every inner step and for the query.
``FullFeatures`` runs the whole model through ``torch.func.functional_call`` each time: correct
for any architecture, just slower.

Parameter dicts use names relative to the encoder (``encoder.named_parameters()``); names not in
the dict fall back to the module's own (meta) parameters.
"""

from __future__ import annotations

from typing import Literal, Protocol, cast

import torch
from torch import Tensor, nn
from torch.func import functional_call

from lightning_meta.data.episode import TextBatch

__all__ = [
    "EpisodeFeatures",
    "FullFeatures",
    "TopFeatures",
    "extended_mask",
    "pool",
    "position_bias",
]

Split = Literal["support", "query"]
Pooling = Literal["mean", "cls"]


def pool(hidden: Tensor, mask: Tensor, pooling: Pooling) -> Tensor:
    """(B, T, H) token states -> (B, H): masked mean over real tokens, or the first token."""
    if pooling == "cls":
        return hidden[:, 0]
    m = mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, H)


def extended_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, T) 1/0 padding mask -> (B, 1, 1, T) additive mask (0 keep, dtype-min drop), the format
    BertLayer's eager and SDPA attention both add to the attention scores."""
    m = mask[:, None, None, :].to(dtype)  # (B, 1, 1, T)
    return (1.0 - m) * torch.finfo(dtype).min


class EpisodeFeatures(Protocol):
    def inner_params(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        """Meta parameters -> the per-episode tensors the inner loop adapts (same names)."""
        ...

    def to_full(self, name: str, value: Tensor) -> Tensor:
        """A per-episode tensor (e.g. a difference of two) -> the shape of the model parameter."""
        ...

    def embed(self, params: dict[str, Tensor], split: Split) -> Tensor:
        """Pooled (B, H) embeddings of the support or query rows under (per-episode) ``params``."""
        ...


class FullFeatures:
    """Whole-model functional forward for every call (any architecture).

    With ``vocab_param`` (the input-embedding matrix name, for encoders whose forward uses token
    ids only to look up that matrix) the episode runs on a compact vocabulary: the rows of its
    ``U`` distinct tokens (U, H) replace the (V, H) matrix and the ids are remapped (ids up to
    the lookup's ``padding_idx`` keep their place, as its gradient is zeroed). The outputs
    and gradients are exactly those of the full matrix (other rows get no gradient), while the
    inner loop no longer builds, scales and subtracts dense (V, H) gradients every step.
    """

    def __init__(
        self,
        encoder: nn.Module,
        support: TextBatch,
        query: TextBatch,
        pooling: Pooling,
        vocab_param: str | None = None,
        padding_idx: int | None = None,
    ):
        self.encoder = encoder
        self.pooling = pooling
        self.vocab_param = vocab_param
        self.rows: Tensor | None = None
        if vocab_param is not None:
            ids = torch.cat([support.input_ids, query.input_ids]).flatten()  # (L,)
            if padding_idx is not None:  # keep ids 0..padding_idx in place: the lookup zeroes
                keep = torch.arange(padding_idx + 1, device=ids.device)  # the gradient of that row
                ids = torch.cat([keep, ids])
            self.rows, local = torch.unique(ids, return_inverse=True)  # (U,), (L,)
            local = local[len(ids) - support.input_ids.numel() - query.input_ids.numel() :]
            local = local.view(-1, support.input_ids.shape[1])  # (Ns+Nq, T)
            n = len(support)
            support = TextBatch(local[:n], support.attention_mask, support.labels)
            query = TextBatch(local[n:], query.attention_mask, query.labels)
        self.batches = {"support": support, "query": query}

    def inner_params(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        name = self.vocab_param
        if name is None or name not in params:
            return params
        assert self.rows is not None
        return {**params, name: params[name].index_select(0, self.rows)}  # (U, H)

    def to_full(self, name: str, value: Tensor) -> Tensor:
        if name != self.vocab_param:
            return value
        assert self.rows is not None
        full = self.encoder.get_parameter(name)
        return value.new_zeros(full.shape).index_copy_(0, self.rows, value)  # (V, H)

    def embed(self, params: dict[str, Tensor], split: Split) -> Tensor:
        batch = self.batches[split]
        name = self.vocab_param
        if name is not None and name not in params:  # the meta matrix, compact rows
            params = self.inner_params({**params, name: self.encoder.get_parameter(name)})
        kwargs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        out = functional_call(self.encoder, params, args=(), kwargs=kwargs)
        hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state  # (B, T, H)
        return pool(hidden, batch.attention_mask, self.pooling)


class TopFeatures:
    """Cached bottom of a BERT-like encoder + functional top layers ``start..L-1``.

    ``support_grad`` / ``query_grad`` say whether the bottom output must carry a graph to the
    (meta) parameters; when both agree, support and query share one bottom forward.
    """

    def __init__(
        self,
        encoder: nn.Module,
        start: int,
        support: TextBatch,
        query: TextBatch,
        pooling: Pooling,
        support_grad: bool,
        query_grad: bool,
    ):
        self.layers = bert_layers(encoder)[start:]
        self.pooling = pooling
        # Parameter-name prefix of each top layer (functional_call wants layer-local names).
        self.prefixes = [f"encoder.layer.{start + i}." for i in range(len(self.layers))]
        self.masks = {"support": support.attention_mask, "query": query.attention_mask}
        self.hidden: dict[str, Tensor] = {}
        # Per split, what every layer takes besides the hidden states: the additive mask
        # (B, 1, 1, T) and, for MPNet, the position bias (B, heads, T, T).
        self.layer_kwargs: dict[str, dict[str, Tensor]] = {}
        if support_grad == query_grad:
            ids = torch.cat([support.input_ids, query.input_ids])  # (Ns+Nq, T)
            mask = torch.cat([support.attention_mask, query.attention_mask])  # (Ns+Nq, T)
            with torch.set_grad_enabled(support_grad):
                hidden, kwargs = self._bottom(encoder, start, ids, mask)  # (Ns+Nq, T, H)
            n = len(support)
            self.hidden = {"support": hidden[:n], "query": hidden[n:]}
            self.layer_kwargs = {
                "support": {k: v[:n] for k, v in kwargs.items()},
                "query": {k: v[n:] for k, v in kwargs.items()},
            }
        else:
            for split, batch, grad in (
                ("support", support, support_grad),
                ("query", query, query_grad),
            ):
                with torch.set_grad_enabled(grad):
                    hidden, kwargs = self._bottom(
                        encoder, start, batch.input_ids, batch.attention_mask
                    )
                self.hidden[split], self.layer_kwargs[split] = hidden, kwargs

    def inner_params(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        return params

    def to_full(self, name: str, value: Tensor) -> Tensor:
        return value

    @staticmethod
    def _bottom(
        encoder: nn.Module, start: int, ids: Tensor, mask: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """(hidden (B, T, H) after layer ``start - 1``, the layers' keyword arguments: the
        additive mask and, for MPNet, its position bias)."""
        hidden = encoder.embeddings(input_ids=ids)  # type: ignore[operator]  # (B, T, E)
        project = getattr(encoder, "embeddings_project", None)  # ELECTRA: E -> H
        if project is not None:
            hidden = project(hidden)  # (B, T, H)
        kwargs = {"attention_mask": extended_mask(mask, hidden.dtype)}  # (B, 1, 1, T)
        bias = position_bias(encoder, hidden)
        if bias is not None:
            kwargs["position_bias"] = bias  # (B, heads, T, T)
        for layer in bert_layers(encoder)[:start]:
            hidden = _layer_out(layer(hidden, **kwargs))  # (B, T, H)
        return hidden, kwargs

    def embed(self, params: dict[str, Tensor], split: Split) -> Tensor:
        hidden, kwargs = self.hidden[split], self.layer_kwargs[split]  # (B, T, H)
        for prefix, layer in zip(self.prefixes, self.layers, strict=True):
            cut = len(prefix)
            local = {k[cut:]: v for k, v in params.items() if k.startswith(prefix)}
            hidden = _layer_out(functional_call(layer, local, args=(hidden,), kwargs=kwargs))
        return pool(hidden, self.masks[split], self.pooling)  # (B, H)


def position_bias(encoder: nn.Module, hidden: Tensor) -> Tensor | None:
    """MPNet's relative-position bias (B, heads, T, T), computed once by its encoder from the
    shared ``encoder.relative_attention_bias`` table and added by every layer; None for
    encoders without one (BERT-like: absolute positions, already in the embeddings)."""
    inner = getattr(encoder, "encoder", None)
    compute = getattr(inner, "compute_position_bias", None)
    return compute(hidden) if callable(compute) else None


def bert_layers(encoder: nn.Module) -> list[nn.Module]:
    """The transformer blocks ``encoder.encoder.layer`` of a BERT-like model."""
    return list(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))


def _layer_out(out: Tensor | tuple[Tensor, ...]) -> Tensor:
    """transformers 4.x layers return a tuple ``(hidden, *attentions)``; newer ones a tensor."""
    return out[0] if isinstance(out, tuple) else out
