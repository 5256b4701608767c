"""Offline clusters: a hub model or dataset already in the local Hugging Face cache works with
``HF_HUB_OFFLINE=1`` (or with no network at all); only a name that is neither local nor cached
fails, fast. The caches are built in ``tmp_path`` and pointed at with HF_HUB_CACHE /
HF_DATASETS_CACHE (HF_HOME for the default layout)."""

from __future__ import annotations

import glob
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lightning_meta.data.sources import SourceSpec, load_source
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

MODEL, DATASET = "someorg/tiny-bert", "someorg/tiny-reviews"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FAST = 5.0


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A hub cache holding MODEL (a tiny BERT and the MiniLM tokenizer), HF_HOME layout."""
    from lightning_meta.data.tokens import load_tokenizer
    from lightning_meta.models import tiny_encoder

    home = tmp_path / "hf"
    repo = home / "hub" / f"models--{MODEL.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    tiny_encoder(seed=1).save_pretrained(snapshot)
    load_tokenizer("minilm").save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return snapshot


@pytest.fixture
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A datasets cache holding DATASET as ``load_dataset`` prepares it (built from a CSV)."""
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.csv.csv import Csv

    csv = tmp_path / "reviews.csv"
    rows = [
        f"review {i} {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}" for i in range(12)
    ]
    csv.write_text("text,label\n" + "\n".join(rows) + "\n")
    root = tmp_path / "datasets"
    files = DataFilesDict.from_local_or_remote({"train": [str(csv)]})
    name = DATASET.split("/")[1]
    Csv(cache_dir=str(root), dataset_name=name, data_files=files, hash="h").download_and_prepare()
    target = root / DATASET.replace("/", "___")  # where load_dataset(DATASET) caches it
    target.mkdir()
    os.rename(glob.glob(str(root / name / "*"))[0], target / "default")
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(root))  # as set before the process starts:
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", root)  # datasets reads it once
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return target


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[:1])
        raise OSError("network is unreachable (disabled by the test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_cached_model_loads_offline(hub_cache: Path) -> None:
    from lightning_meta.evaluation.fewshot import FewShotClassifier
    from lightning_meta.models import load_encoder

    assert resolve_pretrained(MODEL) == str(hub_cache)
    assert resolve_pretrained(MODEL, field="tokenizer") == str(hub_cache)
    assert load_encoder(MODEL).config.hidden_size == 32
    clf = FewShotClassifier.from_pretrained(MODEL, device="cpu")
    clf.fit(["good film", "great", "bad film", "awful"], ["pos", "pos", "neg", "neg"])
    assert clf.predict_proba(["fine film"]).shape == (1, 2)


def test_cached_model_without_the_offline_switch_and_no_network(
    hub_cache: Path, no_network: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    start = time.perf_counter()
    assert resolve_pretrained(MODEL) == str(hub_cache)
    assert time.perf_counter() - start < FAST and no_network  # it did try the network first


def test_uncached_model_fails_fast(hub_cache: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="not in the Hugging Face cache") as info:
        resolve_pretrained("someorg/never-downloaded")
    assert time.perf_counter() - start < FAST
    assert "\n" not in str(info.value) and "minilm" in str(info.value)


def test_cached_dataset_loads_offline(datasets_cache: Path) -> None:
    spec = SourceSpec(source=DATASET)
    spec.validate()
    ds = load_source(spec)
    assert len(ds) == 12 and ds.features["label"].names == ["neg", "pos"]
    texts = np.asarray(ds["text"])
    assert texts[0] == "review 0 awful"


def test_uncached_dataset_fails_fast(datasets_cache: Path, no_network: list[Any]) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"nor in the datasets cache") as info:
        SourceSpec(source="someorg/never-downloaded").validate()
    assert time.perf_counter() - start < FAST and "\n" not in str(info.value)
