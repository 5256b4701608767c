"""MAML (second-order) and first-order MAML: one outer backward per meta-batch."""

from __future__ import annotations

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_meta.algorithms.grouped import grouped_maml_tasks
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs, NonFiniteConfig


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
        first_order: bool = False,
        encoder: EncoderConfig = EncoderConfig(),
        inner: InnerLoopArgs = InnerLoopArgs(),
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        nonfinite: NonFiniteConfig = NonFiniteConfig(),
        query_pair_weight: float = 0.0,
    ) -> None:
        """
        Args:
            first_order: first-order MAML (no graph through the inner gradients); the outer
                gradient is the query-loss gradient at the adapted parameters.
            encoder: the transformers encoder and its pooling.
            inner: what adapts per episode and how (steps, lr, ...).
            optimizer: outer optimizer (default AdamW, lr 3e-5, weight_decay 0).
            scheduler: optional outer learning-rate scheduler.
            nonfinite: what a NaN/inf loss or gradient does.
            query_pair_weight: W >= 0; the meta-objective becomes each task's query
                cross-entropy + W * SetFit's cosine pair loss over its adapted query embeddings
                (0: the cross-entropy alone). Training only: validation scores as before.
        """
        if query_pair_weight < 0:
            raise ConfigError(
                f"model.query_pair_weight: must be >= 0, got {query_pair_weight}; set 0 to turn it off"
            )
        self.query_pair_weight = query_pair_weight
        self.second_order = not first_order
        self.algorithm = "fomaml" if first_order else "maml"
        super().__init__(encoder, inner, optimizer, scheduler, nonfinite)

    def meta_loss(self, batch: list[Episode]) -> tuple[Tensor, list]:
        """Mean post-adaptation query loss over the tasks of one meta-batch: each group of
        same-shape tasks at once (one bottom pass, stacked inner loops) when the model allows,
        else task by task; the outputs in task order."""
        outs = grouped_maml_tasks(
            self.model, batch, self.inner, self.inner_lrs, training=True,
            query_pair_weight=self.query_pair_weight,
        )  # fmt: skip
        loss = torch.stack([o.loss for o in outs]).mean()
        return loss, outs

    def training_step(self, batch: list[Episode], batch_idx: int) -> Tensor | None:
        loss, outs = self.meta_loss(batch)
        if self.skip_batch(batch, outs, loss):
            return None  # Lightning skips backward and the optimizer step
        self.log_train(batch, outs, loss)
        return loss
