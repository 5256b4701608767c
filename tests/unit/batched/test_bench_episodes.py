"""`bench episodes` on the tiny model and tiny data: every line, sane values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lightning_meta.bench.perf import episodes
from lightning_meta.bench.perf.episodes import EpisodesBenchConfig, episodes_lines


def tiny_data(csv: Path) -> dict[str, Any]:
    """Episodes of the tiny CSV: 3-way 2-shot, the default meta-batch of 2."""
    return {
        "source": str(csv), "split_mode": "classes", "n_way": 3, "k_shot": 2,
        "q_query": 2, "eval_q_query": 3, "meta_batch_size": 2, "max_length": 12,
        "split_fractions": [0.34, 0.33, 0.33],
    }  # fmt: skip


@pytest.fixture(autouse=True)
def _no_default_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The untrained tiny fallback, whatever ``runs/default/export`` a checkout holds."""
    monkeypatch.setattr(episodes, "DEFAULT_EXPORT", tmp_path / "absent")


def test_bench_episodes_lines(tiny_csv: Path) -> None:
    data = tiny_data(tiny_csv)
    cfg = EpisodesBenchConfig(baseline="tiny", episodes=4, train_batches=1, data=data)
    lines = dict(line.split(": ", 1) for line in episodes_lines(cfg))
    assert lines["model"].startswith("untrained FOMAML from tiny")
    for key in ("eval_speedup", "eval_cpu_speedup", "train_tasks_per_s_speedup"):
        assert float(lines[key]) > 0
    assert lines["eval_identical_episode_acc"] == "true"
    assert float(lines["eval_max_abs_logit_diff"]) < 1e-4
    assert float(lines["train_max_abs_loss_diff"]) < 1e-5
    assert "eval_note" not in lines  # every row took the cached path
    old, new = float(lines["eval_old_gflop"]), float(lines["eval_new_gflop"].split()[0])
    assert old > new > 0
    assert float(lines["eval_flop_ratio"].split()[0]) == pytest.approx(old / new, rel=1e-3)


def test_bench_episodes_storage_lines(tiny_csv: Path) -> None:
    """float32 vs bfloat16 cache storage: one line triple per cached row; bfloat16 rounds the
    states (relative error <= 2**-8), so logits differ but stay close on the tiny model."""
    data = tiny_data(tiny_csv)
    cfg = EpisodesBenchConfig(baseline="tiny", episodes=4, data=data)
    lines = dict(line.split(": ", 1) for line in episodes_lines(cfg, ("storage",)))
    assert lines["storage_episodes"] == "4"
    diffs = {k: float(v) for k, v in lines.items() if k.startswith("storage_bf16_max_abs")}
    assert len(diffs) == 3  # the 3 report rows
    assert all(0 <= d < 0.5 for d in diffs.values())  # rounded, not broken
    assert max(diffs.values()) > 0  # the adapted rows read the rounded states
    for k, v in lines.items():
        if k.startswith("storage_bf16_identical"):
            same, n = map(int, v.split("/"))
            assert n == 4 and 0 <= same <= n


def test_bench_episodes_flop_lines_count_the_report_rows(tiny_csv: Path) -> None:
    """``--only flops``: 2 fine-tuning rows (top1: cut at the last layer, 5 steps), 1 centroid
    row, 2 trunks (the fallback and the baseline rows: two separately built tiny models)."""
    from lightning_meta.bench.perf.episode_flops import eval_flops
    from lightning_meta.evaluation.episodes import fixed_episodes
    from lightning_meta.models import tiny_encoder

    data = tiny_data(tiny_csv)
    cfg = EpisodesBenchConfig(baseline="tiny", episodes=4, data=data)
    lines = dict(line.split(": ", 1) for line in episodes_lines(cfg, ("flops",)))
    conf = tiny_encoder().config
    want = eval_flops(
        fixed_episodes(data, 4), hidden=conf.hidden_size, intermediate=conf.intermediate_size,
        layers=conf.num_hidden_layers, cut=conf.num_hidden_layers - 1, steps=5,
        finetune_rows=2, centroid_rows=1, trunks=2,
    )  # fmt: skip
    assert float(lines["eval_old_gflop"]) == pytest.approx(want.old / 1e9, rel=1e-4)
    assert float(lines["eval_new_gflop"].split()[0]) == pytest.approx(want.new / 1e9, rel=1e-4)
    assert "eval_speedup" not in lines  # nothing timed
