"""``lightning-meta data describe SOURCE``: classes and example counts of a source after cleaning.

Catches its own ``ConfigError`` (one ``error:`` line, exit code 2), so it behaves the same when
called directly as ``describe.main([...])``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from jsonargparse import ArgumentParser, Namespace

from lightning_meta.cli.parser import tool_parser
from lightning_meta.data.clean import column_values
from lightning_meta.data.sources import BUILTIN_NAMES, EXTENSIONS, FILES, SourceSpec
from lightning_meta.data.tokens import load_clean
from lightning_meta.errors import ConfigError


def build_parser() -> ArgumentParser:
    p = tool_parser(
        "data describe",
        "Load a source, clean it, and print its classes with example counts.",
        config=True,
    )
    p.add_argument(
        "source", type=str,
        help=f"built-in ({', '.join(BUILTIN_NAMES)}), a data file, 'files' (with --data-files) or a hub name",
    )  # fmt: skip
    p.add_argument(
        "--data-files", type=str, nargs="+", default=None, help="csv/tsv/json/jsonl/parquet files"
    )
    p.add_argument("--text-column", type=str, default="text")
    p.add_argument("--label-column", type=str, default="label")
    p.add_argument("--config-name", type=str, default=None, help="hub dataset config")
    p.add_argument("--hub-split", type=str, default="train", help="hub split")
    p.add_argument("--cache-dir", type=str, default=None, help="cache root (downloads)")
    return p


def spec_from_args(args: Namespace) -> SourceSpec:
    source, files = args.source, tuple(args.data_files or ())
    if Path(source).suffix.lower() in EXTENSIONS:
        source, files = FILES, (source, *files)
    return SourceSpec(
        source=source,
        data_files=files,
        text_column=args.text_column,
        label_column=args.label_column,
        config_name=args.config_name,
        hub_split=args.hub_split,
    )


def format_table(names: list[str], counts: np.ndarray) -> list[str]:
    width = max([len("class"), *(len(n) for n in names)])
    lines = [f"{'class':<{width}}  {'examples':>8}"]
    lines += [f"{name:<{width}}  {int(c):>8}" for name, c in zip(names, counts, strict=True)]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        spec = spec_from_args(args)
        ds, report = load_clean(spec, args.cache_dir)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    names = list(ds.features["label"].names)
    counts = np.bincount(
        np.asarray(column_values(ds, "label"), dtype=np.int64), minlength=len(names)
    )
    present = [i for i in range(len(names)) if counts[i] > 0]
    print(f"source: {spec.name}" + (f" ({', '.join(spec.data_files)})" if spec.data_files else ""))
    print("\n".join(format_table([names[i] for i in present], counts[present])))
    print(report.summary())
    print(f"{len(present)} classes, {int(counts.sum())} examples")
    return 0
