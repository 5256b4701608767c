"""Inner-loop invariants: no mutation, only adapted tensors move, caching is exact, FO is flat."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import Tensor

from lightning_meta.algorithms import (
    InnerLoopConfig,
    adaptation_curve,
    inner_lr_map,
    maml_task,
    protonet_task,
    reptile_task,
)
from lightning_meta.algorithms.inner_loop import inner_loop
from lightning_meta.models import EpisodicClassifier
from tests.unit.algorithms.helpers import make_episode, make_model, max_diff, meta_grads


@pytest.mark.parametrize("backend", ["func", "higher"])
@pytest.mark.parametrize("training,first_order", [(True, False), (True, True), (False, False)])
def test_model_parameters_unchanged(backend: str, training: bool, first_order: bool) -> None:
    model = make_model("top1")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inner = InnerLoopConfig(steps=2, lr=0.5, first_order=first_order, backend=backend)  # type: ignore[arg-type]
    maml_task(model, make_episode(), inner, training=training)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())  # inner grads never hit .grad


def test_only_adapted_tensors_move() -> None:
    model = make_model("top1")
    assert model.adapted_names and all(
        n.startswith("encoder.layer.1.") for n in model.adapted_names
    )
    episode = make_episode()
    feats = model.features(episode, support_grad=False, query_grad=False)
    lrs = inner_lr_map(model, InnerLoopConfig(lr=0.5), None)
    seen: list[dict[str, Tensor]] = []
    ad = inner_loop(
        model,
        feats,
        episode.support.labels,
        episode.n_way,
        2,
        lrs,
        "none",
        lambda k, p, w, b: seen.append(p),
    )
    assert set(ad.params) == set(model.adapted_names) and len(seen) == 3
    theta = model.adapted_params()
    assert all(not torch.equal(ad.params[n], theta[n]) for n in ad.params)


def test_higher_backend_keeps_fixed_tensors() -> None:
    from lightning_meta.algorithms.higher_backend import _adapt, _Patched

    model = make_model("top1")
    pm = _Patched(model, track=False)
    lrs = inner_lr_map(model, InnerLoopConfig(lr=0.5), None)
    res = _adapt(pm, model, make_episode(), lrs, 2, "none")
    for name, meta, fast in zip(pm.names, pm.meta, res.params, strict=True):
        assert torch.equal(meta, fast) != (name in model.adapted_names), name


@pytest.mark.parametrize("first_order", [False, True])
def test_bottom_cache_matches_full_model(first_order: bool) -> None:
    episode = make_episode()
    inner = InnerLoopConfig(steps=2, lr=0.4, first_order=first_order)
    cached = make_model("top1")
    full = make_model("top1")
    assert cached.cache_start == 1
    full.cache_start = None  # force the whole-model functional path
    out_c, out_f = maml_task(cached, episode, inner), maml_task(full, episode, inner)
    assert torch.allclose(out_c.loss, out_f.loss, atol=1e-12, rtol=0)
    assert torch.allclose(out_c.loss_before, out_f.loss_before, atol=1e-12, rtol=0)
    assert max_diff(meta_grads(cached, out_c.loss), meta_grads(full, out_f.loss)) <= 1e-10


def _graph_size(tensors: list[Tensor]) -> int:
    seen, stack = set(), [t.grad_fn for t in tensors if t.grad_fn is not None]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        stack.extend(nxt for nxt, _ in fn.next_functions if nxt is not None)
    return len(seen)


def test_first_order_graph_does_not_grow_with_steps() -> None:
    """FO returns theta - lr * S: the graph to theta is the same size for 1 and 6 steps."""
    model = make_model("top1", head_init="zero")
    episode = make_episode()
    sizes = []
    for steps in (1, 6):
        feats = model.features(episode, support_grad=False, query_grad=True)
        lrs = inner_lr_map(model, InnerLoopConfig(lr=0.5), None)
        ad = inner_loop(model, feats, episode.support.labels, episode.n_way, steps, lrs, "first")
        sizes.append(_graph_size([*ad.params.values(), ad.weight, ad.bias]))
    assert sizes[0] == sizes[1]


def test_evaluation_builds_no_outer_graph() -> None:
    model = make_model("top1")
    with torch.no_grad():  # as in Lightning's validation loop: adaptation must still work
        out = maml_task(model, make_episode(), InnerLoopConfig(steps=3, lr=0.5), training=False)
    assert not out.loss.requires_grad and not out.logits.requires_grad
    assert out.support_loss < out.loss_before + 10  # finite numbers
    assert torch.isfinite(out.loss)


def test_adaptation_curve_starts_at_protonet_accuracy() -> None:
    """At step 0 the Proto-MAML head scores like a prototypical network (euclidean)."""
    model = make_model("top1")
    episode = make_episode(queries=4)
    curve = adaptation_curve(model, episode, InnerLoopConfig(steps=3, lr=0.5))
    proto = protonet_task(model, episode, training=False)
    acc0 = float((proto.logits.argmax(-1) == episode.query.labels).float().mean())
    assert len(curve) == 4 and all(0.0 <= c <= 1.0 for c in curve)
    assert curve[0] == pytest.approx(acc0)
    before = maml_task(model, episode, InnerLoopConfig(steps=0), training=False)
    assert torch.allclose(before.loss, proto.loss) and torch.allclose(
        before.loss_before, proto.loss
    )


def test_second_order_switches_sdpa_to_eager(caplog: pytest.LogCaptureFixture) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = EpisodicClassifier(BertModel(config).eval(), adapt="top1")
    assert model.encoder.config._attn_implementation == "sdpa"
    episode = make_episode()
    with torch.no_grad():
        ref = model.embed(episode.query)
    with caplog.at_level(logging.INFO, logger="lightning_meta"):
        out = maml_task(model, episode, InnerLoopConfig(steps=1, lr=0.5))
    out.loss.backward()  # double backward through attention works
    assert "eager" in caplog.text
    assert model.encoder.config._attn_implementation == "eager"
    assert type(model.encoder.encoder.layer[0].attention.self).__name__ == "BertSelfAttention"
    with torch.no_grad():
        assert torch.allclose(model.embed(episode.query), ref, atol=1e-6)


@pytest.mark.parametrize("first_order", [False, True])
def test_compact_vocabulary_is_exact(first_order: bool) -> None:
    """adapt=all runs on the episode's own rows of the word-embedding matrix: same numbers as
    the full (V, H) matrix, also when the pad token (whose lookup gradient is zeroed) is absent
    from the episode (pad positions hold another id here; the mask hides them)."""
    episode = make_episode()
    for batch in (episode.support, episode.query):
        batch.input_ids[batch.input_ids == 0] = 7
    inner = InnerLoopConfig(steps=2, lr=0.4, first_order=first_order)
    compact, full = make_model("all"), make_model("all")
    assert compact.vocab_param == "embeddings.word_embeddings.weight" and compact.vocab_pad == 0
    full.vocab_param = None
    out_c, out_f = maml_task(compact, episode, inner), maml_task(full, episode, inner)
    assert torch.allclose(out_c.loss, out_f.loss, atol=1e-12, rtol=0)
    assert max_diff(meta_grads(compact, out_c.loss), meta_grads(full, out_f.loss)) <= 1e-10
    rep_c = reptile_task(compact, episode, inner)
    rep_f = reptile_task(full, episode, inner)
    assert max_diff(rep_c.grads, rep_f.grads) <= 1e-10
