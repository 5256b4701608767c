"""Exact resume: a run SIGKILLed mid-epoch and resumed with ``--ckpt_path last`` ends bit-identical
to an uninterrupted run (parameters, learned inner lrs, optimizer and scheduler states, stream
position, RNG-dependent metrics), on CPU with ``trainer.deterministic: true``.

Run A trains 6 steps uninterrupted. Run B checkpoints every 3 steps and is SIGKILLed by
:class:`~lightning_meta.reliability.KillAtStep` after step 5 (mid-epoch 1: the last checkpoint
is step 3, mid-epoch 0); it is then resumed with ``--ckpt_path last`` and trains steps 4-6, across
the epoch boundary and its validation. Everything goes through the real CLI: the run that is
killed in a subprocess, the others in this process (one interpreter start instead of three).
"""

from __future__ import annotations

import csv
import math
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import yaml

from lightning_meta.cli import main
from lightning_meta.reliability.checkpoint import load_checkpoint_state

ROOT = Path(__file__).resolve().parents[2]
STEPS, EVERY, KILL_AT = 6, 3, 5
TIMING = ("tasks_per_s",)  # wall-clock metrics differ between any two runs


class RandomProbe(pl.Callback):
    """Draws from every global RNG each training batch and logs the numbers: if a resumed run
    did not restore (or reseed) torch, numpy and Python ``random``, these metrics would differ."""

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        pl_module.log("probe/torch", float(torch.rand(())), batch_size=1)
        pl_module.log("probe/numpy", float(np.random.rand()), batch_size=1)
        pl_module.log("probe/python", random.random(), batch_size=1)


MAML = {"class_path": "lightning_meta.lightning.MAML",
        "init_args": {"encoder": {"backbone": "tiny"}, "inner": {"steps": 2, "learn_lr": True},
                      "first_order": True,
                      "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 1e-3}},
                      "scheduler": {"class_path": "torch.optim.lr_scheduler.StepLR",
                                    "init_args": {"step_size": 2, "gamma": 0.5}}}}  # fmt: skip
REPTILE = {
    "class_path": "lightning_meta.lightning.Reptile",
    "init_args": {"encoder": {"backbone": "tiny"}, "inner": {"steps": 1}},
}


def resume_config(
    out: Path,
    csv_path: Path,
    kill: bool = False,
    model: dict[str, Any] = MAML,
    steps: int = STEPS,
    every: int = EVERY,
    reseed: bool = True,
) -> Path:
    callbacks: list[dict[str, Any]] = [
        {
            "class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
            "init_args": {
                "dirpath": str(out / "ckpt"),
                "every_n_train_steps": every,
                "save_last": True,
                "save_top_k": -1,
            },
        },
        {"class_path": "tests.integration.test_resume.RandomProbe"},
        {
            "class_path": "lightning_meta.reliability.RNGState",
            "init_args": {"reseed_each_step": reseed},
        },
    ]
    if kill:
        callbacks.append(
            {"class_path": "lightning_meta.reliability.KillAtStep", "init_args": {"step": KILL_AT}}
        )
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu", "devices": 1, "deterministic": True, "max_steps": steps,
            "limit_val_batches": 2, "log_every_n_steps": 1, "num_sanity_val_steps": 0,
            "enable_progress_bar": False, "enable_model_summary": False, "default_root_dir": str(out),
            "logger": {"class_path": "pytorch_lightning.loggers.CSVLogger",
                       "init_args": {"save_dir": str(out), "name": "csv"}},
            "callbacks": callbacks,
        },
        "model": model,
        "data": {"class_path": "lightning_meta.data.EpisodicDataModule",
                 "init_args": {"source": str(csv_path), "shape": {"n_way": 3, "k_shot": 2, "q_query": 2},
                               "split_fractions": [0.34, 0.33, 0.33], "split_mode": "classes",
                               "stream": {"meta_batch_size": 2, "train_episodes": 8,
                                          "val_episodes": 2, "test_episodes": 2},
                               "tokens": {"max_length": 16}}},
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def cli(config: Path, *extra: str) -> subprocess.Popen[str]:
    """``lightning-meta fit`` in a subprocess (one intra-op thread, like :func:`fit_here`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lightning_meta.cli", "fit", "--config", str(config), *extra]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


@pytest.fixture
def fit_here(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., int]]:
    """``lightning-meta fit`` in this process (saves an interpreter start), one thread, and the
    global torch flags that ``deterministic: true`` sets put back afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    try:
        yield lambda config, *extra: main(["fit", "--config", str(config), *extra])
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def metrics(out: Path) -> dict[tuple[int, str], float]:
    """(step, name) -> value from the newest CSVLogger version under ``out``."""
    versions = sorted((out / "csv").glob("version_*"), key=lambda p: int(p.name.split("_")[1]))
    values: dict[tuple[int, str], float] = {}
    with (versions[-1] / "metrics.csv").open() as fh:
        for row in csv.DictReader(fh):
            for name, value in row.items():
                if name not in ("epoch", "step") and value and not name.endswith(TIMING):
                    values[(int(row["step"]), name)] = float(value)
    return values


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Recursive exact equality of checkpoint contents (tensors with torch.equal)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: {set(a) ^ set(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def final_state(out: Path, name: str = f"epoch=1-step={STEPS}.ckpt") -> dict[str, Any]:
    ckpt = load_checkpoint_state(out / "ckpt" / name)
    rng = ckpt["callbacks"]["RNGState"]
    return {
        "global_step": ckpt["global_step"],
        "state_dict": ckpt["state_dict"],
        "optimizer_states": ckpt["optimizer_states"],
        "lr_schedulers": ckpt["lr_schedulers"],
        "stream": ckpt["EpisodicDataModule"],
        "loader": ckpt["loops"]["fit_loop"]["state_dict"],
        "rng": rng["rng"],
    }


def test_sigkill_then_resume_matches_uninterrupted_run(
    tmp_path: Path, tiny_csv: Path, fit_here: Callable[..., int]
) -> None:
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    run_b = cli(resume_config(out_b, tiny_csv, kill=True))  # killed: must be another process
    assert fit_here(resume_config(out_a, tiny_csv)) == 0  # meanwhile, run A here
    rc_b, log_b = finish(run_b)
    assert rc_b == -signal.SIGKILL, log_b[-3000:]
    last = load_checkpoint_state(out_b / "ckpt" / "last.ckpt")
    assert last["global_step"] == EVERY  # the kill came after step 5, before its checkpoint
    assert not list((out_b / "ckpt").glob(f"*step={KILL_AT}*"))

    assert fit_here(resume_config(out_b, tiny_csv), "--ckpt_path", "last") == 0

    a, b = final_state(out_a), final_state(out_b)
    assert a["global_step"] == STEPS
    assert any("inner_lrs" in k for k in a["state_dict"])  # learned inner lrs are compared too
    assert a["lr_schedulers"] and a["lr_schedulers"][0]["last_epoch"] == STEPS
    assert_same(a, b, "final")

    ma, mb = metrics(out_a), metrics(out_b)
    resumed = {k: v for k, v in mb.items() if k[0] >= EVERY}  # CSV "step" is 0-based
    assert {name for _, name in resumed} >= {
        "train/loss",
        "probe/torch",
        "probe/numpy",
        "probe/python",
        "val/acc",
    }
    assert resumed == {k: ma[k] for k in resumed}
    assert {k for k in ma if k[0] >= EVERY} == set(resumed)


def test_resume_from_explicit_checkpoint_manual_optimisation_continuous_rng(
    tmp_path: Path, tiny_csv: Path, fit_here: Callable[..., int]
) -> None:
    """Reptile (manual optimisation) resumed from an explicit mid-epoch checkpoint file, with
    ``reseed_each_step: false``: the saved RNG states themselves are restored, so the probe's
    numbers continue the uninterrupted stream."""
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    kw: dict[str, Any] = {"model": REPTILE, "steps": 4, "every": 2, "reseed": False}
    assert fit_here(resume_config(out_a, tiny_csv, **kw)) == 0
    mid = out_a / "ckpt" / "epoch=0-step=2.ckpt"
    assert fit_here(resume_config(out_b, tiny_csv, **kw), "--ckpt_path", str(mid)) == 0
    a, b = final_state(out_a, "epoch=0-step=4.ckpt"), final_state(out_b, "epoch=0-step=4.ckpt")
    assert a["global_step"] == 4
    assert_same(a, b, "final")
    ma, mb = metrics(out_a), metrics(out_b)
    assert {k for k in ma if k[0] >= 2} == set(mb)
    assert mb == {k: ma[k] for k in mb}
