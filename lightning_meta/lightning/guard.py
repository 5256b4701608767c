"""Divergence handling: find NaN/inf in the inner loss, the outer loss or the gradients in the
step where it happens, then stop with a message that names the episode, or skip the meta-batch.

Detection is cheap on the happy path (a few ``isfinite`` checks per meta-batch). Only when a
task's loss is non-finite does the guard replay that task's inner loop with an observer to name
the first inner step whose support loss is not finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_meta.algorithms import InnerLoopConfig, TaskOutput
from lightning_meta.algorithms.inner_loop import inner_loop
from lightning_meta.algorithms.types import inner_lr_map
from lightning_meta.data.episode import Episode
from lightning_meta.errors import NumericalError
from lightning_meta.lightning.config import NonFiniteConfig
from lightning_meta.models import EpisodicClassifier, head_logits


class NonFiniteError(NumericalError):
    """Training produced NaN/inf; the message names the episode, the step and the value."""


def first_bad_inner_step(
    model: EpisodicClassifier,
    episode: Episode,
    inner: InnerLoopConfig,
    inner_lrs: nn.ParameterDict | None,
) -> tuple[int, float] | None:
    """Replay the inner loop (no outer graph) and return (step, support loss) of the first
    non-finite support loss: step 0 is the loss at the initialisation."""
    lrs = inner_lr_map(model, inner, inner_lrs)
    labels = episode.support.labels
    found: list[tuple[int, float]] = []
    with torch.enable_grad():
        feats = model.features(episode, support_grad=False, query_grad=False)

        def observe(k: int, params: dict[str, Tensor], w: Tensor, b: Tensor) -> None:
            if found:
                return
            with torch.no_grad():
                loss = F.cross_entropy(head_logits(feats.embed(params, "support"), w, b), labels)
            if not torch.isfinite(loss):
                found.append((k, float(loss)))

        inner_loop(
            model, feats, labels, episode.n_way, inner.steps, lrs, "none", observe,
            inner.pair_weight,
        )  # fmt: skip
    return found[0] if found else None


class NonFiniteGuard:
    """Mixin for EpisodicModule: ``check_losses`` before backward, ``check_grads`` after."""

    nonfinite: NonFiniteConfig
    model: EpisodicClassifier
    inner: InnerLoopConfig
    inner_lrs: nn.ParameterDict | None
    _consecutive_skips: int = 0
    nonfinite_skips: int = 0

    def check_losses(
        self, batch: Sequence[Episode], outs: Sequence[TaskOutput], loss: Tensor, step: int
    ) -> bool:
        """True when every inner and outer loss is finite; otherwise raise or count a skip."""
        if bool(torch.isfinite(loss.detach())):
            return True
        for ep, out in zip(batch, outs, strict=True):
            inner_bad = not bool(torch.isfinite(out.support_loss))
            if not inner_bad and bool(torch.isfinite(out.loss.detach())):
                continue
            where = "query loss after adaptation"
            if inner_bad and self.inner.steps > 0:
                bad = first_bad_inner_step(self.model, ep, self.inner, self.inner_lrs)
                if bad is not None:
                    where = f"inner support loss at inner step {bad[0]} (loss={bad[1]})"
            value = float(out.support_loss if inner_bad else out.loss.detach())
            return self._nonfinite(
                f"episode {ep.index} ({ep.split}) at global step {step}: {where}, value {value}"
            )
        return self._nonfinite(f"outer loss at global step {step}: {float(loss.detach())}")

    def check_grads(self, params: Sequence[tuple[str, nn.Parameter]], step: int) -> bool:
        """True when every gradient is finite; otherwise raise, or drop the grads (skip).

        A call with no gradient at all (Lightning still runs this hook after a skipped
        training_step) neither resets nor counts the consecutive-skip counter."""
        if all(p.grad is None for _, p in params):
            return True
        for name, p in params:
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                ok = self._nonfinite(f"gradient of {name} at global step {step} is not finite")
                if not ok:
                    for _, q in params:
                        q.grad = None  # optimizers skip parameters without gradients
                return ok
        self._consecutive_skips = 0
        return True

    def _nonfinite(self, what: str) -> bool:
        if self.nonfinite.action == "error":
            raise NonFiniteError(
                f"model.nonfinite.action: NaN/inf in {what}; lower the learning rates or enable "
                "gradient clipping, or set model.nonfinite.action: skip (the last good "
                "checkpoint is intact)"
            )
        self._consecutive_skips += 1
        self.nonfinite_skips += 1
        if self._consecutive_skips > self.nonfinite.max_skips:
            raise NonFiniteError(
                f"model.nonfinite.max_skips: {self._consecutive_skips} consecutive meta-batches "
                f"were non-finite (last: {what}); lower the learning rates or raise max_skips"
            )
        return False
