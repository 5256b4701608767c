"""Issue 12.6: SMLMT text from a labelled built-in skips the texts of its held-out classes.

The reference is the class split of the shipped configs (the labelled DataModule's make_splits
over the corpus labels, with the split of configs/bench/default.yaml): none of the texts of its
validation and test classes may reach the SMLMT corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_meta.data import builtin
from lightning_meta.data.heldout import STANDARD_SPLITS, ClassSplit, train_classes
from lightning_meta.data.rawtext import load_raw_texts, split_gloss

ROOT = Path(__file__).resolve().parents[3]
needs_corpora = pytest.mark.skipif(
    not (builtin.WORDNET_DIR.is_dir() and builtin.FORTUNES_DIR.is_dir()),
    reason="needs the Debian wordnet-base and fortunes packages",
)


def test_train_classes_follow_the_split() -> None:
    labels = [0, 0, 1, 2, 3, 3, 4, 5, 6, 7]
    names = [f"c{i}" for i in range(8)]
    split = ClassSplit((0.5, 0.25, 0.25), seed=3)
    got = train_classes(labels, names, split)
    assert len(got) == 4 and set(got) <= set(names)
    assert got == train_classes(labels, names, split)  # deterministic
    explicit = ClassSplit((0.5, 0.25, 0.25), class_lists=(None, ("c0", "c1"), ("c2",)))
    assert not {"c0", "c1", "c2"} & set(train_classes(labels, names, explicit))


@pytest.mark.data
@needs_corpora
def test_standard_splits_match_the_shipped_configs() -> None:
    cfg = yaml.safe_load((ROOT / "configs/bench/default.yaml").read_text())
    for target in cfg["targets"]:
        data = target["data"]
        if data["source"] in STANDARD_SPLITS:
            split = STANDARD_SPLITS[data["source"]]
            assert tuple(data["split_fractions"]) == split.fractions
            assert data["split_seed"] == split.seed


@pytest.mark.data
@needs_corpora
@pytest.mark.parametrize("source", ["wordnet", "fortunes"])
def test_no_heldout_class_text_in_smlmt_corpus(source: str) -> None:
    import numpy as np

    from lightning_meta.data.splits import make_splits

    texts, labels, names = (
        builtin.read_wordnet() if source == "wordnet" else builtin.read_fortunes()
    )
    split = STANDARD_SPLITS[source]
    plan = make_splits(
        np.asarray(labels), names, fractions=split.fractions, mode="classes", seed=split.seed
    )
    heldout = set(plan.classes("val")) | set(plan.classes("test"))
    assert heldout
    unit = split_gloss if source == "wordnet" else (lambda t: [t])
    heldout_texts = {
        " ".join(p.split())
        for t, y in zip(texts, labels, strict=True)
        if y in heldout
        for p in unit(t)
    }
    train_texts = {
        " ".join(p.split())
        for t, y in zip(texts, labels, strict=True)
        if y not in heldout
        for p in unit(t)
    }
    corpus, _ = load_raw_texts([source])
    corpus_set = set(corpus)
    assert corpus_set <= train_texts  # only train-class texts
    assert not (corpus_set & (heldout_texts - train_texts))  # no text only held-out classes have
    everything, _ = load_raw_texts([source], heldout={})
    assert set(everything) & (heldout_texts - train_texts)  # opting out brings them back


def test_smlmt_text_heldout_settings() -> None:
    from lightning_meta.data.smlmt import SMLMTText

    assert SMLMTText().heldout() == STANDARD_SPLITS
    assert SMLMTText(heldout_text="all").heldout() == {}
    own = ClassSplit((0.5, 0.25, 0.25), seed=7)
    assert SMLMTText(class_splits={"wordnet": own}).heldout()["wordnet"] == own


def test_hybrid_passes_its_labelled_split_to_smlmt() -> None:
    from lightning_meta.data.hybrid import LabelledSource, labelled_class_splits
    from lightning_meta.errors import ConfigError

    fam = LabelledSource(source="wordnet", split_fractions=(0.6, 0.2, 0.2), split_seed=3)
    assert labelled_class_splits([fam]) == {"wordnet": ClassSplit((0.6, 0.2, 0.2), 3)}
    assert labelled_class_splits([LabelledSource(source="sentiment:amazon")]) == {}
    with pytest.raises(ConfigError, match=r"labelled.0.split_mode: 'examples'"):
        labelled_class_splits([LabelledSource(source="fortunes", split_mode="examples")])
