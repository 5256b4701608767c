"""A tiny experiment (tiny backbone, tiny CSV, a few steps) and a tiny space for the tuner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

TINY_SPACE = {
    "model.init_args.inner.lr": {"type": "float", "low": 1e-3, "high": 0.3, "log": True},
    "model.init_args.inner.steps": {"type": "int", "low": 1, "high": 2},
}


def tiny_experiment(tmp_path: Path, csv_path: Path, max_steps: int = 2) -> dict[str, Any]:
    run = tmp_path / "runs"
    return {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": max_steps,
            "max_epochs": 10,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": {
                "class_path": "pytorch_lightning.loggers.CSVLogger",
                "init_args": {"save_dir": str(run)},
            },
            "callbacks": [
                {
                    "class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                    "init_args": {
                        "monitor": "val/acc",
                        "mode": "max",
                        "dirpath": str(run / "checkpoints"),
                    },
                },
                {
                    "class_path": "lightning_meta.callbacks.HFExport",
                    "init_args": {"dirpath": str(run / "export")},
                },
            ],
        },
        "model": {
            "class_path": "lightning_meta.lightning.MAML",
            "init_args": {
                "encoder": {"backbone": "tiny"},
                "inner": {"steps": 1, "lr": 0.01},
                "first_order": True,
            },
        },
        "data": {
            "class_path": "lightning_meta.data.EpisodicDataModule",
            "init_args": {
                "source": "files",
                "data_files": [str(csv_path)],
                "split_fractions": [0.34, 0.33, 0.33],
                "split_mode": "classes",
                "shape": {"n_way": 3, "k_shot": 2, "q_query": 3},
                "stream": {
                    "meta_batch_size": 2,
                    "train_episodes": 2,
                    "val_episodes": 3,
                    "test_episodes": 3,
                },
                "tokens": {"max_length": 16, "tokenizer": "minilm"},
            },
        },
    }


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def finetune_experiment(tmp_path: Path, csv_path: Path) -> dict[str, Any]:
    """The tiny experiment with the fine-tuning baseline (what --eval-only tunes), adapting with
    the evaluator's defaults (top1, prototype head, 5 steps, lr 0.01)."""
    cfg = tiny_experiment(tmp_path, csv_path)
    cfg["model"] = {
        "class_path": "lightning_meta.lightning.FineTune",
        "init_args": {
            "encoder": {"backbone": "tiny"},
            "inner": {"adapt": "top1", "head_init": "prototype", "steps": 5, "lr": 0.01},
        },
    }
    return cfg


@pytest.fixture
def experiment(tmp_path: Path, tiny_csv: Path) -> Path:
    return write_yaml(tmp_path / "experiment.yaml", tiny_experiment(tmp_path, tiny_csv))


@pytest.fixture
def space(tmp_path: Path) -> Path:
    return write_yaml(tmp_path / "space.yaml", TINY_SPACE)
