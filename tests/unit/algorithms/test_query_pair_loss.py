"""SetFit's pair loss as a term of MAML's outer (query) loss: a hand-checked value at zero inner
steps, meta-gradients against the independent ``higher`` loop, the batched and grouped paths
against the per-task one, and the module's argument."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from lightning_meta.algorithms import InnerLoopConfig, maml_task
from lightning_meta.algorithms.batched import batched_maml_tasks
from lightning_meta.algorithms.grouped import grouped_maml_tasks
from lightning_meta.algorithms.pair_loss import cosine_pair_loss, with_query_pairs
from lightning_meta.errors import ConfigError
from lightning_meta.lightning import MAML
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from tests.unit.algorithms.helpers import make_episode, make_model, max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes

TOL = 1e-6


def test_with_query_pairs_adds_the_weighted_term() -> None:
    h = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]])  # pair loss 2/3 (test_pair_loss.py)
    y = torch.tensor([0, 0, 1])
    loss = torch.tensor(0.5)
    assert with_query_pairs(loss, h, y, 0.0) is loss
    assert float(with_query_pairs(loss, h, y, 3.0)) == pytest.approx(0.5 + 3.0 * 2 / 3)
    with pytest.raises(ValueError, match="query_pair_weight: must be >= 0"):
        with_query_pairs(loss, h, y, -0.1)


def test_zero_inner_steps_hand_checked_and_training_only() -> None:
    """With no inner step the adapted query embeddings are the model's own: the loss is the
    query cross-entropy + W * pair loss of ``model.embed(query)``; evaluation leaves it out."""
    episode = make_episode(seed=2)
    model = make_model("top1")
    inner = InnerLoopConfig(steps=0, lr=0.3, first_order=True)
    plain = maml_task(model, episode, inner)
    with_term = maml_task(model, episode, inner, query_pair_weight=2.0)
    labels = episode.query.labels
    by_hand = F.cross_entropy(plain.logits, labels) + 2.0 * cosine_pair_loss(
        model.embed(episode.query), labels
    )
    assert float(with_term.loss) == pytest.approx(float(by_hand), abs=1e-9)
    assert float(with_term.loss) > float(plain.loss) + 1e-3
    assert torch.equal(with_term.logits, plain.logits)  # the adaptation is untouched
    evaluated = maml_task(model, episode, inner, training=False, query_pair_weight=2.0)
    assert float(evaluated.loss) == pytest.approx(float(plain.loss), abs=1e-12)


@pytest.mark.parametrize("first_order", [False, True], ids=["maml", "fomaml"])
def test_meta_gradients_with_query_pairs_match_higher(first_order: bool) -> None:
    episode = make_episode()
    grads = {}
    for weight in (0.0, 2.0):
        for backend in ("func", "higher"):
            model = make_model("top1")
            inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order, backend=backend)  # type: ignore[arg-type]
            out = maml_task(model, episode, inner, query_pair_weight=weight)
            grads[weight, backend] = meta_grads(model, out.loss)
    for weight in (0.0, 2.0):
        assert max_diff(grads[weight, "func"], grads[weight, "higher"]) <= TOL
    assert max_diff(grads[0.0, "func"], grads[2.0, "func"]) > 1e-4  # the term reaches the body


@pytest.mark.parametrize("first_order", [False, True], ids=["maml", "fomaml"])
def test_batched_and_grouped_equal_per_task(first_order: bool) -> None:
    inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order, pair_weight=1.0)
    same = pool_episodes(3, seed=5)
    mixed = [*pool_episodes(2, n_way=5, shots=2, queries=2, seed=3), *same[:2]]
    for episodes, run in ((same, batched_maml_tasks), (mixed, grouped_maml_tasks)):
        grads = []
        for kind in ("per-task", "together"):
            m = make_model("top1")
            outs = (
                [maml_task(m, ep, inner, query_pair_weight=1.5) for ep in episodes]
                if kind == "per-task"
                else run(m, episodes, inner, query_pair_weight=1.5)
            )
            grads.append(meta_grads(m, torch.stack([o.loss for o in outs]).mean()))
        assert max_diff(*grads) <= TOL
    m = make_model("top1")
    plain = batched_maml_tasks(m, same, inner)
    assert all(
        float(a.loss) > float(b.loss)
        for a, b in zip(
            batched_maml_tasks(m, same, inner, query_pair_weight=1.5), plain, strict=True
        )
    )


def test_the_module_passes_its_weight_and_refuses_a_negative_one() -> None:
    with pytest.raises(ConfigError, match="model.query_pair_weight: must be >= 0"):
        MAML(first_order=True, encoder=EncoderConfig("tiny"), query_pair_weight=-1.0)
    batch = pool_episodes(2, seed=4)
    losses = []
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        module = MAML(
            first_order=True, encoder=EncoderConfig("tiny"), inner=InnerLoopArgs(adapt="top1", steps=1),
            query_pair_weight=weight,
        )  # fmt: skip
        losses.append(float(module.meta_loss(batch)[0]))
        assert module.hparams["query_pair_weight"] == weight
    assert losses[1] > losses[0] + 1e-4
