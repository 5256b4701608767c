"""Linear-layer FLOPs of the two evaluation paths of ``bench episodes``: the ceiling of
``eval_speedup``.

Counted (multiply-adds x 2) for the transformer layers' six linear maps per token (query, key,
value, attention output: ``H x H``; intermediate and output: ``H x I``), which is where both
paths spend their time (measured: ``bmm``/``baddbmm`` ~66% of the cached path's CPU time;
attention scores add ~1-2% at these lengths and are left out of both counts):

- old (today's per-episode loop, :func:`~lightning_meta.algorithms.maml_task`), per episode and
  fine-tuning row: the fixed bottom once on the padded support and query rows; the adapted top
  ``steps`` times forward + backward on the support rows (no input gradient for the first
  adapted layer's query/key/value maps: their input does not require grad), once forward on
  the query rows at the initialisation (``loss_before``) and once after adaptation. A
  nearest-centroid row: the whole encoder once on the padded rows.
- new (the frozen-feature cache): each cache entry (unique text at its padded length) through
  every layer once per trunk (token states at the cut + pooled embedding); per fine-tuning row
  and episode the same top-layer work on the *real* tokens only; a centroid row reads the
  cached embeddings (no layer work).

``old / new`` is the speedup the new path would reach at the old path's FLOP rate: with the
same arithmetic (identical logits), no implementation can go much beyond it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from lightning_meta.algorithms.batched import AdaptPlan
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.cached_scoring import cache_plan
from lightning_meta.evaluation.feature_cache import trunk_fingerprints

__all__ = ["EvalFlops", "eval_flops", "format_flops", "report_rows_flops"]


@dataclass(frozen=True)
class EvalFlops:
    old: float  # FLOPs of the per-episode loop, all rows
    new_rows: float  # FLOPs of the cached path's per-episode adaptation (fine-tuning rows)
    encode: float  # FLOPs of building the caches (every trunk)

    @property
    def new(self) -> float:
        return self.new_rows + self.encode

    @property
    def ratio(self) -> float:
        return self.old / self.new if self.new > 0 else float("inf")


def eval_flops(
    episodes: Sequence[Episode],
    *,
    hidden: int,
    intermediate: int,
    layers: int,
    cut: int,
    steps: int,
    finetune_rows: int,
    centroid_rows: int,
    trunks: int,
) -> EvalFlops:
    """FLOPs of both paths for ``finetune_rows`` rows adapting layers ``cut..layers-1`` for
    ``steps`` inner steps and ``centroid_rows`` frozen rows, with ``trunks`` distinct caches."""
    H, F = hidden, intermediate
    fwd = 2 * (4 * H * H + 2 * H * F)  # one layer, one token, forward
    fwd_bwd = fwd + 2 * (4 * H * H + 2 * H * F) + 2 * (H * H + 2 * H * F)  # + dW (6) + dX (3)
    top = layers - cut
    old = new_rows = 0.0
    entries: dict[tuple[int, ...], int] = {}
    for ep in episodes:
        Ps, Pq = ep.support.input_ids.numel(), ep.query.input_ids.numel()  # padded slots
        Rs, Rq = int(ep.support.attention_mask.sum()), int(ep.query.attention_mask.sum())
        old += finetune_rows * (cut * (Ps + Pq) * fwd + top * (steps * Ps * fwd_bwd + 2 * Pq * fwd))
        old += centroid_rows * layers * (Ps + Pq) * fwd
        new_rows += finetune_rows * top * (steps * Rs * fwd_bwd + Rq * fwd)
        for batch in (ep.support, ep.query):
            T = int(batch.input_ids.shape[1])
            for ids, mask in zip(batch.input_ids, batch.attention_mask, strict=True):
                key = (T, *ids[mask.bool()].tolist())  # match_padding: one entry per text and T
                entries[key] = int(mask.sum())
    encode = float(trunks * layers * sum(entries.values()) * fwd)
    return EvalFlops(old=old, new_rows=new_rows, encode=encode)


def report_rows_flops(rows: Mapping[str, Any], episodes: Sequence[Episode]) -> EvalFlops | None:
    """Linear-layer FLOPs of both paths (None unless every row has a cached plan)."""
    plans = [cache_plan(m) for m in rows.values()]
    adapt = [p for p in plans if isinstance(p, AdaptPlan)]
    if not adapt or any(p is None for p in plans):
        return None
    first = adapt[0]
    encoder, cut = first.model.encoder, first.model.cache_start
    if cut is None or any(p.model.cache_start != cut or p.steps != first.steps for p in adapt):
        return None
    conf: Any = encoder.config
    fingerprints = [trunk_fingerprints(cast(Any, p).model.encoder)[cut] for p in plans[1:]]
    return eval_flops(
        episodes, hidden=int(conf.hidden_size), intermediate=int(conf.intermediate_size),
        layers=int(conf.num_hidden_layers), cut=cut, steps=int(first.steps),
        finetune_rows=len(adapt), centroid_rows=len(plans) - len(adapt),
        trunks=1 + len(set(fingerprints)),
    )  # fmt: skip


def format_flops(flops: EvalFlops) -> Iterator[str]:
    """The ``name: value`` lines of a count."""
    yield f"eval_old_gflop: {flops.old / 1e9:.5g}"
    yield (
        f"eval_new_gflop: {flops.new / 1e9:.5g} (adaptation {flops.new_rows / 1e9:.5g} "
        f"+ cache {flops.encode / 1e9:.5g})"
    )
    yield f"eval_flop_ratio: {flops.ratio:.2f} (the speedup at equal FLOP rates)"
