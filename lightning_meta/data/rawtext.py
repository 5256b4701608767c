"""Unlabelled text for self-supervised tasks: text files, a text column, built-in corpora.

A raw-text source is one string:

- ``"wordnet"``: the WordNet glosses, split into their definition and the example sentences
  quoted inside them (``'use shampoo on (hair); "she shampooed her hair"'`` gives two texts);
- ``"fortunes"``: the fortune-cookie entries, attribution lines stripped (same reader as the
  labelled ``fortunes`` source);
- for both, by default only the texts of the classes that a labelled experiment on the same
  source trains on (:mod:`lightning_meta.data.heldout`): test classes stay unseen;
- a text file, a directory (every ``*.txt`` inside, sorted) or a glob: one example per line or
  per blank-line-separated paragraph (``unit``);
- a table file (csv, tsv, json, jsonl, parquet) or any other source the labelled data layer
  loads (``sentiment:movie``, a hub name): its ``text_column``, labels ignored;
- from Python, an in-memory ``pandas.DataFrame`` or ``datasets.Dataset``: its ``text_column``.

Every source ends as a list of cleaned strings: whitespace collapsed, empty texts and exact
duplicates dropped (and counted in :class:`RawTextReport`).
"""

from __future__ import annotations

import glob
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lightning_meta.data.heldout import STANDARD_SPLITS, ClassSplit, train_class_texts
from lightning_meta.data.in_memory import MEMORY, Table, is_table, table_column
from lightning_meta.errors import ConfigError

log = logging.getLogger(__name__)
TextUnit = Literal["line", "paragraph"]
RAW_BUILTINS = ("wordnet", "fortunes")
QUOTED = re.compile(r'"([^"]*)"')
TABLE_EXTENSIONS = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


@dataclass
class RawTextReport:
    """What loading and cleaning kept and dropped, per run of :func:`load_raw_texts`."""

    rows_in: int = 0
    """Texts read from all sources before cleaning."""
    empty: int = 0
    """Empty or whitespace-only texts dropped (empty lines, blank paragraphs)."""
    duplicates: int = 0
    """Exact duplicates dropped (after whitespace collapsing); the first one is kept."""
    per_source: dict[str, int] = field(default_factory=dict)
    """Texts read from each source, before cleaning."""

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.empty - self.duplicates

    def summary(self) -> str:
        return (
            f"raw text: {self.rows_out} texts kept of {self.rows_in} read "
            f"({self.empty} empty, {self.duplicates} duplicates dropped)"
        )


def split_gloss(gloss: str) -> list[str]:
    """A WordNet gloss -> [definition, example, ...]; examples are the quoted parts."""
    examples = [e.strip() for e in QUOTED.findall(gloss)]
    definition = "; ".join(p.strip() for p in QUOTED.sub("", gloss).split(";") if p.strip())
    return [t for t in (definition, *examples) if t]


def read_wordnet_texts(split: ClassSplit | None = STANDARD_SPLITS["wordnet"]) -> list[str]:
    """Definitions and example sentences of the WordNet synsets of the train classes of
    ``split`` (every synset when None)."""
    return [piece for gloss in train_class_texts("wordnet", split) for piece in split_gloss(gloss)]


def read_fortune_texts(split: ClassSplit | None = STANDARD_SPLITS["fortunes"]) -> list[str]:
    """Fortune entries (attribution stripped) of the train categories of ``split`` (every
    category when None), from the labelled reader, labels dropped."""
    return train_class_texts("fortunes", split)


def split_text(text: str, unit: TextUnit) -> list[str]:
    """One example per line, or per paragraph (lines between blank lines, joined)."""
    if unit == "line":
        return text.splitlines()
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.strip():
            block.append(line.strip())
        elif block:
            paragraphs.append(" ".join(block))
            block = []
    return paragraphs


def text_files(source: str) -> list[Path]:
    """Files named by a path, a directory (``*.txt`` inside) or a glob; [] when none."""
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.glob("*.txt") if p.is_file())
    if any(ch in source for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
    return []


def read_text_files(files: Sequence[Path], unit: TextUnit) -> list[str]:
    out: list[str] = []
    for path in files:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        out.extend(split_text(text, unit))
    return out


def read_text_column(source: str, text_column: str, cache_dir: str | None) -> list[str]:
    """The ``text_column`` of a table file or of any source the labelled layer loads.

    Adapter over :mod:`lightning_meta.data.sources`: tables are read with ``datasets``
    directly so that an unlabelled table (no label column) works too.
    """
    import datasets

    from lightning_meta.data.sources import EXTENSIONS, SourceSpec, load_source

    suffix = Path(source).suffix.lower()
    if suffix in EXTENSIONS:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(f"texts: file not found: {path}; check the path")
        kwargs = {"delimiter": "\t"} if suffix == ".tsv" else {}
        table = datasets.load_dataset(
            EXTENSIONS[suffix], data_files=[str(path)], split="train", **kwargs
        )
        assert isinstance(table, datasets.Dataset)
        if text_column not in table.column_names:
            raise ConfigError(
                f"text_column: column '{text_column}' not found in {path}; columns present: "
                f"{', '.join(table.column_names)}"
            )
        return ["" if t is None else str(t) for t in table[text_column]]
    ds = load_source(SourceSpec(source=source, text_column=text_column), cache_dir)
    return list(ds["text"])


def read_source(
    source: str | Table,
    unit: TextUnit,
    text_column: str,
    cache_dir: str | None,
    heldout: Mapping[str, ClassSplit | None] = STANDARD_SPLITS,
) -> list[str]:
    """Uncleaned texts of one raw-text source (see the module docstring). ``heldout``: for the
    labelled built-ins, the class split whose train classes' texts are read (missing or None:
    all texts)."""
    if not isinstance(source, str):
        if not is_table(source):
            raise ConfigError(
                f"texts: got a {type(source).__name__}; use a name, a path or a table"
            )
        return table_column(source, text_column)
    if source == "wordnet":
        return read_wordnet_texts(heldout.get("wordnet"))
    if source == "fortunes":
        return read_fortune_texts(heldout.get("fortunes"))
    if Path(source).suffix.lower() in TABLE_EXTENSIONS:
        return read_text_column(source, text_column, cache_dir)
    files = text_files(source)
    if files:
        return read_text_files(files, unit)
    if source.startswith((".", "/", "~")) or Path(source).suffix or any(c in source for c in "*?["):
        raise ConfigError(
            f"texts: no text file matches '{source}'; give an existing file, directory of *.txt, "
            f"glob, or a built-in ({', '.join(RAW_BUILTINS)})"
        )
    return read_text_column(source, text_column, cache_dir)


def clean_texts(raw: Sequence[str], report: RawTextReport) -> list[str]:
    """Collapse whitespace; drop empty texts and exact duplicates (first kept)."""
    seen: set[str] = set()
    out: list[str] = []
    for text in raw:
        text = " ".join(text.split())
        if not text:
            report.empty += 1
        elif text in seen:
            report.duplicates += 1
        else:
            seen.add(text)
            out.append(text)
    return out


def load_raw_texts(
    sources: Sequence[str | Table],
    unit: TextUnit = "line",
    text_column: str = "text",
    cache_dir: str | None = None,
    heldout: Mapping[str, ClassSplit | None] = STANDARD_SPLITS,
) -> tuple[list[str], RawTextReport]:
    """Read and clean every source, in order; ConfigError when nothing usable is left.
    ``heldout``: see :func:`read_source` (default: the built-ins' standard class splits, so
    their validation and test classes' texts stay out)."""
    if isinstance(sources, str) or not sources:
        raise ConfigError(
            "texts: give a list of one or more sources, e.g. [wordnet] or [corpus.txt]"
        )
    if unit not in ("line", "paragraph"):
        raise ConfigError(f"text_unit: '{unit}' is not one of line, paragraph")
    report = RawTextReport()
    raw: list[str] = []
    names = [s if isinstance(s, str) else f"{MEMORY}#{i}" for i, s in enumerate(sources)]
    for source, name in zip(sources, names, strict=True):
        texts = read_source(source, unit, text_column, cache_dir, heldout)
        report.per_source[name] = len(texts)
        raw.extend(texts)
    report.rows_in = len(raw)
    texts = clean_texts(raw, report)
    if report.empty:
        log.info("raw text: dropped %d empty lines/paragraphs", report.empty)
    if not texts:
        raise ConfigError(
            f"texts: {', '.join(names)} gave no non-empty text; check the files "
            f"(text_unit={unit}) or the text_column"
        )
    log.info(report.summary())
    return texts, report


def texts_fingerprint(texts: Sequence[str]) -> str:
    """Content hash of a cleaned text list (order matters): the raw-text part of cache keys."""
    h = hashlib.blake2b(digest_size=12)
    h.update(str(len(texts)).encode())
    for text in texts:
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()
