"""In-memory tables as data sources: a ``pandas.DataFrame`` or a ``datasets.Dataset`` passed
from Python as ``source`` (no file to write first).

The cache key of such a source is a hash of the content of the columns it reads
(:func:`table_fingerprint`): the same rows give the same cached tokenisation in every process,
and any changed cell gives a new one.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeAlias

import datasets
import pandas as pd
import pyarrow as pa

from lightning_meta.errors import ConfigError

__all__ = [
    "MEMORY", "Table", "check_columns", "describe_table", "describe_tables", "is_table",
    "table_column", "table_fingerprint", "table_to_dataset",
]  # fmt: skip

MEMORY = "memory"
"""``SourceSpec.kind`` and episode ``task_source`` of an in-memory table."""
Table: TypeAlias = pd.DataFrame | datasets.Dataset


def is_table(source: Any) -> bool:
    return isinstance(source, (pd.DataFrame, datasets.Dataset))


def _columns(table: Table) -> list[str]:
    return (
        [str(c) for c in table.columns] if isinstance(table, pd.DataFrame) else table.column_names
    )


def check_columns(table: Table, wanted: dict[str, str]) -> None:
    """``wanted`` maps field -> column name; one-line ConfigError for a missing one or no rows."""
    present = _columns(table)
    for field, col in wanted.items():
        if col not in present:
            raise ConfigError(
                f"{field}: column '{col}' not found in the in-memory table; columns present: "
                f"{', '.join(present)}"
            )
    if len(table) == 0:
        raise ConfigError("source: the in-memory table has no rows; pass a non-empty table")


def _arrow(table: Table, columns: list[str]) -> pa.Table:
    if isinstance(table, pd.DataFrame):
        return pa.Table.from_pandas(table[columns], preserve_index=False)
    return table.select_columns(columns).with_format("arrow")[:]  # honours indices mappings


def table_fingerprint(table: Table, columns: list[str]) -> str:
    """Content hash of ``columns`` (names, types, values, row order) of ``table``."""
    t = _arrow(table, columns).replace_schema_metadata(None).combine_chunks()
    h = hashlib.blake2b(digest_size=12)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as writer:
        writer.write_table(t)
    h.update(memoryview(sink.getvalue()))
    return h.hexdigest()


def table_to_dataset(table: Table, columns: list[str]) -> datasets.Dataset:
    """The ``columns`` of ``table`` as a ``datasets.Dataset`` (label features kept)."""
    if isinstance(table, pd.DataFrame):
        return datasets.Dataset.from_pandas(table[columns], preserve_index=False)
    return table.select_columns(columns)


def table_column(table: Table, column: str) -> list[str]:
    """One column as strings (missing values as empty strings), for raw-text sources."""
    check_columns(table, {"text_column": column})
    values = _arrow(table, [column]).column(0).to_pylist()
    return ["" if v is None else str(v) for v in values]


def describe_table(table: Table) -> str:
    """What hyper-parameters and logs show instead of the table itself."""
    kind = "pandas.DataFrame" if isinstance(table, pd.DataFrame) else "datasets.Dataset"
    return f"<in-memory {kind}, {len(table)} rows>"


def _described(value: Any) -> Any:
    if is_table(value):
        return describe_table(value)
    if isinstance(value, dict):
        return {k: _described(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_described(v) for v in value)
    return value


def describe_tables(module: Any) -> None:
    """Replace in-memory tables in a module's hyper-parameters (also inside dicts and lists) by
    a description (call after ``save_hyperparameters``): checkpoints hold plain data only and
    load with ``weights_only=True``; ``hparams.yaml`` stays small."""
    for attr in ("_hparams", "_hparams_initial"):
        hp = getattr(module, attr, None)
        if hp is not None:
            for key in list(hp):
                hp[key] = _described(hp[key])
