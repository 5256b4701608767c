"""Data-layer speed (``lightning-meta bench data``) for WordNet 5-way 5-shot 15-query, max_length 64.

Prints ``cold_load_tokenize_s`` (parse, clean and tokenise into an empty cache),
``warm_load_s`` (DataModule setup from that cache) and ``episodes_per_s`` (sampling plus
collation of train episodes in this process). Libraries are imported before timing.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

from lightning_meta.data.config import EpisodeShape, Tokenization
from lightning_meta.data.datamodule import EpisodicDataModule


@dataclass(frozen=True)
class DataBenchConfig:
    source: str = "wordnet"
    n_way: int = 5
    k_shot: int = 5
    q_query: int = 15
    max_length: int = 64
    seconds: float = 3.0  # time spent sampling episodes


def _datamodule(cfg: DataBenchConfig, cache_dir: str) -> EpisodicDataModule:
    return EpisodicDataModule(
        source=cfg.source,
        shape=EpisodeShape(n_way=cfg.n_way, k_shot=cfg.k_shot, q_query=cfg.q_query),
        tokens=Tokenization(max_length=cfg.max_length, cache_dir=cache_dir),
    )


def episodes_per_second(dm: EpisodicDataModule, seconds: float) -> float:
    assert dm.sampler is not None
    sampler, n = dm.sampler, 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            sampler.episode("train", n)
            n += 1
    return n / elapsed


def data_lines(cfg: DataBenchConfig) -> list[str]:
    """Measure in an empty temporary cache; the header and the ``name: value`` lines."""
    import datasets
    import transformers  # noqa: F401  (import time is not data time)

    datasets.disable_progress_bars()

    with tempfile.TemporaryDirectory(prefix="lm-bench-data-") as cache_dir:
        t0 = time.perf_counter()
        _datamodule(cfg, cache_dir).prepare_data()
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        dm = _datamodule(cfg, cache_dir)
        dm.setup("fit")
        warm = time.perf_counter() - t0
        eps = episodes_per_second(dm, cfg.seconds)
    return [
        f"# {cfg.source} {cfg.n_way}-way {cfg.k_shot}-shot {cfg.q_query}-query "
        f"max_length {cfg.max_length}",
        f"cold_load_tokenize_s: {cold:.2f}",
        f"warm_load_s: {warm:.3f}",
        f"episodes_per_s: {eps:.0f}",
    ]
