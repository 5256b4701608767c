"""Episodes at the cost of the work that differs: today's per-episode loop vs the new path.

One run, identical fixed episodes and tasks, both paths side by side:

- evaluation: the 3 report rows of ``make train`` (meta-trained model + fine-tuning, the
  pretrained encoder + the same fine-tuning, the frozen pretrained encoder + nearest
  centroid) on ``episodes`` fixed test episodes of the model's training data. Old: every row
  calls ``evaluate_episode`` episode by episode. New: the frozen-feature cache (the first row
  gets its own cache, as a trained export's bottom differs from the pretrained one; the two
  pretrained rows share one) with batched top-layer inner loops
  (:func:`~lightning_meta.evaluation.cached_scoring.cached_outputs`, what ``score_module`` runs);
- training: the default meta-step (first-order MAML, ``adapt: top1``, prototype head, 5 inner
  steps, meta-batches of 4 tasks of the default config's train split), forward + backward
  (``torch.autograd.grad`` over every trainable parameter), per task vs batched, alternating.

Rows (evaluation) and meta-batches (training) alternate between the two paths, so a change in
the machine's load hits both. On a machine shared with other jobs use one thread (the
command's default ``--threads 1``): two OpenMP threads on two busy cores mostly wait for each
other.

Printed (``name: value``): ``eval_speedup`` (old / new seconds, wall clock), the logit and
accuracy checks, ``eval_flop_ratio`` (:mod:`.episode_flops`), ``train_tasks_per_s_speedup``,
``train_max_abs_loss_diff``, with times, CPU-time ratios and the model used as context.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from lightning_meta.algorithms import maml_task
from lightning_meta.algorithms.batched import batchable, batched_maml_tasks
from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.bench.perf.episode_flops import format_flops, report_rows_flops
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.cached_scoring import cached_outputs
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.feature_cache import FeatureCache, Storage
from lightning_meta.evaluation.loading import build_evaluator, load_module_from_checkpoint
from lightning_meta.evaluation.metrics import episode_scores, mean_ci
from lightning_meta.lightning import MAML, EpisodicModule
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs

__all__ = ["EpisodesBenchConfig", "build_report_rows", "episodes_lines"]

DEFAULT_CONFIG = Path("configs/experiment/default.yaml")
DEFAULT_EXPORT = Path("runs/default/export")


@dataclass(frozen=True)
class EpisodesBenchConfig:
    model: str | None = None  # export dir or .ckpt; None: runs/default/export, else untrained
    baseline: str = "minilm"  # pretrained encoder of the two baseline rows
    episodes: int = 100  # fixed WordNet test episodes
    train_batches: int = 5  # timed meta-batches per path (after one warm-up each)
    storage: Storage = "model"
    match_padding: bool = True
    episodes_per_batch: int = 8
    data: dict[str, Any] | None = None  # data config of the episodes (default: default.yaml's)


def _default_config() -> dict[str, Any]:
    if not DEFAULT_CONFIG.is_file():
        raise ConfigError(
            f"model: no export given and {DEFAULT_CONFIG} not found; pass --model EXPORT_DIR "
            "or run from the repository root"
        )
    return dict(yaml.safe_load(DEFAULT_CONFIG.read_text()))


def _data_args(cfg: EpisodesBenchConfig) -> dict[str, Any]:
    return dict(cfg.data) if cfg.data is not None else dict(_default_config()["data"]["init_args"])


def _fallback_module(baseline: str) -> MAML:
    """The default experiment's module (FOMAML, its inner loop) from ``baseline``, untrained."""
    init = dict(_default_config()["model"]["init_args"])
    inner = InnerLoopArgs(**dict(init.get("inner") or {}))
    return MAML(first_order=True, encoder=EncoderConfig(baseline), inner=inner)


def build_report_rows(
    cfg: EpisodesBenchConfig,
) -> tuple[str, dict[str, EpisodicModule], dict[str, Any]]:
    """(what was loaded, row name -> module, data config of the test episodes)."""
    from lightning_meta.evaluation.report import build_rows, read_export

    source = cfg.model or (str(DEFAULT_EXPORT) if DEFAULT_EXPORT.is_dir() else None)
    if source is not None and not source.endswith(".ckpt"):
        meta, data_args = read_export(Path(source))
        return f"{source} (export)", build_rows(Path(source), meta, cfg.baseline), data_args
    data_args = _data_args(cfg)
    if source is None:
        first: EpisodicModule = _fallback_module(cfg.baseline)
        what = f"untrained FOMAML from {cfg.baseline} with {DEFAULT_CONFIG}'s settings (no export)"
    else:
        first, what = load_module_from_checkpoint(source), f"{source} (checkpoint)"
    pooling = first.encoder_config.pooling
    adaptation = {
        "adapt": first.model.adapt,
        "head_init": first.model.head_init,
        "inner_steps": first.eval_steps,
        "inner_lr": first.inner.lr,
    }
    learned = {k: float(v.detach()) for k, v in (first.inner_lrs or {}).items()}
    rows = {
        f"{first.algorithm} init + fine-tuning": first,
        "pretrained init + same fine-tuning": build_evaluator(
            cfg.baseline, "finetune", pooling, adaptation=adaptation, learned_inner_lrs=learned
        ),
        "pretrained frozen + nearest centroid": build_evaluator(cfg.baseline, "centroid", pooling),
    }
    return what, rows, data_args


class _Clock:
    """Wall-clock and process CPU seconds of a block, accumulated."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __call__(self) -> _Clock:
        return self

    def __enter__(self) -> None:
        self._w, self._c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def _old_outputs(module: EpisodicModule, episodes: list[Episode]) -> list[TaskOutput]:
    module.eval()
    with torch.enable_grad():
        return [module.evaluate_episode(ep.to(module.device)) for ep in episodes]


def _accs(outs: list[TaskOutput], episodes: list[Episode]) -> list[float]:
    return [
        episode_scores(o.logits, ep.query.labels, ep.n_way)[0]
        for o, ep in zip(outs, episodes, strict=True)
    ]


def eval_lines(cfg: EpisodesBenchConfig) -> Iterator[str]:
    what, rows, data_args = build_report_rows(cfg)
    yield f"model: {what}"
    episodes = fixed_episodes(data_args, cfg.episodes)
    T = sorted({int(ep.support.input_ids.shape[1]) for ep in episodes})
    yield (
        f"eval_episodes: {len(episodes)} fixed {data_args.get('source', 'wordnet')} test "
        f"episodes ({episodes[0].n_way}-way, {len(episodes[0].support)} support / "
        f"{len(episodes[0].query)} query rows, padded length {T[0]}..{T[-1]})"
    )
    old_clock, new_clock = _Clock(), _Clock()
    old: dict[str, list[TaskOutput]] = {}
    new: dict[str, list[TaskOutput]] = {}
    names = list(rows)
    args: dict[str, Any] = {"storage": cfg.storage, "match_padding": cfg.match_padding}
    own, shared = FeatureCache(episodes, **args), FeatureCache(episodes, **args)
    for i, name in enumerate(names):  # row by row, alternating which path goes first
        for path in ("old", "new") if i % 2 == 0 else ("new", "old"):
            if path == "old":
                with old_clock():
                    old[name] = _old_outputs(rows[name], episodes)
                continue
            cache = own if i == 0 else shared  # the first row never shares: see module doc
            with new_clock():
                outs = cached_outputs(rows[name], cache, episodes_per_batch=cfg.episodes_per_batch)
                new[name] = outs if outs is not None else _old_outputs(rows[name], episodes)
            if outs is None:
                yield f"eval_note: {name} has no cached path; timed with the per-episode loop"
    yield f"eval_old_s: {old_clock.wall:.1f}"
    yield f"eval_new_s: {new_clock.wall:.1f}"
    yield f"eval_unique_texts: {len(shared.index)}"
    yield f"eval_speedup: {old_clock.wall / new_clock.wall:.2f}"
    yield f"eval_cpu_speedup: {old_clock.cpu / new_clock.cpu:.2f}"
    diff = max(
        float((a.logits.float() - b.logits.float()).abs().max())
        for n in names for a, b in zip(old[n], new[n], strict=True)
    )  # fmt: skip
    same = all(_accs(old[n], episodes) == _accs(new[n], episodes) for n in names)
    yield f"eval_max_abs_logit_diff: {diff:.3g}"
    yield f"eval_max_abs_logit: {max(float(o.logits.abs().max()) for n in names for o in old[n]):.3g}"
    yield f"eval_identical_episode_acc: {str(same).lower()}"
    flops = report_rows_flops(rows, episodes)
    if flops is not None:
        yield from format_flops(flops)
        yield f"eval_old_gflop_per_s: {flops.old / old_clock.wall / 1e9:.1f}"
        yield f"eval_new_gflop_per_s: {flops.new / new_clock.wall / 1e9:.1f}"


def flop_lines(cfg: EpisodesBenchConfig) -> Iterator[str]:
    """The FLOP count of both evaluation paths only (no timing: seconds to run)."""
    what, rows, data_args = build_report_rows(cfg)
    yield f"model: {what}"
    flops = report_rows_flops(rows, fixed_episodes(data_args, cfg.episodes))
    if flops is None:
        yield "eval_note: a row has no cached path; no FLOP count"
        return
    yield from format_flops(flops)


def storage_lines(cfg: EpisodesBenchConfig) -> Iterator[str]:
    """The accuracy effect of ``bfloat16`` cache storage: every report row through the cached
    path twice on the same episodes, float32 (the model's dtype) vs bfloat16 states."""
    _, rows, data_args = build_report_rows(cfg)
    episodes = fixed_episodes(data_args, cfg.episodes)
    outs: dict[str, dict[str, list[TaskOutput]]] = {}
    for storage in ("model", "bfloat16"):
        own = FeatureCache(episodes, storage=storage, match_padding=cfg.match_padding)
        shared = FeatureCache(episodes, storage=storage, match_padding=cfg.match_padding)
        for i, (name, row) in enumerate(rows.items()):
            got = cached_outputs(row, own if i == 0 else shared,
                                 episodes_per_batch=cfg.episodes_per_batch)  # fmt: skip
            if got is None:
                continue
            outs.setdefault(name, {})[storage] = got
    yield f"storage_episodes: {len(episodes)}"
    for name, by in outs.items():
        a, b = _accs(by["model"], episodes), _accs(by["bfloat16"], episodes)
        d = mean_ci([y - x for x, y in zip(a, b, strict=True)])
        diff = max(float((x.logits - y.logits).abs().max())
                   for x, y in zip(by["model"], by["bfloat16"], strict=True))  # fmt: skip
        same = sum(x == y for x, y in zip(a, b, strict=True))
        yield f"storage_bf16_acc_diff_pp[{name}]: {100 * d.mean:+.3f} ± {100 * d.ci:.3f}"
        yield f"storage_bf16_identical_episode_acc[{name}]: {same}/{len(a)}"
        yield f"storage_bf16_max_abs_logit_diff[{name}]: {diff:.3g}"


def _meta_step(module: MAML, batch: list[Episode], batched: bool) -> tuple[Tensor, list[Tensor]]:
    if batched:
        outs = batched_maml_tasks(module.model, batch, module.inner, module.inner_lrs)
    else:
        outs = [maml_task(module.model, ep, module.inner, module.inner_lrs) for ep in batch]
    losses = torch.stack([o.loss for o in outs])
    params = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(losses.mean(), params, allow_unused=True, materialize_grads=True)
    return losses.detach(), list(grads)


def train_lines(cfg: EpisodesBenchConfig) -> Iterator[str]:
    data_args = _data_args(cfg)
    module = _fallback_module(cfg.baseline)
    size = int(dict(data_args.get("stream") or {}).get("meta_batch_size", 4))
    tasks = fixed_episodes(data_args, size * (cfg.train_batches + 1), split="train")
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    if not batchable(module.model, module.inner, batches[0]):
        raise ConfigError("train: the default meta-step has no batched path on this model")
    yield (
        f"train_tasks: {size * cfg.train_batches} ({cfg.train_batches} timed meta-batches of "
        f"{size}, {module.algorithm} adapt={module.model.adapt}, {module.inner.steps} inner steps)"
    )
    clocks = {False: _Clock(), True: _Clock()}
    loss_diff = grad_diff = 0.0
    for i, batch in enumerate(batches):
        order = (False, True) if i % 2 == 0 else (True, False)
        results = {}
        for batched in order:
            if i == 0:  # warm-up, untimed
                results[batched] = _meta_step(module, batch, batched)
                continue
            with clocks[batched]():
                results[batched] = _meta_step(module, batch, batched)
        (l_old, g_old), (l_new, g_new) = results[False], results[True]
        loss_diff = max(loss_diff, float((l_old - l_new).abs().max()))
        grad_diff = max(
            grad_diff, max(float((a - b).abs().max()) for a, b in zip(g_old, g_new, strict=True))
        )
    n = size * cfg.train_batches
    old_rate, new_rate = n / clocks[False].wall, n / clocks[True].wall
    yield f"train_tasks_per_s_old: {old_rate:.3f}"
    yield f"train_tasks_per_s_new: {new_rate:.3f}"
    yield f"train_tasks_per_s_speedup: {new_rate / old_rate:.2f}"
    yield f"train_cpu_speedup: {clocks[False].cpu / clocks[True].cpu:.2f}"
    yield f"train_max_abs_loss_diff: {loss_diff:.3g}"
    yield f"train_max_abs_grad_diff: {grad_diff:.3g}"


def episodes_lines(
    cfg: EpisodesBenchConfig, only: tuple[str, ...] = ("eval", "train")
) -> Iterator[str]:
    """Every measurement's ``name: value`` lines (``only``: eval, train, storage and/or flops;
    eval prints the FLOP lines too)."""
    yield f"threads: {torch.get_num_threads()}"
    if cfg.episodes < 100:
        yield f"note: {cfg.episodes} episodes (the targets are stated for at least 100)"
    if "eval" in only:
        yield from eval_lines(cfg)
    if "train" in only:
        yield from train_lines(cfg)
    if "storage" in only:
        yield from storage_lines(cfg)
    if "flops" in only and "eval" not in only:
        yield from flop_lines(cfg)
