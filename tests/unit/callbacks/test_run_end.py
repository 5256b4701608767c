"""Issue 12.5 and 12.7: the last step of a max_steps run is validated and checkpointed, and the
reason training stopped is named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_meta.callbacks.run_end import FinalValidation, stop_reason


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.validated_at: list[int] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("val/loss", self.layer(batch[0]).pow(2).mean())

    def on_validation_epoch_end(self) -> None:
        self.validated_at.append(self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader(n: int) -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(n, 2)), batch_size=1)


def _fit(tmp_path: Path, callbacks: list[pl.Callback], **kwargs: object) -> tuple[pl.Trainer, Tiny]:
    ckpt = ModelCheckpoint(dirpath=tmp_path, monitor="val/loss", save_last=True)
    trainer = pl.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, callbacks=[ckpt, *callbacks], **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    model = Tiny()
    trainer.fit(model, _loader(10), _loader(2))
    return trainer, model


def test_max_steps_mid_epoch_is_validated_and_checkpointed(tmp_path: Path) -> None:
    trainer, model = _fit(tmp_path / "a", [], max_steps=13)  # epochs of 10 steps
    assert model.validated_at == [10]  # Lightning alone: steps 11-13 never validated
    trainer, model = _fit(tmp_path / "b", [FinalValidation()], max_steps=13)
    assert model.validated_at == [10, 13]
    assert torch.load(tmp_path / "b" / "last.ckpt", weights_only=False)["global_step"] == 13
    assert stop_reason(trainer) == "max_steps"


def test_last_step_on_an_epoch_end_validates_once(tmp_path: Path) -> None:
    _, model = _fit(tmp_path, [FinalValidation()], max_steps=20)
    assert model.validated_at == [10, 20]


def test_stop_reasons(tmp_path: Path) -> None:
    trainer, _ = _fit(tmp_path / "t", [FinalValidation()], max_steps=100, max_time=timedelta(0))
    assert stop_reason(trainer) == "max_time" and trainer.global_step < 100
    trainer, _ = _fit(tmp_path / "e", [], max_epochs=2)
    assert stop_reason(trainer) == "max_epochs"
    stopper = EarlyStopping(monitor="val/loss", patience=0, mode="max", check_finite=False)
    trainer, _ = _fit(tmp_path / "s", [stopper], max_epochs=50)
    assert stop_reason(trainer) == "early_stopping" and trainer.current_epoch < 50
