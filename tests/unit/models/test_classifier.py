"""Head initialisation, pooling and encoders."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.data.episode import TextBatch
from lightning_meta.models import (
    EpisodicClassifier,
    ensure_eager,
    load_encoder,
    pool,
    prototype_head,
    tiny_encoder,
)


def test_prototype_head_numbers() -> None:
    h = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # (B, H)
    labels = torch.tensor([0, 0, 1, 1])
    w, b = prototype_head(h, labels, 2)  # c0 = (2, 0), c1 = (1, 2)
    assert torch.equal(w, torch.tensor([[4.0, 0.0], [2.0, 4.0]]))
    assert torch.equal(b, torch.tensor([-4.0, -5.0]))
    logits = h @ w.T + b
    dist = -(torch.cdist(h, torch.tensor([[2.0, 0.0], [1.0, 2.0]])) ** 2) + (h**2).sum(
        1, keepdim=True
    )
    assert torch.allclose(logits, dist)


def test_zero_head_and_label_permutation() -> None:
    model = EpisodicClassifier(tiny_encoder(), head_init="zero")
    w, b = model.init_head(torch.randn(6, 32), torch.tensor([0, 0, 1, 1, 2, 2]), 3)
    assert w.shape == (3, 32) and b.shape == (3,) and not w.any() and not b.any()
    proto = EpisodicClassifier(tiny_encoder())
    h, labels = torch.randn(6, 32), torch.tensor([0, 0, 1, 1, 2, 2])
    perm = torch.tensor([2, 0, 1])  # relabel classes: rows of the head permute the same way
    w1, b1 = proto.init_head(h, labels, 3)
    w2, b2 = proto.init_head(h, perm[labels], 3)
    assert torch.allclose(w2[perm], w1) and torch.allclose(b2[perm], b1)


def test_pooling() -> None:
    hidden = torch.arange(12.0).view(1, 3, 4).repeat(2, 1, 1)  # (B, T, H)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    mean = pool(hidden, mask, "mean")
    assert torch.equal(mean[0], hidden[0, :2].mean(0)) and torch.equal(mean[1], hidden[1].mean(0))
    assert torch.equal(pool(hidden, mask, "cls"), hidden[:, 0])


def test_embed_shapes_and_validation() -> None:
    model = EpisodicClassifier(tiny_encoder(hidden=32), pooling="cls")
    batch = TextBatch(
        torch.randint(0, 100, (4, 5)),
        torch.ones(4, 5, dtype=torch.long),
        torch.zeros(4, dtype=torch.long),
    )
    assert model.embed(batch).shape == (4, 32)
    with pytest.raises(ValueError, match="pooling"):
        EpisodicClassifier(tiny_encoder(), pooling="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="head_init"):
        EpisodicClassifier(tiny_encoder(), head_init="random")  # type: ignore[arg-type]


def test_tiny_encoder_is_deterministic_and_eager() -> None:
    a, b = tiny_encoder(seed=3), tiny_encoder(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a.config._attn_implementation == "eager" and not ensure_eager(a)


def test_load_minilm_offline() -> None:
    model = load_encoder("minilm", attn_implementation="eager")
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert model.config._attn_implementation == "eager"
