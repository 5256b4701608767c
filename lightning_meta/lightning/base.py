"""One shared episodic LightningModule: backbone, evaluation on fixed episodes, optimizers.

Subclasses (MAML, Reptile, ProtoNet, FineTune) only say how a meta-batch trains and how one
episode is adapted and scored; everything else (metrics with confidence intervals, logging,
optimizer/scheduler injection, checkpoint metadata) lives here. Algorithm code is pure torch in
``lightning_meta.algorithms``; this layer never reimplements it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_meta.algorithms import TaskOutput, adaptation_curve, make_inner_lrs
from lightning_meta.algorithms.batched import AdaptPlan, EvaluationPlan
from lightning_meta.data.config import as_group, plain_hparams
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.metrics import MeanCI, episode_scores, mean_ci, per_source, source_id
from lightning_meta.evaluation.scoring import score_module
from lightning_meta.lightning.config import (
    EncoderConfig,
    InnerLoopArgs,
    NonFiniteConfig,
    builder_errors,
)
from lightning_meta.lightning.distributed import MetaDDPStrategy, gather_rows, require_explicit_sync
from lightning_meta.lightning.guard import NonFiniteGuard
from lightning_meta.models import EpisodicClassifier, load_encoder, tiny_encoder

log = logging.getLogger(__name__)
TINY_BACKBONE = "tiny"
TRAIN_STATS = ("loss", "query_loss_before", "query_loss_after", "support_loss", "acc")
EVAL_COLUMNS = ("index", "acc", "f1", "query_loss_before", "query_loss_after", "source_id")


def build_backbone(name: str, second_order: bool, attention: str | None = None) -> nn.Module:
    """``"tiny"``: random 2-layer BERT for tests (eager); anything else: a transformers encoder
    with ``attention`` ('eager', 'sdpa', None: the library default; second order: 'eager')."""
    if name == TINY_BACKBONE:
        return tiny_encoder(seed=0)
    if second_order and attention == "sdpa":
        raise ConfigError(
            "model.encoder.attention: second-order MAML needs 'eager' attention (the fused "
            "SDPA kernel has no double backward); set it to eager or null, or first_order: true"
        )
    attn = "eager" if second_order else attention
    if second_order and attention != "eager":
        log.info(
            "second-order MAML: loading %s with attn_implementation='eager' "
            "(the fused CPU SDPA kernel has no double backward)",
            name,
        )
    return load_encoder(name, attn_implementation=attn)


def disable_dropout(module: nn.Module) -> None:
    """Zero every dropout rate and keep train mode: inner loops (training and evaluation) are
    then deterministic functions of the parameters, as MAML's analysis assumes."""
    for m in module.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if isinstance(getattr(m, "dropout_prob", None), float):  # fused-attention dropout
            m.dropout_prob = 0.0  # type: ignore[assignment]
    module.train()


class EpisodicModule(NonFiniteGuard, pl.LightningModule):
    """Base for every few-shot method; evaluation adapts on support, scores the query."""

    algorithm: str = "base"
    second_order: bool = False

    def __init__(
        self,
        encoder: EncoderConfig = EncoderConfig(),
        inner: InnerLoopArgs = InnerLoopArgs(),
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        nonfinite: NonFiniteConfig = NonFiniteConfig(),
    ) -> None:
        """
        Args:
            encoder: the transformers encoder and its pooling.
            inner: what adapts per episode and how (steps, lr, ...).
            optimizer: outer optimizer (default AdamW, lr 3e-5, weight_decay 0).
            scheduler: optional outer learning-rate scheduler.
            nonfinite: what a NaN/inf loss or gradient does.
        """
        super().__init__()
        encoder = as_group(EncoderConfig, encoder, "model.encoder")
        inner_args = as_group(InnerLoopArgs, inner, "model.inner")
        nonfinite = as_group(NonFiniteConfig, nonfinite, "model.nonfinite")
        inner_args.validate()
        nonfinite.validate()
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        plain_hparams(self)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.encoder_config, self.inner_args, self.nonfinite = encoder, inner_args, nonfinite
        self.inner = inner_args.config(first_order=not self.second_order)
        self.eval_steps = inner_args.evaluation_steps
        with builder_errors():
            backbone = build_backbone(encoder.backbone, self.second_order, encoder.attention)
            disable_dropout(backbone)
            self.model = EpisodicClassifier(
                backbone,
                pooling=encoder.pooling,
                adapt=inner_args.adapt,
                head_init=inner_args.head_init,
            )
        self.inner_lrs: nn.ParameterDict | None = (
            make_inner_lrs(self.model, self.inner) if inner_args.learn_lr else None
        )
        # per-episode rows of this rank, EVAL_COLUMNS; gathered over ranks at epoch end
        self._test_scores: list[tuple[float, ...]] = []
        self._val_scores: list[tuple[float, ...]] = []
        self._source_names: dict[int, str] = {}  # source_id -> Episode.task_source
        self.test_results: dict[str, MeanCI] = {}
        self.val_results: dict[str, MeanCI] = {}
        self._train_stats: Tensor | None = None  # this rank's (n * TRAIN_STATS, n) of the step
        self._t_step = 0.0
        self._t_step_started = False

    # ---- subclasses ---------------------------------------------------------------------
    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        """Adapt on the support set and score the query, without an outer graph."""
        from lightning_meta.algorithms import maml_task

        return maml_task(
            self.model, episode, self.inner, self.inner_lrs, training=False, steps=self.eval_steps
        )

    def evaluation_plan(self) -> EvaluationPlan | None:
        """What ``evaluate_episode`` computes, as data, for the batched frozen-feature cache
        (evaluation/cached_scoring.py); None when a subclass overrides it without saying."""
        if type(self).evaluate_episode is not EpisodicModule.evaluate_episode:
            return None
        return AdaptPlan(self.model, self.inner, self.inner_lrs, self.eval_steps)

    def curve(self, episode: Episode, max_steps: int | None = None) -> list[float]:
        """Query accuracy after 0..K inner steps (adaptation curve)."""
        return adaptation_curve(self.model, episode, self.inner, self.inner_lrs, max_steps)

    # ---- training helpers ---------------------------------------------------------------
    def log_train(self, batch: list[Episode], outs: list[TaskOutput], loss: Tensor) -> None:
        """Record this rank's outer loss, query loss before/after adaptation, support loss and
        accuracy; ``on_train_batch_end`` averages them over all tasks of all ranks and logs."""
        n = len(batch)
        acc = (
            sum(
                episode_scores(o.logits, ep.query.labels, ep.n_way)[0]
                for o, ep in zip(outs, batch, strict=True)
            )
            / n
        )
        stats = torch.stack(
            [
                loss.detach(),
                torch.stack([o.loss_before for o in outs]).mean(),
                torch.stack([o.loss.detach() for o in outs]).mean(),
                torch.stack([o.support_loss for o in outs]).mean(),
                loss.new_tensor(acc),
            ]
        ).to(torch.float64)  # (S,)
        self._train_stats = torch.cat([n * stats, stats.new_tensor([n])])  # (S + 1,)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Log the step's metrics over every task of the global meta-batch (one collective on
        every rank, also when this rank skipped the batch) and tasks/s."""
        now = time.perf_counter()
        dt, self._t_step = now - self._t_step, now
        stats = self._train_stats
        self._train_stats = None
        if stats is None:  # skipped here: contributes no tasks
            stats = torch.zeros(len(TRAIN_STATS) + 1, dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            stats = self.trainer.strategy.reduce(stats, reduce_op="sum")
        tasks = float(stats[-1])
        if tasks > 0:
            values = (stats[:-1] / tasks).tolist()
            for name, value in zip(TRAIN_STATS, values, strict=True):
                self.log(f"train/{name}", value, prog_bar=name == "loss", batch_size=int(tasks))
            if 0 < dt < 3600 and self._t_step_started:
                self.log("train/tasks_per_s", tasks / dt, prog_bar=True, batch_size=int(tasks))
        self._t_step_started = True
        if self.inner_lrs is not None:
            for name, lr in self.inner_lrs.items():
                self.log(f"inner_lr/{name}", lr.detach().float().mean())

    def on_train_epoch_start(self) -> None:
        self._t_step = time.perf_counter()
        self._t_step_started = False

    def setup(self, stage: str) -> None:
        require_explicit_sync(self.trainer, stage)
        # evaluation adapts with gradients: under torch.inference_mode (Lightning's default) it
        # would fail deep in autograd (l2l#432, Lightning#14497), so say what to change here
        loop = {"fit": "validate_loop", "validate": "validate_loop", "test": "test_loop"}.get(stage)
        evaluates = stage != "fit" or self.trainer.limit_val_batches != 0
        if (
            loop
            and evaluates
            and getattr(getattr(self.trainer, loop, None), "inference_mode", False)
        ):
            raise ConfigError(
                f"trainer.inference_mode: {type(self).__name__} adapts with gradients during "
                f"{'validation' if loop == 'validate_loop' else 'test'}; build the trainer with "
                f"Trainer(inference_mode=False) (YAML: trainer.inference_mode: false)"
            )

    def sync_gradients(self, skip: bool = False) -> bool:
        """Manual optimisation: average ``.grad`` over all ranks now (before clipping and
        ``opt.step()``), on every rank; a no-op in one process. ``skip``: this rank skips the
        meta-batch. Returns True when any rank skips (all grads are then None)."""
        strategy = self._trainer.strategy if self._trainer is not None else None
        if isinstance(strategy, MetaDDPStrategy):
            return strategy.reduce_gradients(self.parameters(), skip=skip)
        return skip

    def skip_batch(self, batch: list[Episode], outs: list[TaskOutput], loss: Tensor) -> bool:
        """True when the meta-batch must be skipped (non-finite loss, nonfinite.action='skip')."""
        if self.check_losses(batch, outs, loss, self.global_step):
            return False
        self.log("train/nonfinite_skips", float(self.nonfinite_skips), batch_size=len(batch))
        return True

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if not self.check_grads(list(self.named_parameters()), self.global_step):
            self.log("train/nonfinite_skips", float(self.nonfinite_skips))

    # ---- evaluation ---------------------------------------------------------------------
    def _eval_step(self, batch: list[Episode], store: list[tuple[float, ...]]) -> None:
        """Score the episodes this rank owns (index % world_size == rank): every rank may see
        every episode (no distributed sampler) or its share; each is scored exactly once."""
        rank, world = self.global_rank, max(self.trainer.world_size, 1)
        mine = [ep for ep in batch if ep.index % world == rank]
        scores = score_module(self, mine, progress=False)  # the cached, packed path when it applies
        self._source_names.update({source_id(ep.task_source): ep.task_source for ep in batch})
        ids = [source_id(ep.task_source) for ep in mine]
        store.extend((*s.row(), i) for s, i in zip(scores, ids, strict=True))  # EVAL_COLUMNS

    def validation_step(self, batch: list[Episode], batch_idx: int) -> None:
        self._eval_step(batch, self._val_scores)

    def test_step(self, batch: list[Episode], batch_idx: int) -> None:
        self._eval_step(batch, self._test_scores)

    def on_validation_epoch_start(self) -> None:
        self._val_scores = []

    def on_test_epoch_start(self) -> None:
        self._test_scores = []

    def _summarise(self, store: list[tuple[float, ...]], stage: str) -> dict[str, MeanCI]:
        """Mean and 95% CI over the union of every rank's episodes (each counted once, in
        index order, so the numbers equal a single-process evaluation); logs them."""
        rows = torch.tensor(store, dtype=torch.float64, device=self.device)
        rows = rows.reshape(-1, len(EVAL_COLUMNS))  # (n_rank, C)
        rows = gather_rows(rows, self.all_gather, self.trainer.world_size).cpu()  # (n, C)
        if rows.numel() == 0:
            return {}
        rows = rows[rows[:, 0].argsort(stable=True)]
        keep = torch.ones(len(rows), dtype=torch.bool)
        keep[1:] = rows[1:, 0] != rows[:-1, 0]  # an episode scored twice counts once
        rows = rows[keep]
        res = {"acc": mean_ci(rows[:, 1]), "f1": mean_ci(rows[:, 2])}
        # every rank holds the same union: sync_dist only confirms it (and keeps Lightning quiet)
        sync = self.trainer.world_size > 1
        for key, value in res.items():
            prog_bar = stage == "val" and key == "acc"
            self.log(f"{stage}/{key}", value.mean, prog_bar=prog_bar, sync_dist=sync)
            self.log(f"{stage}/{key}_ci", value.ci, sync_dist=sync)
        by_source = per_source(rows[:, 1], rows[:, 5], self._source_names)
        # every rank must log the same names: only when each rank can name every source
        named = torch.tensor(float(all(int(i) in self._source_names for i in rows[:, 5].tolist())))
        if sync:
            named = cast(Tensor, self.all_gather(named.to(self.device))).min()
        for name, value in by_source.items() if len(by_source) > 1 and bool(named) else ():
            self.log(f"{stage}/acc/{name}", value.mean, sync_dist=sync)  # e.g. val/acc/wordnet
        for col in (3, 4):
            losses = rows[:, col]
            if bool(torch.isfinite(losses).any()):
                self.log(f"{stage}/{EVAL_COLUMNS[col]}", float(losses.nanmean()), sync_dist=sync)
        return res

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.val_results = self._summarise(self._val_scores, "val")

    def on_test_epoch_end(self) -> None:
        self.test_results = self._summarise(self._test_scores, "test")

    # ---- optimisation -------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer_factory is None:
            opt: torch.optim.Optimizer = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.0)
        else:
            opt = self.optimizer_factory(params)
        if self.scheduler_factory is None:
            return opt
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": self.scheduler_factory(opt), "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["lightning_meta"] = {
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "algorithm": self.algorithm,
            "nonfinite": {
                "skips": int(self.nonfinite_skips),
                "consecutive": int(self._consecutive_skips),
            },
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("lightning_meta", {}).get("nonfinite", {})
        self.nonfinite_skips = int(state.get("skips", 0))
        self._consecutive_skips = int(state.get("consecutive", 0))

    def learned_inner_lrs(self) -> dict[str, float]:
        """The exact step size of every adapted tensor and of the head ({} when not learned):
        each rate is a 0-dim tensor (``make_inner_lrs``), whose float round-trips unchanged."""
        if self.inner_lrs is None:
            return {}
        return {k: float(v.detach().reshape(())) for k, v in self.inner_lrs.items()}
