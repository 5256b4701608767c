"""Prototypical networks: episodic prototype loss; evaluation by nearest prototype."""

from __future__ import annotations

from typing import Literal

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_meta.algorithms import TaskOutput, protonet_task
from lightning_meta.algorithms.batched import CentroidPlan, EvaluationPlan
from lightning_meta.data.episode import Episode
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs, NonFiniteConfig

NO_INNER_LOOP = InnerLoopArgs(adapt="head", steps=0, eval_steps=0)


class ProtoNet(EpisodicModule):
    """Snell et al. 2017 on a transformers encoder: no inner loop, distances to class means.

    With ``meta_train: false`` (and cosine distance) it is the "pretrained frozen + nearest
    centroid" baseline.
    """

    algorithm = "protonet"

    def __init__(
        self,
        distance: Literal["euclidean", "cosine"] = "euclidean",
        encoder: EncoderConfig = EncoderConfig(),
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        nonfinite: NonFiniteConfig = NonFiniteConfig(),
    ) -> None:
        """
        Args:
            distance: squared euclidean distance (Snell et al.) or cosine similarity.
            encoder: the transformers encoder and its pooling.
            optimizer: outer optimizer (default AdamW, lr 3e-5, weight_decay 0).
            scheduler: optional outer learning-rate scheduler.
            nonfinite: what a NaN/inf loss or gradient does.
        """
        # no inner loop: the whole encoder is meta-trained, nothing adapts per episode
        super().__init__(encoder, NO_INNER_LOOP, optimizer, scheduler, nonfinite)
        self.distance: Literal["euclidean", "cosine"] = distance

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        return protonet_task(self.model, episode, self.distance, training=False)

    def evaluation_plan(self) -> EvaluationPlan | None:
        if type(self).evaluate_episode is not ProtoNet.evaluate_episode:
            return None
        return CentroidPlan(self.model, self.distance)

    def curve(self, episode: Episode, max_steps: int | None = None) -> list[float]:
        out = self.evaluate_episode(episode)
        acc = (out.logits.argmax(-1) == episode.query.labels).float().mean().item()
        return [acc]

    def training_step(self, batch: list[Episode], batch_idx: int) -> Tensor | None:
        outs = [protonet_task(self.model, ep, self.distance, training=True) for ep in batch]
        loss = torch.stack([o.loss for o in outs]).mean()
        if self.skip_batch(batch, outs, loss):
            return None
        self.log_train(batch, outs, loss)
        return loss
