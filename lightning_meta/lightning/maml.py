"""MAML (second-order) and first-order MAML: one outer backward per meta-batch."""

from __future__ import annotations

from typing import Literal

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_meta.algorithms import maml_task
from lightning_meta.data.episode import Episode
from lightning_meta.lightning.base import EpisodicModule


class MAML(EpisodicModule):
    """Model-agnostic meta-learning over a transformers encoder.

    Each task of the meta-batch adapts a copy of the adapted parameters on its support set
    (a pure function: the module's parameters never change in the inner loop); the outer loss
    is the mean query loss after adaptation; Lightning's automatic optimisation takes one
    outer step per meta-batch.
    """

    algorithm = "maml"

    def __init__(
        self,
        backbone: str = "minilm",
        pooling: Literal["mean", "cls"] = "mean",
        adapt: str = "top1",
        head_init: Literal["zero", "prototype"] = "prototype",
        n_way: int = 5,
        inner_steps: int = 5,
        inner_lr: float = 1e-2,
        learn_inner_lr: bool = False,
        eval_inner_steps: int | None = None,
        backend: Literal["func", "higher"] = "func",
        first_order: bool = False,
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        on_nonfinite: Literal["error", "skip"] = "error",
        max_nonfinite_skips: int = 10,
    ) -> None:
        """
        Args:
            first_order: first-order MAML (no graph through the inner gradients); the outer
                gradient is the query-loss gradient at the adapted parameters.
        """
        self.second_order = not first_order
        self.algorithm = "fomaml" if first_order else "maml"
        super().__init__(
            backbone=backbone,
            pooling=pooling,
            adapt=adapt,
            head_init=head_init,
            n_way=n_way,
            inner_steps=inner_steps,
            inner_lr=inner_lr,
            learn_inner_lr=learn_inner_lr,
            eval_inner_steps=eval_inner_steps,
            backend=backend,
            optimizer=optimizer,
            scheduler=scheduler,
            on_nonfinite=on_nonfinite,
            max_nonfinite_skips=max_nonfinite_skips,
        )

    def meta_loss(self, batch: list[Episode]) -> tuple[Tensor, list]:
        """Mean post-adaptation query loss over the tasks of one meta-batch."""
        outs = [
            maml_task(self.model, ep, self.inner, self.inner_lrs, training=True) for ep in batch
        ]
        loss = torch.stack([o.loss for o in outs]).mean()
        return loss, outs

    def training_step(self, batch: list[Episode], batch_idx: int) -> Tensor | None:
        loss, outs = self.meta_loss(batch)
        if self.skip_batch(batch, outs, loss):
            return None  # Lightning skips backward and the optimizer step
        self.log_train(batch, outs, loss)
        return loss
