"""Tracking: an offline W&B run directory holds the metrics and config, without a network or a
key; TensorBoard and CSV get the same metrics; the progress bar shows tasks/s and val acc."""

from __future__ import annotations

import csv
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_meta.callbacks.tracking import (
    WandbLogger,
    resolve_wandb_mode,
    wandb_api_key_configured,
)
from lightning_meta.errors import ConfigError

# what every run must log (issue 5): outer loss, query loss before/after, val acc/F1 with CIs,
# tasks/s, learned inner lrs, the optimizer's learning rate (LearningRateMonitor)
EXPECTED = {
    "train/loss",
    "train/query_loss_before",
    "train/query_loss_after",
    "train/tasks_per_s",
    "val/acc",
    "val/acc_ci",
    "val/f1",
    "val/f1_ci",
    "lr-SGD",
}


def wandb_records(path: Path) -> Iterator[Any]:
    """Protobuf records of a ``.wandb`` file (LevelDB-style log: 32 KiB blocks of chunks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pos += 7
        if kind == 0:
            break
        chunk, pos = data[pos : pos + length], pos + length
        if kind in (1, 2):  # FULL, FIRST
            pending = chunk
        else:  # MIDDLE, LAST
            pending += chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


@pytest.fixture
def no_wandb_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def test_mode_resolution(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password abc123\n")
    none = {"NETRC": str(tmp_path / "missing")}
    assert not wandb_api_key_configured(none)
    assert wandb_api_key_configured({"NETRC": str(netrc)})
    assert wandb_api_key_configured({**none, "WANDB_API_KEY": "k"})
    assert resolve_wandb_mode(None, none) == "offline"
    assert resolve_wandb_mode(False, none) == "offline"  # no key: never online, never prompts
    assert resolve_wandb_mode(None, {**none, "WANDB_API_KEY": "k"}) == "online"
    assert resolve_wandb_mode(None, {"WANDB_API_KEY": "k", "WANDB_MODE": "offline"}) == "offline"
    assert resolve_wandb_mode(True, {"WANDB_API_KEY": "k"}) == "offline"
    assert resolve_wandb_mode(None, {"WANDB_MODE": "disabled"}) == "disabled"


def test_log_model_needs_online(no_wandb_key: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="log_model"):
        WandbLogger(save_dir=str(tmp_path), log_model=True)


def test_offline_wandb_tensorboard_csv(no_wandb_key: None, tmp_path: Path, tiny_csv: Path) -> None:
    import pytorch_lightning as pl
    import wandb
    from pytorch_lightning.callbacks import LearningRateMonitor, RichProgressBar
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    from lightning_meta.callbacks import Plots
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
        stream=EpisodeStream(meta_batch_size=2, train_episodes=6, val_episodes=3, test_episodes=3),
        tokens=Tokenization(max_length=16),
    )
    module = MAML(
        first_order=True,
        encoder=EncoderConfig(backbone="tiny"),
        inner=InnerLoopArgs(steps=1, learn_lr=True),
        optimizer=lambda params: torch.optim.SGD(params, lr=0.01),
    )
    wandb_logger = WandbLogger(save_dir=str(tmp_path / "runs"), name="tiny")
    assert wandb_logger.mode == "offline"
    loggers = [
        TensorBoardLogger(tmp_path / "runs", name="tiny"),
        CSVLogger(tmp_path / "runs", name="tiny"),
        wandb_logger,
    ]
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=3,
        max_epochs=1,
        logger=loggers,
        log_every_n_steps=1,
        callbacks=[LearningRateMonitor(), RichProgressBar(), Plots(curve_episodes=2, max_steps=2)],
        enable_checkpointing=False,
        enable_model_summary=False,
        inference_mode=False,
        num_sanity_val_steps=0,
    )
    try:
        trainer.fit(module, data)
        run_dir = wandb_logger.run_dir
    finally:
        wandb.finish()
        wandb.teardown()  # stops the wandb-core service: the .wandb log is flushed
    # progress bar: tasks/s and the latest validation accuracy
    assert {"train/tasks_per_s", "val/acc", "train/loss"} <= set(trainer.progress_bar_metrics)

    # W&B: an offline run directory whose .wandb log holds the metrics, config and plots
    assert run_dir is not None and run_dir.name.startswith("offline-run-")
    assert run_dir.parent == tmp_path / "runs" / "wandb"
    (run_file,) = run_dir.glob("run-*.wandb")
    history: dict[str, list[str]] = {}
    config: dict[str, str] = {}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            for item in record.history.item:
                history.setdefault(item.key or "/".join(item.nested_key), []).append(
                    item.value_json
                )
        elif kind in ("config", "run"):
            updates = record.config.update if kind == "config" else record.run.config.update
            config.update({u.key or "/".join(u.nested_key): u.value_json for u in updates})
    inner_lr_keys = {k for k in history if k.startswith("inner_lr/")}
    assert set(history) >= EXPECTED, sorted(history)
    assert inner_lr_keys, "learned inner learning rates are logged"
    assert len(history["train/loss"]) == 3 and all(float(v) > 0 for v in history["train/loss"])
    for image in ("plots/adaptation_curve_val", "plots/learning_curves"):  # images-file entries
        assert f"{image}/_type" in history
    assert len(list((run_dir / "files" / "media" / "images").rglob("*.png"))) >= 2
    assert {"inner", "encoder", "stream", "shape"} <= set(config)  # argument groups, nested

    # CSV has the same metrics
    csv_file = Path(loggers[1].log_dir) / "metrics.csv"
    with csv_file.open() as fh:
        columns = set(next(csv.reader(fh)))
    assert EXPECTED | inner_lr_keys <= columns


def test_resolved_config_reaches_loggers(tmp_path: Path, tiny_csv: Path) -> None:
    """LoggedSaveConfig: the full resolved config (defaults filled in) in every logger."""
    import pytorch_lightning as pl
    import yaml
    from pytorch_lightning.cli import LightningCLI

    from lightning_meta.callbacks import LoggedSaveConfig
    from lightning_meta.lightning import EpisodicModule

    config = {
        "trainer": {
            "accelerator": "cpu",
            "max_steps": 1,
            "limit_val_batches": 1,
            "enable_progress_bar": False,
            "enable_checkpointing": False,
            "logger": {
                "class_path": "pytorch_lightning.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path)},
            },
        },
        "model": {
            "class_path": "lightning_meta.lightning.ProtoNet",
            "init_args": {"encoder": {"backbone": "tiny"}},
        },
        "data": {
            "class_path": "lightning_meta.data.EpisodicDataModule",
            "init_args": {
                "source": str(tiny_csv),
                "shape": {"n_way": 3, "k_shot": 2, "q_query": 3},
                "split_mode": "classes",
                "split_fractions": [0.34, 0.33, 0.33],
                "stream": {
                    "meta_batch_size": 1,
                    "train_episodes": 1,
                    "val_episodes": 1,
                    "test_episodes": 1,
                },
                "tokens": {"max_length": 16},
            },
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = LightningCLI(
        EpisodicModule,
        pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_callback=LoggedSaveConfig,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"inference_mode": False},
        args=["fit", "--config", str(path)],
    )
    assert cli.trainer.logger is not None and cli.trainer.logger.log_dir is not None
    hparams = yaml.safe_load((Path(cli.trainer.logger.log_dir) / "hparams.yaml").read_text())
    resolved = hparams["config"]
    assert resolved["trainer"]["max_steps"] == 1
    assert resolved["model"]["init_args"]["distance"] == "euclidean"  # a default, filled in
    assert resolved["data"]["init_args"]["shape"]["k_shot"] == 2
