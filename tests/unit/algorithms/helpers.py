"""Tiny episodes, models and an independent hand-unrolled MAML reference for the tests."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import functional_call
from torch.nn import functional as F

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.models import EpisodicClassifier, pool, prototype_head, tiny_encoder


def make_batch(n_way: int, per_class: int, length: int, gen: torch.Generator) -> TextBatch:
    rows = n_way * per_class
    ids = torch.randint(1000, 3000, (rows, length), generator=gen)  # (B, T)
    mask = torch.ones(rows, length, dtype=torch.long)  # (B, T)
    mask[::2, -3:] = 0  # every other row padded: exercises the attention mask and pooling
    ids[mask == 0] = 0
    labels = torch.arange(n_way).repeat_interleave(per_class)  # (B,)
    return TextBatch(ids, mask, labels)


def make_episode(
    n_way: int = 3, shots: int = 2, queries: int = 2, length: int = 8, seed: int = 0
) -> Episode:
    gen = torch.Generator().manual_seed(seed)
    support = make_batch(n_way, shots, length, gen)
    query = make_batch(n_way, queries, length, gen)
    return Episode(support, query, n_way, index=seed)


def make_model(
    adapt: str = "top1", head_init: str = "prototype", seed: int = 0, layers: int = 2
) -> EpisodicClassifier:
    """float64 tiny BERT: reference comparisons at 1e-6 are then far from rounding noise."""
    model = EpisodicClassifier(
        tiny_encoder(seed=seed, layers=layers), adapt=adapt, head_init=head_init
    )  # type: ignore[arg-type]
    return model.double()


def meta_grads(
    model: EpisodicClassifier, loss: Tensor, extra: dict[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """Gradients of ``loss`` w.r.t. every model parameter (zeros where unused) and ``extra``."""
    named = dict(model.named_parameters())
    named.update(extra or {})
    grads = torch.autograd.grad(
        loss, list(named.values()), allow_unused=True, materialize_grads=True
    )
    return dict(zip(named, grads, strict=True))


def max_diff(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def unrolled_maml_loss(
    model: EpisodicClassifier, episode: Episode, lrs: dict[str, Tensor | float], steps: int
) -> Tensor:
    """Second-order MAML written out step by step on the whole model (no caching, no aliases).

    The head is initialised from a forward at the meta parameters ``theta``; the inner variables
    are identity copies ``theta * 1`` so that the head's dependence on ``theta`` is not part of
    the inner gradient (partial derivatives), while the outer gradient sees everything.
    """
    enc = model.encoder
    theta = dict(enc.named_parameters())

    def embed(params: dict[str, Tensor], batch: TextBatch) -> Tensor:
        out = functional_call(
            enc,
            params,
            args=(),
            kwargs={"input_ids": batch.input_ids, "attention_mask": batch.attention_mask},
        )
        return pool(out.last_hidden_state, batch.attention_mask, model.pooling)

    s, q = episode.support, episode.query
    if model.head_init == "prototype":
        w, b = prototype_head(embed(theta, s), s.labels, episode.n_way)
    else:
        h = embed(theta, s)
        w = torch.zeros(episode.n_way, h.shape[1], dtype=h.dtype, requires_grad=True)
        b = torch.zeros(episode.n_way, dtype=h.dtype, requires_grad=True)
    fast = {n: theta[n] * 1.0 for n in model.adapted_names}
    for _ in range(steps):
        logits = embed({**theta, **fast}, s) @ w.T + b
        loss = F.cross_entropy(logits, s.labels)
        grads = torch.autograd.grad(loss, [*fast.values(), w, b], create_graph=True)
        fast = {n: p - lrs[n] * g for (n, p), g in zip(fast.items(), grads[:-2], strict=True)}
        w, b = w - lrs["head.weight"] * grads[-2], b - lrs["head.bias"] * grads[-1]
    logits = embed({**theta, **fast}, q) @ w.T + b
    return F.cross_entropy(logits, q.labels)
