"""Packed BERT layers equal the Hugging Face layer on padded rows (tiny BERT, float64)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from lightning_meta.models import pool, tiny_encoder
from lightning_meta.models.features import TopFeatures, extended_mask
from lightning_meta.models.packed import (
    Packing,
    additive_mask,
    packable,
    packed_bottom,
    packed_layer,
)


def padded(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    T = max(lengths)
    ids = torch.randint(1000, 3000, (len(lengths), T), generator=gen)
    mask = (torch.arange(T) < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


def test_packing_layout_by_hand() -> None:
    p = Packing.from_lengths(torch.tensor([[2, 1], [1, 3]]))  # 2 episodes, 2 rows each
    assert (p.n, p.T) == (4, 3)
    assert p.starts.tolist() == [[0, 2], [0, 1]]
    x = torch.arange(8.0).view(2, 4, 1)  # packed slot values: e*4 + p
    rows = p.to_rows(x)[..., 0]
    assert (rows * p.mask).tolist() == [[[0, 1, 0], [2, 0, 0]], [[4, 0, 0], [5, 6, 7]]]
    assert torch.equal(p.to_packed(p.to_rows(x))[0, :3], x[0, :3])  # slot 3 of episode 0: padding
    assert torch.equal(p.to_packed(p.to_rows(x))[1], x[1])
    # rows stored from positions 10, 20 (episode 0) and 30, 40 (episode 1) of a flat table
    src = p.source_index(torch.tensor([[10, 20], [30, 40]])).view(2, 4)
    assert src[0, :3].tolist() == [10, 11, 20] and src[1].tolist() == [30, 40, 41, 42]
    pooled = p.pool(x, "mean")[..., 0]
    assert pooled.tolist() == [[0.5, 2.0], [4.0, 6.0]]
    assert p.pool(x, "cls")[..., 0].tolist() == [[0.0, 2.0], [4.0, 5.0]]


@pytest.mark.parametrize("start", [0, 1, 2])
def test_packed_bottom_equals_hf_layers(start: int) -> None:
    enc = tiny_encoder().double()
    ids, mask = padded([9, 3, 5, 1, 7])
    with torch.no_grad():
        ref, _ = TopFeatures._bottom(enc, start, ids, mask)  # (B, T, H)
        x, packing = packed_bottom(enc, start, ids, mask)
    got = packing.to_rows(x)[0]
    assert float(((got - ref) * mask[..., None]).abs().max()) < 1e-12
    for pooling in ("mean", "cls"):
        assert torch.allclose(packing.pool(x, pooling)[0], pool(ref, mask, pooling), atol=1e-12)  # type: ignore[arg-type]


def test_per_episode_parameters_equal_one_call_per_episode() -> None:
    enc = tiny_encoder().double()
    layer = enc.encoder.layer[1]
    own = dict(layer.named_parameters())
    gen = torch.Generator().manual_seed(1)
    lengths = [[9, 3, 5, 1, 7], [2, 8, 8, 4, 6]]
    hidden, masks, params = [], [], []
    for e, ls in enumerate(lengths):
        ids, mask = padded(ls, seed=e)
        h, _ = TopFeatures._bottom(enc, 1, ids, mask)
        hidden.append(h)
        masks.append(mask)
        params.append({n: p + 0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
                       for n, p in own.items()})  # fmt: skip
    stacked = {n: torch.stack([p[n] for p in params]) for n in own}
    del stacked["attention.self.key.bias"]  # a shared (module) tensor among per-episode ones
    packing = Packing.from_lengths(torch.tensor(lengths))
    T = packing.T
    rows = torch.stack([torch.nn.functional.pad(h, (0, 0, 0, T - h.shape[1])) for h in hidden])
    x = packing.to_packed(rows)
    out = packing.to_rows(packed_layer(layer, stacked, x, packing, additive_mask(packing, x.dtype)))
    for e in range(2):
        local = {**params[e], "attention.self.key.bias": own["attention.self.key.bias"]}
        kwargs = {"attention_mask": extended_mask(masks[e], x.dtype)}
        ref = functional_call(layer, local, args=(hidden[e],), kwargs=kwargs)
        ref = ref[0] if isinstance(ref, tuple) else ref
        m = masks[e][..., None]
        assert float(((out[e, :, : ref.shape[1]] - ref) * m).abs().max()) < 1e-12


def test_packable() -> None:
    enc = tiny_encoder()
    assert packable(enc) and packable(enc, 1)
    enc.config.position_embedding_type = "relative_key"
    assert not packable(enc)
    enc = tiny_encoder()
    enc.encoder.layer[1].output.dropout.p = 0.1
    enc.train()
    assert packable(enc, 0) is False
    enc.eval()
    assert packable(enc, 0)
    assert not packable(torch.nn.Linear(2, 2))
