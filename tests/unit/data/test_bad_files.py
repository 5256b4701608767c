"""Issue 12.10: a data file that exists but cannot be parsed is one ConfigError line naming the
file, the format and what to check (not a datasets/pyarrow traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_meta.data.sources import SourceSpec, load_source
from lightning_meta.errors import ConfigError

BAD_FILES = {
    "empty.csv": (b"", "csv", "header row"),
    "binary.csv": (bytes(range(128, 256)) * 20, "csv", "header row"),
    "quote.csv": (b'text,label\n"unterminated,1\nfoo,2\n', "csv", "balanced quotes"),
    "broken.jsonl": (
        b'{"text": "a", "label": 1}\n{"text": "b", "label": \n',
        "jsonl",
        "JSON Lines",
    ),
    "corrupt.parquet": (b"PAR1 not really parquet", "parquet", "complete parquet file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unparseable_file_is_one_line(tmp_path: Path, name: str) -> None:
    content, fmt, hint = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_source(SourceSpec(source=str(path)), cache_dir=str(tmp_path / "cache"))
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"data_files: cannot read {path} as {fmt} (")
    assert hint in msg


def test_names_the_bad_file_among_several(tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text("text,label\nhello,x\nworld,y\n")
    bad = tmp_path / "b.csv"
    bad.write_text('text,label\n"open,x\n')
    spec = SourceSpec(source="files", data_files=(str(good), str(bad)))
    with pytest.raises(ConfigError, match=f"cannot read {bad} as csv"):
        load_source(spec, cache_dir=str(tmp_path / "cache"))


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("text,label\n")
    with pytest.raises(ConfigError, match=f"cannot read {path} as csv .*no data"):
        load_source(SourceSpec(source=str(path)), cache_dir=str(tmp_path / "cache"))


def test_good_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n')
    ds = load_source(SourceSpec(source=str(path)), cache_dir=str(tmp_path / "cache"))
    assert ds["text"] == ["a", "b"] and ds.features["label"].names == ["x", "y"]
