"""Plots of a meta-training run: adaptation curve and learning curves, as PNG and in loggers.

- Adaptation curve: query accuracy after 0, 1, ..., K inner steps, mean and 95% CI over fixed
  validation (during fit) or test episodes. A meta-learned initialisation that adapts well
  rises quickly from step 0; ProtoNet has no inner loop and draws a single point.
- Learning curves: meta-train loss per step, and validation accuracy with its CI band.

The drawing functions are pure (data in, PNG out, no pyplot state); :class:`Plots` collects the
data during training, writes ``<log_dir>/plots/*.png`` on rank 0 and logs each image to the
loggers that take images (TensorBoard ``add_image``, Weights & Biases ``log_image``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lightning_meta.data.episode import Episode

log = logging.getLogger(__name__)

Z95 = 1.96


def mean_ci_per_step(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Per inner step: mean and 95% CI half-width over episodes. curves: (E, K+1) -> (K+1,) x2."""
    arr = np.asarray(curves, dtype=np.float64)  # (E, K+1)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"curves: need a non-empty (episodes, steps) array, got shape {arr.shape}")
    n = arr.shape[0]
    std = arr.std(axis=0, ddof=1) if n > 1 else np.zeros(arr.shape[1])
    return arr.mean(axis=0), Z95 * std / math.sqrt(n)


def _save(fig: Figure, path: Path) -> np.ndarray:
    """Write ``fig`` as PNG; return its RGB pixels (H, W, 3) for the loggers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    fig.savefig(path, format="png", dpi=fig.dpi)
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_adaptation_curve(
    curves: Sequence[Sequence[float]], path: str | Path, title: str = "Adaptation curve"
) -> np.ndarray:
    """Query accuracy vs inner steps (mean with 95% CI band) to ``path``; returns pixels."""
    mean, ci = mean_ci_per_step(curves)
    steps = np.arange(len(mean))
    fig = Figure(figsize=(5, 3.5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(steps, mean, marker="o", color="tab:blue", label="query accuracy")
    ax.fill_between(steps, mean - ci, mean + ci, color="tab:blue", alpha=0.2, label="95% CI")
    ax.set_xlabel("inner steps on the support set")
    ax.set_ylabel("query accuracy")
    ax.set_title(f"{title} ({len(curves)} episodes)")
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_learning_curves(
    train: Sequence[tuple[int, float]],
    val: Sequence[tuple[int, float, float]],
    path: str | Path,
    title: str = "Learning curves",
) -> np.ndarray:
    """Meta-train loss (step, loss) and validation accuracy (step, mean, ci) side by side."""
    fig = Figure(figsize=(9, 3.5), dpi=100)
    ax_loss, ax_acc = fig.subplots(1, 2)
    if train:
        steps, losses = zip(*train, strict=True)
        ax_loss.plot(steps, losses, color="tab:red", linewidth=1)
    ax_loss.set_xlabel("meta-step")
    ax_loss.set_ylabel("meta-train loss")
    ax_loss.grid(alpha=0.3)
    if val:
        v_steps, means, cis = (np.asarray(x, dtype=np.float64) for x in zip(*val, strict=True))
        ax_acc.plot(v_steps, means, marker="o", color="tab:green")
        ax_acc.fill_between(v_steps, means - cis, means + cis, color="tab:green", alpha=0.2)
    ax_acc.set_xlabel("meta-step")
    ax_acc.set_ylabel("validation accuracy (95% CI)")
    ax_acc.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(path))


def log_image(trainer: pl.Trainer, tag: str, pixels: np.ndarray, path: Path) -> None:
    """Send one image to every logger that takes images (TensorBoard, W&B, ...)."""
    for logger in trainer.loggers:
        experiment: Any = getattr(logger, "experiment", None)
        if hasattr(experiment, "add_image"):  # TensorBoard SummaryWriter
            experiment.add_image(tag, pixels, trainer.global_step, dataformats="HWC")
        elif hasattr(logger, "log_image"):  # WandbLogger (and others with the same method)
            logger.log_image(key=tag, images=[str(path)], step=trainer.global_step)


def _float(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu())
    return float(value) if isinstance(value, (int, float)) else None


class Plots(pl.Callback):
    """Adaptation and learning curves during fit and test (rank 0 draws, nothing to sync).

    Files: ``adaptation_curve_val.png`` (latest validation), ``adaptation_curve_test.png``,
    ``learning_curves.png`` in ``dirpath`` (default ``<log_dir>/plots``).
    """

    def __init__(
        self,
        every_n_val: int = 1,
        curve_episodes: int = 20,
        max_steps: int | None = 10,
        dirpath: str | None = None,
    ) -> None:
        """
        Args:
            every_n_val: draw after every n-th validation (1: every one); always at fit end.
            curve_episodes: fixed episodes of the split the adaptation curve averages over.
            max_steps: inner steps of the adaptation curve (default: the model's eval steps).
            dirpath: where the PNG files go (default: ``<log_dir>/plots``).
        """
        if every_n_val < 1 or curve_episodes < 1:
            raise ValueError("Plots: every_n_val and curve_episodes must be >= 1")
        self.every_n_val = every_n_val
        self.curve_episodes = curve_episodes
        self.max_steps = max_steps
        self.dirpath = dirpath
        self.train_loss: list[tuple[int, float]] = []  # (global step, meta-train loss)
        self.val_acc: list[tuple[int, float, float]] = []  # (global step, mean, ci)
        self.written: dict[str, Path] = {}  # name -> latest file
        self._validations = 0

    # ---- collect ------------------------------------------------------------------------
    def _record_train(self, trainer: pl.Trainer) -> None:
        """The module logs ``train/loss`` after the callbacks' batch-end hook: pick it up on
        the next batch (or before validation / at the end), once per global step."""
        loss = _float(trainer.callback_metrics.get("train/loss"))
        step = trainer.global_step
        if loss is not None and (not self.train_loss or self.train_loss[-1][0] < step):
            self.train_loss.append((step, loss))

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self._record_train(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record_train(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        mean = _float(trainer.callback_metrics.get("val/acc"))
        ci = _float(trainer.callback_metrics.get("val/acc_ci"))
        if mean is not None:
            self.val_acc.append((trainer.global_step, mean, ci or 0.0))
        self._validations += 1
        if self._validations % self.every_n_val == 0 and trainer.state.fn == "fit":
            self._draw(trainer, pl_module, "val")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record_train(trainer)
        if trainer.is_global_zero and (self.train_loss or self.val_acc):
            self._learning_curves(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._draw(trainer, pl_module, "test", learning=False)

    # ---- draw ---------------------------------------------------------------------------
    def _dir(self, trainer: pl.Trainer) -> Path:
        if self.dirpath is not None:
            return Path(self.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / "plots"

    def _episodes(self, trainer: pl.Trainer, split: str) -> list[Episode]:
        dm = getattr(trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "fixed_episodes"):
            total = getattr(dm, "n_episodes", {}).get(split, self.curve_episodes)
            return list(dm.fixed_episodes(split, min(self.curve_episodes, total)))
        loaders = trainer.val_dataloaders if split == "val" else trainer.test_dataloaders
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        episodes: list[Episode] = []
        for batch in loader or []:
            episodes.extend(batch)
            if len(episodes) >= self.curve_episodes:
                break
        return episodes[: self.curve_episodes]

    def curves(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, split: str
    ) -> list[list[float]]:
        """Adaptation curve of each of the first ``curve_episodes`` episodes of ``split``."""
        curve = getattr(pl_module, "curve", None)
        if curve is None:
            return []
        with torch.enable_grad():
            return [
                curve(ep.to(pl_module.device), self.max_steps)
                for ep in self._episodes(trainer, split)
            ]

    def _draw(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, split: str, learning: bool = True
    ) -> None:
        if not trainer.is_global_zero:
            return
        curves = self.curves(trainer, pl_module, split)
        if curves:
            name = f"adaptation_curve_{split}"
            path = self._dir(trainer) / f"{name}.png"
            title = f"Adaptation curve, {split} (step {trainer.global_step})"
            pixels = plot_adaptation_curve(curves, path, title)
            self._publish(trainer, name, pixels, path)
        if learning:
            self._learning_curves(trainer)

    def _learning_curves(self, trainer: pl.Trainer) -> None:
        path = self._dir(trainer) / "learning_curves.png"
        pixels = plot_learning_curves(self.train_loss, self.val_acc, path)
        self._publish(trainer, "learning_curves", pixels, path)

    def _publish(self, trainer: pl.Trainer, name: str, pixels: np.ndarray, path: Path) -> None:
        self.written[name] = path
        log_image(trainer, f"plots/{name}", pixels, path)
        log.info("plots: wrote %s", path)

    # ---- checkpoint ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "train_loss": self.train_loss,
            "val_acc": self.val_acc,
            "validations": self._validations,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_loss = [tuple(x) for x in state_dict.get("train_loss", [])]
        self.val_acc = [tuple(x) for x in state_dict.get("val_acc", [])]
        self._validations = int(state_dict.get("validations", 0))
