"""Progress of a long loop: items done, items/s and ETA.

On a terminal: a rich progress bar on stderr. Otherwise (logs, CI, pipes): plain lines on
stderr, at most one per ``interval`` seconds plus the last one, e.g.
``report sentiment: 120/300 episodes, 3.1 episodes/s, ETA 58s``. Phase notes (``note``)
print as their own line (encoding the unique texts of a cache, say).

    with Progress(len(episodes), "evaluate") as bar:
        for ep in episodes:
            ...
            bar.advance()
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class _Rate(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:  # the mean rate since the start, as the plain lines
        elapsed = task.elapsed or 0.0
        speed = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{speed:.2f} {self.unit}/s")


class Progress:
    """Counts ``total`` items; see the module docstring. ``enabled=False``: silent."""

    def __init__(
        self,
        total: int,
        description: str,
        unit: str = "episodes",
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 10.0,
        rich: bool | None = None,
    ) -> None:
        self.total, self.description, self.unit = int(total), description, unit
        self.enabled = enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.use_rich = self.stream.isatty() if rich is None else rich
        self.done = 0
        self._t0 = self._last = time.perf_counter()
        self._bar: RichProgress | None = None
        self._task: int | None = None

    def __enter__(self) -> Progress:
        self._t0 = self._last = time.perf_counter()
        if self.enabled and self.use_rich:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _Rate(self.unit),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        elif self.enabled:
            print(f"{self.description}: 0/{self.total} {self.unit}", file=self.stream, flush=True)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled and kind is None and self.done > 0:
            self._line()

    def rate(self) -> float:
        """Items per second so far."""
        elapsed = time.perf_counter() - self._t0
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=n)  # type: ignore[arg-type]
            return
        now = time.perf_counter()
        if now - self._last >= self.interval and self.done < self.total:
            self._last = now
            self._line()

    def note(self, message: str) -> None:
        """A phase message (its own line, also under the rich bar)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(f"{self.description}: {message}")
        else:
            print(f"{self.description}: {message}", file=self.stream, flush=True)

    def _line(self) -> None:
        rate = self.rate()
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = "done" if self.done >= self.total else f"ETA {format_duration(left)}"
        print(
            f"{self.description}: {self.done}/{self.total} {self.unit}, "
            f"{rate:.2f} {self.unit}/s, {eta}",
            file=self.stream,
            flush=True,
        )
