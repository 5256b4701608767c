"""TailAveraging: validation, checkpoints and the end of fit hold the uniform mean of the weights
after steps from_step..max_steps (recorded step by step and averaged by hand here); before
from_step nothing is swapped or saved as an average."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_meta.callbacks.averaging import TailAveraging


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(2, 1)
        self.after_step: list[torch.Tensor] = []  # the trained weights after each optimizer step
        self.seen_in_validation: list[torch.Tensor] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return (self.layer(batch[0]) - 1.0).pow(2).mean()

    def on_train_batch_end(self, outputs: object, batch: object, batch_idx: int) -> None:
        self.after_step.append(self.layer.weight.detach().clone())

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("val/loss", self.layer(batch[0]).pow(2).mean())

    def on_validation_epoch_start(self) -> None:
        self.seen_in_validation.append(self.layer.weight.detach().clone())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(
    tmp_path: Path, averaging: TailAveraging, max_steps: int, val_every: int
) -> tuple[Tiny, Path]:
    torch.manual_seed(1)
    data = DataLoader(TensorDataset(torch.randn(20, 2)), batch_size=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, monitor="val/loss", save_top_k=-1, filename="{step}")
    trainer = pl.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        max_steps=max_steps, val_check_interval=val_every, callbacks=[ckpt, averaging],
    )  # fmt: skip
    model = Tiny()
    trainer.fit(model, data, DataLoader(TensorDataset(torch.randn(2, 2)), batch_size=2))
    return model, tmp_path


def test_the_average_holds_steps_from_step_on(tmp_path: Path) -> None:
    averaging = TailAveraging(from_step=3)
    model, ckpts = _fit(tmp_path, averaging, max_steps=6, val_every=2)
    steps = model.after_step
    assert len(steps) == 6 and not torch.equal(steps[2], steps[5])
    by_hand = (steps[2] + steps[3] + steps[4] + steps[5]) / 4  # steps 3, 4, 5, 6
    assert averaging.n_averaged == 4
    # validation at step 2 (before from_step): the trained weights; at 4: mean of 3 and 4; at 6: of 3..6
    torch.testing.assert_close(model.seen_in_validation[0], steps[1], rtol=0, atol=0)
    torch.testing.assert_close(model.seen_in_validation[1], (steps[2] + steps[3]) / 2)
    torch.testing.assert_close(model.seen_in_validation[2], by_hand)
    # checkpoints: before from_step a plain one; later the average, the trained weights kept beside it
    early = torch.load(ckpts / "step=2.ckpt", weights_only=False)
    assert "averaging_state" not in early
    torch.testing.assert_close(early["state_dict"]["layer.weight"], steps[1], rtol=0, atol=0)
    late = torch.load(ckpts / "step=6.ckpt", weights_only=False)
    torch.testing.assert_close(late["state_dict"]["layer.weight"], by_hand)
    torch.testing.assert_close(
        late["current_model_state"]["layer.weight"], steps[5], rtol=0, atol=0
    )
    assert int(late["averaging_state"]["n_averaged"]) == 4
    # the end of fit leaves the average in the module (what HFExport's checkpoint also holds)
    torch.testing.assert_close(model.layer.weight.detach(), by_hand)


def test_every_n_steps_and_a_run_that_ends_before_from_step(tmp_path: Path) -> None:
    averaging = TailAveraging(from_step=2, every_n_steps=2)
    model, _ = _fit(tmp_path / "a", averaging, max_steps=6, val_every=6)
    steps = model.after_step
    torch.testing.assert_close(model.layer.weight.detach(), (steps[1] + steps[3] + steps[5]) / 3)
    never = TailAveraging(from_step=10)
    model, ckpts = _fit(tmp_path / "b", never, max_steps=4, val_every=4)
    assert never.n_averaged == 0
    torch.testing.assert_close(model.layer.weight.detach(), model.after_step[-1], rtol=0, atol=0)
    assert "averaging_state" not in torch.load(ckpts / "step=4.ckpt", weights_only=False)


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"from_step": 0}, "from_step"), ({"every_n_steps": 0}, "every_n_steps")]
)
def test_bad_arguments_name_the_field(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=f"TailAveraging.{field}"):
        TailAveraging(**kwargs)
