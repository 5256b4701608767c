"""Non-finite detection: named episode and inner step on error, counted skips otherwise."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.lightning import MAML, ProtoNet, Reptile
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs, NonFiniteConfig
from lightning_meta.lightning.guard import NonFiniteError

TINY = EncoderConfig(backbone="tiny")
SKIP = NonFiniteConfig(action="skip")


def episode(index: int, n_way: int = 3, k: int = 2, q: int = 2, seed: int = 0) -> Episode:
    g = torch.Generator().manual_seed(seed + index)

    def batch(per: int) -> TextBatch:
        n = n_way * per
        ids = torch.randint(1000, 5000, (n, 6), generator=g)
        return TextBatch(ids, torch.ones_like(ids), torch.arange(n_way).repeat_interleave(per))

    return Episode(batch(k), batch(q), n_way, index)


def test_finite_batch_trains() -> None:
    m = MAML(encoder=TINY, inner=InnerLoopArgs(steps=2), first_order=True)
    loss = m.training_step([episode(0), episode(1)], 0)
    assert loss is not None and torch.isfinite(loss)


def test_error_names_episode_and_inner_step() -> None:
    m = MAML(encoder=TINY, inner=InnerLoopArgs(steps=3, lr=1e30), first_order=True)
    with pytest.raises(NonFiniteError) as err:
        m.training_step([episode(0), episode(7)], 0)
    msg = str(err.value)
    assert "episode 0" in msg and "inner step 1" in msg and "\n" not in msg
    assert msg.startswith("model.nonfinite.action:")


def test_skip_counts_and_stops_after_max() -> None:
    m = MAML(
        encoder=TINY,
        inner=InnerLoopArgs(steps=2, lr=1e30),
        first_order=True,
        nonfinite=NonFiniteConfig(action="skip", max_skips=2),
    )
    assert m.training_step([episode(3)], 0) is None
    assert m.training_step([episode(4)], 1) is None
    assert m.nonfinite_skips == 2
    with pytest.raises(NonFiniteError, match="max_skips"):
        m.training_step([episode(5)], 2)


def test_nonfinite_gradient_is_dropped_in_skip_mode() -> None:
    m = ProtoNet(encoder=TINY, nonfinite=SKIP)
    params = list(m.named_parameters())
    for _, p in params:
        p.grad = torch.zeros_like(p)
    params[3][1].grad[0] = float("nan")
    assert not m.check_grads(params, step=5)
    assert all(p.grad is None for _, p in params)
    m_err = ProtoNet(encoder=TINY)
    p_err = list(m_err.named_parameters())
    p_err[0][1].grad = torch.full_like(p_err[0][1], float("inf"))
    with pytest.raises(NonFiniteError, match=f"gradient of {p_err[0][0]}"):
        m_err.check_grads(p_err, step=5)


def test_reptile_skip_leaves_parameters_untouched() -> None:
    m = Reptile(encoder=TINY, inner=InnerLoopArgs(steps=2, lr=1e30), nonfinite=SKIP)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    m.optimizers = lambda: opt  # type: ignore[method-assign]
    m.lr_schedulers = lambda: None  # type: ignore[method-assign]
    m.training_step([episode(1)], 0)
    assert m.nonfinite_skips == 1
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


@pytest.mark.parametrize("bad", [{"action": "ignore"}, {"max_skips": -1}])
def test_bad_guard_config(bad: dict) -> None:
    with pytest.raises(ValueError, match=f"model.nonfinite.{next(iter(bad))}"):
        MAML(encoder=TINY, nonfinite=NonFiniteConfig(**bad))


def test_hook_after_skipped_step_does_not_reset_consecutive_count() -> None:
    """Lightning runs on_before_optimizer_step even when training_step returned None."""
    m = MAML(
        encoder=TINY,
        inner=InnerLoopArgs(steps=2, lr=1e30),
        first_order=True,
        nonfinite=NonFiniteConfig(action="skip", max_skips=1),
    )
    assert m.training_step([episode(3)], 0) is None
    assert m.check_grads(list(m.named_parameters()), step=0)  # no grads at all
    with pytest.raises(NonFiniteError, match="max_skips"):
        m.training_step([episode(4)], 1)


def test_skip_counters_survive_checkpoint_roundtrip() -> None:
    m = MAML(encoder=TINY, inner=InnerLoopArgs(steps=2, lr=1e30), first_order=True, nonfinite=SKIP)
    m.training_step([episode(3)], 0)
    ckpt: dict = {}
    m.on_save_checkpoint(ckpt)
    fresh = MAML(encoder=TINY, nonfinite=SKIP)
    fresh.on_load_checkpoint(ckpt)
    assert (fresh.nonfinite_skips, fresh._consecutive_skips) == (1, 1)
