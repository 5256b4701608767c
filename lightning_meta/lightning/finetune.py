"""Plain fine-tuning baseline: no meta-training, per-episode fine-tuning at evaluation."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from lightning_meta.data.episode import Episode
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.errors import ConfigError


class FineTune(EpisodicModule):
    """The pretrained encoder + a fresh head, fine-tuned on each episode's support set with
    the same inner-loop settings as MAML (steps, lr, what adapts), then scored on the query.

    It has nothing to meta-train: use ``lightning-meta validate|test`` with it, not ``fit``.
    """

    algorithm = "finetune"

    def __init__(
        self,
        backbone: str = "minilm",
        pooling: Literal["mean", "cls"] = "mean",
        adapt: str = "top1",
        head_init: Literal["zero", "prototype"] = "prototype",
        n_way: int = 5,
        inner_steps: int = 5,
        inner_lr: float = 1e-2,
    ) -> None:
        super().__init__(
            backbone=backbone,
            pooling=pooling,
            adapt=adapt,
            head_init=head_init,
            n_way=n_way,
            inner_steps=inner_steps,
            inner_lr=inner_lr,
        )

    def on_fit_start(self) -> None:
        raise ConfigError(
            "model: FineTune has no meta-training; run `lightning-meta test --config ...` "
            "(or validate) with it instead of fit"
        )

    def training_step(self, batch: list[Episode], batch_idx: int) -> Tensor:  # pragma: no cover
        raise ConfigError("model: FineTune cannot be trained with fit; use test or validate")
