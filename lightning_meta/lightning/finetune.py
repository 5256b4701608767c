"""Plain fine-tuning baseline: no meta-training, per-episode fine-tuning at evaluation."""

from __future__ import annotations

from torch import Tensor

from lightning_meta.data.config import as_group
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs


class FineTune(EpisodicModule):
    """The pretrained encoder + a fresh head, fine-tuned on each episode's support set with
    the same inner-loop settings as MAML (steps, lr, what adapts), then scored on the query.

    It has nothing to meta-train: use ``lightning-meta validate|test`` with it, not ``fit``.
    """

    algorithm = "finetune"

    def __init__(
        self,
        encoder: EncoderConfig = EncoderConfig(),
        inner: InnerLoopArgs = InnerLoopArgs(),
    ) -> None:
        """
        Args:
            encoder: the transformers encoder and its pooling.
            inner: what adapts on each support set and how (eval_steps: the steps used; default
                steps); learn_lr is unsupported (nothing is meta-trained).
        """
        inner = as_group(InnerLoopArgs, inner, "model.inner")
        if inner.learn_lr:
            raise ConfigError(
                "model.inner.learn_lr: FineTune has no meta-training to learn inner learning "
                "rates with; set model.init_args.inner.learn_lr: false"
            )
        super().__init__(encoder, inner)

    def on_fit_start(self) -> None:
        raise ConfigError(
            "model: FineTune has no meta-training; run `lightning-meta test --config ...` "
            "(or validate) with it instead of fit"
        )

    def training_step(self, batch: list[Episode], batch_idx: int) -> Tensor:  # pragma: no cover
        raise ConfigError("model: FineTune cannot be trained with fit; use test or validate")
