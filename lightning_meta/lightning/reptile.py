"""Reptile (Nichol et al. 2018) with manual optimisation and an injected meta-optimizer."""

from __future__ import annotations

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_meta.algorithms.grouped import grouped_reptile
from lightning_meta.data.config import as_group
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs, NonFiniteConfig


class Reptile(EpisodicModule):
    """Move the initialisation towards each task's adapted weights.

    For adapted parameters the meta-"gradient" is ``theta - phi`` averaged over the tasks, so an
    SGD meta-optimizer with learning rate eps performs ``theta += eps * mean(phi - theta)``.
    Parameters the inner loop holds fixed receive the first-order query-loss gradient at phi.
    Default meta-optimizer: AdamW with lr 3e-5, the Reptile direction treated as a gradient
    (Nichol et al. 2018, sec. 6). Plain SGD with lr eps is the textbook update, but on a pretrained
    transformer the first-order query gradients of the fixed layers then move them far too fast
    (measured: SGD 0.1 fell below the frozen encoder after 30 meta-steps).
    """

    algorithm = "reptile"

    def __init__(
        self,
        gradient_clip_val: float | None = None,
        encoder: EncoderConfig = EncoderConfig(),
        inner: InnerLoopArgs = InnerLoopArgs(),
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        nonfinite: NonFiniteConfig = NonFiniteConfig(),
    ) -> None:
        """
        Args:
            gradient_clip_val: clip the norm of the meta-update (manual optimisation ignores
                the Trainer's gradient_clip_val).
            encoder: the transformers encoder and its pooling.
            inner: what adapts per episode and how (steps >= 1; learn_lr unsupported).
            optimizer: outer meta-optimizer (default AdamW, lr 3e-5, weight_decay 0).
            scheduler: optional outer learning-rate scheduler.
            nonfinite: what a NaN/inf loss or gradient does.
        """
        inner = as_group(InnerLoopArgs, inner, "model.inner")
        if inner.learn_lr:
            raise ConfigError(
                "model.inner.learn_lr: Reptile gives learned inner learning rates no gradient; "
                "set model.init_args.inner.learn_lr: false (or use MAML)"
            )
        super().__init__(encoder, inner, optimizer, scheduler, nonfinite)
        if inner.steps < 1:
            raise ConfigError(
                "model.inner.steps: Reptile needs at least one inner step (with 0 the meta-update "
                "is always zero); set model.init_args.inner.steps >= 1"
            )
        self.automatic_optimization = False
        self.gradient_clip_val = gradient_clip_val

    def configure_optimizers(self):
        if self.optimizer_factory is None:
            params = [p for p in self.parameters() if p.requires_grad]
            return torch.optim.AdamW(params, lr=3e-5, weight_decay=0.0)
        return super().configure_optimizers()

    def meta_gradients(self, batch: list[Episode]) -> tuple[dict[str, Tensor], list]:
        """Mean Reptile direction over the tasks, keyed by model parameter name (each group of
        same-shape tasks at once when the model allows, else task by task)."""
        return grouped_reptile(self.model, batch, self.inner)

    def training_step(self, batch: list[Episode], batch_idx: int) -> Tensor:
        opt = self.optimizers()
        opt.zero_grad()  # type: ignore[union-attr]
        grads, outs = self.meta_gradients(batch)
        loss = torch.stack([o.loss for o in outs]).mean()
        skip = self.skip_batch(batch, outs, loss)
        if not skip:
            for name, p in self.model.named_parameters():
                if name in grads:
                    p.grad = grads[name].to(p.dtype)
        # under MetaDDPStrategy: mean over all ranks' tasks before clipping; every rank calls it
        if self.sync_gradients(skip):
            return loss.detach()
        if not self.check_grads(list(self.model.named_parameters()), self.global_step):
            self.log("train/nonfinite_skips", float(self.nonfinite_skips))
            return loss.detach()
        if self.gradient_clip_val is not None:
            self.clip_gradients(
                opt,  # type: ignore[arg-type]
                gradient_clip_val=self.gradient_clip_val,
                gradient_clip_algorithm="norm",
            )
        opt.step()  # type: ignore[union-attr]
        sched = self.lr_schedulers()
        if sched is not None:
            sched.step()  # type: ignore[union-attr]
        self.log_train(batch, outs, loss)
        return loss
