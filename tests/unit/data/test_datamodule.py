"""EpisodicDataModule on tiny csv files with the offline MiniLM tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lightning_meta.data import tokens
from lightning_meta.data.config import EpisodeShape, Tokenization, build
from lightning_meta.data.datamodule import EpisodicDataModule
from lightning_meta.data.stream import train_episode_indices
from lightning_meta.errors import ConfigError


@pytest.fixture
def dm_factory(write_csv: Callable[..., Path], cache_dir: str) -> Callable[..., EpisodicDataModule]:
    path = write_csv(n_classes=10, per_class=8)

    def make(**kw: object) -> EpisodicDataModule:
        args: dict = {
            "source": "files",
            "data_files": [str(path)],
            "n_way": 2,
            "k_shot": 2,
            "q_query": 3,
            "meta_batch_size": 4,
            "train_episodes": 12,
            "val_episodes": 3,
            "test_episodes": 5,
            "max_length": 8,
            "cache_dir": cache_dir,
            **kw,
        }
        return build(EpisodicDataModule, args)  # flat names -> shape/stream/tokens groups

    return make


def test_loaders_and_episodes(dm_factory: Callable[..., EpisodicDataModule]) -> None:
    dm = dm_factory()
    dm.prepare_data()
    dm.setup("fit")
    assert dm.plan is not None and dm.plan.mode == "classes"
    assert [len(dm.plan.pools[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    train = list(dm.train_dataloader())
    assert len(train) == 3 and all(len(b) == 4 for b in train)
    assert [e.index for b in train for e in b] == list(range(12))
    ep = train[0][0]
    assert (ep.split, ep.task_source, ep.n_way) == ("train", "files", 2)
    assert ep.support.input_ids.shape[1] <= 8 and ep.support.input_ids[:, 0].eq(101).all()  # [CLS]
    assert set(ep.class_names) <= set(dm.sampler.classes("train"))  # type: ignore[union-attr]
    again = list(dm.train_dataloader())  # the next epoch: new episodes
    assert [e.index for e in again[0]] == [12, 13, 14, 15]
    val = list(dm.val_dataloader())
    assert len(val) == 3 and all(len(b) == 1 for b in val)
    assert [b[0].index for b in val] == [0, 1, 2] and val[0][0].split == "val"
    assert len(list(dm.test_dataloader())) == 5
    fixed = dm.fixed_episodes("val")
    assert torch.equal(fixed[1].query.input_ids, val[1][0].query.input_ids)
    assert len(dm.fixed_episodes("test", 2)) == 2


def test_rank_partition_and_union() -> None:
    for world in (1, 2, 4):
        for g in range(3):
            parts = [train_episode_indices(g, r, world, 8) for r in range(world)]
            assert all(len(p) == 8 // world for p in parts)
            flat = [i for p in parts for i in p]
            assert len(set(flat)) == 8 and sorted(flat) == train_episode_indices(g, 0, 1, 8)


def test_rank_loaders_union_equals_single_process(
    dm_factory: Callable[..., EpisodicDataModule],
) -> None:
    single = dm_factory()
    single.setup()
    ref = [[e.query.input_ids for e in b] for b in single.train_dataloader()]

    class FakeTrainer:
        def __init__(self, rank: int, world: int) -> None:
            self.global_rank, self.world_size, self.current_epoch = rank, world, 0

    per_rank = []
    for rank in (0, 1):
        dm = dm_factory()
        dm.setup()
        dm.trainer = FakeTrainer(rank, 2)  # type: ignore[assignment]
        per_rank.append([[e.index for e in b] for b in dm.train_dataloader()])
        dm.trainer = None
    assert per_rank[0][0] == [0, 2] and per_rank[1][0] == [1, 3]
    for g in range(3):
        union = sorted(per_rank[0][g] + per_rank[1][g])
        assert union == list(range(4 * g, 4 * g + 4))
    assert ref[0][1].shape == single.sampler.episode("train", 1).query.input_ids.shape  # type: ignore[union-attr]
    dm = dm_factory(meta_batch_size=3, train_episodes=12)
    dm.setup()
    dm.trainer = FakeTrainer(0, 2)  # type: ignore[assignment]
    with pytest.raises(
        ConfigError, match=r"^stream\.meta_batch_size: 3 is not a multiple of the 2 processes"
    ):
        dm.train_dataloader()


def test_tokenisation_cache_is_reused(
    dm_factory: Callable[..., EpisodicDataModule], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = tokens.tokenize_dataset

    def counting(*args: object, **kw: object):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens, "tokenize_dataset", counting)
    first = dm_factory()
    first.setup()
    assert first.corpus is not None and not first.corpus.from_cache and calls == [1]
    second = dm_factory()
    second.setup()
    assert second.corpus is not None and second.corpus.from_cache and calls == [1]
    assert (first.corpus.ids == second.corpus.ids).all()
    assert torch.equal(
        first.fixed_episodes("val")[0].support.input_ids,
        second.fixed_episodes("val")[0].support.input_ids,
    )
    entries = list((Path(first.cache_dir or "") / "tokenized").iterdir())
    assert len(entries) == 1 and {"map.arrow", "corpus.npz", "meta.json"} <= {
        p.name for p in entries[0].iterdir()
    }
    dm_factory(max_length=16).setup()  # another max_length: another entry
    assert calls == [1, 1] and len(list((Path(first.cache_dir or "") / "tokenized").iterdir())) == 2


def test_truncation(dm_factory: Callable[..., EpisodicDataModule]) -> None:
    dm = dm_factory(max_length=4)
    dm.setup()
    assert dm.corpus is not None and dm.corpus.lengths.max() == 4
    ep = dm.sampler.episode("train", 0)  # type: ignore[union-attr]
    assert ep.support.input_ids.shape[1] == 4 and ep.support.input_ids[:, -1].eq(102).all()  # [SEP]


def test_example_mode_for_two_classes(tmp_path: Path, cache_dir: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "text,label\n"
        + "".join(f"review number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(60))
    )
    dm = EpisodicDataModule(
        data_files=[str(path)],
        shape=EpisodeShape(n_way=2, k_shot=2, q_query=2),
        tokens=Tokenization(max_length=8, cache_dir=cache_dir),
    )
    dm.setup()
    assert dm.plan is not None and dm.plan.mode == "examples"
    texts = {
        s: {int(r) for pool in dm.plan.pools[s].values() for r in pool}
        for s in ("train", "val", "test")
    }
    assert texts["train"].isdisjoint(texts["val"]) and texts["val"].isdisjoint(texts["test"])
    assert sorted(dm.fixed_episodes("test", 1)[0].class_names) == ["neg", "pos"]


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"n_way": 0}, r"^shape\.n_way: must be a positive integer \(got 0\)"),
        ({"k_shot": -1}, r"^shape\.k_shot: must be a positive"),
        ({"q_query": 0}, r"^shape\.q_query: must be a positive"),
        ({"meta_batch_size": 0}, r"^stream\.meta_batch_size: must be a positive"),
        ({"train_episodes": 0}, r"^stream\.train_episodes: must be a positive"),
        ({"val_episodes": -5}, r"^stream\.val_episodes: must be a positive"),
        ({"test_episodes": 0}, r"^stream\.test_episodes: must be a positive"),
        ({"eval_k_shot": 0}, r"^shape\.eval_k_shot: must be a positive"),
        ({"max_length": 1}, r"^tokens\.max_length: must be >= 2"),
        ({"num_workers": -1}, r"^stream\.num_workers: must be >= 0"),
        ({"train_episodes": 2}, r"^stream\.train_episodes: 2 is less than one meta-batch"),
        ({"split_fractions": (0.5, 0.5, 0.0)}, r"^split_fractions: need three positive"),
        ({"split_fractions": (0.5, 0.2, 0.2)}, r"^split_fractions: "),
        ({"split_mode": "bogus"}, r"^split_mode: 'bogus' is not one of"),
        ({"data_files": None, "source": "wordnett"}, r"^source: unknown built-in 'wordnett'"),
        ({"data_files": ["/nope/x.csv"]}, r"^data_files: file not found"),
        ({"data_files": ["x.xlsx"]}, r"^data_files: unsupported extension '\.xlsx'"),
        ({"tokenizer": "./no/such/dir"}, r"^tokens\.tokenizer: path ./no/such/dir does not exist"),
    ],
)
def test_constructor_validation(
    dm_factory: Callable[..., EpisodicDataModule], kw: dict, pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        dm_factory(**kw)


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        (
            {"text_column": "body"},
            r"^text_column: column 'body' not found; columns present: text, label",
        ),
        (
            {"label_column": "y"},
            r"^label_column: column 'y' not found; columns present: text, label",
        ),
        (
            {"n_way": 3, "split_mode": "classes"},
            r"^shape\.n_way: 3 exceeds the 2 classes in split 'val'",
        ),
        (
            {"k_shot": 5, "q_query": 4},
            r"^shape\.k_shot: k_shot \+ q_query = 9 exceeds every class in split 'train' \(largest has 8",
        ),
        ({"val_classes": ["cls0", "zzz"]}, r"^val_classes: unknown classes \['zzz'\]"),
    ],
)
def test_data_errors_before_tokenising(
    dm_factory: Callable[..., EpisodicDataModule],
    monkeypatch: pytest.MonkeyPatch,
    kw: dict,
    pattern: str,
) -> None:
    def no_tokenising(*a: object, **k: object) -> None:
        raise AssertionError("tokenised before validating")

    monkeypatch.setattr(tokens, "tokenize_dataset", no_tokenising)
    dm = dm_factory(**kw)
    with pytest.raises(ConfigError, match=pattern):
        dm.prepare_data()


def test_worker_processes_give_the_same_stream(
    dm_factory: Callable[..., EpisodicDataModule],
) -> None:
    a, b = dm_factory(), dm_factory(num_workers=2)
    a.setup()
    b.setup()
    for x, y in zip(a.train_dataloader(), b.train_dataloader(), strict=True):
        assert [e.index for e in x] == [e.index for e in y]
        assert torch.equal(x[0].support.input_ids, y[0].support.input_ids)
