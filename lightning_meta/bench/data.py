"""``lightning-meta bench data``: data-layer speed for WordNet 5-way 5-shot 15-query, max_length 64.

Prints ``cold_load_tokenize_s`` (parse, clean and tokenise into an empty cache),
``warm_load_s`` (DataModule setup from that cache) and ``episodes_per_s`` (sampling plus
collation of train episodes in this process). Libraries are imported before timing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from lightning_meta.data.datamodule import EpisodicDataModule


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lightning-meta bench data", description=__doc__)
    p.add_argument("--source", default="wordnet")
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=15)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0, help="time spent sampling episodes")
    return p


def _datamodule(args: argparse.Namespace, cache_dir: str) -> EpisodicDataModule:
    return EpisodicDataModule(
        source=args.source,
        n_way=args.n_way,
        k_shot=args.k_shot,
        q_query=args.q_query,
        max_length=args.max_length,
        cache_dir=cache_dir,
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import datasets
    import transformers  # noqa: F401  (import time is not data time)

    datasets.disable_progress_bars()

    with tempfile.TemporaryDirectory(prefix="lm-bench-data-") as cache_dir:
        t0 = time.perf_counter()
        _datamodule(args, cache_dir).prepare_data()
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        dm = _datamodule(args, cache_dir)
        dm.setup("fit")
        warm = time.perf_counter() - t0
        eps = episodes_per_second(dm, args.seconds)
    print(
        f"# {args.source} {args.n_way}-way {args.k_shot}-shot {args.q_query}-query "
        f"max_length {args.max_length}"
    )
    print(f"cold_load_tokenize_s: {cold:.2f}")
    print(f"warm_load_s: {warm:.3f}")
    print(f"episodes_per_s: {eps:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
