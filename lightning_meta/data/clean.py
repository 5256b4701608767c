"""Cleaning: drop empty/whitespace-only texts and duplicate (text, label) pairs, and say so."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import datasets


def column_values(ds: datasets.Dataset, name: str) -> list[Any]:
    """A whole column as a Python list, read through Arrow in one go (``ds[name]`` is a lazy
    column in datasets >= 4, slow to index row by row)."""
    return ds.with_format("arrow")[name].to_pylist()


@dataclass(frozen=True)
class CleanReport:
    """What cleaning kept and dropped."""

    rows_in: int
    empty: int
    duplicates: int

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.empty - self.duplicates

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"cleaning dropped {self.empty} empty/whitespace-only texts and "
            f"{self.duplicates} duplicate (text, label) pairs of {self.rows_in} rows"
        )


def clean(ds: datasets.Dataset) -> tuple[datasets.Dataset, CleanReport]:
    """Keep the first occurrence of every non-blank (text, label) pair; texts are stripped."""
    texts: list[str] = column_values(ds, "text")
    labels: list[int] = column_values(ds, "label")
    seen: set[tuple[str, int]] = set()
    keep: list[int] = []
    empty = duplicates = 0
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        text = text.strip()
        if not text:
            empty += 1
        elif (text, label) in seen:
            duplicates += 1
        else:
            seen.add((text, label))
            keep.append(i)
    report = CleanReport(rows_in=len(texts), empty=empty, duplicates=duplicates)
    out = datasets.Dataset.from_dict(
        {"text": [texts[i].strip() for i in keep], "label": [labels[i] for i in keep]},
        features=ds.features,
    )
    return out, report
