"""SetFit's cosine pair loss in the inner loop: a hand-worked value, the batched form, and the
inner loop with the pair term against the independent ``higher`` reference and the batched path."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_meta.algorithms import InnerLoopConfig, maml_task, reptile_task
from lightning_meta.algorithms.batched import batched_maml_tasks, batched_reptile
from lightning_meta.algorithms.inner_loop import head_loss
from lightning_meta.algorithms.pair_loss import cosine_pair_loss, with_pairs
from tests.unit.algorithms.helpers import make_episode, make_model, max_diff, meta_grads
from tests.unit.batched.helpers import pool_episodes

TOL = 1e-6


def test_cosine_pair_loss_hand_worked() -> None:
    # pairs: (0,1) same class, cos 0 -> (0-1)^2 = 1; (0,2) and (1,2) different, cos 1/sqrt2
    # -> 1/2 each; mean over the 3 pairs = 2/3. Scale does not matter (cosine).
    h = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]])
    assert float(cosine_pair_loss(h, torch.tensor([0, 0, 1]))) == pytest.approx(2 / 3)
    # identical same-class rows and orthogonal classes: nothing to learn
    h = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    assert float(cosine_pair_loss(h, torch.tensor([0, 0, 1]))) == pytest.approx(0.0, abs=1e-7)


def test_cosine_pair_loss_batched_is_per_episode() -> None:
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(3, 6, 4, generator=gen, dtype=torch.float64)  # (E, B, H)
    y = torch.randint(0, 2, (3, 6), generator=gen)  # (E, B)
    stacked = cosine_pair_loss(h, y)  # (E,)
    assert stacked.shape == (3,)
    for e in range(3):
        z = torch.nn.functional.normalize(h[e], dim=-1)
        ref = [
            (float(z[i] @ z[j]) - float(y[e, i] == y[e, j])) ** 2
            for i in range(6)
            for j in range(i + 1, 6)
        ]
        assert float(stacked[e]) == pytest.approx(math.fsum(ref) / len(ref), abs=1e-6)
    with pytest.raises(ValueError, match="2 or more support rows"):
        cosine_pair_loss(h[:, :1], y[:, :1])


def test_with_pairs_adds_the_weighted_term() -> None:
    assert with_pairs(head_loss, 0.0) is head_loss  # weight 0: the very same numbers
    with pytest.raises(ValueError, match="pair_weight: must be >= 0"):
        with_pairs(head_loss, -1.0)
    gen = torch.Generator().manual_seed(1)
    h, w, b = torch.randn(4, 3, generator=gen), torch.randn(2, 3, generator=gen), torch.zeros(2)
    y = torch.tensor([0, 0, 1, 1])
    combined = with_pairs(head_loss, 2.5)(h, w, b, y)
    assert float(combined) == pytest.approx(
        float(head_loss(h, w, b, y)) + 2.5 * float(cosine_pair_loss(h, y)), rel=1e-6
    )


@pytest.mark.parametrize("first_order", [False, True], ids=["maml", "fomaml"])
def test_meta_gradients_with_pairs_match_higher(first_order: bool) -> None:
    """The pair term's gradient through the adapted layer, against the independent loop."""
    episode = make_episode()
    grads, logits = {}, {}
    for pairs in (0.0, 2.0):
        for backend in ("func", "higher"):
            model = make_model("top1")
            inner = InnerLoopConfig(
                steps=2, lr=0.3, first_order=first_order, backend=backend, pair_weight=pairs
            )  # type: ignore[arg-type]
            out = maml_task(model, episode, inner)
            grads[pairs, backend] = meta_grads(model, out.loss)
            logits[pairs, backend] = out.logits
    for pairs in (0.0, 2.0):
        assert max_diff(grads[pairs, "func"], grads[pairs, "higher"]) <= TOL
        assert float((logits[pairs, "func"] - logits[pairs, "higher"]).abs().max()) <= TOL
    # the term is really there: it moves the adapted model and the meta-gradient
    assert max_diff(grads[0.0, "func"], grads[2.0, "func"]) > 1e-4
    assert float((logits[0.0, "func"] - logits[2.0, "func"]).abs().max()) > 1e-4


def test_evaluation_and_reptile_with_pairs_match_higher() -> None:
    episode = make_episode(seed=3)
    outs = {}
    for backend in ("func", "higher"):
        model = make_model("top2")
        inner = InnerLoopConfig(steps=3, lr=0.3, backend=backend, pair_weight=1.5)  # type: ignore[arg-type]
        fine_tuned = maml_task(model, episode, inner, training=False)
        outs[backend] = (fine_tuned, reptile_task(model, episode, inner))
    (ft_f, rep_f), (ft_h, rep_h) = outs["func"], outs["higher"]
    assert float((ft_f.logits - ft_h.logits).abs().max()) <= TOL
    assert abs(float(ft_f.support_loss) - float(ft_h.support_loss)) <= TOL
    assert max_diff(rep_f.grads, rep_h.grads) <= TOL


@pytest.mark.parametrize("first_order", [False, True], ids=["maml", "fomaml"])
def test_batched_with_pairs_equals_per_task(first_order: bool) -> None:
    episodes = pool_episodes(3, seed=5)
    inner = InnerLoopConfig(steps=2, lr=0.3, first_order=first_order, pair_weight=3.0)
    out = {}
    for kind in ("per-task", "batched"):
        m = make_model("top1")
        outs = (
            [maml_task(m, ep, inner) for ep in episodes]
            if kind == "per-task"
            else batched_maml_tasks(m, episodes, inner)
        )
        out[kind] = (meta_grads(m, torch.stack([o.loss for o in outs]).mean()), outs)
    (g_one, o_one), (g_all, o_all) = out["per-task"], out["batched"]
    assert max_diff(g_one, g_all) <= TOL
    for a, b in zip(o_one, o_all, strict=True):
        assert float((a.logits - b.logits).abs().max()) <= TOL
        assert abs(float(a.support_loss) - float(b.support_loss)) <= TOL
    m = make_model("top1")
    per_task = [reptile_task(m, ep, inner) for ep in episodes]
    mean = {k: torch.stack([r.grads[k] for r in per_task]).mean(0) for k in per_task[0].grads}
    assert max_diff(mean, batched_reptile(m, episodes, inner)[0]) <= TOL
