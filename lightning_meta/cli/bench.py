"""`lightning-meta bench data|speed|memory|throughput|episodes`: the performance benchmarks.

    lightning-meta bench data [--smlmt]          # data pipeline: cache, episodes/s, SMLMT index
    lightning-meta bench speed [--quick] [--only maml2 floor top1 memory throughput]
    lightning-meta bench memory [--model tiny] [--adapt top1]
    lightning-meta bench throughput [--quick] [--threads N] [--only maml fomaml]
    lightning-meta bench episodes [--model EXPORT_OR_CKPT] [--episodes 100] [--threads N]

Each prints ``name: value`` lines; the measurements live in :mod:`lightning_meta.bench.perf`.
The accuracy suite's commands are in :mod:`lightning_meta.cli.bench_suite`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import torch

from lightning_meta.bench.perf import data, episodes, memory, smlmt, speed, throughput
from lightning_meta.bench.perf.workload import Workload
from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError

__all__ = [
    "data_main", "episodes_main", "memory_main", "parse_memory", "parse_speed", "parse_throughput",
    "smlmt_data_main", "speed_main", "throughput_main",
]  # fmt: skip


def _first_line(doc: str | None) -> str | None:
    return doc.split("\n")[0] if doc else None


def _print(lines: Iterable[str]) -> int:
    for line in lines:
        print(line, flush=True)
    return 0


def data_main(argv: list[str]) -> int:
    p = tool_parser("bench data", data.__doc__, config=True)
    p.add_argument("--source", type=str, default="wordnet")
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=15)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0, help="time spent sampling episodes")
    a = p.parse_args(argv)
    cfg = data.DataBenchConfig(a.source, a.n_way, a.k_shot, a.q_query, a.max_length, a.seconds)
    return _print(data.data_lines(cfg))


def smlmt_data_main(argv: list[str]) -> int:
    p = tool_parser("bench data --smlmt", smlmt.__doc__, config=True)
    p.add_argument("--smlmt", action="store_true", help="(accepted; selects this benchmark)")
    p.add_argument("--texts", type=str, nargs="+", default=["wordnet"], help="raw-text sources")
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=5)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0, help="time spent building tasks")
    a = p.parse_args(argv)
    cfg = smlmt.SMLMTBenchConfig(
        tuple(a.texts), a.n_way, a.k_shot, a.q_query, a.max_length, a.seconds
    )
    return _print(smlmt.smlmt_lines(cfg))


def parse_speed(argv: list[str]) -> tuple[speed.SpeedConfig, list[str]]:
    p = tool_parser("bench speed", _first_line(speed.__doc__), config=True)
    p.add_argument("--model", type=str, default="minilm", help="alias, local directory or hub name")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="1 warm-up, 3 repeats")
    p.add_argument("--repeats", type=int, default=None, help="default 7 (3 with --quick)")
    p.add_argument("--warmup", type=int, default=None, help="default 2 (1 with --quick)")
    p.add_argument("--steps", type=int, default=5, help="inner steps for the floor ratios")
    p.add_argument("--head-init", type=str, choices=["prototype", "zero"], default="zero")
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument(
        "--only", type=str, nargs="*", choices=sorted(speed.MEASUREMENTS),
        default=list(speed.MEASUREMENTS),
    )  # fmt: skip
    a = p.parse_args(argv)
    cfg = speed.SpeedConfig(
        model=a.model,
        max_length=a.max_length,
        steps=a.steps,
        head_init=a.head_init,
        warmup=a.warmup if a.warmup is not None else (1 if a.quick else 2),
        repeats=a.repeats if a.repeats is not None else (3 if a.quick else 7),
    )
    return cfg, a.only


def speed_main(argv: list[str]) -> int:
    return _print(speed.speed_lines(*parse_speed(argv)))


def parse_memory(argv: list[str]) -> memory.MemoryConfig:
    p = tool_parser("bench memory", _first_line(memory.__doc__), config=True)
    p.add_argument("--model", type=str, default="minilm", help="alias, local directory, hub name or 'tiny'")  # fmt: skip
    p.add_argument("--adapt", type=str, default="all", help="what the inner loop adapts (default: all)")  # fmt: skip
    p.add_argument("--head-init", type=str, choices=["zero", "prototype"], default="zero")
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--device", type=str, default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="max_length 32")
    a = p.parse_args(argv)
    device = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    cfg = memory.MemoryConfig(
        workload=Workload(model=a.model, max_length=a.max_length),
        adapt=a.adapt,
        head_init=a.head_init,
        device=device,
    )
    return replace(cfg, workload=replace(cfg.workload, max_length=32)) if a.quick else cfg


def memory_main(argv: list[str]) -> int:
    return _print(memory.memory_lines(parse_memory(argv)))


def parse_throughput(argv: list[str]) -> throughput.ThroughputConfig:
    """The config; ``--threads`` sets torch's CPU threads for the rest of the process."""
    p = tool_parser("bench throughput", _first_line(throughput.__doc__), config=True)
    p.add_argument("--model", type=str, default="minilm", help="alias, local directory, hub name or 'tiny'")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="1 warm-up, 1 timed meta-step")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--only", type=str, nargs="*", choices=throughput.ALGORITHMS,
        default=list(throughput.ALGORITHMS),
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")  # fmt: skip
    p.add_argument(
        "--kernels", type=str, nargs="*", choices=throughput.KERNELS, default=[],
        help="precision-attention pairs measured side by side (ratios to the first)",
    )  # fmt: skip
    a = p.parse_args(argv)
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    return throughput.ThroughputConfig(
        kernels=tuple(a.kernels),
        workload=Workload(model=a.model, queries=15),
        repeats=1 if a.quick else a.repeats,
        algorithms=tuple(a.only),
        device="cuda" if torch.cuda.is_available() else "cpu",
    )


def throughput_main(argv: list[str]) -> int:
    return _print(throughput.throughput_lines(parse_throughput(argv)))


def episodes_main(argv: list[str]) -> int:
    """``bench episodes``: the per-episode loop vs the cached, batched path (see the module)."""
    p = tool_parser("bench episodes", episodes.__doc__, config=True)
    p.add_argument("--model", type=str, default=None,
                   help="export directory or .ckpt (default: runs/default/export, else an "
                   "untrained FOMAML top1 module from --baseline)")  # fmt: skip
    p.add_argument("--baseline", type=str, default="minilm", help="pretrained encoder")
    p.add_argument("--episodes", type=int, default=100, help="fixed test episodes")
    p.add_argument("--train-batches", type=int, default=5, help="timed meta-batches per path")
    p.add_argument("--storage", type=str, choices=["model", "bfloat16"], default="model")
    p.add_argument("--no-match-padding", action="store_true",
                   help="one cache entry per text (not per text and padded length)")  # fmt: skip
    p.add_argument("--only", type=str, nargs="*", choices=["eval", "train", "storage", "flops"], default=["eval", "train"])  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")  # fmt: skip
    a = p.parse_args(argv)
    if a.episodes <= 0 or a.train_batches <= 0:
        raise ConfigError("episodes, train-batches: must be positive")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cfg = episodes.EpisodesBenchConfig(
        model=a.model,
        baseline=a.baseline,
        episodes=a.episodes,
        train_batches=a.train_batches,
        storage=a.storage,
        match_padding=not a.no_match_padding,
    )
    return _print(episodes.episodes_lines(cfg, tuple(a.only)))
