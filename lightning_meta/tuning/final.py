"""After the search: the best trial (and the untuned default) on validation and test episodes.

Test episodes are built and scored here only, once the search has ended: once for the best
trial and once for the default, on the same fixed episodes, so their per-episode difference is
a paired comparison. Fit mode scores each trial's export with ``lightning_meta.evaluation``
(``load_any``: the export adapting with its own settings); eval-only mode scores the fixed
model with the best and the default adaptation settings. Validation scores of eval-only trials
were recorded per episode during the search and are reused, not recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.metrics import MeanCI, mean_ci
from lightning_meta.evaluation.scoring import EpisodeScore, score_module
from lightning_meta.tuning.trial_eval import evaluate

Scores = dict[str, list[float]]  # {"acc": per-episode, "f1": per-episode}
SPLITS = ("val", "test")


def as_scores(scores: Sequence[EpisodeScore]) -> Scores:
    return {"acc": [s.acc for s in scores], "f1": [s.f1 for s in scores]}


def paired(a: Sequence[float], b: Sequence[float]) -> MeanCI:
    """Mean ± 95% CI of the per-episode difference a - b (same episodes, same order)."""
    return mean_ci([x - y for x, y in zip(a, b, strict=True)])


@dataclass
class HeldOut:
    """Per-episode scores of the tuned and default configurations on val and test."""

    best: FrozenTrial
    default: FrozenTrial | None
    episodes: dict[str, int] = field(default_factory=dict)  # split -> number of episodes
    tuned: dict[str, Scores] = field(default_factory=dict)  # split -> scores
    untuned: dict[str, Scores] = field(default_factory=dict)

    def summary(self, split: str, metric: str = "acc") -> dict[str, MeanCI]:
        rows = {"tuned": mean_ci(self.tuned[split][metric])}
        if split in self.untuned:
            rows["default"] = mean_ci(self.untuned[split][metric])
            rows["tuned - default"] = paired(self.tuned[split][metric], self.untuned[split][metric])
        return rows


def default_trial(study: optuna.Study) -> FrozenTrial | None:
    """The enqueued trial of the experiment's own values, when it completed."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("default"):
            return t
    return None


EpisodeSource = Callable[[str, int], list[Episode]]


def episode_source(data_args: Mapping[str, Any]) -> EpisodeSource:
    def build(split: str, n: int) -> list[Episode]:
        return fixed_episodes(dict(data_args), n, split=split)  # type: ignore[arg-type]

    return build


def score_fit_exports(
    study: optuna.Study, counts: Mapping[str, int], n_way: int, episodes: EpisodeSource
) -> HeldOut | None:
    """Fit mode: the best (and default) trial's export on val and test episodes; None when the
    best trial wrote no export (the experiment has no HFExport callback)."""
    best = study.best_trial
    default = default_trial(study)
    if not best.user_attrs.get("export"):
        return None
    report = HeldOut(best=best, default=default)
    for split in SPLITS:
        eps = episodes(split, counts[split])
        report.episodes[split] = len(eps)
        report.tuned[split] = as_scores(
            score_module(load_any(str(best.user_attrs["export"]), n_way=n_way), eps)
        )
        export = default.user_attrs.get("export") if default is not None else None
        if default is not None and default.number == best.number:
            report.untuned[split] = report.tuned[split]  # the default won: scored once
        elif export:
            report.untuned[split] = as_scores(score_module(load_any(str(export), n_way=n_way), eps))
    return report


def score_eval_only(
    study: optuna.Study,
    model: str,
    n_way: int,
    defaults: Mapping[str, Any],
    counts: Mapping[str, int],
    episodes: EpisodeSource,
) -> HeldOut:
    """Eval-only: validation scores recorded during the search; test scored once per setting."""
    best = study.best_trial
    default = default_trial(study)
    report = HeldOut(best=best, default=default)
    val = episodes("val", counts["val"]) if default is None else []
    report.episodes["val"] = len(best.user_attrs["val_acc"])
    report.tuned["val"] = {k: list(best.user_attrs[f"val_{k}"]) for k in ("acc", "f1")}
    if default is not None:
        report.untuned["val"] = {k: list(default.user_attrs[f"val_{k}"]) for k in ("acc", "f1")}
    else:
        report.untuned["val"] = as_scores(evaluate(model, n_way, defaults, val))
    test = episodes("test", counts["test"])
    report.episodes["test"] = len(test)
    report.tuned["test"] = as_scores(evaluate(model, n_way, best.params, test))
    same = default is not None and default.number == best.number
    report.untuned["test"] = (
        report.tuned["test"] if same else as_scores(evaluate(model, n_way, defaults, test))
    )
    return report
