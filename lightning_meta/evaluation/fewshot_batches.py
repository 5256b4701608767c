"""Texts -> padded token batches for the few-shot classifier, input checks, and progress.

Rows are tokenised like the episodic data (truncated to ``max_length`` with special tokens, no
token type ids) and right-padded to the longest row of their batch, the same layout the
episode sampler builds. Long inputs are cut into batches of similar length (sorted by token
count), so padding stays small; :class:`Progress` reports them: a rich bar on a terminal, a
plain line every tenth otherwise (logs, CI, notebooks' captured stderr).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from numbers import Integral
from types import TracebackType
from typing import Any

import numpy as np
import torch

from lightning_meta.data.episode import TextBatch
from lightning_meta.errors import ConfigError

Label = str | int | bool
PROGRESS_MIN = 1000
"""Inputs of at least this many texts show progress when ``progress`` is None (auto)."""


def check_texts(texts: Any, field: str = "texts") -> list[str]:
    """A non-empty list of strings, or a one-line ConfigError naming ``field``."""
    if isinstance(texts, (str, bytes)):
        raise ConfigError(
            f"{field}: got one string, expected a list of texts; wrap a single text in a list"
        )
    if not isinstance(texts, Iterable):
        raise ConfigError(f"{field}: expected a list of strings, got {type(texts).__name__}")
    out = list(texts)
    if not out:
        raise ConfigError(f"{field}: empty; give at least one text")
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise ConfigError(
                f"{field}: item {i} is {type(t).__name__} ({t!r}), not a string; "
                f"fill or drop missing texts"
            )
    return out


def check_labels(labels: Any, n_texts: int, field: str = "labels") -> list[Label]:
    """One str/int/bool label per text (numpy scalars become Python values)."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable):
        raise ConfigError(f"{field}: expected a list of labels, one per text")
    out: list[Label] = []
    for i, y in enumerate(labels):
        y = y.item() if isinstance(y, np.generic) else y
        if isinstance(y, Integral) and not isinstance(y, bool):
            y = int(y)
        if not isinstance(y, (str, int, bool)):
            raise ConfigError(
                f"{field}: item {i} is {type(y).__name__} ({y!r}); labels must be strings or "
                f"integers, fill or drop missing labels"
            )
        out.append(y)
    if len(out) != n_texts:
        raise ConfigError(
            f"{field}: {len(out)} labels for {n_texts} texts; give exactly one label per text"
        )
    return out


def sorted_classes(labels: Sequence[Label], field: str = "labels") -> list[Label]:
    """Distinct labels in sorted order (scikit-learn's ``classes_``)."""
    kinds = {type(y) for y in labels}
    if len(kinds) > 1:
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise ConfigError(f"{field}: mixes label types ({names}); use one type for all labels")
    return sorted(set(labels))


def fit_inputs(texts: Any, labels: Any) -> tuple[list[str], list[Label], list[Label]]:
    """Checked ``fit`` arguments: the texts, one label each, and the sorted classes (at least
    two; no blank text), or a one-line ConfigError naming the argument."""
    texts = check_texts(texts)
    ys = check_labels(labels, len(texts))
    blank = next((i for i, t in enumerate(texts) if not t.strip()), None)
    if blank is not None:
        raise ConfigError(f"texts: item {blank} is blank; drop empty texts before fit")
    classes = sorted_classes(ys)
    if len(classes) < 2:
        raise ConfigError(
            f"labels: only one class ({classes[0]!r}); fit needs examples of at least two classes"
        )
    return texts, ys, classes


def encode(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_length`` (special tokens included), unpadded."""
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return [list(ids) for ids in enc["input_ids"]]


def pad(rows: Sequence[Sequence[int]], pad_id: int, labels: Sequence[int] | None = None,
        width: int | None = None) -> TextBatch:  # fmt: skip
    """Right-padded (B, T) ids and mask (T = ``width`` or the longest row), with labels."""
    length = max([len(r) for r in rows], default=0) if width is None else width
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(rows), length), dtype=torch.long)  # (B, T)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    y = torch.as_tensor(list(labels) if labels is not None else [0] * len(rows), dtype=torch.long)
    return TextBatch(ids, mask, y)


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of ``batch_size`` rows of similar length (longest first)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class Progress:
    """Progress over ``total`` items (None: unknown), to stderr, shown only when ``enabled``."""

    def __init__(self, total: int | None, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done = 0
        self._next_plain = 0.1
        self._bar: Any = None
        self._task: Any = None
        self._t0 = time.perf_counter()
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(console=Console(stderr=True), transient=False)
            self._task = self._bar.add_task(desc, total=total)
            self._bar.start()

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=n)
            return
        if self.total is None or self.done >= self._next_plain * self.total:
            self._plain()
            if self.total:
                self._next_plain = (int(10 * self.done / self.total) + 1) / 10

    def _plain(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        rate = self.done / max(time.perf_counter() - self._t0, 1e-9)
        print(f"{self.desc}: {self.done}{of} ({rate:.0f}/s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
