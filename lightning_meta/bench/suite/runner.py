"""Run an accuracy suite: build each target's fixed episodes once, then for every method build
it (seeded), meta-train it, and score it on every target's identical episode list. Baseline
rows (:mod:`~lightning_meta.bench.suite.baselines`) are never meta-trained; a logistic-regression
head on a meta-trained method's embeddings reuses that method's module once it is trained.

Progress goes to stdout, one line per cell with its elapsed time and an estimate of what is
left (from the per-episode and per-training-step costs measured so far in this run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lightning_meta.bench.suite.baseline_spec import check_baselines
from lightning_meta.bench.suite.baselines import BaselineRow, cell_episodes, row_label
from lightning_meta.bench.suite.methods import (
    build_method,
    check_method,
    data_class,
    meta_train,
    model_class,
    resolved_args,
)
from lightning_meta.bench.suite.spec import ClassSpec, MethodSpec, SuiteSpec
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.feature_cache import FeatureCache
from lightning_meta.evaluation.scoring import EpisodeEvaluator, score_module, summarise
from lightning_meta.evaluation.tables import Result, from_summary
from lightning_meta.lightning import EpisodicModule

__all__ = ["Resolved", "SuiteRun", "resolve", "run_suite"]


@dataclass
class Resolved:
    """A suite with every default filled in: what runs, and what ``config.yaml`` records."""

    spec: SuiteSpec
    targets: dict[str, dict[str, Any]]  # target name -> full EpisodicDataModule args
    train: dict[str, ClassSpec]  # method name -> its resolved meta-training data
    models: dict[str, dict[str, Any]]  # method name -> model init args with defaults
    skipped: dict[str, str] = field(default_factory=dict)  # method name -> why

    def _model(self, m: MethodSpec) -> dict[str, Any] | None:
        if m.model is None:
            return None
        return {"class_path": m.model.class_path, "init_args": self.models[m.name]}

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "seed": self.spec.seed,
            "episodes": self.spec.episodes,
            "baseline": self.spec.baselines,
            "methods": [
                {
                    "name": m.name,
                    "model": self._model(m),
                    "baseline": None if m.baseline is None else m.baseline.resolved(),
                    "optimizer": None if m.optimizer is None else vars(m.optimizer),
                    "train_steps": m.train_steps,
                    "gradient_clip_val": m.gradient_clip_val,
                    "train_data": vars(self.train[m.name]) if m.name in self.train else None,
                    "skipped": self.skipped.get(m.name),
                }
                for m in self.spec.methods
            ],
            "targets": [{"name": n, "data": args} for n, args in self.targets.items()],
        }


def resolve(spec: SuiteSpec) -> Resolved:
    """Check every method and target; fill defaults (the suite seed seeds unseeded data)."""
    from lightning_meta.data import EpisodicDataModule

    targets: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(spec.targets):
        args = {"seed": spec.seed, **t.data, "test_episodes": spec.episodes}
        targets[t.name] = resolved_args(EpisodicDataModule, args, f"suite.targets[{i}].data")
    train: dict[str, ClassSpec] = {}
    skipped: dict[str, str] = {}
    models: dict[str, dict[str, Any]] = {}
    check_baselines(spec.methods)  # again: a --methods selection may have dropped a source
    for i, m in enumerate(spec.methods):
        where = f"suite.methods[{i}]"
        if m.model is not None:
            check_method(m, where)
            cls = model_class(m.model, f"{where}.model")
            models[m.name] = resolved_args(cls, m.model.init_args, f"{where}.model.init_args")
        if m.requires is not None and not Path(m.requires).exists():
            skipped[m.name] = f"{m.requires} not found"
        source = m.baseline.embeddings_of if m.baseline is not None else None
        if source is not None and source in skipped:
            skipped[m.name] = f"needs {source}, skipped"
        if m.train_steps > 0:
            data = m.train_data or spec.train
            dwhere = f"{where}.train_data" if m.train_data else "suite.train"
            dcls = data_class(data, dwhere)
            args = {"seed": spec.seed, **data.init_args}
            train[m.name] = ClassSpec(
                data.class_path, resolved_args(dcls, args, f"{dwhere}.init_args")
            )
    return Resolved(spec, targets, train, models, skipped)


@dataclass
class SuiteRun:
    """Results and timings of one run."""

    results: list[Result] = field(default_factory=list)
    per_episode: list[tuple[str, str, int, float, float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # method name -> its row label


class Clock:
    """Elapsed time and a running estimate of what remains."""

    def __init__(self, episodes_left: int, steps_left: int) -> None:
        self.start = time.perf_counter()
        self.episodes_left, self.steps_left = episodes_left, steps_left
        self.eval_s = self.eval_n = self.train_s = self.train_n = 0.0

    def per_episode(self) -> float | None:
        return self.eval_s / self.eval_n if self.eval_n else None

    def add_eval(self, seconds: float, n: int) -> None:
        self.eval_s, self.eval_n, self.episodes_left = (
            self.eval_s + seconds,
            self.eval_n + n,
            self.episodes_left - n,
        )

    def add_train(self, seconds: float, n: int) -> None:
        self.train_s, self.train_n, self.steps_left = (
            self.train_s + seconds,
            self.train_n + n,
            self.steps_left - n,
        )

    def status(self) -> str:
        elapsed = time.perf_counter() - self.start
        pe, ps = self.per_episode(), (self.train_s / self.train_n if self.train_n else None)
        if pe is None or (self.steps_left and ps is None):
            return f"elapsed {elapsed:.0f}s"
        left = self.episodes_left * pe + self.steps_left * (ps or 0.0)
        return f"elapsed {elapsed:.0f}s, about {left:.0f}s left"


def build_episodes(resolved: Resolved, log: Callable[[str], None]) -> dict[str, list[Episode]]:
    out: dict[str, list[Episode]] = {}
    for i, (name, args) in enumerate(resolved.targets.items()):
        t0 = time.perf_counter()
        try:
            out[name] = fixed_episodes(args, resolved.spec.episodes)
        except ConfigError as err:
            raise ConfigError(f"suite.targets[{i}].data ({name}): {err}") from None
        log(
            f"episodes [{name}]: {len(out[name])} fixed test episodes ({time.perf_counter() - t0:.1f}s)"
        )
    return out


def _train(module: EpisodicModule, m: MethodSpec, resolved: Resolved, device: torch.device,
           clock: Clock, run: SuiteRun, where: str, log: Callable[[str], None]) -> None:  # fmt: skip
    per_step = clock.train_s / clock.train_n if clock.train_n else None
    est = f" (estimate {per_step * m.train_steps:.0f}s)" if per_step is not None else ""
    log(f"[{m.name}] meta-training {m.train_steps} steps{est}")
    t0 = time.perf_counter()
    meta_train(module, m, resolved.train[m.name], resolved.spec.seed, device.type, where)
    dt = time.perf_counter() - t0
    clock.add_train(dt, m.train_steps)
    run.timings[f"train/{m.name}"] = dt
    log(f"[{m.name}] meta-trained {m.train_steps} steps in {dt:.0f}s "
        f"({dt / m.train_steps:.2f}s/step); {clock.status()}")  # fmt: skip


def _prepare(m: MethodSpec, i: int, resolved: Resolved, device: torch.device,
             kept: dict[str, EpisodicModule], clock: Clock, run: SuiteRun,
             log: Callable[[str], None]) -> tuple[EpisodicModule | None, BaselineRow | None]:  # fmt: skip
    """A row's module (built, seeded, meta-trained for its steps) or its baseline evaluators
    (never meta-trained; logreg on ``embeddings_of`` reuses that method's trained module)."""
    b, where = m.baseline, f"suite.methods[{i}]"
    if b is not None and b.embeddings_of is not None:
        return None, BaselineRow(b, device, kept[b.embeddings_of])
    module = None
    if m.model is not None:
        module = build_method(m, resolved.spec.seed, where)
        if m.train_steps > 0:
            _train(module, m, resolved, device, clock, run, where, log)
        module.to(device)
    return (module, None) if b is None else (None, BaselineRow(b, device, module))


def run_suite(
    resolved: Resolved, device: torch.device, log: Callable[[str], None] = print
) -> SuiteRun:
    spec, run = resolved.spec, SuiteRun()
    active = [m for m in spec.methods if m.name not in resolved.skipped]
    for name, why in resolved.skipped.items():
        log(f"[{name}] skipped: {why}")
    episodes = build_episodes(resolved, log)
    cells = {(m.name, t): cell_episodes(m.baseline, eps) for m in active
             for t, eps in episodes.items()}  # fmt: skip
    n_cells = sum(1 for use in cells.values() if use)
    n_eval = sum(len(use) for use in cells.values())
    steps = sum(m.train_steps for m in active)
    log(f"plan: {len(active)} methods x {len(resolved.targets)} targets, {spec.episodes} episodes "
        f"each (baselines may score fewer): {n_eval} evaluated episodes; {steps} meta-training steps")  # fmt: skip
    clock = Clock(n_eval, steps)
    cell = 0
    caches = {t: FeatureCache(eps) for t, eps in episodes.items()}  # equal bottoms share states
    last_use = {m.baseline.embeddings_of: j for j, m in enumerate(active)
                if m.baseline is not None and m.baseline.embeddings_of is not None}  # fmt: skip
    kept: dict[str, EpisodicModule] = {}  # trained modules a later logreg row embeds with
    for j, m in enumerate(active):
        module, row = _prepare(m, spec.methods.index(m), resolved, device, kept, clock, run, log)
        if m.name in last_use and module is not None:
            kept[m.name] = module
        for target, eps in episodes.items():
            use = cells[m.name, target]
            if not use:
                log(f"[{m.name}] x {target}: not scored (VADER: 2-way sentiment targets only)")
                continue
            cell += 1
            label = run.labels[m.name] = row_label(m.name, len(use), len(eps))
            evaluator: EpisodeEvaluator
            if row is None:
                assert module is not None
                evaluator, features = module, caches[target]
            else:
                tokenizer = str(resolved.targets[target]["tokens"]["tokenizer"])
                evaluator, features = row.evaluator(tokenizer), None
            pe = clock.per_episode()
            est = f", estimate {pe * len(use):.0f}s" if pe is not None else ""
            log(f"[{cell}/{n_cells}] {label} x {target}: {len(use)} episodes{est}")
            t0 = time.perf_counter()
            scores = score_module(evaluator, use, features=features, progress=f"{label} x {target}")
            dt = time.perf_counter() - t0
            clock.add_eval(dt, len(use))
            run.timings[f"eval/{m.name}/{target}"] = dt
            r = from_summary(label, target, summarise(scores))
            run.results.append(r)
            run.per_episode += [(label, target, s.index, s.acc, s.f1) for s in scores]
            log(f"    acc {r.acc}  f1 {r.f1}  ({dt:.0f}s, {dt / len(use):.2f}s/episode; "
                f"{clock.status()})")  # fmt: skip
        for source in [s for s, last in last_use.items() if last == j]:
            kept.pop(source, None)
        del module, row
    run.timings["total"] = time.perf_counter() - clock.start
    return run
