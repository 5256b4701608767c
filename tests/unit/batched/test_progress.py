"""Progress on long loops: plain lines off a terminal, a rich bar on one; score_module uses it."""

from __future__ import annotations

import io

import pytest

from lightning_meta.evaluation.progress import Progress, format_duration
from lightning_meta.evaluation.scoring import score_module
from lightning_meta.lightning import FineTune
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from tests.unit.batched.helpers import pool_episodes


def test_plain_lines_count_rate_and_eta() -> None:
    out = io.StringIO()
    with Progress(4, "evaluate", stream=out, interval=0.0, rich=False) as bar:
        bar.note("encoding 3 unique texts")
        for _ in range(4):
            bar.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "evaluate: 0/4 episodes"
    assert lines[1] == "evaluate: encoding 3 unique texts"
    assert lines[2].startswith("evaluate: 1/4 episodes, ") and "episodes/s, ETA " in lines[2]
    assert lines[-1].startswith("evaluate: 4/4 episodes, ") and lines[-1].endswith("done")
    assert len(lines) == 6  # start, note, 1/4, 2/4, 3/4 (interval 0), then the final line


def test_lines_are_rate_limited_and_silent_when_disabled() -> None:
    out = io.StringIO()
    with Progress(100, "x", stream=out, interval=3600.0, rich=False) as bar:
        bar.advance(100)
    assert len(out.getvalue().splitlines()) == 2  # start and end only
    quiet = io.StringIO()
    with Progress(5, "x", stream=quiet, enabled=False) as bar:
        bar.advance(5)
        bar.note("n")
    assert quiet.getvalue() == ""


def test_rich_bar_on_a_terminal() -> None:
    out = io.StringIO()
    with Progress(3, "report", stream=out, rich=True) as bar:
        bar.advance(3)
    text = out.getvalue()
    assert "report" in text and "3/3" in text and "episodes/s" in text


@pytest.mark.parametrize(("seconds", "text"), [(5.2, "5s"), (185, "3m05s"), (3720, "1h02m")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_score_module_reports_progress(capsys: pytest.CaptureFixture[str]) -> None:
    episodes = pool_episodes(3)
    for adapt in ("top1", "all"):  # the cached path and the per-episode loop
        module = FineTune(EncoderConfig("tiny"), InnerLoopArgs(adapt=adapt, steps=1))
        scores = score_module(module, episodes, progress="rows")
        assert [s.index for s in scores] == [0, 1, 2]
        err = capsys.readouterr().err
        assert "rows: 0/3 episodes" in err and "rows: 3/3 episodes" in err
    score_module(module, episodes, progress=False)
    assert capsys.readouterr().err == ""
