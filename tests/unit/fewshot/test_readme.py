"""The README's Python quick start runs exactly as printed (import to predictions)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def quick_start() -> str:
    text = README.read_text()
    section = text.split("### Python quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block after '### Python quick start'"
    return match.group(1)


def test_quick_start_is_short_and_runs_as_printed() -> None:
    code = quick_start()
    assert len(code.strip().splitlines()) < 15
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    lines = out.getvalue().splitlines()
    assert lines[0] == "['positive', 'negative']"  # what the README says it prints
    assert lines[1].startswith("['negative', 'positive'] [[")
