"""Score fixed episodes from the frozen-feature cache, several episodes per batched inner loop.

What each module's ``evaluate_episode`` computes, from :class:`FeatureCache` entries:

Modules say what their ``evaluate_episode`` computes with ``evaluation_plan()`` (plain data,
:class:`~lightning_meta.algorithms.batched.AdaptPlan` / ``CentroidPlan``), so this module never
imports the Lightning layer:

- fine-tuning rows (MAML, FOMAML, Reptile, FineTune: ``AdaptPlan``) with a
  cached bottom (``adapt: head | top<k> | re:<top layers>``, ``func`` backend, BERT-like or MPNet
  layers): the top-layer inner loops of up to ``episodes_per_batch`` same-shape episodes run
  together (:func:`~lightning_meta.algorithms.batched.score_features`) from the cached token
  states at the cut; ``query_loss_before`` comes from the cached pooled embeddings;
- nearest-centroid rows (ProtoNet, ``CentroidPlan``): prototypes and distances from the cached pooled embeddings.

Anything else (``adapt: all``, the ``higher`` backend, other encoders, modules without a
plan) returns None from :func:`cached_outputs`: the caller keeps
today's per-episode loop. Per-episode outputs equal that loop's up to float rounding (tests:
float64, every adapt setting, both poolings, both heads, learned inner rates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.algorithms.batched import (
    AdaptPlan,
    CentroidPlan,
    EvaluationPlan,
    loss_before_batched,
    score_features,
    task_outputs,
)
from lightning_meta.algorithms.protonet import protonet_logits
from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.progress import Progress
from lightning_meta.models.classifier import class_means
from lightning_meta.models.packed import Packing, packable
from lightning_meta.models.packed_features import PackedFeatures

__all__ = ["DEFAULT_EPISODES_PER_BATCH", "PooledFeatures", "cache_plan", "cached_outputs"]

DEFAULT_EPISODES_PER_BATCH = 8


class PooledFeatures:
    """Fixed pooled embeddings (``adapt: head``: the whole encoder is fixed)."""

    def __init__(self, pooled: Mapping[str, Tensor]) -> None:
        self.pooled = dict(pooled)  # split -> (E, B, H)

    @property
    def episodes(self) -> int:
        return int(self.pooled["support"].shape[0])

    def embed(self, params: Mapping[str, Tensor], split: str) -> Tensor:
        return self.pooled[split]


def cache_plan(module: Any) -> EvaluationPlan | None:
    """``module.evaluation_plan()`` when the cache can reproduce it, else None (the caller
    keeps the per-episode loop). Any object with ``evaluation_plan`` works."""
    get = getattr(module, "evaluation_plan", None)
    plan = get() if callable(get) else None
    if not isinstance(plan, (AdaptPlan, CentroidPlan)):
        return None
    encoder = plan.model.encoder
    if not hasattr(encoder, "embeddings"):
        return None
    if isinstance(plan, CentroidPlan):
        return plan if packable(encoder, 0) else None
    start = plan.model.cache_start
    if plan.inner.backend != "func" or start is None or not packable(encoder, start):
        return None
    return plan


def _groups(
    episodes: Sequence[Episode], chunk: range, size: int, by_length: bool
) -> list[list[int]]:
    """Consecutive runs of same-shape episodes (and padded length ``T`` when ``by_length``),
    at most ``size`` each."""
    out: list[list[int]] = []
    key = None
    for i in chunk:
        ep = episodes[i]
        T = int(ep.support.input_ids.shape[1]) if by_length else 0
        k = (ep.n_way, len(ep.support), len(ep.query), T)
        if out and k == key and len(out[-1]) < size:
            out[-1].append(i)
        else:
            out.append([i])
            key = k
    return out


def _centroid(hs: Tensor, hq: Tensor, ep: Episode, distance: str) -> TaskOutput:
    """``protonet_task(..., training=False)`` from pooled support/query embeddings."""
    protos = class_means(hs, ep.support.labels, ep.n_way)  # (N, H)
    logits = protonet_logits(hq, protos, distance)  # type: ignore[arg-type]  # (Nq, N)
    loss = F.cross_entropy(logits, ep.query.labels)
    return TaskOutput(loss, logits, loss, loss.new_zeros(()))


def cached_outputs(
    module: Any,
    cache: FeatureCache,
    *,
    episodes_per_batch: int = DEFAULT_EPISODES_PER_BATCH,
    progress: Progress | None = None,
) -> list[TaskOutput] | None:
    """``[module.evaluate_episode(ep) for ep in cache.episodes]`` from the cache (detached), or
    None when :func:`cache_plan` says the module needs the per-episode loop. The module is
    put in eval mode first, as ``score_module`` does."""
    plan = cache_plan(module)
    if plan is None:
        return None
    if callable(getattr(module, "eval", None)):
        module.eval()
    model, index = plan.model, cache.index
    encoder = model.encoder
    param = next(encoder.parameters())
    fps = cache.keys(encoder)
    note = progress.note if progress is not None else None
    n = len(cache.episodes)
    outs: list[TaskOutput | None] = [None] * n
    with torch.enable_grad():
        if isinstance(plan, CentroidPlan):
            pooled = cache.pooled(encoder, fps, model.pooling, torch.arange(len(index)))
            for i, ep in enumerate(cache.episodes):
                ep = ep.to(param.device)
                hs, hq = (
                    pooled[index.support[i].to(param.device)],
                    pooled[index.query[i].to(param.device)],
                )
                outs[i] = _centroid(hs, hq, ep, plan.distance)
                if progress is not None:
                    progress.advance()
            return [o for o in outs if o is not None]
        assert model.cache_start is not None  # cache_plan checked it
        cut = model.cache_start
        top = cut < len(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))
        storage = cache.storage_dtype(encoder)
        width = int(getattr(encoder, "config").hidden_size)  # noqa: B009
        per_token = width * torch.empty((), dtype=storage).element_size()
        chunks = index.chunks(per_token, cache.max_bytes) if top else [range(n)]
        for chunk in chunks:
            states = cache.states(encoder, fps, cut, chunk, note) if top else None
            below = (cut, states) if states is not None else None
            pooled = cache.pooled(encoder, fps, model.pooling, index.texts_of(chunk), below)
            by_length = cache.match_padding
            for group in _groups(cache.episodes, chunk, episodes_per_batch, by_length):
                eps = [cache.episodes[i].to(param.device) for i in group]
                tids = {
                    s: torch.stack([getattr(index, s)[i] for i in group]).to(param.device)
                    for s in ("support", "query")
                }  # (E, R)
                if states is None:
                    feats: Any = PooledFeatures({s: pooled[t] for s, t in tids.items()})
                else:
                    pad = int(eps[0].support.input_ids.shape[1]) if by_length else None
                    packings = {s: Packing.from_lengths(index.lengths.to(param.device)[t], pad)
                                for s, t in tids.items()}  # fmt: skip
                    hidden = {
                        s: states.gather(t, packings[s], param.dtype) for s, t in tids.items()
                    }
                    feats = PackedFeatures(encoder, cut, hidden, packings, model.pooling)  # type: ignore[arg-type]
                loss, logits, adapted = score_features(
                    model, feats, eps, plan.inner, plan.inner_lrs, "none", plan.steps
                )
                before = loss_before_batched(feats, adapted, eps, pooled[tids["query"]])
                for i, out in zip(
                    group, task_outputs(loss, logits, before, adapted, False), strict=True
                ):
                    outs[i] = out
                if progress is not None:
                    progress.advance(len(group))
    return [o for o in outs if o is not None]
