"""Built-in corpora on the installed Debian data and the vaderSentiment sdist."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lightning_meta.cli import describe
from lightning_meta.data import builtin
from lightning_meta.data.clean import column_values
from lightning_meta.data.sources import SourceSpec
from lightning_meta.data.tokens import load_clean
from lightning_meta.errors import ConfigError

needs_wordnet = pytest.mark.skipif(
    not builtin.WORDNET_DIR.is_dir(),
    reason="Debian wordnet-base not installed: apt-get install -y wordnet-base",
)
needs_fortunes = pytest.mark.skipif(
    not builtin.FORTUNES_DIR.is_dir(),
    reason="Debian fortunes not installed: apt-get install -y fortunes fortunes-min",
)


def test_fortune_parsing_strips_attributions() -> None:
    text = 'Line one\n\t\t-- Someone Famous\n%\nA -- B\nsecond\n    -- Author, "Book",\n\tcontinued\n%\n\n%\nplain\n'
    assert builtin.split_fortunes(text) == ["Line one", "A -- B\nsecond", "plain"]


@pytest.mark.data
@needs_wordnet
def test_wordnet() -> None:
    ds, report = load_clean(SourceSpec("wordnet"))
    names = ds.features["label"].names
    counts = np.bincount(column_values(ds, "label"), minlength=45)
    assert len(names) == 45 and names[3] == "noun.Tops" and names[44] == "adj.ppl"
    assert report.rows_in == 117_659 and len(ds) >= 117_000 and (counts > 0).all()
    assert counts.min() >= 40 and counts.max() == counts[names.index("adj.all")]
    assert all(t and " | " not in t for t in column_values(ds, "text")[:100])


@pytest.mark.data
@needs_fortunes
def test_fortunes() -> None:
    ds, _ = load_clean(SourceSpec("fortunes"))
    counts = collections.Counter(column_values(ds, "label"))
    assert len(ds.features["label"].names) >= 40 and min(counts.values()) >= 20
    assert len(counts) == len(ds.features["label"].names)
    texts = column_values(ds, "text")
    assert not any(t.rsplit("\n", 1)[-1].startswith("--") for t in texts)
    assert sum("\n" in t for t in texts) > 5_000  # lines are kept
    for path in builtin.fortune_files()[:8]:  # raw entries: no attribution survives at the end
        raw = path.read_bytes().decode("utf-8", "replace").split("\n%\n")
        for entry in raw:
            lines = builtin.strip_attribution(entry.splitlines())
            assert not lines or not lines[-1].lstrip().startswith("--")


@pytest.mark.data
def test_sentiment_movie() -> None:
    try:
        ds, _ = load_clean(SourceSpec("sentiment:movie"))
    except ConfigError as err:  # only when pip cannot reach PyPI and nothing is cached
        pytest.skip(f"vaderSentiment sdist unavailable: {err}")
    counts = collections.Counter(column_values(ds, "label"))
    assert ds.features["label"].names == ["negative", "positive"]
    assert 10_400 <= len(ds) <= 10_605 and counts[0] > 5_000 and counts[1] > 5_000


@pytest.mark.data
@needs_wordnet
def test_describe_wordnet(capsys: pytest.CaptureFixture[str]) -> None:
    assert describe.main(["wordnet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("45 classes, ") and int(out[-1].split(", ")[1].split()[0]) >= 117_000
    assert any(line.startswith("noun.artifact") for line in out) and "duplicate" in out[-2]


def test_describe_csv(
    write_csv: Callable[..., Path], capsys: pytest.CaptureFixture[str], cache_dir: str
) -> None:
    path = write_csv(
        n_classes=3, per_class=4, extra="topic 0 sentence number 0 about thing0x0,cls0\n ,cls1\n"
    )
    assert describe.main([str(path), "--cache-dir", cache_dir]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "3 classes, 12 examples"
    assert out[-2].startswith("cleaning dropped 1 empty/whitespace-only texts and 1 duplicate")
    assert [line.split() for line in out[2:5]] == [["cls0", "4"], ["cls1", "4"], ["cls2", "4"]]


def test_describe_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert describe.main(["wordnett"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: source: unknown built-in 'wordnett'") and "\n" not in err
