"""SMLMTDataModule: loaders like EpisodicDataModule, determinism, cache reuse, bad input."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_meta.data import smlmt_index
from lightning_meta.data.config import EpisodeShape, Tokenization, build
from lightning_meta.data.episode import Episode
from lightning_meta.data.smlmt import SMLMTDataModule, SMLMTText
from lightning_meta.errors import ConfigError


def make_dm(corpus: Path, cache: Path, **kw: Any) -> SMLMTDataModule:
    args: dict[str, Any] = dict(
        texts=(str(corpus),), min_count=2, split_fractions=(0.5, 0.25, 0.25), n_way=3,
        k_shot=2, q_query=2, meta_batch_size=2, train_episodes=6, val_episodes=3,
        test_episodes=2, cache_dir=str(cache),
    )  # fmt: skip
    args.update(kw)
    return build(SMLMTDataModule, args)  # flat names -> smlmt/shape/stream/tokens groups


def same(a: Episode, b: Episode) -> bool:
    return (
        a.class_names == b.class_names
        and torch.equal(a.support.input_ids, b.support.input_ids)
        and torch.equal(a.query.input_ids, b.query.input_ids)
        and torch.equal(a.support.attention_mask, b.support.attention_mask)
    )


def test_loaders_yield_meta_batches(corpus_file: Path, tmp_path: Path) -> None:
    dm = make_dm(corpus_file, tmp_path)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 3 and all(len(b) == 2 for b in batches)
    assert [ep.index for b in batches for ep in b] == list(range(6))
    assert all(isinstance(ep, Episode) and ep.task_source == "smlmt" for b in batches for ep in b)
    val = list(dm.val_dataloader())
    assert len(val) == 3 and all(len(b) == 1 and b[0].split == "val" for b in val)
    assert len(list(dm.test_dataloader())) == 2
    second_epoch = [ep.index for b in dm.train_dataloader() for ep in b]
    assert second_epoch == list(range(6, 12))  # train tasks differ every epoch


def test_workers_give_the_same_stream(corpus_file: Path, tmp_path: Path) -> None:
    serial = make_dm(corpus_file, tmp_path)
    parallel = make_dm(corpus_file, tmp_path, num_workers=2)
    a = [ep for batch in serial.train_dataloader() for ep in batch]
    b = [ep for batch in parallel.train_dataloader() for ep in batch]
    assert len(a) == len(b) == 6 and all(same(x, y) for x, y in zip(a, b, strict=True))


def test_resume_continues_stream(corpus_file: Path, tmp_path: Path) -> None:
    dm = make_dm(corpus_file, tmp_path)
    dm.load_state_dict({"position": 2})
    assert [ep.index for ep in next(iter(dm.train_dataloader()))] == [4, 5]


def test_deterministic_by_seed_split_index(corpus_file: Path, tmp_path: Path) -> None:
    a = make_dm(corpus_file, tmp_path / "a")
    b = make_dm(corpus_file, tmp_path / "b")  # separate cache: rebuilt from scratch
    c = make_dm(corpus_file, tmp_path / "a", seed=1)
    for dm in (a, b, c):
        dm.setup("fit")
    pa, pb, pc = a.require_provider(), b.require_provider(), c.require_provider()
    for split in ("train", "val", "test"):
        for i in range(4):
            assert same(pa.episode(split, i), pb.episode(split, i))
    assert not same(pa.episode("train", 0), pa.episode("train", 1))
    assert not all(same(pa.episode("train", i), pc.episode("train", i)) for i in range(4))
    # rebuilding one task out of order gives the same task
    assert same(pa.episode("train", 3), pb.episode("train", 3))


def test_word_disjoint_splits(corpus_file: Path, tmp_path: Path) -> None:
    dm = make_dm(corpus_file, tmp_path)
    dm.setup("fit")
    words = {s: {w for ep in dm.fixed_episodes(s, 20) for w in ep.class_names}
             for s in ("train", "val", "test")}  # fmt: skip
    assert not words["train"] & words["val"] and not words["train"] & words["test"]
    assert not words["val"] & words["test"]


def test_index_cache_reused(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_dm(corpus_file, tmp_path)
    first.setup("fit")
    assert not first.index.from_cache
    assert list((tmp_path / "smlmt").glob("index-*.npz"))

    def no_rebuild(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the word index was rebuilt instead of loaded from the cache")

    monkeypatch.setattr(smlmt_index, "build_index", no_rebuild)
    second = make_dm(corpus_file, tmp_path, n_way=2, seed=5)  # task settings are not in the key
    second.setup("fit")
    assert second.index.from_cache
    assert second.index.words == first.index.words
    for name, arr in first.index.arrays.items():
        assert (arr == second.index.arrays[name]).all(), name
    monkeypatch.undo()
    other = make_dm(corpus_file, tmp_path, min_count=3)  # a filter change makes a new entry
    other.setup("fit")
    assert not other.index.from_cache
    assert len(list((tmp_path / "smlmt").glob("index-*.npz"))) == 2


def test_word_filters(corpus_file: Path, tmp_path: Path) -> None:
    dm = make_dm(corpus_file, tmp_path)
    words = set(dm.index.words)
    assert {"the", "and", "of"}.isdisjoint(words)  # stop words
    assert not any(w.isdigit() or not w.isalpha() for w in words)  # punctuation, numbers
    counts = dict(zip(dm.index.words, dm.index.counts.tolist(), strict=True))
    assert min(counts.values()) >= 2  # min_count
    capped = make_dm(corpus_file, tmp_path, max_count=20, min_length=6)
    assert all(c <= 20 for c in capped.index.counts.tolist())
    assert all(len(w) >= 6 for w in capped.index.words)
    kept = make_dm(corpus_file, tmp_path, exclude_stopwords=False)
    assert "the" in kept.index.words


def test_rare_words_left_out_and_logged(
    corpus_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="lightning_meta"):
        dm = make_dm(corpus_file, tmp_path)  # k_shot + q_query = 4; 'quasar' is in 3 sentences
        dm.setup("fit")
    assert dm.builder is not None
    quasar = dm.index.words.index("quasar")
    assert all(quasar not in w for w in dm.builder.words.values())
    messages = [r.getMessage() for r in caplog.records]
    assert any("left out" in m and "fewer than 4 (k_shot + q_query)" in m for m in messages)


def test_fewer_words_than_n_way(tmp_path: Path) -> None:
    f = tmp_path / "few.txt"
    f.write_text("\n".join(f"zebra giraffe {i}" for i in range(10)))
    dm = SMLMTDataModule(
        smlmt=SMLMTText(texts=(str(f),)),
        shape=EpisodeShape(n_way=3, k_shot=2, q_query=2),
        tokens=Tokenization(cache_dir=str(tmp_path)),
    )
    with pytest.raises(
        ConfigError, match="^shape.n_way: the texts have only 2 distinct eligible words"
    ):
        dm.setup("fit")


def test_too_few_sentences_per_word(corpus_file: Path, tmp_path: Path) -> None:
    dm = make_dm(corpus_file, tmp_path, k_shot=100, q_query=100)
    with pytest.raises(
        ConfigError, match=r"^shape\.n_way: only 0 eligible words .* >= 200 .* lower n_way, k_shot"
    ):
        dm.setup("fit")


def test_tokenizer_without_mask(corpus_file: Path, tmp_path: Path, tokenizer: Any) -> None:
    from transformers import PreTrainedTokenizerFast

    plain = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, pad_token="[PAD]")
    plain.save_pretrained(tmp_path / "nomask")
    dm = make_dm(corpus_file, tmp_path, tokenizer=str(tmp_path / "nomask"))
    with pytest.raises(ConfigError, match="^tokens.tokenizer: .* has no mask token") as err:
        dm.setup("fit")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("n_way", 1, "^shape.n_way: must be >= 2"),
        ("k_shot", 0, "^shape.k_shot: must be a positive"),
        ("eval_k_shot", 3, "^shape.eval_k_shot: this DataModule uses k_shot/q_query for every"),
        ("min_count", 0, "^smlmt.min_count: must be >= 1"),
        ("max_count", 1, "^smlmt.max_count: 1 is below min_count=2"),
        ("max_length", 8, "^tokens.max_length: must be >= 16"),
        ("meta_batch_size", 0, "^stream.meta_batch_size: must be a positive"),
    ],
)
def test_bad_fields_fail_in_init(corpus_file: Path, tmp_path: Path, field: str, value: Any,
                                 pattern: str) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=pattern):
        make_dm(corpus_file, tmp_path, **{field: value})


def test_bad_split_fractions(corpus_file: Path, tmp_path: Path) -> None:
    dm = make_dm(corpus_file, tmp_path, split_fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ConfigError, match="^smlmt.split_fractions: need three positive"):
        dm.setup("fit")
