"""SMLMT word-index build time and task throughput (``lightning-meta bench data --smlmt``).

Default setting: WordNet glosses and their example sentences as unlabelled text, MiniLM's
tokenizer, max_length 64, 5-way 5-shot 5-query tasks. Prints

- ``smlmt_index_build_s``: read + clean texts, tokenise every text once and index every
  eligible word, into an empty cache (the one-off cost);
- ``smlmt_index_load_s``: the same DataModule setup again, from the cache;
- ``smlmt_tasks_per_s``: train tasks built (sampling, masking, padding, tensors) per second
  in this process after the index is built. Target: >= 1,000.

Libraries are imported before timing.

``lightning-meta bench compare --model NAME=DIR ...`` scores encoders on identical fixed test
episodes (:mod:`lightning_meta.bench.suite.smlmt_compare`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

from lightning_meta.data.config import EpisodeShape, Tokenization
from lightning_meta.data.smlmt import SMLMTDataModule, SMLMTText


@dataclass(frozen=True)
class SMLMTBenchConfig:
    texts: tuple[str, ...] = ("wordnet",)  # raw-text sources
    n_way: int = 5
    k_shot: int = 5
    q_query: int = 5
    max_length: int = 64
    seconds: float = 3.0  # time spent building tasks


def _datamodule(cfg: SMLMTBenchConfig, cache_dir: str) -> SMLMTDataModule:
    return SMLMTDataModule(
        smlmt=SMLMTText(texts=tuple(cfg.texts)),
        shape=EpisodeShape(n_way=cfg.n_way, k_shot=cfg.k_shot, q_query=cfg.q_query),
        tokens=Tokenization(max_length=cfg.max_length, cache_dir=cache_dir),
    )


def tasks_per_second(dm: SMLMTDataModule, seconds: float) -> float:
    provider, n = dm.require_provider(), 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            provider.episode("train", n)
            n += 1
    return n / elapsed


def smlmt_lines(cfg: SMLMTBenchConfig) -> list[str]:
    """Build the index in an empty temporary cache, load it, time tasks; the output lines."""
    import transformers  # noqa: F401  (import time is not data time)

    with tempfile.TemporaryDirectory(prefix="lm-bench-smlmt-") as cache_dir:
        t0 = time.perf_counter()
        built = _datamodule(cfg, cache_dir)
        built.setup("fit")
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        dm = _datamodule(cfg, cache_dir)
        dm.setup("fit")
        load = time.perf_counter() - t0
        assert dm.index.from_cache
        tps = tasks_per_second(dm, cfg.seconds)
        stats = dm.index.stats
    return [
        f"# smlmt {'+'.join(cfg.texts)}: {stats['sentences']} sentences, "
        f"{stats['eligible_words']} eligible words; {cfg.n_way}-way {cfg.k_shot}-shot "
        f"{cfg.q_query}-query, max_length {cfg.max_length}",
        f"smlmt_index_build_s: {build:.2f}",
        f"smlmt_index_load_s: {load:.2f}",
        f"smlmt_tasks_per_s: {tps:.0f}",
    ]
