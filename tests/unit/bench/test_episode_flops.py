"""The FLOP count behind ``eval_flop_ratio`` (bench episodes), worked out by hand."""

from __future__ import annotations

import pytest
import torch

from lightning_meta.bench.perf.episode_flops import eval_flops
from lightning_meta.data.episode import Episode, TextBatch


def batch(rows: list[list[int]]) -> TextBatch:
    ids = torch.tensor(rows)
    return TextBatch(ids, (ids != 0).long(), torch.zeros(len(rows), dtype=torch.long))


def test_flops_of_both_paths_by_hand() -> None:
    # support: 2 rows padded to 3 (2 and 3 real tokens); query: 1 row padded to 2 (1 real)
    ep = Episode(batch([[5, 6, 0], [7, 8, 9]]), batch([[5, 0]]), n_way=2, index=0)
    args = dict(hidden=2, intermediate=4, layers=2, cut=1, steps=1, finetune_rows=1,
                centroid_rows=1, trunks=2)  # fmt: skip
    f = eval_flops([ep], **args)  # type: ignore[arg-type]
    # per token: forward 2(4*2*2 + 2*2*4) = 64; forward + backward 64 + 64 + 2(2*2 + 2*2*4) = 168
    # old fine-tuning row: bottom 1 layer on 6 + 2 slots (512), top: 1 step x 6 slots x 168
    # (1008) + 2 query forwards x 2 slots (256) = 1776; centroid: 2 layers x 8 slots x 64 = 1024
    assert f.old == 2800
    assert f.new_rows == 5 * 168 + 1 * 64  # real tokens only: 904
    # cache entries: "5 6" and "7 8 9" at length 3, "5" at length 2: 6 tokens x 2 layers x 2 trunks
    assert f.encode == 6 * 2 * 2 * 64
    assert f.ratio == pytest.approx(2800 / (904 + 1536))
    # the same episode twice: the per-episode work doubles, the cache does not grow
    g = eval_flops([ep, ep], **args)  # type: ignore[arg-type]
    assert (g.old, g.new_rows, g.encode) == (5600, 1808, 1536)
