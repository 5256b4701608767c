"""``lightning-meta tune``: check the space, run the study, write the outputs, score test once.

The command layer passes two callables in (nothing here imports ``lightning_meta.cli``):
``resolve(argv)``, the parsed LightningCLI ``fit`` config of an argv, and ``run_fit(argv)``,
an in-process ``fit``. Order of work:

1. the space is parsed and every key checked against the experiment's parsed config, each
   range end parsed by LightningCLI (and, with ``--eval-only``, built by the evaluator), so a bad
   key or range fails before the first trial;
2. the study opens (resuming it, failing killed trials); a fresh study first runs the
   experiment's own values (when they lie in the space), so the search is compared with them;
3. trials run until ``n_trials`` are complete or pruned (``--timeout`` stops earlier);
4. trials.csv, best.yaml, plots; then, the search over, the best and the default are scored on
   test episodes (the only place test episodes are touched) and summary.md is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from lightning_meta.errors import ConfigError, NumericalError
from lightning_meta.tuning import final, outputs, trial_eval
from lightning_meta.tuning.final import HeldOut
from lightning_meta.tuning.paths import get_path, overrides
from lightning_meta.tuning.space import Param, check_against_config, load_space
from lightning_meta.tuning.study import DONE_STATES, StudySpec, done_trials, open_study
from lightning_meta.tuning.trial_fit import FitObjective, FitRunner

log = logging.getLogger(__name__)
ConfigResolver = outputs.ConfigResolver


@dataclass(frozen=True)
class TuneOptions:
    """What to search and how (the ``lightning-meta tune`` arguments)."""

    config: Path  # the experiment YAML
    space: Path  # the search-space YAML
    n_trials: int  # complete + pruned trials the study should reach
    study: StudySpec
    metric: str = "val/acc"
    timeout: float | None = None
    eval_only: bool = False
    model: str | None = None  # eval-only: export directory or encoder (default: the backbone)
    val_episodes: int | None = None  # eval-only: default data.init_args.val_episodes
    test_episodes: int | None = None  # default data.init_args.test_episodes
    score_test: bool = True
    default_trial: bool = True
    command: str = ""


@dataclass
class TuneResult:
    study: optuna.Study
    best_yaml: Path
    held_out: HeldOut | None


def check_space(
    params: list[Param], resolve: ConfigResolver, base: list[str], config: dict[str, Any]
) -> dict[str, Any]:
    """Keys against the parsed config, then each range end through LightningCLI's parser."""
    defaults = check_against_config(params, config)
    for p in params:
        for value in p.bounds():
            try:
                resolve([*base, *overrides({p.path: value})])
            except ConfigError as err:
                raise ConfigError(
                    f"space: {p.path}: {value!r} is rejected by the experiment config ({err})"
                ) from err
    return defaults


def with_resource(opts: TuneOptions, config: Mapping[str, Any]) -> StudySpec:
    """Hyperband's full budget, when not given: the experiment's max_steps (fit) or the number
    of validation episodes (eval-only), the units trials report their scores in."""
    spec = opts.study
    if spec.pruner.name != "hyperband" or spec.pruner.max_resource is not None:
        return spec
    if opts.eval_only:
        resource = opts.val_episodes or get_path(config, "data.init_args.val_episodes")
    else:
        resource = get_path(config, "trainer.max_steps")
    if not isinstance(resource, int) or resource <= 0:
        return spec  # Optuna's 'auto': the longest trial seen so far
    return replace(spec, pruner=replace(spec.pruner, max_resource=resource))


def data_args(config: Mapping[str, Any]) -> dict[str, Any]:
    args = get_path(config, "data.init_args")
    if not isinstance(args, dict):
        raise ConfigError("--config: the experiment has no data.init_args; tune needs episodes")
    return args


def run_tuning(opts: TuneOptions, resolve: ConfigResolver, run_fit: FitRunner) -> TuneResult:
    if opts.n_trials < 0:
        raise ConfigError(f"--n-trials: must be >= 0 (got {opts.n_trials})")
    params = load_space(opts.space)
    base = ["--config", str(opts.config)]
    if opts.eval_only and opts.model:
        base.append(f"--model.init_args.backbone={opts.model}")
    config = resolve(base)
    defaults = check_space(params, resolve, base, config)
    spec = with_resource(opts, config)
    data = data_args(config)
    n_way = int(data.get("n_way") or 5)
    counts = {
        "val": int(opts.val_episodes or data.get("val_episodes") or 100),
        "test": int(opts.test_episodes or data.get("test_episodes") or 300),
    }
    episodes = final.episode_source(data)
    model = str(opts.model or get_path(config, "model.init_args.backbone"))
    if opts.eval_only:
        trial_eval.check_eval_space(params)
        trial_eval.dry_check(model, n_way, params)
        objective: Any = trial_eval.EvalObjective(
            params, model, n_way, episodes("val", counts["val"]), opts.metric
        )
    else:
        objective = FitObjective(params, config, base, spec, opts.metric, run_fit)

    study = open_study(spec)
    if not study.trials and opts.default_trial:
        enqueue_default(study, params, defaults)
    remaining = opts.n_trials - done_trials(study)
    if remaining > 0:
        log.info("tune: %d trial(s) to run in study %s", remaining, spec.study_name)
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=opts.timeout,
            catch=(NumericalError,),
            callbacks=[optuna.study.MaxTrialsCallback(opts.n_trials, states=DONE_STATES)],
            gc_after_trial=True,
        )
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise ConfigError(
            f"tune: no trial of study '{spec.study_name}' completed; see the trial logs under "
            f"{spec.study_dir / 'trials'}"
        )
    # ---- the search is over: outputs, then test episodes (only here) --------------------
    out = spec.study_dir
    out.mkdir(parents=True, exist_ok=True)
    outputs.write_trials_csv(study, out / "trials.csv")
    best_yaml = outputs.write_best_yaml(resolve, base, study.best_trial.params, out / "best.yaml")
    plots = outputs.write_plots(study, out)
    held_out: HeldOut | None = None
    if opts.score_test:
        if opts.eval_only:
            held_out = final.score_eval_only(study, model, n_way, defaults, counts, episodes)
        else:
            held_out = final.score_fit_exports(study, counts, n_way, episodes)
    summary = outputs.render_summary(
        study, opts.metric, defaults, held_out, plots, opts.command, spec.storage_url
    )
    (out / "summary.md").write_text(summary)
    return TuneResult(study=study, best_yaml=best_yaml, held_out=held_out)


def enqueue_default(study: optuna.Study, params: list[Param], defaults: Mapping[str, Any]) -> None:
    """Trial 0 = the experiment's own values, when every one lies in the space."""
    outside = [p.path for p in params if not p.contains(defaults[p.path])]
    if outside:
        log.info("tune: the experiment's values of %s are outside the space; no default trial",
                 ", ".join(outside))  # fmt: skip
        return
    study.enqueue_trial({p.path: defaults[p.path] for p in params}, user_attrs={"default": True})
