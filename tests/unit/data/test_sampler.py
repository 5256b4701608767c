"""Episode sampling: determinism, disjointness, label remapping, padding, class filtering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_meta.data.sampler import EpisodeSampler, pad_rows
from lightning_meta.data.splits import SPLITS, make_splits
from lightning_meta.data.tokens import TokenizedCorpus
from lightning_meta.errors import ConfigError

from .conftest import make_corpus


def sampler_for(corpus: TokenizedCorpus, **kw: object) -> EpisodeSampler:
    plan = make_splits(corpus.labels, corpus.class_names, mode="classes", n_way=3, seed=1)
    args: dict = {"n_way": 3, "k_shot": 2, "q_query": 3, "seed": 0, "source": "toy", **kw}
    return EpisodeSampler(corpus, plan, **args)


def row_ids(batch_ids: torch.Tensor) -> np.ndarray:
    return batch_ids[:, 1].numpy() - 1000  # see make_corpus


def test_same_seed_and_index_give_identical_episodes(corpus: TokenizedCorpus) -> None:
    a, b = sampler_for(corpus).episode("train", 5), sampler_for(corpus).episode("train", 5)
    assert torch.equal(a.support.input_ids, b.support.input_ids)
    assert torch.equal(a.query.input_ids, b.query.input_ids)
    assert a.class_names == b.class_names


def test_different_index_split_or_seed_differ(corpus: TokenizedCorpus) -> None:
    s = sampler_for(corpus)
    base = s.episode("train", 0)
    assert not torch.equal(base.support.input_ids, s.episode("train", 1).support.input_ids)
    other = sampler_for(corpus, seed=1).episode("train", 0)
    assert not torch.equal(base.support.input_ids, other.support.input_ids)
    assert set(base.class_names).isdisjoint(s.episode("val", 0).class_names)


def test_episode_contents(corpus: TokenizedCorpus) -> None:
    s = sampler_for(corpus)
    for i in range(20):
        ep = s.episode("train", i)
        assert (ep.n_way, ep.index, ep.split, ep.task_source) == (3, i, "train", "toy")
        assert ep.support.labels.tolist() == [0, 0, 1, 1, 2, 2]
        assert ep.query.labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3
        sup, qry = row_ids(ep.support.input_ids), row_ids(ep.query.input_ids)
        assert set(sup).isdisjoint(qry) and len(set(sup)) == 6 and len(set(qry)) == 9
        for rows, batch in ((sup, ep.support), (qry, ep.query)):
            # label i is the class named class_names[i]: remapping is consistent
            true = [corpus.class_names[c] for c in corpus.labels[rows]]
            assert true == [ep.class_names[int(y)] for y in batch.labels]
        assert set(ep.class_names) <= set(s.classes("train"))
        assert ep.support.input_ids.shape[1] == ep.query.input_ids.shape[1]


def test_label_order_is_random_per_episode(corpus: TokenizedCorpus) -> None:
    s = sampler_for(corpus)
    orders = [tuple(s.episode("train", i).class_names) for i in range(200)]
    firsts = {o[0] for o in orders}
    assert len(set(orders)) > 150 and firsts == set(s.classes("train"))


def test_padding_matches_rows() -> None:
    corpus = make_corpus(3, 4)
    rows = np.array([0, 5, 7])
    ids, mask = pad_rows(corpus, rows, 9)
    for r, (row_ids_, m) in enumerate(zip(ids, mask, strict=True)):
        n = int(corpus.offsets[rows[r] + 1] - corpus.offsets[rows[r]])
        assert m.tolist() == [1] * n + [0] * (9 - n)
        assert row_ids_[:n].tolist() == corpus.row(int(rows[r])).tolist()
        assert (row_ids_[n:] == 0).all()
    ep = sampler_for(make_corpus(), k_shot=1, q_query=1).episode("train", 0)
    lens = ep.support.attention_mask.sum(1).tolist() + ep.query.attention_mask.sum(1).tolist()
    assert ep.support.input_ids.shape[1] == max(lens)  # padded to the episode's longest row


def test_eval_shots_override(corpus: TokenizedCorpus) -> None:
    s = sampler_for(corpus, eval_k_shot=1, eval_q_query=4)
    assert s.shots("train") == (2, 3) and s.shots("val") == (1, 4)
    assert len(s.episode("test", 0).support) == 3 and len(s.episode("test", 0).query) == 12


def test_small_classes_left_out_with_warning() -> None:
    sizes = [30] * 11 + [4]  # class11 is too small for k + q = 5
    corpus = make_corpus(12, sizes)
    plan = make_splits(
        corpus.labels,
        corpus.class_names,
        class_lists=(
            [f"class{c:02d}" for c in range(3, 8)],
            ["class08", "class09", "class10"],
            ["class11", "class00", "class01", "class02"],
        ),
        n_way=3,
    )
    with pytest.warns(UserWarning, match=r"split 'test': left out 1 classes .*class11"):
        s = EpisodeSampler(corpus, plan, n_way=3, k_shot=2, q_query=3)
    assert "class11" not in s.classes("test") and len(s.classes("test")) == 3


def test_errors_name_the_field() -> None:
    corpus = make_corpus(12, 30)
    plan = make_splits(corpus.labels, corpus.class_names, mode="classes", n_way=2)
    with pytest.raises(ConfigError, match=r"^n_way: 4 exceeds the 3 classes in split 'val'"):
        EpisodeSampler(corpus, plan, n_way=4, k_shot=1, q_query=1)
    with pytest.raises(
        ConfigError,
        match=r"^k_shot: k_shot \+ q_query = 31 exceeds every class in split 'train' \(largest has 30",
    ):
        EpisodeSampler(corpus, plan, n_way=2, k_shot=1, q_query=30)
    with pytest.raises(ConfigError, match=r"^eval_k_shot: "):
        EpisodeSampler(corpus, plan, n_way=2, k_shot=1, q_query=1, eval_k_shot=40)


def test_all_splits_have_fixed_episodes(corpus: TokenizedCorpus) -> None:
    s = sampler_for(corpus)
    for split in SPLITS:
        ep = s.episode(split, 3)
        assert ep.split == split and ep.index == 3
