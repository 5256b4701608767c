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
from lightning_meta.tuning.paths import MISSING, find_key, get_path, leaf_paths, overrides
from lightning_meta.tuning.space import Param, bound_vectors, check_against_config, load_space
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
    val_episodes: int | None = None  # eval-only search + held-out table (default: the data's)
    test_episodes: int | None = None  # held-out table (default: the data's test_episodes)
    score_test: bool = True
    default_trial: bool = True
    command: str = ""
    more_configs: tuple[Path, ...] = ()  # merged after ``config``, as repeated `fit --config`


@dataclass
class TuneResult:
    study: optuna.Study
    best_yaml: Path
    held_out: HeldOut | None


def check_space(
    params: list[Param], resolve: ConfigResolver, base: list[str], config: dict[str, Any]
) -> dict[str, Any]:
    """Keys against the parsed config, then every range end (and choice) through LightningCLI's
    parser: all params at once per end, one at a time only to name a rejected key."""
    defaults = check_against_config(params, config)
    for values in bound_vectors(params):
        try:
            resolve([*base, *overrides(values, config)])
        except ConfigError:
            for path, value in values.items():
                try:
                    resolve([*base, *overrides({path: value}, config)])
                except ConfigError as err:
                    raise ConfigError(
                        f"space: {path}: {value!r} is rejected by the experiment config ({err})"
                    ) from err
            raise
    return defaults


def with_resource(opts: TuneOptions, config: Mapping[str, Any]) -> StudySpec:
    """Hyperband's full budget, when not given: the experiment's max_steps (fit) or the number
    of validation episodes (eval-only), the units trials report their scores in."""
    spec = opts.study
    if spec.pruner.name != "hyperband" or spec.pruner.max_resource is not None:
        return spec
    if opts.eval_only:
        resource = opts.val_episodes or data_value(data_args(config), "val_episodes", None)
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


def backbone_path(config: Mapping[str, Any]) -> str:
    """The path of the model's encoder name (``model.init_args[.group].backbone``)."""
    paths = [p for p in leaf_paths(config) if p.startswith("model.") and p.endswith(".backbone")]
    if not paths:
        raise ConfigError("--config: the experiment's model has no backbone setting to evaluate")
    return paths[0]


def data_value(data: Mapping[str, Any], name: str, default: Any) -> Any:
    """A data setting by name, flat or inside an argument group (``stream.val_episodes``)."""
    value = find_key(data, name)
    return default if value is MISSING or value is None else value


@dataclass
class Plan:
    """Everything checked before the first trial."""

    params: list[Param]
    base: list[str]  # the experiment's argv: --config EXPERIMENT.yaml [--<backbone>=MODEL]
    config: dict[str, Any]  # its parsed config
    defaults: dict[str, Any]  # the experiment's value at every searched path
    spec: StudySpec
    n_way: int
    counts: dict[str, int]  # split -> episodes scored after the search
    episodes: final.EpisodeSource
    model: str  # eval-only: the fixed export or encoder


def prepare(opts: TuneOptions, resolve: ConfigResolver) -> Plan:
    """Parse and check the space against the experiment; any mistake fails here, in one line."""
    if opts.n_trials < 0:
        raise ConfigError(f"--n-trials: must be >= 0 (got {opts.n_trials})")
    params = load_space(opts.space)
    base = [a for c in (opts.config, *opts.more_configs) for a in ("--config", str(c))]
    config = resolve(base)
    model = ""
    if opts.eval_only:
        trial_eval.check_eval_space(params)
        backbone = backbone_path(config)
        if opts.model:  # best.yaml then names the model that was tuned
            base += overrides({backbone: opts.model})
            config = resolve(base)
        model = str(opts.model or get_path(config, backbone))
    defaults = check_space(params, resolve, base, config)
    data = data_args(config)
    counts = {
        "val": int(opts.val_episodes or data_value(data, "val_episodes", 100)),
        "test": int(opts.test_episodes or data_value(data, "test_episodes", 300)),
    }
    n_way = int(data_value(data, "n_way", 5))
    if opts.eval_only:
        trial_eval.dry_check(model, n_way, params)
    spec = with_resource(opts, config)
    return Plan(
        params, base, config, defaults, spec, n_way, counts, final.episode_source(data), model
    )


def search(opts: TuneOptions, plan: Plan, objective: Any) -> optuna.Study:
    """Open (or resume) the study and run trials until n_trials are complete or pruned."""
    study = open_study(plan.spec)
    if not study.trials and opts.default_trial:
        enqueue_default(study, plan.params, plan.defaults)
    remaining = opts.n_trials - done_trials(study)
    if remaining > 0:
        log.info("tune: %d trial(s) to run in study %s", remaining, plan.spec.study_name)
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
            f"tune: no trial of study '{plan.spec.study_name}' completed; see the trial logs "
            f"under {plan.spec.study_dir / 'trials'}"
        )
    return study


def finish(
    opts: TuneOptions, plan: Plan, study: optuna.Study, resolve: ConfigResolver
) -> TuneResult:
    """The search is over: outputs, then the test episodes (scored here only), then summary."""
    out = plan.spec.study_dir
    out.mkdir(parents=True, exist_ok=True)
    outputs.write_trials_csv(study, out / "trials.csv")
    best_yaml = outputs.write_best_yaml(
        resolve, plan.base, study.best_trial.params, out / "best.yaml"
    )
    plots = outputs.write_plots(study, out)
    held_out: HeldOut | None = None
    if opts.score_test and opts.eval_only:
        held_out = final.score_eval_only(
            study, plan.model, plan.n_way, plan.defaults, plan.counts, plan.episodes
        )
    elif opts.score_test:
        held_out = final.score_fit_exports(study, plan.counts, plan.n_way, plan.episodes)
    summary = outputs.render_summary(
        study, opts.metric, plan.defaults, held_out, plots, opts.command, plan.spec.storage_url
    )
    (out / "summary.md").write_text(summary)
    return TuneResult(study=study, best_yaml=best_yaml, held_out=held_out)


def run_tuning(opts: TuneOptions, resolve: ConfigResolver, run_fit: FitRunner) -> TuneResult:
    """The whole ``lightning-meta tune`` command (see the module docstring)."""
    plan = prepare(opts, resolve)
    if opts.eval_only:
        val = plan.episodes("val", plan.counts["val"])
        objective: Any = trial_eval.EvalObjective(
            plan.params, plan.model, plan.n_way, val, opts.metric
        )
    else:
        objective = FitObjective(
            plan.params, plan.config, plan.base, plan.spec, opts.metric, run_fit
        )
    study = search(opts, plan, objective)
    return finish(opts, plan, study, resolve)


def enqueue_default(study: optuna.Study, params: list[Param], defaults: Mapping[str, Any]) -> None:
    """Trial 0 = the experiment's own values, when every one lies in the space."""
    outside = [p.path for p in params if not p.contains(defaults[p.path])]
    if outside:
        log.info("tune: the experiment's values of %s are outside the space; no default trial",
                 ", ".join(outside))  # fmt: skip
        return
    study.enqueue_trial({p.path: defaults[p.path] for p in params}, user_attrs={"default": True})
