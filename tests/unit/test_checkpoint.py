"""Safe checkpoint loading, atomic checkpoint writes and RNG state in checkpoints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from lightning_meta.cli import main
from lightning_meta.errors import ConfigError
from lightning_meta.reliability.atomic_io import AtomicCheckpointIO, atomic_torch_save, temp_path
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.reliability.rng import RNGState, capture_rng, restore_rng

ROOT = Path(__file__).resolve().parents[2]
LAST_PATTERN = re.compile(r"^last(-(\d+))?$")  # how ModelCheckpoint finds `last` checkpoints


class Payload:
    """Unpickling this calls os.system: it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil_ckpt(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": Payload(marker)}, path)
    return path, marker


def test_code_executing_pickle_is_refused(evil_ckpt: tuple[Path, Path]) -> None:
    path, marker = evil_ckpt
    with pytest.raises(ConfigError, match="refusing to load .*evil.ckpt.*could run code") as info:
        load_checkpoint_state(path)
    assert "\n" not in str(info.value) and "posix.system" in str(info.value)
    assert not marker.exists()


def test_code_executing_pickle_is_refused_by_resume_io(evil_ckpt: tuple[Path, Path]) -> None:
    path, marker = evil_ckpt
    for weights_only in (None, True):  # Lightning passes None unless told otherwise
        with pytest.raises(ConfigError, match="refusing"):
            AtomicCheckpointIO().load_checkpoint(path, weights_only=weights_only)
    assert not marker.exists()


def test_code_executing_pickle_is_refused_by_cli(
    evil_ckpt: tuple[Path, Path], tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = evil_ckpt
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "trainer": {"default_root_dir": str(tmp_path / "out"), "logger": False},
        "model": {"class_path": "lightning_meta.lightning.ProtoNet",
                  "init_args": {"encoder": {"backbone": "tiny"}}},
        "data": {"class_path": "lightning_meta.data.EpisodicDataModule",
                 "init_args": {"source": str(tiny_csv), "shape": {"n_way": 3},
                               "tokens": {"max_length": 16}}},
    }))  # fmt: skip
    assert main(["fit", "--config", str(cfg), "--ckpt_path", str(path)]) == 2
    assert main(["evaluate", "--model", str(path), "--data", "fortunes"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.startswith("error:")][0].startswith(
        "error: checkpoint: refusing"
    )
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "directory"])
def test_damaged_checkpoint_error_names_the_file(tmp_path: Path, damage: str) -> None:
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.randn(64, 64)}}, good)
    bad = tmp_path / f"{damage}.ckpt"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "garbage":
        bad.write_bytes(b"not a checkpoint " * 20)
    else:
        bad.mkdir()
    with pytest.raises(ConfigError) as info:
        load_checkpoint_state(bad)
    message = str(info.value)
    assert str(bad) in message and "\n" not in message
    assert ("truncated or corrupted" in message) or ("not a file" in message)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_checkpoint_state(tmp_path / "nope.ckpt")


def test_atomic_save_failure_keeps_previous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1, "w": torch.ones(3)}, target)

    def broken_save(obj: Any, fh: Any) -> None:
        fh.write(b"PK\x03\x04partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        AtomicCheckpointIO().save_checkpoint({"step": 2, "w": torch.zeros(3)}, target)
    monkeypatch.undo()
    assert load_checkpoint_state(target)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


KILL_MID_WRITE = textwrap.dedent("""
    import os, signal, sys, torch
    from lightning_meta.reliability.atomic_io import AtomicCheckpointIO
    target = sys.argv[1]
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1, "w": torch.ones(1000)}, target)
    real_save = torch.save

    def save_then_die(obj, fh):
        real_save(obj, fh)
        fh.truncate(fh.tell() // 2)  # half of the new checkpoint is on disk ...
        fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # ... when the job is pre-empted

    torch.save = save_then_die
    io.save_checkpoint({"step": 2, "w": torch.zeros(1000)}, target)
""")


def test_sigkill_during_save_leaves_previous_last_ckpt(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_MID_WRITE, str(target)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = load_checkpoint_state(target)  # the previous checkpoint, complete
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(1000))
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".tmp")  # the partial write
    assert not any(
        LAST_PATTERN.match(Path(p.name).stem) for p in leftovers
    )  # never picked as `last`
    # the next save replaces the checkpoint and removes the dead process's temporary file
    atomic_torch_save({"step": 3}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    assert load_checkpoint_state(target)["step"] == 3


def test_temp_file_lives_beside_target(tmp_path: Path) -> None:
    tmp = temp_path(tmp_path / "last.ckpt")
    assert tmp.parent == tmp_path and tmp.name.startswith(".last.ckpt.")


def test_rng_state_roundtrip_through_safe_checkpoint(tmp_path: Path) -> None:
    import random

    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # a cached gaussian in numpy's state
    state = RNGState(seed=7).state_dict()
    expected = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])
    path = tmp_path / "rng.ckpt"
    torch.save({"callbacks": {"RNGState": state}}, path)
    loaded = load_checkpoint_state(path)["callbacks"]["RNGState"]  # weights_only=True
    assert loaded["seed"] == 7
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    restore_rng(loaded["rng"])
    got = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1]) and got[2] == expected[2]


def test_capture_rng_is_plain_data() -> None:
    def leaves(x: Any) -> list[Any]:
        if isinstance(x, dict):
            return [leaf for v in x.values() for leaf in leaves(v)]
        if isinstance(x, (list, tuple)):
            return [leaf for v in x for leaf in leaves(v)]
        return [x]

    allowed = (torch.Tensor, int, float, str, bool, type(None))
    assert all(isinstance(leaf, allowed) for leaf in leaves(capture_rng()))


def test_cli_trainers_get_atomic_io_and_one_rng_state(tiny_csv: Path) -> None:
    """Whatever the config says about plugins and callbacks: atomic IO, exactly one RNGState,
    first in the callback list (its per-batch reseed runs before any other callback)."""
    from lightning_meta.cli.lightning import make_cli

    data = {"class_path": "lightning_meta.data.EpisodicDataModule",
            "init_args": {"source": str(tiny_csv), "shape": {"n_way": 3}}}  # fmt: skip
    common = [
        "--model=lightning_meta.lightning.ProtoNet",
        "--model.init_args.encoder.backbone=tiny",
        f"--data={data}",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
    ]
    listed = [
        "--trainer.callbacks+=lightning_meta.reliability.RNGState",
        "--trainer.callbacks.reseed_each_step=false",
    ]
    for extra in ([], ["--trainer.plugins=[]"], listed):
        trainer = make_cli(common + extra, run=False).trainer
        assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
        callbacks = trainer.callbacks  # type: ignore[attr-defined]
        rng = [cb for cb in callbacks if isinstance(cb, RNGState)]
        assert len(rng) == 1 and callbacks[0] is rng[0]
        assert rng[0].reseed_each_step is (extra != listed)
