"""Issue 12 item 4: `evaluate` scores an export or checkpoint on its own run's held-out split
(recorded split settings, max_length, tokenizer) unless overridden, and warns on stderr when an
override puts training classes into the evaluated split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_meta.callbacks.export import export_module
from lightning_meta.cli import main
from lightning_meta.data import EpisodicDataModule
from lightning_meta.data.config import build
from lightning_meta.evaluation.recorded import recorded_data, split_classes
from lightning_meta.lightning import MAML
from tests.unit.fewshot.helpers import module

EVAL = ["--episodes", "2", "--n-way", "3", "--k-shot", "2", "--q-query", "3"]


def run_data(csv: Path, split_seed: int) -> dict[str, Any]:
    """The data init_args a training run recorded (grouped, as LightningCLI saves them)."""
    return {
        "source": str(csv), "split_fractions": [0.34, 0.33, 0.33], "split_mode": "classes",
        "split_seed": split_seed, "shape": {"n_way": 3, "k_shot": 2, "q_query": 3},
        "tokens": {"tokenizer": "minilm", "max_length": 16},
    }  # fmt: skip


@pytest.fixture
def trained(tmp_path: Path, tiny_csv: Path) -> tuple[Path, Path]:
    """An export and a checkpoint of a run on tiny_csv with split_seed 1."""
    mod = module(MAML, first_order=True, inner_steps=1)
    data = run_data(tiny_csv, 1)
    config = {"data": {"class_path": "lightning_meta.data.EpisodicDataModule", "init_args": data}}
    export = export_module(mod, tmp_path / "export", "minilm", {"config": config})
    dm = build(EpisodicDataModule, data)
    state = {"state_dict": mod.state_dict(), "hyper_parameters": dict(mod.hparams),
             "datamodule_hyper_parameters": dict(dm.hparams)}  # fmt: skip
    mod.on_save_checkpoint(state)
    torch.save(state, tmp_path / "m.ckpt")
    return export, tmp_path / "m.ckpt"


def classes_line(out: str, split: str = "test") -> list[str]:
    line = next(ln for ln in out.splitlines() if ln.startswith(f"{split} classes: "))
    return line.split(": ", 1)[1].split(", ")


def flat(csv: Path, split_seed: int) -> dict[str, Any]:
    data = run_data(csv, split_seed)
    return {**{k: v for k, v in data.items() if k not in ("shape", "tokens")},
            "n_way": 3, "max_length": 16, "tokenizer": "minilm"}  # fmt: skip


@pytest.mark.parametrize("kind", ["export", "ckpt"])
def test_evaluate_takes_the_runs_own_split(
    kind: str, trained: tuple[Path, Path], tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(trained[0] if kind == "export" else trained[1])
    own = split_classes(flat(tiny_csv, 1), "test")[1]
    assert own != split_classes(flat(tiny_csv, 0), "test")[1]  # the seed matters here
    capsys.readouterr()
    assert main(["evaluate", "--model", model, *EVAL]) == 0  # no --data: the run's source
    out, err = capsys.readouterr()
    assert classes_line(out) == own
    assert "split_seed=1" in out and "max_length=16" in out and "WARNING" not in err
    # the same source given explicitly is still the same run's split
    assert main(["evaluate", "--model", model, "--data", str(tiny_csv), *EVAL]) == 0
    assert classes_line(capsys.readouterr().out) == own


def test_an_overriding_split_seed_warns_naming_the_training_classes(
    trained: tuple[Path, Path], tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = split_classes(flat(tiny_csv, 1), "train")[1]
    test0 = split_classes(flat(tiny_csv, 0), "test")[1]
    overlap = sorted(set(train) & set(test0))
    assert overlap  # split seed 0's test classes include classes trained on with seed 1
    capsys.readouterr()
    assert main(["evaluate", "--model", str(trained[0]), "--split-seed", "0", *EVAL]) == 0
    out, err = capsys.readouterr()
    assert classes_line(out) == test0
    warning = [ln for ln in err.splitlines() if ln.startswith("WARNING: ")]
    assert len(warning) == 1 and "split_seed=0 (trained: 1)" in warning[0]
    assert f"{len(overlap)} of the {len(test0)} test classes" in warning[0]
    assert all(name in warning[0] for name in overlap)


def test_recorded_data_reads_exports_and_checkpoints(
    trained: tuple[Path, Path], tiny_csv: Path
) -> None:
    for path in trained:
        rec = recorded_data(str(path))
        assert rec["split_seed"] == 1 and rec["max_length"] == 16 and rec["tokenizer"] == "minilm"
        assert rec["source"] == str(tiny_csv) and list(rec["split_fractions"]) == [0.34, 0.33, 0.33]
    assert recorded_data("tiny") == {}
