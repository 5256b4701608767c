"""A Trainer built in Python with Lightning's default ``inference_mode=True`` would make the
episodic evaluation fail deep in autograd; the module's setup says what to change instead."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import pytorch_lightning as pl

from lightning_meta.data import EpisodicDataModule
from lightning_meta.data.config import build
from lightning_meta.errors import ConfigError
from lightning_meta.lightning import MAML
from tests.conftest import tiny_rows
from tests.unit.fewshot.helpers import module


def _trainer(tmp_path: Path, **kw: object) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _data(tmp_path: Path) -> EpisodicDataModule:
    frame = pd.DataFrame(tiny_rows(), columns=["text", "label"])
    args = {"source": frame, "n_way": 3, "k_shot": 2, "q_query": 2, "max_length": 16,
            "val_episodes": 2, "test_episodes": 2, "meta_batch_size": 2, "train_episodes": 2,
            "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    return build(EpisodicDataModule, args)


@pytest.mark.parametrize("stage", ["validate", "test", "fit"])
def test_inference_mode_trainer_fails_in_setup_with_the_fix(tmp_path: Path, stage: str) -> None:
    model = module(MAML, first_order=True, inner_steps=1)
    trainer = _trainer(tmp_path, max_steps=1, num_sanity_val_steps=0)  # inference_mode=True
    with pytest.raises(ConfigError) as info:
        getattr(trainer, stage)(model, datamodule=_data(tmp_path))
    message = str(info.value)
    assert "\n" not in message and "Trainer(inference_mode=False)" in message


def test_the_fix_works_and_fit_without_validation_is_not_refused(tmp_path: Path) -> None:
    model = module(MAML, first_order=True, inner_steps=1)
    results = _trainer(tmp_path, inference_mode=False).validate(model, datamodule=_data(tmp_path))
    assert 0.0 <= results[0]["val/acc"] <= 1.0
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)  # nothing evaluates
    trainer.fit(module(MAML, first_order=True, inner_steps=1), datamodule=_data(tmp_path))
    assert trainer.global_step == 1
