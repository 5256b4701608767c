"""HybridDataModule: mixing rules, determinism by (seed, index), per-family task counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lightning_meta.data.config import build
from lightning_meta.data.hybrid import HybridDataModule, LabelledSource, mixing_probs
from lightning_meta.data.smlmt import SMLMTText
from lightning_meta.errors import ConfigError


def make_hybrid(corpus: Path, csv: Path, cache: Path, **kw: Any) -> HybridDataModule:
    args: dict[str, Any] = dict(
        smlmt=SMLMTText(texts=(str(corpus),), min_count=2, split_fractions=(0.5, 0.25, 0.25)),
        labelled=[LabelledSource(source="files", data_files=(str(csv),),
                                 split_fractions=(0.34, 0.33, 0.33))],
        mixing="fixed", weights=[0.7, 0.3], n_way=3, k_shot=2, q_query=2, meta_batch_size=2,
        train_episodes=8, val_episodes=2, test_episodes=2, cache_dir=str(cache),
    )  # fmt: skip
    args.update(kw)
    return build(HybridDataModule, args)  # flat names -> shape/stream/tokens groups


def test_fixed_mixing_and_counts(corpus_file: Path, labelled_csv: Path, tmp_path: Path) -> None:
    dm = make_hybrid(corpus_file, labelled_csv, tmp_path)
    dm.setup("fit")
    assert dm.probabilities == pytest.approx({"smlmt": 0.7, "files": 0.3})
    counts = dm.task_counts(4000)
    assert sum(counts.values()) == 4000
    assert abs(counts["smlmt"] / 4000 - 0.7) < 0.03
    # counts are exactly the task_source of the episodes of the stream
    provider = dm.require_provider()
    sources = [provider.episode("train", i).task_source for i in range(40)]
    assert dm.task_counts(40) == {"smlmt": sources.count("smlmt"), "files": sources.count("files")}
    assert dict(dm.hybrid.served) == dm.task_counts(40)  # type: ignore[union-attr]


def test_loader_counts_follow_position(
    corpus_file: Path, labelled_csv: Path, tmp_path: Path
) -> None:
    dm = make_hybrid(corpus_file, labelled_csv, tmp_path)
    dm.setup("fit")
    seen = [ep.task_source for batch in dm.train_dataloader() for ep in batch]
    assert len(seen) == 8
    assert dm.task_counts() == {"smlmt": seen.count("smlmt"), "files": seen.count("files")}
    val = [b[0] for b in dm.val_dataloader()]
    assert all(ep.task_source == "files" and ep.split == "val" for ep in val)


def test_deterministic(corpus_file: Path, labelled_csv: Path, tmp_path: Path) -> None:
    a = make_hybrid(corpus_file, labelled_csv, tmp_path)
    b = make_hybrid(corpus_file, labelled_csv, tmp_path)
    a.setup("fit")
    b.setup("fit")
    for i in [5, 0, 3, 11]:
        ea, eb = a.require_provider().episode("train", i), b.require_provider().episode("train", i)
        assert ea.task_source == eb.task_source and ea.class_names == eb.class_names
        assert torch.equal(ea.support.input_ids, eb.support.input_ids)
    c = make_hybrid(corpus_file, labelled_csv, tmp_path, seed=1)
    c.setup("fit")
    assert c.task_counts(200) != a.task_counts(200)


def test_proportional_and_temperature(
    corpus_file: Path, labelled_csv: Path, tmp_path: Path
) -> None:
    prop = make_hybrid(corpus_file, labelled_csv, tmp_path, mixing="proportional", weights=None)
    prop.setup("fit")
    assert prop.hybrid is not None
    n_words = len(prop.hybrid.families["smlmt"].words["train"])  # type: ignore[attr-defined]
    sizes = np.array([n_words, 3.0])  # train words vs the 3 train classes
    assert list(prop.probabilities.values()) == pytest.approx(sizes / sizes.sum())
    temp = make_hybrid(corpus_file, labelled_csv, tmp_path, mixing="temperature", temperature=4.0)
    temp.setup("fit")
    w = sizes**0.25
    assert list(temp.probabilities.values()) == pytest.approx(w / w.sum())
    by_ex = make_hybrid(corpus_file, labelled_csv, tmp_path, mixing="proportional",
                        size_by="examples")  # fmt: skip
    by_ex.setup("fit")
    assert by_ex.probabilities != prop.probabilities


def test_eval_on_smlmt(corpus_file: Path, labelled_csv: Path, tmp_path: Path) -> None:
    dm = make_hybrid(corpus_file, labelled_csv, tmp_path, eval_on="smlmt")
    dm.setup("fit")
    assert {b[0].task_source for b in dm.test_dataloader()} == {"smlmt"}


def test_bad_mixing(corpus_file: Path, labelled_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^weights: mixing 'fixed' needs 2 weights"):
        make_hybrid(corpus_file, labelled_csv, tmp_path, weights=[1.0])
    with pytest.raises(ConfigError, match="^temperature: must be > 0"):
        mixing_probs([1, 2], "temperature", None, 0.0)
    with pytest.raises(ConfigError, match="^weights: need non-negative"):
        mixing_probs([1, 2], "fixed", [0.0, 0.0], 1.0)
    with pytest.raises(ConfigError, match="^eval_on: 'smlmt' needs smlmt"):
        make_hybrid(corpus_file, labelled_csv, tmp_path, use_smlmt=False, eval_on="smlmt")
