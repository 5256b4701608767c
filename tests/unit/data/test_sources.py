"""Local files, cleaning, and the one-line errors of the source layer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from lightning_meta.data import sources
from lightning_meta.data.clean import clean
from lightning_meta.data.sources import SourceSpec, load_source
from lightning_meta.data.tokens import load_clean
from lightning_meta.errors import ConfigError

ROWS = [("good movie", "pos"), ("bad movie", "neg"), ("fine film", "pos"), ("awful", "neg")]


def write_all_formats(tmp_path: Path) -> dict[str, Path]:
    df = pd.DataFrame(ROWS, columns=["sentence", "sentiment"])
    out = {}
    for ext in ("csv", "tsv", "json", "jsonl", "parquet"):
        path = tmp_path / f"d.{ext}"
        if ext == "csv":
            df.to_csv(path, index=False)
        elif ext == "tsv":
            df.to_csv(path, index=False, sep="\t")
        elif ext == "json":
            path.write_text(json.dumps(df.to_dict(orient="records")))
        elif ext == "jsonl":
            df.to_json(path, orient="records", lines=True)
        else:
            df.to_parquet(path)
        out[ext] = path
    return out


def test_every_local_format(tmp_path: Path, cache_dir: str) -> None:
    for ext, path in write_all_formats(tmp_path).items():
        spec = SourceSpec("files", (str(path),), text_column="sentence", label_column="sentiment")
        ds = load_source(spec, cache_dir)
        assert ds.features["label"].names == ["neg", "pos"], ext
        assert ds["text"] == [r[0] for r in ROWS], ext
        assert ds["label"] == [1, 0, 1, 0], ext


def test_many_files_and_path_as_source(write_csv: Callable[..., Path], cache_dir: str) -> None:
    a = write_csv("a.csv", n_classes=2, per_class=3)
    b = write_csv("b.csv", n_classes=3, per_class=2)
    ds = load_source(SourceSpec("files", (str(a), str(b))), cache_dir)
    assert len(ds) == 12 and ds.features["label"].names == ["cls0", "cls1", "cls2"]
    assert len(load_source(SourceSpec(str(a)), cache_dir)) == 6


def test_integer_labels_keep_numeric_order(tmp_path: Path, cache_dir: str) -> None:
    path = tmp_path / "n.csv"
    path.write_text("text,label\na,10\nb,2\nc,2\n")
    ds = load_source(SourceSpec("files", (str(path),)), cache_dir)
    assert ds.features["label"].names == ["2", "10"] and ds["label"] == [1, 0, 0]


def test_cleaning_drops_and_reports(tmp_path: Path, cache_dir: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text('text,label\nhello,a\n"   ",a\nhello,a\nhello,b\n,b\n  hello  ,a\nworld,b\n')
    ds, report = clean(load_source(SourceSpec("files", (str(path),)), cache_dir))
    assert (report.rows_in, report.empty, report.duplicates, report.rows_out) == (7, 2, 2, 3)
    assert list(zip(ds["text"], ds["label"], strict=True)) == [
        ("hello", 0),
        ("hello", 1),
        ("world", 1),
    ]
    assert "2 empty" in report.summary() and "2 duplicate" in report.summary()


def test_bad_inputs_name_the_field(
    tmp_path: Path, write_csv: Callable[..., Path], cache_dir: str
) -> None:
    good = write_csv()
    with pytest.raises(
        ConfigError,
        match=r"^source: unknown built-in 'wordnett'; did you mean 'wordnet'\? available: wordnet, fortunes, sentiment:movie",
    ):
        SourceSpec("wordnett").validate()
    with pytest.raises(
        ConfigError, match=r"^source: unknown built-in 'sentiment:imdb'.*sentiment:nyt"
    ):
        SourceSpec("sentiment:imdb").validate()
    with pytest.raises(ConfigError, match=r"^data_files: file not found: .*missing\.csv"):
        SourceSpec("files", (str(tmp_path / "missing.csv"),)).validate()
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(
        ConfigError, match=r"^data_files: unsupported extension '\.txt'.*\.csv, \.tsv"
    ):
        SourceSpec("files", (str(tmp_path / "x.txt"),)).validate()
    with pytest.raises(ConfigError, match=r"^data_files: source is 'files' but no data_files"):
        SourceSpec("files").validate()
    with pytest.raises(
        ConfigError,
        match=r"^text_column: column 'sentence' not found; columns present: text, label",
    ):
        load_source(SourceSpec("files", (str(good),), text_column="sentence"), cache_dir)
    with pytest.raises(
        ConfigError, match=r"^label_column: column 'y' not found; columns present: text, label"
    ):
        load_source(SourceSpec("files", (str(good),), label_column="y"), cache_dir)
    holes = tmp_path / "holes.csv"
    holes.write_text("text,label\na,x\nb,\nc,y\n")
    with pytest.raises(ConfigError, match=r"^label_column: 'label' has 1 missing values"):
        load_source(SourceSpec("files", (str(holes),)), cache_dir)
    blank = tmp_path / "blank.csv"
    blank.write_text('text,label\n"  ",x\n" ",y\n')
    with pytest.raises(ConfigError, match=r"^source: 'files' has no examples after cleaning"):
        load_clean(SourceSpec("files", (str(blank),)), cache_dir)


def test_hub_name_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: False)
    start = time.perf_counter()
    with pytest.raises(
        ConfigError,
        match=r"^source: 'imdb' is not a built-in .* hub is unreachable \(offline\); use local files",
    ):
        SourceSpec("imdb").validate()
    assert time.perf_counter() - start < 5


def test_hub_name_online_goes_to_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls: list[tuple] = []

    def fake_load(name: str, config: str | None, split: str) -> datasets.Dataset:
        calls.append((name, config, split))
        return datasets.Dataset.from_dict({"sentence": ["a", "b"], "label": [0, 1]})

    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: True)
    monkeypatch.setattr(sources.datasets, "load_dataset", fake_load)
    ds = load_source(
        SourceSpec("glue", config_name="sst2", hub_split="validation", text_column="sentence")
    )
    assert calls == [("glue", "sst2", "validation")] and ds["text"] == ["a", "b"]
