"""An encoder plus a per-episode ``n_way`` head: the model every algorithm meta-learns.

The head has no persistent parameters: every episode builds a fresh ``(W, b)`` with ``n_way``
rows, because episode labels 0..N-1 are an arbitrary permutation of arbitrary classes, so a
head carried across episodes would only learn that permutation. Two initialisations:

- ``prototype`` (Proto-MAML, Triantafillou et al. 2020): ``W_k = 2 c_k``, ``b_k = -||c_k||^2``
  with ``c_k`` the mean support embedding of class ``k``; then ``logits_k = -||h - c_k||^2 +
  ||h||^2``, i.e. a prototypical network before any inner step. It is permutation-equivariant
  (relabelling classes permutes rows) and differentiable, so the encoder also gets outer
  gradients through the initialisation.
- ``zero``: ``W = 0``, ``b = 0``: uniform predictions before adaptation, trivially
  permutation-invariant; the first inner step then moves only the head (the encoder gradient
  through a zero head is zero).

In the inner loop the head entries ``head.weight`` / ``head.bias`` are independent variables
(their inner gradient is the partial derivative); the dependence of the prototype
initialisation on the encoder is seen only by the outer (meta) gradient.
"""

from __future__ import annotations

import logging
from typing import Literal

from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models.adapt import UNUSED_PREFIXES, find_layers, parse_adapt, resolve_adapted
from lightning_meta.models.features import EpisodeFeatures, FullFeatures, TopFeatures, pool

logger = logging.getLogger(__name__)

__all__ = [
    "HEAD_BIAS",
    "HEAD_WEIGHT",
    "EpisodicClassifier",
    "class_means",
    "head_logits",
    "prototype_head",
]

HEAD_WEIGHT, HEAD_BIAS = "head.weight", "head.bias"
BERT_LIKE = {"bert", "roberta", "xlm-roberta", "camembert", "electra", "ernie", "data2vec-text"}
# Encoders whose fixed bottom ``TopFeatures`` can cache: the BERT-like ones and MPNet (the same
# ``embeddings`` + ``encoder.layer`` layout; its layers also take a relative-position bias).
CACHEABLE = BERT_LIKE | {"mpnet"}
# Encoders whose forward reads token ids only through the input-embedding lookup (RoBERTa-style
# models also derive position ids from them), so a per-episode compact vocabulary is exact.
COMPACT_VOCAB = {"bert", "electra", "ernie"}
_warned_full: set[str] = set()


def class_means(h: Tensor, labels: Tensor, n_way: int) -> Tensor:
    """(B, H) embeddings -> (N, H) per-class means (prototypes)."""
    onehot = F.one_hot(labels, n_way).to(h.dtype)  # (B, N)
    return onehot.T @ h / onehot.sum(0).clamp(min=1.0).unsqueeze(1)  # (N, H)


def prototype_head(h: Tensor, labels: Tensor, n_way: int) -> tuple[Tensor, Tensor]:
    """Proto-MAML head from support embeddings: ``W = 2 C``, ``b = -||C||^2`` per class."""
    protos = class_means(h, labels, n_way)  # (N, H)
    return 2.0 * protos, -(protos * protos).sum(1)  # (N, H), (N,)


def head_logits(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """(B, H) embeddings -> (B, N) logits."""
    return h @ weight.T + bias


class EpisodicClassifier(nn.Module):
    """Encoder + per-episode head; ``adapt`` says which encoder parameters the inner loop moves.

    Args:
        encoder: any transformers encoder (kept as ``self.encoder`` for ``save_pretrained``).
        pooling: ``mean`` over the attention mask (default) or the first (``cls``) token.
        adapt: ``all`` | ``head`` | ``top<k>`` (top k layers + head) | ``re:<regex>`` (+ head).
        head_init: ``prototype`` (Proto-MAML) or ``zero``; see the module docstring.
    """

    def __init__(
        self,
        encoder: nn.Module,
        pooling: Literal["mean", "cls"] = "mean",
        adapt: str = "top1",
        head_init: Literal["zero", "prototype"] = "prototype",
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling: unknown value '{pooling}'; use 'mean' or 'cls'")
        if head_init not in ("zero", "prototype"):
            raise ValueError(f"head_init: unknown value '{head_init}'; use 'prototype' or 'zero'")
        self.encoder = encoder
        self.pooling: Literal["mean", "cls"] = pooling
        self.adapt = adapt
        self.head_init: Literal["zero", "prototype"] = head_init
        self.adapted_names: list[str] = resolve_adapted(encoder, parse_adapt(adapt))
        adapted = set(self.adapted_names)
        self.fixed_names: list[str] = [  # trainable, reach the output, held fixed in the inner loop
            n
            for n, p in encoder.named_parameters()
            if p.requires_grad and n not in adapted and not n.startswith(UNUSED_PREFIXES)
        ]
        self.cache_start: int | None = self._plan_cache()
        self.vocab_param, self.vocab_pad = self._compact_vocab()

    # ----------------------------------------------------------------------------------------
    def _plan_cache(self) -> int | None:
        """Index of the first layer run per inner step when the bottom can be cached, else None."""
        model_type = getattr(getattr(self.encoder, "config", None), "model_type", "")
        found = find_layers(self.encoder)
        bert_like = (
            model_type in CACHEABLE
            and found is not None
            and found[0] == "encoder.layer"
            and hasattr(self.encoder, "embeddings")
            and not getattr(self.encoder.config, "is_decoder", False)
        )
        if not bert_like:
            if self.adapt != "all" and model_type not in _warned_full:
                _warned_full.add(model_type)
                logger.info(
                    "%s (model_type=%r) is not a known BERT-like encoder: the inner loop runs the "
                    "whole model every step (correct, slower)",
                    type(self.encoder).__name__,
                    model_type,
                )
            return None
        assert found is not None
        n_layers = len(found[1])
        starts = []
        for name in self.adapted_names:
            if not name.startswith("encoder.layer."):
                return None  # e.g. embeddings adapt: nothing below is fixed
            starts.append(int(name.split(".")[2]))
        return min(starts, default=n_layers)

    def _compact_vocab(self) -> tuple[str | None, int | None]:
        """(name, padding_idx) of the input-embedding matrix when it adapts and a per-episode
        compact vocabulary is exact (see ``FullFeatures``); (None, None) otherwise."""
        model_type = getattr(getattr(self.encoder, "config", None), "model_type", "")
        get = getattr(self.encoder, "get_input_embeddings", None)
        if model_type not in COMPACT_VOCAB or not callable(get):
            return None, None
        lookup = get()
        weight = getattr(lookup, "weight", None)
        names = [n for n, p in self.encoder.named_parameters() if p is weight]
        if not names or names[0] not in self.adapted_names:
            return None, None
        return names[0], getattr(lookup, "padding_idx", None)

    @property
    def caches_bottom(self) -> bool:
        return self.cache_start is not None

    def adapted_params(self) -> dict[str, Tensor]:
        """The encoder parameters moved by the inner loop (encoder-relative names)."""
        params = dict(self.encoder.named_parameters())
        return {n: params[n] for n in self.adapted_names}

    def features(self, episode: Episode, support_grad: bool, query_grad: bool) -> EpisodeFeatures:
        """Per-episode feature extractor; the fixed bottom runs here, once."""
        if self.cache_start is None:
            s, q = episode.support, episode.query
            return FullFeatures(self.encoder, s, q, self.pooling, self.vocab_param, self.vocab_pad)
        return TopFeatures(
            self.encoder,
            self.cache_start,
            episode.support,
            episode.query,
            self.pooling,
            support_grad=support_grad,
            query_grad=query_grad,
        )

    def init_head(self, h: Tensor, labels: Tensor, n_way: int) -> tuple[Tensor, Tensor]:
        """Per-episode head ``(W (N, H), b (N,))`` from support embeddings ``h`` (B, H)."""
        if self.head_init == "prototype":
            return prototype_head(h, labels, n_way)
        return h.new_zeros(n_way, h.shape[1]), h.new_zeros(n_way)

    def embed(self, batch: TextBatch) -> Tensor:
        """(B, H) pooled embeddings under the current (meta) parameters."""
        out = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state  # (B, T, H)
        return pool(hidden, batch.attention_mask, self.pooling)

    def forward(self, batch: TextBatch) -> Tensor:
        return self.embed(batch)

    def extra_repr(self) -> str:
        return f"pooling={self.pooling}, adapt={self.adapt}, head_init={self.head_init}"
