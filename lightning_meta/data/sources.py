"""Where labelled text comes from: built-in corpora, local files, or the Hugging Face hub.

Every source ends as a ``datasets.Dataset`` with a string ``text`` column and a ``label``
column of type ``ClassLabel`` (so the class names travel with the data).

``SourceSpec.source`` is one of

- a built-in name (:data:`BUILTIN_NAMES`: ``wordnet``, ``fortunes``, ``sentiment:movie`` ...),
- ``"files"`` together with ``data_files`` (csv, tsv, json, jsonl or parquet; one or many),
  or directly the path of one such file,
- a ``pandas.DataFrame`` or ``datasets.Dataset`` passed from Python (kind ``memory``, cache key
  from its content, see :mod:`~lightning_meta.data.in_memory`),
- anything else is a hub name (``"sst2"``, ``"stanfordnlp/imdb"``; ``"hub:NAME"`` forces it),
  loaded with ``datasets.load_dataset(name, config_name, split=hub_split)``; when the hub is
  unreachable (or ``HF_HUB_OFFLINE=1``) a copy already in the local ``datasets`` cache is used,
  and a name that is not cached fails in seconds with a pointer to local files.

:meth:`SourceSpec.validate` does every check that needs no loading (names, paths,
extensions); column checks happen right after loading, before any tokenisation.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from lightning_meta.data import builtin, sentiment
from lightning_meta.data.cache import cache_root, file_stamp
from lightning_meta.data.clean import column_values
from lightning_meta.data.in_memory import (
    MEMORY,
    Table,
    check_columns,
    is_table,
    table_fingerprint,
    table_to_dataset,
)
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import dataset_cached, datasets_cache_dir, hub_reachable

FILES = "files"
HUB_PREFIX = "hub:"
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
}

Reader = Callable[[Path], builtin.Corpus]  # argument: cache root (for downloads)


def _sentiment_reader(subset: str) -> Reader:
    return lambda root: sentiment.read_sentiment(subset, root / "downloads")


BUILTIN_SOURCES: dict[str, Reader] = {
    "wordnet": lambda root: builtin.read_wordnet(),
    "fortunes": lambda root: builtin.read_fortunes(),
    **{f"sentiment:{s}": _sentiment_reader(s) for s in sentiment.SENTIMENT_FILES},
}
BUILTIN_NAMES: tuple[str, ...] = tuple(BUILTIN_SOURCES)
_DEBIAN_NEEDS = {
    "wordnet": ("wordnet-base", builtin.WORDNET_DIR),
    "fortunes": ("fortunes fortunes-min", builtin.FORTUNES_DIR),
}


def available() -> str:
    return ", ".join(BUILTIN_NAMES)


def builtin_data_missing(name: str) -> str | None:
    """None when the built-in's local data is present, else the Debian packages to install."""
    if name in _DEBIAN_NEEDS:
        package, path = _DEBIAN_NEEDS[name]
        return None if path.is_dir() else package
    return None


@dataclass(frozen=True)
class SourceSpec:
    """Which labelled text to load and which columns hold text and label."""

    source: str | Table = "wordnet"
    data_files: tuple[str, ...] = ()
    text_column: str = "text"
    label_column: str = "label"
    config_name: str | None = None
    hub_split: str = "train"

    @property
    def kind(self) -> str:
        """``"builtin"``, ``"files"``, ``"hub"`` or ``"memory"`` (an in-memory table)."""
        if not isinstance(self.source, str):
            return MEMORY
        if self.data_files or self.source == FILES or Path(self.source).suffix in EXTENSIONS:
            return "files"
        if self.source in BUILTIN_SOURCES:
            return "builtin"
        return "hub"

    @property
    def files(self) -> list[Path]:
        if not isinstance(self.source, str):
            return []
        raw = self.data_files or ((self.source,) if self.source != FILES else ())
        return [Path(f).expanduser() for f in raw]

    @property
    def name(self) -> str:
        """Short name for episodes and reports (``Episode.task_source``)."""
        if not isinstance(self.source, str):
            return MEMORY
        return "files" if self.kind == "files" else self.source

    @property
    def hub_name(self) -> str:
        return str(self.source).removeprefix(HUB_PREFIX)

    @property
    def table(self) -> Table:
        """The in-memory table (kind ``memory`` only)."""
        assert not isinstance(self.source, str)
        return self.source

    def validate(self) -> None:
        """Checks that need no loading; raises a one-line ConfigError naming the field."""
        for name in ("text_column", "label_column"):
            if not getattr(self, name):
                raise ConfigError(f"{name}: must be a non-empty column name")
        if not isinstance(self.source, str):
            if not is_table(self.source):
                raise ConfigError(
                    f"source: got a {type(self.source).__name__}; use a name, a file path, a "
                    f"pandas.DataFrame or a datasets.Dataset"
                )
            if self.data_files:
                raise ConfigError("data_files: not used with an in-memory table; drop data_files")
            check_columns(
                self.table, {"text_column": self.text_column, "label_column": self.label_column}
            )
            return
        if not self.source:
            raise ConfigError(
                f"source: empty; use a built-in ({available()}), 'files' or a hub name"
            )
        if self.data_files and self.source not in (FILES, "wordnet"):
            raise ConfigError(
                f"source: '{self.source}' given together with data_files; set source: files "
                f"(or drop data_files)"
            )
        kind = self.kind
        if kind == "builtin":
            missing = builtin_data_missing(self.source)
            if missing:
                raise ConfigError(
                    f"source: built-in '{self.source}' needs Debian data that is not installed; "
                    f"run `sudo apt-get install -y {missing}` (or `make install` as root)"
                )
        elif kind == "files":
            self._validate_files()
        else:
            self._validate_hub_name()
            _check_hub_online(self.hub_name)

    def _validate_files(self) -> None:
        files = self.files
        if not files:
            raise ConfigError(
                "data_files: source is 'files' but no data_files given; list one or more paths"
            )
        builders = set()
        for path in files:
            if path.suffix.lower() not in EXTENSIONS:
                raise ConfigError(
                    f"data_files: unsupported extension '{path.suffix}' of {path}; "
                    f"use one of {', '.join(EXTENSIONS)}"
                )
            if not path.is_file():
                raise ConfigError(f"data_files: file not found: {path}; check the path")
            builders.add((EXTENSIONS[path.suffix.lower()], path.suffix.lower() == ".tsv"))
        if len(builders) > 1:
            raise ConfigError("data_files: mixes file formats; give files of one format per source")

    def _validate_hub_name(self) -> None:
        name = self.source
        family = name.split(":", 1)[0] + ":"
        close = difflib.get_close_matches(name, BUILTIN_NAMES, n=1, cutoff=0.75)
        if not name.startswith(HUB_PREFIX) and (
            close or any(b.startswith(family) for b in BUILTIN_NAMES if ":" in name)
        ):
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"source: unknown built-in '{name}'; {hint}available: {available()}")

    def cache_key(self) -> list[Any]:
        """What determines the loaded content (for fingerprints)."""
        if not isinstance(self.source, str):
            columns = [self.text_column, self.label_column]
            return [MEMORY, table_fingerprint(self.table, columns), *columns]
        base: list[Any] = [self.kind, self.source, self.text_column, self.label_column]
        if self.kind == "files":
            return base + [file_stamp(f) for f in self.files]
        if self.kind == "hub":
            return base + [self.config_name, self.hub_split]
        if self.source == "wordnet":
            return base + [file_stamp(f) for f in builtin.wordnet_files()]
        if self.source == "fortunes":
            return base + [file_stamp(f) for f in builtin.fortune_files()]
        return base + [sentiment.VADER_VERSION]


def _to_text_label(texts: list[str], labels: list[int], names: list[str]) -> datasets.Dataset:
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
    )
    return datasets.Dataset.from_dict({"text": texts, "label": labels}, features=features)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def from_columns(ds: datasets.Dataset, text_column: str, label_column: str) -> datasets.Dataset:
    """Rename/convert a loaded table to ``text`` + ``ClassLabel`` ``label``."""
    present = ", ".join(ds.column_names)
    for field, col in (("text_column", text_column), ("label_column", label_column)):
        if col not in ds.column_names:
            raise ConfigError(f"{field}: column '{col}' not found; columns present: {present}")
    raw_labels = column_values(ds, label_column)
    n_missing = sum(_is_missing(v) for v in raw_labels)
    if n_missing:
        raise ConfigError(
            f"label_column: '{label_column}' has {n_missing} missing values; "
            f"fill or drop those rows before loading"
        )
    feature = ds.features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        names = list(feature.names)
        labels = [int(v) for v in raw_labels]
    else:
        uniq = sorted(set(raw_labels), key=lambda v: (not isinstance(v, (int, float)), v))
        names = [str(v) for v in uniq]
        index = {v: i for i, v in enumerate(uniq)}
        labels = [index[v] for v in raw_labels]
    texts = ["" if t is None else str(t) for t in column_values(ds, text_column)]
    return _to_text_label(texts, labels, names)


_FORMAT_HINTS = {
    "csv": "a non-empty CSV/TSV text file with a header row (e.g. text,label) and balanced quotes",
    "json": "JSON Lines (one complete JSON object per line) or a JSON array of objects",
    "parquet": "a complete parquet file (e.g. written by pandas.DataFrame.to_parquet)",
}


def _root_cause(err: BaseException) -> str:
    """The innermost message of an exception chain, on one line."""
    while err.__cause__ is not None or (err.__context__ and not err.__suppress_context__):
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"{type(err).__name__}: {first[:160]}"


def _read_files(builder: str, files: list[str], root: Path, kwargs: dict[str, Any]) -> Any:
    quiet = logging.getLogger("datasets.packaged_modules")  # it logs the error we re-raise
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return datasets.load_dataset(
            builder, data_files=files, split="train", cache_dir=str(root / "hf"), **kwargs
        )
    finally:
        quiet.setLevel(level)


def _load_files(spec: SourceSpec, root: Path) -> datasets.Dataset:
    """Read local files with ``datasets``; a file that exists but cannot be parsed (empty, not
    really this format, a truncated line, a corrupt parquet) becomes one ConfigError line that
    names the file, the format and what to check, instead of a datasets/pyarrow traceback."""
    files = [str(f) for f in spec.files]
    suffix = spec.files[0].suffix.lower()
    builder = EXTENSIONS[suffix]
    kwargs: dict[str, Any] = {"delimiter": "\t"} if suffix == ".tsv" else {}
    try:
        ds = _read_files(builder, files, root, kwargs)
    except Exception as err:  # noqa: BLE001 - re-raised as a one-line ConfigError below
        bad = files[0]
        if len(files) > 1:  # find the unreadable one (error path only)
            for f in files:
                try:
                    _read_files(builder, [f], root, kwargs)
                except Exception:  # noqa: BLE001
                    bad = f
                    break
        raise ConfigError(
            f"data_files: cannot read {bad} as {suffix.lstrip('.')} ({_root_cause(err)}); "
            f"check that it is {_FORMAT_HINTS[builder]}"
        ) from err
    assert isinstance(ds, datasets.Dataset)
    return ds


def _check_hub_online(source: str) -> None:
    if not hub_reachable() and not dataset_cached(source):
        raise ConfigError(
            f"source: '{source}' is not a built-in (nor in the datasets cache "
            f"{datasets_cache_dir()}) and the Hugging Face hub is unreachable (offline); "
            f"use local files instead: source: files, data_files: [train.csv] "
            f"(csv/tsv/json/jsonl/parquet, text,label columns), or load it once online"
        )


def _load_hub(spec: SourceSpec) -> datasets.Dataset:
    ds = datasets.load_dataset(spec.hub_name, spec.config_name, split=spec.hub_split)
    if not isinstance(ds, datasets.Dataset):
        raise ConfigError(
            f"hub_split: '{spec.hub_split}' did not select one split of {spec.hub_name}"
        )
    return ds


def load_source(spec: SourceSpec, cache_dir: str | None = None) -> datasets.Dataset:
    """Load (uncleaned) ``text`` + ``ClassLabel`` ``label`` rows for ``spec``."""
    spec.validate()
    root = cache_root(cache_dir)
    if spec.kind == MEMORY:
        table = table_to_dataset(spec.table, [spec.text_column, spec.label_column])
        return from_columns(table, spec.text_column, spec.label_column)
    if spec.kind == "builtin":
        return _to_text_label(*BUILTIN_SOURCES[str(spec.source)](root))
    table = _load_files(spec, root) if spec.kind == "files" else _load_hub(spec)
    return from_columns(table, spec.text_column, spec.label_column)
