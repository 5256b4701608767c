"""Memory and meta-steps/s benchmarks on the tiny encoder (in-process: seconds); the measured
values are checked against hand-worked ones in test_memory_values.py."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.bench.perf.memory import MemoryConfig, memory_lines, slope
from lightning_meta.bench.perf.workload import Workload, make_classifier, random_episode, vocab_size

TINY = Workload(model="tiny", n_way=3, shots=2, queries=2, max_length=12)


def test_slope() -> None:
    assert slope([1.0, 2.0, 5.0, 10.0], [3.0, 5.0, 11.0, 21.0]) == pytest.approx(2.0)


def test_random_episode_is_seeded_and_shaped() -> None:
    model = make_classifier(TINY, "all", second_order=False)
    a, b = random_episode(TINY, vocab_size(model)), random_episode(TINY, vocab_size(model))
    assert a.support.input_ids.shape == (6, 12) and a.query.input_ids.shape == (6, 12)
    assert a.support.input_ids.equal(b.support.input_ids)
    assert sorted(a.support.labels.tolist()) == [0, 0, 1, 1, 2, 2]


@pytest.mark.slow  # four spawned children, each importing torch + transformers (minutes here)
def test_memory_lines_spawn_children() -> None:
    cfg = MemoryConfig(workload=TINY, steps=(1, 2))
    lines = memory_lines(cfg)
    names = [line.split(":")[0] for line in lines[1:]]
    assert lines[0].startswith("# memory: model=tiny")
    for key in ("fomaml_mem_2_vs_1_ratio", "maml2_mem_slope_mb_per_step", "maml2_mem_mb_steps_2",
                "fomaml_mem_mb_steps_1", "mem_baseline_mb"):  # fmt: skip
        assert key in names


def test_speed_command_has_memory_and_throughput_groups() -> None:
    from lightning_meta.bench.perf.speed import MEASUREMENTS, SpeedConfig
    from lightning_meta.cli.bench import parse_speed as parse_args

    assert {"memory", "throughput"} <= set(MEASUREMENTS)
    cfg, only = parse_args(["--only", "memory", "throughput", "--quick"])
    assert only == ["memory", "throughput"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = MEASUREMENTS["throughput"](SpeedConfig(model="tiny", max_length=12, repeats=1))
    finally:
        torch.set_num_threads(threads)
    assert set(out) == {f"{p}_{a}" for p in ("meta_steps_per_s", "meta_step_s")
                        for a in ("maml", "fomaml", "reptile", "protonet")}  # fmt: skip
