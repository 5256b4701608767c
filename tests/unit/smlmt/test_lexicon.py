"""Lexicon-guided SMLMT: polarity pools from the lexicon, every row's hidden word has its
label's polarity, word-disjoint splits, seeded episodes, and the family's config checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lightning_meta.data.config import EpisodeStream, Tokenization
from lightning_meta.data.families import FamilyDataModule, TaskFamily
from lightning_meta.data.smlmt import SMLMTText
from lightning_meta.data.smlmt_lexicon import (
    LexiconMask,
    build_lexicon_smlmt,
    load_lexicon,
    polarity_pools,
)
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.baselines.text import load_tokenizer

VALENCE = {"good": 2.0, "great": 3.1, "nice": 1.6, "lovely": 2.8, "happy": 2.7, "bad": -2.5,
           "awful": -3.1, "poor": -1.5, "nasty": -2.9, "sad": -2.1, "okay": 0.9}  # fmt: skip
WORDS = [w for w in VALENCE if w != "okay"]


@pytest.fixture
def lexicon_files(tmp_path: Path) -> tuple[Path, Path, dict[int, str]]:
    """A word<TAB>valence file and a text file: row ``r`` is ``row r was <word>`` (one lexicon
    word each; 'okay' rows too, below the threshold). Returns the files and row -> word."""
    lex = tmp_path / "lexicon.tsv"
    lex.write_text("".join(f"{w}\t{v}\t[1, 2]\n" for w, v in VALENCE.items()))
    rows = {r: list(VALENCE)[r % len(VALENCE)] for r in range(330)}
    text = tmp_path / "text.txt"
    text.write_text("".join(f"row {r} was {w}\n" for r, w in rows.items()))
    return lex, text, rows


def build(lex: Path, text: Path, tmp: Path, **kw: Any) -> Any:
    return build_lexicon_smlmt(
        SMLMTText(texts=(str(text),), split_fractions=(0.6, 0.2, 0.2)),
        LexiconMask(lexicon=str(lex), min_valence=1.0), k_shot=3, q_query=4, max_length=32,
        tokenizer="minilm", seed=0, cache_dir=str(tmp), **kw,
    )  # fmt: skip


def test_pools_hold_the_lexicon_words_above_the_threshold(
    lexicon_files: Any, tmp_path: Path
) -> None:
    lex, text, _ = lexicon_files
    assert load_lexicon(str(lex)) == VALENCE
    b = build(lex, text, tmp_path, splits=("train", "val", "test"))
    neg, pos = polarity_pools(b.index, VALENCE, 1.0)
    assert sorted(b.index.words[i] for i in neg) == ["awful", "bad", "nasty", "poor", "sad"]
    assert sorted(b.index.words[i] for i in pos) == ["good", "great", "happy", "lovely", "nice"]
    # word-disjoint splits within each polarity: 5 words -> 3 / 1 / 1
    for pol in (0, 1):
        parts = [set(b.pools[s][pol].tolist()) for s in ("train", "val", "test")]
        assert [len(p) for p in parts] == [3, 1, 1]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_every_row_hides_a_word_of_its_labels_polarity(lexicon_files: Any, tmp_path: Path) -> None:
    lex, text, rows = lexicon_files
    b = build(lex, text, tmp_path)
    tok = load_tokenizer("minilm")
    orders = set()
    for i in range(12):
        ep = b.episode("train", i)
        assert ep.n_way == 2 and ep.task_source == "smlmt-lexicon"
        assert sorted(ep.class_names) == ["negative word", "positive word"]
        orders.add(tuple(ep.class_names))
        for batch, per in ((ep.support, 3), (ep.query, 4)):
            assert batch.labels.tolist() == [0] * per + [1] * per
            for ids, mask, y in zip(
                batch.input_ids, batch.attention_mask, batch.labels, strict=True
            ):
                decoded = tok.decode(ids[mask.bool()])
                m = re.fullmatch(r"\[CLS\] row (\d+) was \[MASK\] \[SEP\]", decoded)
                assert m, decoded  # the word is masked, nothing else changed
                hidden = rows[int(m.group(1))]
                want = "positive word" if VALENCE[hidden] > 0 else "negative word"
                assert ep.class_names[int(y)] == want
                assert abs(VALENCE[hidden]) >= 1.0
        sents = [*ep.support.input_ids.tolist(), *ep.query.input_ids.tolist()]
        assert len({tuple(s) for s in sents}) == len(sents)  # distinct sentences
    assert len(orders) == 2  # the polarity of label 0 varies between episodes
    again = b.episode("train", 5)
    assert again.support.input_ids.equal(b.episode("train", 5).support.input_ids)
    assert not again.query.input_ids.equal(b.episode("train", 6).query.input_ids)


def test_validation_words_never_appear_in_train_tasks(lexicon_files: Any, tmp_path: Path) -> None:
    lex, text, rows = lexicon_files
    b = build(lex, text, tmp_path, splits=("train", "val"))
    tok = load_tokenizer("minilm")

    def hidden(split: str) -> set[str]:
        out = set()
        for i in range(10):
            ep = b.episode(split, i)
            for ids in ep.query.input_ids:
                out.add(rows[int(re.search(r"row (\d+)", tok.decode(ids)).group(1))])  # type: ignore[union-attr]
        return out

    assert hidden("train") and hidden("val") and not hidden("train") & hidden("val")


def test_family_checks(labelled_csv: Path, lexicon_files: Any, tmp_path: Path) -> None:
    lex, text, _ = lexicon_files
    val = [TaskFamily("files", data_files=(str(labelled_csv),), split_fractions=(0.34, 0.33, 0.33),
                      n_way=3, k_shot=2, q_query=2)]  # fmt: skip
    texts = SMLMTText(texts=(str(text),))
    kw: dict[str, Any] = dict(
        validation=val, tokens=Tokenization(cache_dir=str(tmp_path)),
        stream=EpisodeStream(meta_batch_size=2, train_episodes=4, val_episodes=2, test_episodes=2),
    )  # fmt: skip
    lexicon = LexiconMask(lexicon=str(lex))
    five = TaskFamily("smlmt-lexicon", n_way=5, smlmt=texts, lexicon=lexicon)
    with pytest.raises(ConfigError, match=r"^families\.0\.n_way: smlmt-lexicon tasks are 2-way"):
        FamilyDataModule(families=[five], **kw)
    movie = TaskFamily("smlmt-lexicon", n_way=2, smlmt=SMLMTText(texts=("sentiment:movie",)))
    with pytest.raises(ConfigError, match=r"^families\.0\.smlmt\.texts\.0: 'sentiment:movie'"):
        FamilyDataModule(families=[movie], **kw)
    nyt = TaskFamily("sentiment:nyt", n_way=2, split_mode="examples")
    reads_nyt = TaskFamily("smlmt-lexicon", n_way=2, smlmt=SMLMTText(texts=("sentiment:nyt",)))
    with pytest.raises(
        ConfigError, match=r"^families\.0\.smlmt\.texts\.0: 'sentiment:nyt' is also"
    ):
        FamilyDataModule(families=[reads_nyt], **{**kw, "validation": [nyt]})
    with pytest.raises(ConfigError, match=r"^families\.0\.lexicon\.min_valence: must be > 0"):
        FamilyDataModule(families=[TaskFamily("smlmt-lexicon", n_way=2, smlmt=texts,
                                              lexicon=LexiconMask(min_valence=0))], **kw)  # fmt: skip
    good = TaskFamily("smlmt-lexicon", n_way=2, k_shot=2, q_query=2, smlmt=texts, lexicon=lexicon)
    dm = FamilyDataModule(families=[good], **kw)
    dm.setup("fit")
    ep = dm.require_provider().episode("train", 0)
    assert ep.task_source == "smlmt-lexicon" and (len(ep.support), len(ep.query)) == (4, 4)
