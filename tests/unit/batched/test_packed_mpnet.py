"""MPNet on the packed paths (relative-position bias in every layer): exact against its own
Hugging Face forward, the batched meta-batch against the per-task path, the evaluation
cache against the per-episode loop."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.algorithms import InnerLoopConfig, maml_task
from lightning_meta.algorithms.batched import batchable, batched_maml_tasks
from lightning_meta.evaluation.cached_scoring import cache_plan, cached_outputs
from lightning_meta.evaluation.feature_cache import FeatureCache, trunk_fingerprints
from lightning_meta.lightning import FineTune
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from lightning_meta.models import EpisodicClassifier, pool
from lightning_meta.models.packed import packable, packed_bottom
from tests.unit.algorithms.helpers import max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes
from tests.unit.batched.test_feature_cache import assert_same, per_episode
from tests.unit.batched.test_packed import padded
from tests.unit.models.test_mpnet_cache import tiny_mpnet


@pytest.mark.parametrize("start", [0, 2, 3])
def test_packed_bottom_equals_the_hugging_face_forward(start: int) -> None:
    enc = tiny_mpnet()
    assert packable(enc) and packable(enc, 2)
    ids, mask = padded([9, 3, 5, 1, 7])
    with torch.no_grad():
        ref = enc(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        x, packing = packed_bottom(enc, start, ids, mask)
    want = ref.hidden_states[start]  # (B, T, H) after layer start-1 (0: the embeddings)
    got = packing.to_rows(x)[0]
    assert float(((got - want) * mask[..., None]).abs().max()) < 1e-12
    if start == 3:
        assert torch.allclose(packing.pool(x, "mean")[0], pool(want, mask, "mean"), atol=1e-12)
    # the position bias is what makes it exact: a zero table computes something else
    with torch.no_grad():
        enc.encoder.relative_attention_bias.weight.zero_()
        x0, _ = packed_bottom(enc, 3, ids, mask)
    assert (
        float(((packing.to_rows(x0)[0] - ref.hidden_states[3]).abs() * mask[..., None]).max())
        > 1e-3
    )


@pytest.mark.parametrize("first_order", [True, False], ids=["fomaml", "maml"])
def test_batched_meta_gradients_equal_the_per_task_path(first_order: bool) -> None:
    episodes = pool_episodes(3, seed=5)
    inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order)
    grads, outs = {}, {}
    for kind in ("per-task", "batched"):
        m = EpisodicClassifier(tiny_mpnet(), adapt="top1").double()  # type: ignore[arg-type]
        if kind == "per-task":
            out = [maml_task(m, ep, inner) for ep in episodes]
        else:
            assert batchable(m, inner, episodes)
            out = batched_maml_tasks(m, episodes, inner)
        grads[kind] = meta_grads(m, torch.stack([o.loss for o in out]).mean())
        outs[kind] = out
    table = "encoder.encoder.relative_attention_bias.weight"
    assert float(grads["per-task"][table].abs().max()) > 1e-4  # the shared table gets a gradient
    assert max_diff(grads["per-task"], grads["batched"]) <= 1e-6
    for a, b in zip(outs["per-task"], outs["batched"], strict=True):
        assert float((a.logits - b.logits).abs().max()) <= 1e-6


def mpnet_finetune(adapt: str = "top1") -> FineTune:
    module = FineTune(EncoderConfig("tiny"), InnerLoopArgs(adapt=adapt, steps=2, lr=0.3))  # type: ignore[arg-type]
    module.model = EpisodicClassifier(tiny_mpnet(), adapt=adapt)  # type: ignore[arg-type]
    return module.double()


@pytest.mark.parametrize("adapt", ["head", "top1"])
def test_evaluation_cache_equals_the_per_episode_loop(adapt: str) -> None:
    episodes = pool_episodes(5)
    module = mpnet_finetune(adapt)
    assert cache_plan(module) is not None
    assert_same(
        per_episode(module, episodes),
        cached_outputs(module, FeatureCache(episodes), episodes_per_batch=2),
    )


def test_the_position_table_is_part_of_every_fingerprint() -> None:
    """Two MPNets that differ only in the shared table must not share cached states."""
    a, b = tiny_mpnet(), tiny_mpnet()
    assert trunk_fingerprints(a) == trunk_fingerprints(b)
    with torch.no_grad():
        b.encoder.relative_attention_bias.weight[0, 0] += 1.0
    assert all(x != y for x, y in zip(trunk_fingerprints(a), trunk_fingerprints(b), strict=True))
