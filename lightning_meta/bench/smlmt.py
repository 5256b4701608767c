"""``lightning-meta bench data --smlmt``: SMLMT word-index build time and task throughput.

Default setting: WordNet glosses and their example sentences as unlabelled text, MiniLM's
tokenizer, max_length 64, 5-way 5-shot 5-query tasks. Prints

- ``smlmt_index_build_s``: read + clean texts, tokenise every text once and index every
  eligible word, into an empty cache (the one-off cost);
- ``smlmt_index_load_s``: the same DataModule setup again, from the cache;
- ``smlmt_tasks_per_s``: train tasks built (sampling, masking, padding, tensors) per second
  in this process after the index is built. Target: >= 1,000.

Libraries are imported before timing.

``python -m lightning_meta.bench.smlmt compare --model NAME=DIR ...`` (:func:`smlmt_compare`)
scores encoders on identical fixed test episodes of the held-out ``fortunes`` categories
(5-way 5-shot) and ``sentiment:movie`` (2-way 8-shot), every one with the same test-time
fine-tuning, and writes a Markdown + CSV table (the SMLMT result of the README).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


FORTUNES_TARGET: dict[str, Any] = {
    "source": "fortunes", "split_fractions": (0.5, 0.25, 0.25), "split_mode": "classes",
    "split_seed": 0, "n_way": 5, "k_shot": 5, "q_query": 15, "max_length": 64, "seed": 0,
}  # fmt: skip
SENTIMENT_TARGET: dict[str, Any] = {
    "source": "sentiment:movie", "split_mode": "examples", "n_way": 2, "k_shot": 8,
    "q_query": 15, "max_length": 64, "seed": 0,
}  # fmt: skip


def compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lightning_meta.bench.smlmt compare")
    p.add_argument("--model", action="append", required=True, metavar="NAME=DIR",
                   help="encoder to score: an exported directory or 'minilm'; repeatable")  # fmt: skip
    p.add_argument("--episodes", type=int, default=1000, help="fixed test episodes per target")
    p.add_argument("--adapt", default="top1", help="what adapts at test time (every row)")
    p.add_argument("--inner-steps", type=int, default=5)
    p.add_argument("--inner-lr", type=float, default=1e-2)
    p.add_argument("--head-init", default="prototype", choices=["prototype", "zero"])
    p.add_argument("--centroid", action="store_true", help="add frozen nearest-centroid rows")
    p.add_argument("--targets", nargs="+", default=["fortunes", "sentiment"],
                   choices=["fortunes", "sentiment"])  # fmt: skip
    p.add_argument("--out", default="runs/smlmt_compare", help="directory for results.md/.csv")
    return p


def smlmt_compare(argv: list[str] | None = None) -> int:
    """Pretrained vs SMLMT vs hybrid encoders, same episodes, same test-time adaptation."""
    from lightning_meta.evaluation import evaluate_episodes, load_module_from_export
    from lightning_meta.report import fixed_episodes, render, write_csv
    from lightning_meta.resolve import ConfigError

    a = compare_parser().parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in a.model)
    if a.episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {a.episodes})")
    same = {"adapt": a.adapt, "head_init": a.head_init, "inner_steps": a.inner_steps,
            "inner_lr": a.inner_lr}  # fmt: skip
    targets = {
        "fortunes held-out categories 5-way 5-shot": FORTUNES_TARGET,
        "sentiment:movie 2-way 8-shot": SENTIMENT_TARGET,
    }
    chosen = {k: v for k, v in targets.items() if k.split()[0].split(":")[0] in a.targets}
    results: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for target, data_args in chosen.items():
        episodes = fixed_episodes(dict(data_args), a.episodes)
        counts[target] = len(episodes)
        n_way = int(data_args["n_way"])
        for name, path in models.items():
            rows = {
                f"{name} + fine-tuning": load_module_from_export(path, n_way=n_way, overrides=same)
            }
            if a.centroid:
                rows[f"{name} frozen + centroid"] = load_module_from_export(
                    path, method="centroid", n_way=n_way
                )
            for row, module in rows.items():
                t0 = time.perf_counter()
                r = results.setdefault(row, {})[target] = evaluate_episodes(module, episodes)
                print(f"[{target}] {row}: acc {r['acc']}  f1 {r['f1']}  "
                      f"({time.perf_counter() - t0:.0f}s)", flush=True)  # fmt: skip
    table = render(results, list(chosen), counts)
    print(f"\ntest-time adaptation for every row: {same}\n\n{table}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(f"test-time adaptation for every row: {same}\n\n{table}\n")
    write_csv(out / "results.csv", results)
    print(f"wrote {out / 'results.md'} and {out / 'results.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "compare":
        return smlmt_compare(args[1:])
    return smlmt_bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
