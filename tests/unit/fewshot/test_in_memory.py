"""In-memory data from Python: a pandas.DataFrame or a datasets.Dataset as ``source``.

Reference: the same rows written to a CSV file give the same corpus and the same episodes. The
cache key comes from the content: equal tables share one cache entry, a changed cell gets its
own; checkpoints never hold the table (safe ``weights_only`` load)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import pytest
import torch

from lightning_meta.data import EpisodicDataModule
from lightning_meta.data.config import build
from lightning_meta.data.sources import SourceSpec
from lightning_meta.data.tokens import corpus_dir
from lightning_meta.errors import ConfigError
from tests.conftest import tiny_rows

SHAPE = {"n_way": 3, "k_shot": 2, "q_query": 2, "max_length": 16}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(tiny_rows(), columns=["sentence", "topic"])


def _dm(source: Any, tmp_path: Path, **extra: Any) -> EpisodicDataModule:
    args = {"source": source, "text_column": "sentence", "label_column": "topic",
            "cache_dir": str(tmp_path / "cache"), **SHAPE, **extra}  # fmt: skip
    dm = build(EpisodicDataModule, args)
    dm.setup("fit")
    return dm


def _same_episodes(a: EpisodicDataModule, b: EpisodicDataModule) -> None:
    assert a.corpus is not None and b.corpus is not None
    assert a.corpus.class_names == b.corpus.class_names
    assert (a.corpus.ids == b.corpus.ids).all() and (a.corpus.labels == b.corpus.labels).all()
    assert a.sampler is not None and b.sampler is not None
    for split in ("train", "val", "test"):
        ea, eb = a.sampler.episode(split, 3), b.sampler.episode(split, 3)
        assert torch.equal(ea.support.input_ids, eb.support.input_ids)
        assert torch.equal(ea.query.labels, eb.query.labels)
        assert ea.class_names == eb.class_names


@pytest.mark.parametrize("kind", ["pandas", "datasets"])
def test_table_gives_the_episodes_of_the_same_csv(kind: str, tmp_path: Path) -> None:
    frame = _frame()
    csv = tmp_path / "rows.csv"
    frame.to_csv(csv, index=False)
    table = frame if kind == "pandas" else datasets.Dataset.from_pandas(frame)
    from_table, from_file = _dm(table, tmp_path), _dm(str(csv), tmp_path)
    _same_episodes(from_table, from_file)
    assert from_table.sampler is not None
    assert from_table.sampler.episode("train", 0).task_source == "memory"


def test_cache_key_follows_the_content(tmp_path: Path) -> None:
    def key(frame: pd.DataFrame) -> Path:
        spec = SourceSpec(source=frame, text_column="sentence", label_column="topic")
        return corpus_dir(spec, "tok", 16, str(tmp_path))

    frame = _frame()
    assert key(frame) == key(_frame())  # another object, same content
    changed = _frame()
    changed.loc[5, "sentence"] = "a different text"
    assert key(changed) != key(frame)
    relabelled = _frame()
    relabelled.loc[5, "topic"] = "food"
    assert key(relabelled) != key(frame)
    extra_column = _frame().assign(other=1)
    assert key(extra_column) == key(frame)  # only the columns read count
    ds = datasets.Dataset.from_pandas(frame)
    spec = SourceSpec(source=ds.shuffle(seed=0), text_column="sentence", label_column="topic")
    assert corpus_dir(spec, "tok", 16, str(tmp_path)) != key(frame)  # row order counts


def test_hyperparameters_describe_the_table_and_load_safely(tmp_path: Path) -> None:
    dm = _dm(_frame(), tmp_path)
    assert dm.hparams["source"] == "<in-memory pandas.DataFrame, 216 rows>"
    buffer = io.BytesIO()
    torch.save({"datamodule_hyper_parameters": dict(dm.hparams)}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert loaded["datamodule_hyper_parameters"]["source"].startswith("<in-memory")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"text": ["a"], "topic": ["x"]}), "text_column: column 'sentence' not found"),
        (pd.DataFrame({"sentence": [], "topic": []}), "no rows"),
    ],
)
def test_bad_tables_are_one_line(table: pd.DataFrame, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _dm(table, tmp_path)
    assert "\n" not in str(info.value)


def test_smlmt_and_hybrid_take_tables(tmp_path: Path) -> None:
    from lightning_meta.data.hybrid import HybridDataModule, LabelledSource
    from lightning_meta.data.smlmt import SMLMTDataModule, SMLMTText

    frame = _frame()
    csv = tmp_path / "rows.csv"
    frame.to_csv(csv, index=False)
    common = {"n_way": 3, "k_shot": 2, "q_query": 2, "max_length": 16,
              "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    tasks = []
    for texts in ((frame,), (str(csv),)):
        text = SMLMTText(texts=texts, text_column="sentence")
        dm = build(SMLMTDataModule, {"smlmt": text, **common})
        dm.setup("fit")
        assert dm.provider is not None
        tasks.append(dm.provider.episode("train", 0))
    assert torch.equal(tasks[0].support.input_ids, tasks[1].support.input_ids)
    assert tasks[0].class_names == tasks[1].class_names
    assert dm.hparams["smlmt"]["texts"] == (str(csv),)

    labelled = LabelledSource(source=frame, text_column="sentence", label_column="topic")
    hybrid = build(HybridDataModule, {"smlmt": SMLMTText(texts=(frame,), text_column="sentence"),
                                      "labelled": [labelled], **common})  # fmt: skip
    hybrid.setup("fit")
    assert set(hybrid.probabilities) == {"smlmt", "memory"}
    assert hybrid.hparams["labelled"][0]["source"].startswith("<in-memory pandas.DataFrame")
    buffer = io.BytesIO()
    torch.save(dict(hybrid.hparams), buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=True)
