"""Tokenise a cleaned source once and keep it as flat numpy arrays in the cache.

Layout of a :class:`TokenizedCorpus` (n rows, T_total tokens)::

    ids      (T_total,) int32   every row's token ids, concatenated
    offsets  (n + 1,)   int64   row i is ids[offsets[i]:offsets[i + 1]]
    labels   (n,)       int64   class id per row, indexing class_names

Rows are truncated to ``max_length`` (special tokens included) and not padded; episodes pad
dynamically. The cache entry ``<cache root>/tokenized/<name>-<key>/`` is keyed by
:func:`corpus_key` (source identity, cleaning version, tokenizer, max_length); it holds the
``Dataset.map`` output (``map.arrow``), ``corpus.npz`` and ``meta.json``. A warm load reads only
the two small files and never touches the source or the tokenizer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

from lightning_meta.data.cache import cache_root, fingerprint
from lightning_meta.data.clean import CleanReport, clean, column_values
from lightning_meta.data.sources import SourceSpec, load_source
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

CLEANING_VERSION = 1
FORMAT_VERSION = 1


@dataclass
class TokenizedCorpus:
    """Token ids of every cleaned row, with labels and class names."""

    ids: np.ndarray  # (T_total,) int32
    offsets: np.ndarray  # (n + 1,) int64
    labels: np.ndarray  # (n,) int64
    class_names: list[str]
    pad_id: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    from_cache: bool = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.class_names))

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def save(self, directory: Path) -> None:
        tmp = directory / "corpus.tmp.npz"
        np.savez(tmp, ids=self.ids, offsets=self.offsets, labels=self.labels)
        os.replace(tmp, directory / "corpus.npz")
        meta = {**self.meta, "class_names": self.class_names, "pad_id": self.pad_id}
        (directory / "meta.tmp.json").write_text(json.dumps(meta))
        os.replace(directory / "meta.tmp.json", directory / "meta.json")

    @classmethod
    def load(cls, directory: Path) -> TokenizedCorpus:
        meta = json.loads((directory / "meta.json").read_text())
        with np.load(directory / "corpus.npz") as z:
            ids, offsets, labels = z["ids"], z["offsets"], z["labels"]
        names = meta.pop("class_names")
        pad_id = meta.pop("pad_id")
        return cls(ids, offsets, labels, names, pad_id, meta, from_cache=True)

    @classmethod
    def from_arrow(
        cls, table_ds: datasets.Dataset, class_names: list[str], pad_id: int
    ) -> TokenizedCorpus:
        col = table_ds.data.column("input_ids")
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        offsets = arr.offsets.to_numpy().astype(np.int64)
        ids = arr.values.to_numpy()[offsets[0] : offsets[-1]].astype(np.int32)
        labels = np.asarray(column_values(table_ds, "label"), dtype=np.int64)
        return cls(ids, offsets - offsets[0], labels, class_names, pad_id)


def corpus_key(spec: SourceSpec, tokenizer_path: str, max_length: int) -> str:
    return fingerprint(
        {
            "source": spec.cache_key(),
            "cleaning": CLEANING_VERSION,
            "format": FORMAT_VERSION,
            "tokenizer": tokenizer_path,
            "max_length": max_length,
        }
    )


def corpus_dir(
    spec: SourceSpec, tokenizer_path: str, max_length: int, cache_dir: str | None
) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.name)
    key = corpus_key(spec, tokenizer_path, max_length)
    return cache_root(cache_dir) / "tokenized" / f"{safe}-{key}"


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_pretrained(name, field="tokenizer"))


def tokenize_dataset(
    ds: datasets.Dataset, tokenizer: Any, max_length: int, cache_file: Path | None
) -> datasets.Dataset:
    """``Dataset.map(batched=True)``: ``text`` -> truncated ``input_ids`` (no padding)."""

    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        enc = tokenizer(
            batch["text"],
            truncation=True,
            max_length=max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return {"input_ids": enc["input_ids"]}

    return ds.map(
        encode,
        batched=True,
        batch_size=2000,
        remove_columns=["text"],
        cache_file_name=str(cache_file) if cache_file else None,
        desc="tokenizing",
    )


def load_clean(
    spec: SourceSpec, cache_dir: str | None = None
) -> tuple[datasets.Dataset, CleanReport]:
    """Load and clean a source; error when nothing is left."""
    ds, report = clean(load_source(spec, cache_dir))
    if len(ds) == 0:
        raise ConfigError(
            f"source: '{spec.name}' has no examples after cleaning ({report.summary()}); "
            f"check text_column='{spec.text_column}' and the data"
        )
    return ds, report


Precheck = Callable[[np.ndarray, list[str]], None]  # (labels, class_names) -> raise or pass


def load_tokenized(
    spec: SourceSpec,
    *,
    tokenizer: str = "minilm",
    max_length: int = 64,
    cache_dir: str | None = None,
    precheck: Precheck | None = None,
) -> TokenizedCorpus:
    """The tokenised corpus for ``spec``: from the cache if present, else built and cached.

    ``precheck(labels, class_names)`` runs after cleaning and before tokenising (cold path
    only), so split/shape errors surface before the heavy work.
    """
    if max_length < 2:
        raise ConfigError(f"max_length: must be >= 2 (got {max_length})")
    spec.validate()
    tok_path = resolve_pretrained(tokenizer, field="tokenizer")
    directory = corpus_dir(spec, tok_path, max_length, cache_dir)
    if (directory / "corpus.npz").exists() and (directory / "meta.json").exists():
        return TokenizedCorpus.load(directory)
    ds, report = load_clean(spec, cache_dir)
    names = list(ds.features["label"].names)
    if precheck is not None:
        precheck(np.asarray(column_values(ds, "label"), dtype=np.int64), names)
    tok = load_tokenizer(tokenizer)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        mapped = tokenize_dataset(ds, tok, max_length, directory / "map.arrow")
        corpus = TokenizedCorpus.from_arrow(mapped, names, int(tok.pad_token_id or 0))
        corpus.meta = {
            "source": spec.name,
            "clean": report.as_dict(),
            "tokenizer": tok_path,
            "max_length": max_length,
        }
        corpus.save(directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return corpus
