"""Prototypical networks: episodic prototype loss; evaluation by nearest prototype."""

from __future__ import annotations

from typing import Literal

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_meta.algorithms import TaskOutput, protonet_task
from lightning_meta.data.episode import Episode
from lightning_meta.lightning.base import EpisodicModule


class ProtoNet(EpisodicModule):
    """Snell et al. 2017 on a transformers encoder: no inner loop, distances to class means.

    With ``meta_train: false`` (and cosine distance) it is the "pretrained frozen + nearest
    centroid" baseline.
    """

    algorithm = "protonet"

    def __init__(
        self,
        backbone: str = "minilm",
        pooling: Literal["mean", "cls"] = "mean",
        n_way: int = 5,
        distance: Literal["euclidean", "cosine"] = "euclidean",
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        on_nonfinite: Literal["error", "skip"] = "error",
        max_nonfinite_skips: int = 10,
    ) -> None:
        """
        Args:
            distance: squared euclidean distance (Snell et al.) or cosine similarity.
        """
        super().__init__(
            backbone=backbone,
            pooling=pooling,
            adapt="head",
            n_way=n_way,
            inner_steps=0,
            eval_inner_steps=0,
            optimizer=optimizer,
            scheduler=scheduler,
            on_nonfinite=on_nonfinite,
            max_nonfinite_skips=max_nonfinite_skips,
        )
        self.distance: Literal["euclidean", "cosine"] = distance

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        return protonet_task(self.model, episode, self.distance, training=False)

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
