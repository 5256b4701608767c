"""Prototypical loss against a direct computation."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from lightning_meta.algorithms import COSINE_SCALE, protonet_task
from tests.unit.algorithms.helpers import make_episode, make_model


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_protonet_loss(distance: str) -> None:
    model = make_model("all")
    episode = make_episode(queries=3)
    out = protonet_task(model, episode, distance)  # type: ignore[arg-type]
    s, q = episode.support, episode.query
    hs, hq = model.embed(s), model.embed(q)
    protos = torch.stack([hs[s.labels == k].mean(0) for k in range(episode.n_way)])  # (N, H)
    if distance == "euclidean":
        logits = -(torch.cdist(hq, protos) ** 2)
    else:
        logits = COSINE_SCALE * F.cosine_similarity(hq[:, None], protos[None], dim=-1)
    assert torch.allclose(out.logits, logits.detach(), atol=1e-8)
    assert torch.allclose(out.loss, F.cross_entropy(logits, q.labels), atol=1e-10)
    assert (
        out.loss.requires_grad
        and out.support_loss == 0
        and torch.equal(out.loss_before, out.loss.detach())
    )
    out.loss.backward()
    assert model.encoder.embeddings.word_embeddings.weight.grad is not None


def test_protonet_eval_is_detached() -> None:
    out = protonet_task(make_model(), make_episode(), training=False)
    assert not out.loss.requires_grad
    with pytest.raises(ValueError, match="distance"):
        protonet_task(make_model(), make_episode(), "manhattan")  # type: ignore[arg-type]
