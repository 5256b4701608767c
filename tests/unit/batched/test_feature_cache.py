"""Cached + batched evaluation gives today's per-episode scores (tiny BERT, float64)."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.evaluation.cached_scoring import cache_plan, cached_outputs
from lightning_meta.evaluation.feature_cache import FeatureCache, trunk_fingerprints
from lightning_meta.evaluation.text_index import TextIndex
from lightning_meta.lightning import MAML, FineTune, ProtoNet, Reptile
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from tests.unit.batched.helpers import pool_episodes

TOL = 1e-9


def per_episode(module, episodes) -> list[TaskOutput]:
    module.eval()
    with torch.enable_grad():
        return [module.evaluate_episode(ep) for ep in episodes]


def assert_same(old: list[TaskOutput], new: list[TaskOutput] | None, tol: float = TOL) -> None:
    assert new is not None and len(new) == len(old)
    for a, b in zip(old, new, strict=True):
        assert a.logits.shape == b.logits.shape
        assert float((a.logits - b.logits).abs().max()) <= tol
        assert torch.equal(a.logits.argmax(-1), b.logits.argmax(-1))
        for name in ("loss", "loss_before", "support_loss"):
            assert abs(float(getattr(a, name)) - float(getattr(b, name))) <= tol, name


def finetune(adapt: str, head: str = "prototype", pooling: str = "mean", steps: int = 2):
    inner = InnerLoopArgs(adapt=adapt, head_init=head, steps=steps, lr=0.3)  # type: ignore[arg-type]
    return FineTune(EncoderConfig("tiny", pooling), inner).double()  # type: ignore[arg-type]


@pytest.mark.parametrize("adapt", ["head", "top1", "top2", r"re:layer\.1\.(attention|output)\."])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("head", ["prototype", "zero"])
def test_cached_equals_per_episode(adapt: str, pooling: str, head: str) -> None:
    episodes = pool_episodes(5)
    module = finetune(adapt, head, pooling)
    old = per_episode(module, episodes)
    new = cached_outputs(module, FeatureCache(episodes), episodes_per_batch=2)
    assert_same(old, new)


def test_adapt_all_takes_the_old_path() -> None:
    module = finetune("all")
    assert cache_plan(module) is None
    assert cached_outputs(module, FeatureCache(pool_episodes(2))) is None


def test_higher_backend_takes_the_old_path() -> None:
    inner = InnerLoopArgs(adapt="top1", backend="higher")
    assert cache_plan(FineTune(EncoderConfig("tiny"), inner)) is None


def test_learned_inner_rates_and_meta_modules() -> None:
    episodes = pool_episodes(4, seed=3)
    maml = MAML(True, EncoderConfig("tiny"), InnerLoopArgs(steps=3, learn_lr=True, eval_steps=2))
    maml = maml.double()
    assert maml.inner_lrs is not None
    with torch.no_grad():  # distinct rates per tensor: a mixed-up key would show
        for i, p in enumerate(maml.inner_lrs.values()):
            p.fill_(0.1 + 0.05 * i)
    assert_same(per_episode(maml, episodes), cached_outputs(maml, FeatureCache(episodes)))
    reptile = Reptile(encoder=EncoderConfig("tiny"), inner=InnerLoopArgs(adapt="top2")).double()
    assert_same(per_episode(reptile, episodes), cached_outputs(reptile, FeatureCache(episodes)))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_centroid_rows(distance: str, pooling: str) -> None:
    episodes = pool_episodes(4)
    module = ProtoNet(distance, EncoderConfig("tiny", pooling)).double()  # type: ignore[arg-type]
    assert_same(per_episode(module, episodes), cached_outputs(module, FeatureCache(episodes)))


def test_rows_with_the_same_trunk_share_it() -> None:
    """Two module objects with equal bottoms: the second row encodes nothing new; a row
    whose bottom differs gets its own entry. The centroid row reuses the pooled embeddings."""
    episodes = pool_episodes(4)
    cache = FeatureCache(episodes)
    notes: list[str] = []

    class Notes:
        def note(self, msg: str) -> None:
            notes.append(msg)

        def advance(self, n: int = 1) -> None:
            pass

    a, b = finetune("top1"), finetune("top1")
    assert trunk_fingerprints(a.model.encoder) == trunk_fingerprints(b.model.encoder)
    cached_outputs(a, cache, progress=Notes())  # type: ignore[arg-type]
    cached_outputs(b, cache, progress=Notes())  # type: ignore[arg-type]
    assert len(notes) == 1 and len(cache._states) == 1
    pooled_before = len(cache._pooled)
    centroid = ProtoNet("cosine", EncoderConfig("tiny")).double()
    assert_same(per_episode(centroid, episodes), cached_outputs(centroid, cache))
    assert len(cache._pooled) == pooled_before  # same full-model fingerprint: reused
    c = finetune("top1")
    with torch.no_grad():
        c.model.encoder.encoder.layer[0].output.dense.bias.add_(0.1)
    assert trunk_fingerprints(c.model.encoder)[:1] == trunk_fingerprints(a.model.encoder)[:1]
    assert trunk_fingerprints(c.model.encoder)[1] != trunk_fingerprints(a.model.encoder)[1]
    assert_same(per_episode(c, episodes), cached_outputs(c, cache, progress=Notes()))  # type: ignore[arg-type]
    assert len(notes) == 2 and len(cache._states) == 2


def test_text_index_counts_unique_texts() -> None:
    episodes = pool_episodes(6, pool=15)
    index = TextIndex.build(episodes)
    rows = {tuple(b.input_ids[r, : int(b.attention_mask[r].sum())].tolist())
            for ep in episodes for b in (ep.support, ep.query) for r in range(len(b))}  # fmt: skip
    assert len(index) == len(rows) <= 15
    for i, ep in enumerate(episodes):
        for split in ("support", "query"):
            batch, tids = getattr(ep, split), getattr(index, split)[i]
            for r, t in enumerate(tids.tolist()):
                n = int(batch.attention_mask[r].sum())
                assert torch.equal(index.tokens[t], batch.input_ids[r, :n])


def test_chunks_bound_memory_and_keep_the_scores() -> None:
    """A budget below one trunk's states: episodes go in chunks, states stay within budget."""
    episodes = pool_episodes(6, pool=40)
    module = finetune("top1")
    full = FeatureCache(episodes)
    whole = cached_outputs(module, full)
    per_token = 32 * 8  # hidden 32, float64
    budget = int(full.index.lengths.sum()) * per_token // 3
    small = FeatureCache(episodes, max_bytes=budget)
    assert len(small.index.chunks(per_token, budget)) > 1
    assert_same(whole or [], cached_outputs(module, small))
    assert sum(s.nbytes for s in small._states.values()) <= budget


def test_bfloat16_storage_is_close() -> None:
    episodes = pool_episodes(4)
    module = finetune("top1")
    old = per_episode(module, episodes)
    new = cached_outputs(module, FeatureCache(episodes, storage="bfloat16"))
    assert new is not None
    diff = max(float((a.logits - b.logits).abs().max()) for a, b in zip(old, new, strict=True))
    assert 0 < diff < 0.05  # rounded (not exact) and close
