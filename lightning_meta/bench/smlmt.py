"""``lightning-meta bench data --smlmt``: SMLMT word-index build time and task throughput.

Default setting: WordNet glosses and their example sentences as unlabelled text, MiniLM's
tokenizer, max_length 64, 5-way 5-shot 5-query tasks. Prints

- ``smlmt_index_build_s``: read + clean texts, tokenise every text once and index every
  eligible word, into an empty cache (the one-off cost);
- ``smlmt_index_load_s``: the same DataModule setup again, from the cache;
- ``smlmt_tasks_per_s``: train tasks built (sampling, masking, padding, tensors) per second
  in this process after the index is built. Target: >= 1,000.

Libraries are imported before timing.

``python -m lightning_meta.bench.smlmt compare --model NAME=DIR ...`` scores encoders on
identical fixed test episodes (:mod:`lightning_meta.bench.smlmt_compare`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from lightning_meta.data.smlmt import SMLMTDataModule


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lightning-meta bench data --smlmt", description=__doc__)
    p.add_argument("--smlmt", action="store_true", help="(accepted; selects this benchmark)")
    p.add_argument("--texts", nargs="+", default=["wordnet"], help="raw-text sources")
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--q-query", type=int, default=5)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0, help="time spent building tasks")
    return p


def _datamodule(args: argparse.Namespace, cache_dir: str) -> SMLMTDataModule:
    return SMLMTDataModule(
        texts=tuple(args.texts),
        n_way=args.n_way,
        k_shot=args.k_shot,
        q_query=args.q_query,
        max_length=args.max_length,
        cache_dir=cache_dir,
    )


def tasks_per_second(dm: SMLMTDataModule, seconds: float) -> float:
    provider, n = dm.require_provider(), 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            provider.episode("train", n)
            n += 1
    return n / elapsed


def smlmt_bench(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import transformers  # noqa: F401  (import time is not data time)

    with tempfile.TemporaryDirectory(prefix="lm-bench-smlmt-") as cache_dir:
        t0 = time.perf_counter()
        built = _datamodule(args, cache_dir)
        built.setup("fit")
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        dm = _datamodule(args, cache_dir)
        dm.setup("fit")
        load = time.perf_counter() - t0
        assert dm.index.from_cache
        tps = tasks_per_second(dm, args.seconds)
        stats = dm.index.stats
    print(
        f"# smlmt {'+'.join(args.texts)}: {stats['sentences']} sentences, "
        f"{stats['eligible_words']} eligible words; {args.n_way}-way {args.k_shot}-shot "
        f"{args.q_query}-query, max_length {args.max_length}"
    )
    print(f"smlmt_index_build_s: {build:.2f}")
    print(f"smlmt_index_load_s: {load:.2f}")
    print(f"smlmt_tasks_per_s: {tps:.0f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "compare":
        from lightning_meta.bench.smlmt_compare import smlmt_compare

        return smlmt_compare(args[1:])
    return smlmt_bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
