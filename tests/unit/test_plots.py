"""Plots: pure drawing functions write real PNGs; the callback draws during fit and test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lightning_meta.callbacks.plots import (
    Plots,
    mean_ci_per_step,
    plot_adaptation_curve,
    plot_learning_curves,
)
from lightning_meta.evaluation.metrics import mean_ci

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> tuple[int, int]:
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width > 100 and img.height > 100
        return img.size


def test_mean_ci_per_step_matches_metrics() -> None:
    curves = [[0.2, 0.5, 0.6], [0.4, 0.7, 0.9], [0.3, 0.6, 0.6]]
    mean, ci = mean_ci_per_step(curves)
    for k in range(3):
        ref = mean_ci([c[k] for c in curves])
        assert mean[k] == pytest.approx(ref.mean) and ci[k] == pytest.approx(ref.ci)
    with pytest.raises(ValueError, match="non-empty"):
        mean_ci_per_step([])


def test_adaptation_curve_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    curves = np.clip(np.linspace(0.3, 0.8, 6) + 0.05 * rng.standard_normal((20, 6)), 0, 1)
    pixels = plot_adaptation_curve(curves.tolist(), tmp_path / "sub" / "curve.png")
    w, h = assert_png(tmp_path / "sub" / "curve.png")
    assert pixels.shape == (h, w, 3) and pixels.dtype == np.uint8
    # ProtoNet: one point per episode (no inner loop)
    plot_adaptation_curve([[0.5], [0.7]], tmp_path / "proto.png")
    assert_png(tmp_path / "proto.png")


def test_learning_curves_png(tmp_path: Path) -> None:
    train = [(i, 1.5 / (1 + 0.1 * i)) for i in range(1, 40)]
    val = [(10, 0.4, 0.05), (20, 0.5, 0.04), (30, 0.55, 0.04)]
    plot_learning_curves(train, val, tmp_path / "lc.png")
    assert_png(tmp_path / "lc.png")
    plot_learning_curves(train, [], tmp_path / "no_val.png")  # before the first validation
    assert_png(tmp_path / "no_val.png")


def test_callback_draws_during_fit_and_test(tmp_path: Path, tiny_csv: Path) -> None:
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lightning_meta.data import EpisodicDataModule
    from lightning_meta.data.config import EpisodeShape, EpisodeStream, Tokenization
    from lightning_meta.lightning import MAML
    from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs

    torch.set_num_threads(1)
    data = EpisodicDataModule(
        source=str(tiny_csv),
        shape=EpisodeShape(n_way=3, k_shot=2, q_query=3),
        split_fractions=(0.34, 0.33, 0.33),
        split_mode="classes",
        stream=EpisodeStream(meta_batch_size=2, train_episodes=4, val_episodes=3, test_episodes=3),
        tokens=Tokenization(max_length=16),
    )
    module = MAML(
        first_order=True, encoder=EncoderConfig(backbone="tiny"), inner=InnerLoopArgs(steps=1)
    )
    plots = Plots(curve_episodes=3, max_steps=3)
    logger = TensorBoardLogger(tmp_path, name="run")
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=4,
        max_epochs=2,
        logger=logger,
        callbacks=[plots],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        inference_mode=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, data)
    trainer.test(module, data, verbose=False)
    out = Path(logger.log_dir) / "plots"
    for name in ("adaptation_curve_val", "learning_curves", "adaptation_curve_test"):
        assert_png(out / f"{name}.png")
        assert plots.written[name] == out / f"{name}.png"
    assert [s for s, *_ in plots.val_acc] == [2, 4]  # one validation per epoch
    assert len(plots.train_loss) == 4 and all(np.isfinite([v for _, v in plots.train_loss]))
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert {"plots/adaptation_curve_val", "plots/learning_curves"} <= set(events.Tags()["images"])
