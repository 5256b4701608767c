"""Masking: the word is gone (text and token level), everything else is exactly as before."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lightning_meta.data.smlmt import SMLMTText, build_smlmt
from lightning_meta.data.smlmt_tasks import SMLMTTaskBuilder
from tests.unit.smlmt.conftest import MULTI

N, K, Q = 3, 2, 2


@pytest.fixture(scope="module")
def builder(corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> SMLMTTaskBuilder:
    cache = tmp_path_factory.mktemp("mask_cache")
    text = SMLMTText(texts=(str(corpus_file),), min_count=2, split_fractions=(0.5, 0.25, 0.25))
    return build_smlmt(text, n_way=N, k_shot=K, q_query=Q, max_length=64, tokenizer="minilm",
                       seed=0, cache_dir=str(cache))  # fmt: skip


def reference_row(tok: Any, text: str, target: tuple[int, ...]) -> list[int]:
    """Independent re-implementation: re-tokenise, replace each whole word equal to target."""
    enc = tok(text, add_special_tokens=False)
    ids, wids = enc["input_ids"], enc.word_ids()
    out: list[int] = []
    start = 0
    for t in range(1, len(ids) + 1):
        if t == len(ids) or wids[t] != wids[start]:
            piece = tuple(ids[start:t])
            out.extend([tok.mask_token_id] if piece == target else piece)
            start = t
    return [tok.cls_token_id, *out, tok.sep_token_id]


def count_word(tok: Any, seq: list[int], sub: list[int]) -> int:
    """Occurrences of ``sub`` in ``seq`` as a whole WordPiece word (not inside a longer one)."""
    pieces = tok.convert_ids_to_tokens(seq) + ["[END]"]
    n = len(sub)
    return sum(
        seq[i : i + n] == sub
        and not pieces[i].startswith("##")
        and not pieces[i + n].startswith("##")
        for i in range(len(seq) - n + 1)
    )


def rows_of(ep: Any) -> list[tuple[list[int], int]]:
    out = []
    for batch in (ep.support, ep.query):
        for ids, mask, label in zip(
            batch.input_ids, batch.attention_mask, batch.labels, strict=True
        ):
            out.append((ids[mask.bool()].tolist(), int(label)))
    return out


def sentences(builder: SMLMTTaskBuilder, split: str, index: int) -> tuple[np.ndarray, list[int]]:
    wids, pairs = builder.sample(split, index)
    rows = np.concatenate([pairs[:, :K].reshape(-1), pairs[:, K:].reshape(-1)])
    return wids, builder.index.pair_sent[rows].tolist()


def test_masked_word_never_survives(
    builder: SMLMTTaskBuilder, tokenizer: Any, corpus_file: Path
) -> None:
    texts = [" ".join(t.split()) for t in corpus_file.read_text().splitlines() if t.strip()]
    seen_multi: set[str] = set()
    for split in ("train", "val", "test"):
        for index in range(15):
            ep = builder.episode(split, index)
            wids, sent_ids = sentences(builder, split, index)
            words = [builder.index.words[w] for w in wids.tolist()]
            assert ep.class_names == words and ep.task_source == "smlmt" and ep.split == split
            targets = [builder.index.word_token_ids(w) for w in wids.tolist()]
            for (ids, label), s in zip(rows_of(ep), sent_ids, strict=True):
                # exact: identical to an independent re-tokenise-and-replace of the sentence
                assert ids == reference_row(tokenizer, texts[s], tuple(targets[label]))
                assert ids.count(tokenizer.mask_token_id) >= 1
                decoded = tokenizer.decode(ids)
                for word, target in zip(words, targets, strict=True):
                    # no chosen word of the task appears unmasked in any of its texts
                    assert not re.search(rf"\b{re.escape(word)}\b", decoded, re.I), (word, decoded)
                    assert count_word(tokenizer, ids, target) == 0
                if len(targets[label]) > 1:
                    seen_multi.add(words[label])
                    # none of its sub-tokens survives (they do not occur elsewhere here)
                    assert not set(targets[label][1:]) & set(ids)
    assert seen_multi & set(MULTI), "no multi-sub-token word was drawn; enlarge the test"


def test_one_mask_per_occurrence(builder: SMLMTTaskBuilder, tokenizer: Any) -> None:
    idx = builder.index
    most = 0
    for index in range(10):
        ep = builder.episode("train", index)
        wids, sent_ids = sentences(builder, "train", index)
        for (ids, label), s in zip(rows_of(ep), sent_ids, strict=True):
            target = idx.word_token_ids(int(wids[label]))
            original = idx.sentence_tokens(s).tolist()
            n_occ = count_word(tokenizer, original, target)
            assert ids.count(tokenizer.mask_token_id) == n_occ >= 1
            assert len(ids) == len(original) + 2 - n_occ * (len(target) - 1)
            most = max(most, n_occ)
    assert most >= 2  # some sentences hold the word twice: every occurrence is masked


def test_other_words_untouched(builder: SMLMTTaskBuilder, tokenizer: Any) -> None:
    """Replacing each [MASK] back by the word restores the original token sequence."""
    idx = builder.index
    for index in range(10):
        ep = builder.episode("train", index)
        wids, sent_ids = sentences(builder, "train", index)
        for (ids, label), s in zip(rows_of(ep), sent_ids, strict=True):
            target = idx.word_token_ids(int(wids[label]))
            restored: list[int] = []
            for t in ids[1:-1]:
                restored.extend(target if t == tokenizer.mask_token_id else [t])
            assert restored == idx.sentence_tokens(s).tolist()


def test_photos_is_not_photosynthesis(builder: SMLMTTaskBuilder) -> None:
    """Words are whole pre-tokenizer words: 'photos' and 'photosynthesis' are different."""
    words = builder.index.words
    assert "photos" in words and "photosynthesis" in words
    a, b = words.index("photos"), words.index("photosynthesis")
    assert builder.index.word_token_ids(a) != builder.index.word_token_ids(b)
    # case and accents fold for the uncased tokenizer: Café / CAFE / cafe are one word
    assert "cafe" in words and "café" not in words


def test_labels_balanced_and_disjoint(builder: SMLMTTaskBuilder) -> None:
    for index in range(10):
        ep = builder.episode("train", index)
        assert ep.n_way == N and len(ep.support) == N * K and len(ep.query) == N * Q
        assert np.bincount(ep.support.labels.numpy(), minlength=N).tolist() == [K] * N
        assert np.bincount(ep.query.labels.numpy(), minlength=N).tolist() == [Q] * N
        _, sent_ids = sentences(builder, "train", index)
        assert len(set(sent_ids)) == len(sent_ids)  # support/query/classes never share a text
        assert ep.support.input_ids.shape[1] == ep.query.input_ids.shape[1]  # padded per episode
        assert (ep.support.attention_mask.sum(1) == (ep.support.input_ids != 0).sum(1)).all()
