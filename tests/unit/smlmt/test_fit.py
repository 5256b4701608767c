"""End to end: first-order MAML on the tiny encoder trains on SMLMT and hybrid tasks unchanged."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from lightning_meta.callbacks import TaskMixLogger
from lightning_meta.data.config import EpisodeShape, EpisodeStream, Tokenization
from lightning_meta.data.hybrid import HybridDataModule, LabelledSource
from lightning_meta.data.smlmt import SMLMTDataModule, SMLMTText
from lightning_meta.lightning import MAML
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs

TINY = EncoderConfig(backbone="tiny")
STREAM = EpisodeStream(meta_batch_size=2, train_episodes=4, val_episodes=2, test_episodes=2)


class Sources(pl.Callback):
    """Reference: the task_source of every train episode actually trained on."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:  # fmt: skip
        self.seen.update(ep.task_source for ep in batch)


def trainer(callbacks: list[pl.Callback] | None = None) -> pl.Trainer:
    return pl.Trainer(
        callbacks=callbacks, max_steps=2, limit_val_batches=2, num_sanity_val_steps=0, inference_mode=False,
        use_distributed_sampler=False, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip


def test_fit_on_smlmt_tasks(corpus_file: Path, tmp_path: Path) -> None:
    pl.seed_everything(0)
    dm = SMLMTDataModule(
        smlmt=SMLMTText(texts=(str(corpus_file),), min_count=2, split_fractions=(0.5, 0.25, 0.25)),
        shape=EpisodeShape(n_way=3, k_shot=2, q_query=2),
        stream=STREAM,
        tokens=Tokenization(cache_dir=str(tmp_path)),
    )
    model = MAML(first_order=True, encoder=TINY, inner=InnerLoopArgs(adapt="top1", steps=1))
    t = trainer()
    t.fit(model, datamodule=dm)
    assert t.global_step == 2
    assert math.isfinite(float(t.callback_metrics["train/loss"]))
    assert "val/acc" in t.callback_metrics
    results = t.test(model, datamodule=dm, verbose=False)
    assert 0.0 <= results[0]["test/acc"] <= 1.0


def test_fit_on_hybrid_tasks(corpus_file: Path, labelled_csv: Path, tmp_path: Path) -> None:
    pl.seed_everything(0)
    dm = HybridDataModule(
        smlmt=SMLMTText(texts=(str(corpus_file),), min_count=2, split_fractions=(0.5, 0.25, 0.25)),
        labelled=[LabelledSource(source="files", data_files=(str(labelled_csv),),
                                 split_fractions=(0.34, 0.33, 0.33))],
        mixing="fixed", weights=[0.5, 0.5], shape=EpisodeShape(n_way=3, k_shot=2, q_query=2),
        stream=STREAM, tokens=Tokenization(cache_dir=str(tmp_path)),
    )  # fmt: skip
    model = MAML(first_order=True, encoder=TINY, inner=InnerLoopArgs(adapt="top1", steps=1))
    sources, mix = Sources(), TaskMixLogger(every_n_steps=1)
    t = trainer([sources, mix])
    t.fit(model, datamodule=dm)
    assert t.global_step == 2
    counts = dm.task_counts()
    assert sum(counts.values()) == 4 and set(counts) == {"smlmt", "files"}
    # the logged counts are the families of the episodes that were actually trained on
    assert mix.last == counts == {k: sources.seen[k] for k in counts}
    for name, n in counts.items():
        assert float(t.callback_metrics[f"tasks/{name}"]) == n
        assert float(t.callback_metrics[f"tasks/{name}_share"]) == n / 4
