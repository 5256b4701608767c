"""``--eval-only`` trials: tune test-time adaptation of a fixed model, no retraining.

A trial builds the evaluator of ``lightning_meta.evaluation`` over a fixed export or encoder
(``load_any``: the export's own adaptation settings, replaced by the trial's values) and scores
it on the experiment's fixed VALIDATION episodes, built once. Space keys are the experiment's
``model.init_args.*`` paths of the adaptation settings (inner steps, inner lr, adapt, head
init). The running mean is reported to the pruner every ``report_every`` episodes (every trial
sees the same episodes in the same order, so the running means are comparable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.scoring import EpisodeScore, score_module
from lightning_meta.tuning.space import Param, bound_vectors, suggest

MODEL_PREFIX = "model.init_args."
METRICS = ("acc", "f1")


def check_eval_space(params: Sequence[Param]) -> None:
    for p in params:
        if not p.path.startswith(MODEL_PREFIX) or p.path.endswith(".backbone"):
            raise ConfigError(
                f"space: {p.path}: --eval-only tunes the model's test-time adaptation settings "
                f"only; use {MODEL_PREFIX}<setting> keys (inner steps, inner lr, adapt set)"
            )


def metric_key(metric: str) -> str:
    """'val/acc' -> 'acc' (eval-only scores validation episodes itself)."""
    split, _, key = metric.rpartition("/")
    if split not in ("", "val") or key not in METRICS:
        raise ConfigError(f"--metric: --eval-only scores val/acc or val/f1 (got '{metric}')")
    return key


def adaptation(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model.init_args.inner_lr": v}`` -> ``{"inner_lr": v}`` (nested for deeper paths);
    None values are left out (the evaluator's own default applies)."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        if value is None:
            continue
        *parents, last = path.removeprefix(MODEL_PREFIX).split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def dry_check(model: str, n_way: int, params: Sequence[Param]) -> None:
    """Build the evaluator at the ends of every range (and every choice) before any trial, so a
    setting it does not accept fails now, in one line naming the key."""
    for values in bound_vectors(params):
        try:
            load_any(model, n_way=n_way, overrides=adaptation(values))
        except TypeError as err:
            bad = [p.path for p in params if f"'{p.path.rsplit('.', 1)[-1]}'" in str(err)]
            key = bad[0] if bad else ", ".join(values)
            raise ConfigError(
                f"space: {key}: not a setting of the --eval-only evaluator ({err}); search "
                f"its test-time adaptation settings only"
            ) from err
        except ConfigError as err:
            raise ConfigError(f"space: {err} (at {values})") from err


def evaluate(
    model: str, n_way: int, values: Mapping[str, Any], episodes: Sequence[Episode]
) -> list[EpisodeScore]:
    """Scores of ``model`` adapting with ``values`` on ``episodes`` (lightning_meta.evaluation)."""
    return score_module(load_any(model, n_way=n_way, overrides=adaptation(values)), episodes)


@dataclass
class EvalObjective:
    """Optuna objective: sample adaptation settings, score the fixed validation episodes."""

    params: list[Param]
    model: str  # export directory or encoder name
    n_way: int
    episodes: list[Episode]  # the fixed validation episodes
    metric: str = "val/acc"
    report_every: int = 10

    def __post_init__(self) -> None:
        if self.model.endswith(".ckpt"):
            raise ConfigError(
                "--model: --eval-only needs an exported directory or an encoder name, not a "
                ".ckpt; export it first with `lightning-meta export`"
            )
        self.key = metric_key(self.metric)

    def __call__(self, trial: optuna.Trial) -> float:
        values = suggest(trial, self.params)
        module = load_any(self.model, n_way=self.n_way, overrides=adaptation(values))
        scores: list[EpisodeScore] = []
        step = max(1, self.report_every)
        for start in range(0, len(self.episodes), step):
            scores += score_module(module, self.episodes[start : start + step], progress=False)
            trial.report(self._mean(scores), step=len(scores))
            if len(scores) < len(self.episodes) and trial.should_prune():
                raise optuna.TrialPruned(
                    f"trial {trial.number} pruned after {len(scores)} episodes"
                )
        for key in METRICS:  # per-episode, for the paired comparison after the search
            trial.set_user_attr(f"val_{key}", [getattr(s, key) for s in scores])
        return self._mean(scores)

    def _mean(self, scores: Sequence[EpisodeScore]) -> float:
        return sum(getattr(s, self.key) for s in scores) / len(scores)
