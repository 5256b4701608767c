"""`lightning-meta bench speed` runs end to end (tiny saved model, quick mode)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lightning_meta.cli.bench import speed_main
from lightning_meta.models import tiny_encoder


@pytest.mark.slow  # tens of seconds on a busy 2-core machine
def test_bench_speed_prints_every_ratio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = tmp_path / "tiny"
    tiny_encoder().save_pretrained(model_dir)
    argv = ["--model", str(model_dir), "--quick", "--steps", "2", "--max-length", "12"]
    argv += ["--repeats", "1", "--warmup", "0", "--only", "maml2", "floor", "top1"]
    assert speed_main(argv) == 0
    lines = dict(
        line.split(": ")
        for line in capsys.readouterr().out.splitlines()
        if not line.startswith("#")
    )
    for name in (
        "maml2_vs_higher_time_ratio",
        "maml2_vs_higher_max_grad_diff",
        "maml2_prototype_head_max_grad_diff",
        "fomaml_vs_floor_ratio",
        "reptile_vs_floor_ratio",
        "top1_inner_step_vs_full_ratio",
    ):
        assert math.isfinite(float(lines[name])), name  # values are noise on a tiny model
    assert float(lines["maml2_vs_higher_max_grad_diff"]) <= 1e-5
    assert float(lines["maml2_prototype_head_max_grad_diff"]) <= 1e-5
