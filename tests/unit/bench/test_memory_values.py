"""Issue 12.8: memory and meta-steps/s benchmarks checked against hand-worked values.

Memory: the PyTorch memory profiler counts tensor bytes, so one meta-step on the tiny model
gives the same numbers on every machine. First-order MAML keeps no graph of its inner steps, so
the bytes alive before the outer backward, and the step's peak, do not depend on the number of
inner steps (the RSS benchmark's ``fomaml_mem_10_vs_1_ratio`` is then exactly 1); second-order
MAML keeps one identical graph per inner step, so its retained bytes grow by the same amount
with every step.
"""

from __future__ import annotations

import pytest

from lightning_meta.bench.perf import throughput
from lightning_meta.bench.perf.graph_memory import meta_step_graph_memory
from lightning_meta.bench.perf.throughput import ThroughputConfig, measure_meta_steps
from lightning_meta.bench.perf.workload import Workload

TINY = Workload(model="tiny", n_way=3, shots=2, queries=2, max_length=12)


def test_first_order_memory_does_not_grow_with_inner_steps() -> None:
    one = meta_step_graph_memory(TINY, first_order=True, steps=1)
    four = meta_step_graph_memory(TINY, first_order=True, steps=4)
    assert one.retained > 0
    assert four.retained == one.retained
    assert four.peak / one.peak == 1.0


def test_second_order_memory_grows_linearly_with_inner_steps() -> None:
    m1, m2, m3 = (meta_step_graph_memory(TINY, first_order=False, steps=s) for s in (1, 2, 3))
    per_step = m2.retained - m1.retained
    assert per_step > 0
    assert m3.retained - m2.retained == per_step  # one identical graph per inner step
    # second order keeps more than first order from the first step on
    assert m1.retained > meta_step_graph_memory(TINY, first_order=True, steps=1).retained


def _fake_clock(monkeypatch: pytest.MonkeyPatch, seconds: list[float]) -> None:
    """``perf_counter`` pairs (start, stop) that differ by the next of ``seconds``."""
    durations = iter(seconds)
    clock = {"t": 0.0, "start": True}

    def fake_perf_counter() -> float:
        if not clock["start"]:
            clock["t"] += next(durations)
        clock["start"] = not clock["start"]
        return float(clock["t"])

    monkeypatch.setattr(throughput.time, "perf_counter", fake_perf_counter)


def test_meta_steps_per_s_is_the_inverse_median(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_clock(monkeypatch, [0.2, 0.5, 0.4] * 4)  # s per timed meta-step, 3 repeats x 4 algos
    cfg = ThroughputConfig(workload=TINY, meta_batch_size=1, warmup=0, repeats=3)
    out = measure_meta_steps(cfg)
    for algo in ("maml", "fomaml", "reptile", "protonet"):
        assert out[f"meta_step_s_{algo}"] == pytest.approx(0.4)  # median of 0.2, 0.5, 0.4
        assert out[f"meta_steps_per_s_{algo}"] == pytest.approx(2.5)


def test_kernels_are_measured_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    # fomaml in fp32-sdpa then bf16-eager: 0.4 s then 0.25 s per step -> speedup 1.6
    _fake_clock(monkeypatch, [0.4, 0.4, 0.25, 0.25])
    built: list[str | None] = []  # the attention each module was built with
    real_build = throughput.build_module

    def spy(algo: str, model: str, attention: str | None = None) -> throughput.EpisodicModule:
        built.append(attention)
        return real_build(algo, model, attention)

    monkeypatch.setattr(throughput, "build_module", spy)
    cfg = ThroughputConfig(
        workload=TINY, meta_batch_size=1, warmup=0, repeats=2, algorithms=("fomaml",),
        kernels=("32-sdpa", "bf16-eager"),
    )  # fmt: skip
    out = measure_meta_steps(cfg)
    assert out["meta_step_s_fomaml_32-sdpa"] == pytest.approx(0.4)
    assert out["meta_step_s_fomaml_bf16-eager"] == pytest.approx(0.25)
    assert out["speedup_fomaml_bf16-eager"] == pytest.approx(1.6)
    assert built == ["sdpa", "eager"]
    with pytest.raises(ValueError, match="^kernels: unknown 'fp16-eager'"):
        measure_meta_steps(ThroughputConfig(workload=TINY, kernels=("fp16-eager",)))
