"""MPNet (relative-position bias in every layer) takes the cached-bottom path, exactly."""

from __future__ import annotations

import torch
from transformers import MPNetConfig, MPNetModel

from lightning_meta.algorithms import InnerLoopConfig, maml_task
from lightning_meta.models import EpisodicClassifier, TopFeatures, pool
from tests.unit.algorithms.helpers import make_episode, max_diff, meta_grads


def tiny_mpnet(seed: int = 0) -> MPNetModel:
    config = MPNetConfig(
        vocab_size=30522,  # make_episode draws ids from MiniLM's vocabulary size
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        relative_attention_num_buckets=32,  # compute_position_bias assumes 32
    )
    torch.manual_seed(seed)
    model = MPNetModel(config, add_pooling_layer=False)
    with torch.no_grad():  # a bias table far from zero, so a dropped bias cannot pass
        model.encoder.relative_attention_bias.weight.normal_(0.0, 2.0)
    return model.double().eval()


def test_mpnet_bottom_is_cached_and_matches_the_hugging_face_forward() -> None:
    encoder = tiny_mpnet()
    model = EpisodicClassifier(encoder, adapt="top1")  # type: ignore[arg-type]
    assert model.cache_start == 2  # layers 0-1 run once, layer 2 per inner step
    episode = make_episode(length=10)
    feats = model.features(episode, support_grad=False, query_grad=False)
    assert isinstance(feats, TopFeatures)
    for split, batch in (("support", episode.support), ("query", episode.query)):
        ref = encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        want = pool(ref.last_hidden_state, batch.attention_mask, "mean")
        got = feats.embed(model.adapted_params(), split)
        assert torch.allclose(got, want, atol=1e-12, rtol=0), split
    # Without the position bias the layers would compute something else: the check can fail.
    for kwargs in feats.layer_kwargs.values():
        kwargs.pop("position_bias")
    got = feats.embed(model.adapted_params(), "query")
    assert not torch.allclose(got, want, atol=1e-3)


def test_mpnet_cached_maml_equals_the_whole_model_path() -> None:
    episode = make_episode(length=10)
    inner = InnerLoopConfig(steps=2, lr=0.4, first_order=False)
    cached = EpisodicClassifier(tiny_mpnet(), adapt="top1").double()  # type: ignore[arg-type]
    full = EpisodicClassifier(tiny_mpnet(), adapt="top1").double()  # type: ignore[arg-type]
    full.cache_start = None  # force the whole-model functional path
    out_c, out_f = maml_task(cached, episode, inner), maml_task(full, episode, inner)
    assert torch.allclose(out_c.loss, out_f.loss, atol=1e-12, rtol=0)
    assert max_diff(meta_grads(cached, out_c.loss), meta_grads(full, out_f.loss)) <= 1e-10
