"""The train stream survives a checkpoint/resume through a real Lightning Trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from lightning_meta.data.config import EpisodeStream
from lightning_meta.data.datamodule import EpisodicDataModule
from lightning_meta.data.episode import Episode
from lightning_meta.data.sampler import EpisodeSampler
from lightning_meta.data.splits import make_splits
from lightning_meta.data.stream import TaskDataModule

from .conftest import make_corpus


class StreamDM(TaskDataModule):
    """TaskDataModule over a synthetic corpus (no tokenizer needed): the extension point."""

    def __init__(
        self, meta_batch_size: int = 2, train_episodes: int = 8, num_workers: int = 0
    ) -> None:
        super().__init__(
            EpisodeStream(
                num_workers=num_workers,
                meta_batch_size=meta_batch_size,
                train_episodes=train_episodes,
                val_episodes=2,
                test_episodes=2,
            )
        )

    def setup(self, stage: str | None = None) -> None:
        corpus = make_corpus()
        plan = make_splits(corpus.labels, corpus.class_names, mode="examples", n_way=3)
        self.provider = EpisodeSampler(
            corpus, plan, n_way=3, k_shot=2, q_query=2, seed=7, source="toy"
        )


class Recorder(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[tuple[int, ...]] = []

    def training_step(self, batch: list[Episode], batch_idx: int) -> torch.Tensor:
        self.seen.append(tuple(e.index for e in batch))
        return (self.w * 1.0).sum()

    def transfer_batch_to_device(self, batch, device, dataloader_idx):  # type: ignore[no-untyped-def]
        return batch

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _trainer(tmp_path: Path, **kw: object) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
        **kw,  # type: ignore[arg-type]
    )


def test_fit_stream_differs_every_epoch(tmp_path: Path) -> None:
    model = Recorder()
    _trainer(tmp_path, max_epochs=2, enable_checkpointing=False).fit(model, datamodule=StreamDM())
    # B = 8 // 2 = 4 meta-batches per epoch, meta-batch g = episodes (2g, 2g + 1)
    assert model.seen == [(2 * g, 2 * g + 1) for g in range(8)]


@pytest.mark.parametrize(("stop_after", "workers"), [(3, 0), (4, 0), (5, 0), (5, 1)])
def test_resume_continues_the_stream(tmp_path: Path, stop_after: int, workers: int) -> None:
    full = Recorder()
    _trainer(tmp_path / "full", max_epochs=3, enable_checkpointing=False).fit(
        full, datamodule=StreamDM()
    )

    first = Recorder()
    ckpt = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ck", every_n_train_steps=stop_after, save_top_k=-1
    )
    _trainer(tmp_path, max_steps=stop_after, callbacks=[ckpt]).fit(first, datamodule=StreamDM())
    path = next((tmp_path / "ck").glob("*.ckpt"))
    assert torch.load(path, weights_only=False)["StreamDM"] == {"position": stop_after}

    second = Recorder()
    _trainer(tmp_path, max_epochs=3, enable_checkpointing=False).fit(
        second, datamodule=StreamDM(), ckpt_path=path
    )
    assert first.seen + second.seen == full.seen


def test_set_position_by_hand() -> None:
    dm = StreamDM()
    dm.setup()
    dm.set_position(6)  # epoch 1, batch 2
    loader = dm.train_dataloader()
    assert [tuple(e.index for e in b) for b in loader] == [(12, 13), (14, 15)]
    assert [b[0].index for b in loader] == [16, 18, 20, 22]  # next epoch, full length
    assert isinstance(EpisodicDataModule, type)


def test_set_position_under_a_fresh_trainer(tmp_path: Path) -> None:
    dm, model = StreamDM(), Recorder()
    dm.set_position(6)
    _trainer(tmp_path, max_epochs=2, enable_checkpointing=False).fit(model, datamodule=dm)
    assert [s[0] // 2 for s in model.seen] == [6, 7, 8, 9, 10, 11]
    assert dm.state_dict() == {"position": 12}
