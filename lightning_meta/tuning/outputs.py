"""Study outputs: trials.csv, best.yaml, history/importance plots (PNG) and summary.md."""

from __future__ import annotations

import csv
import logging
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from lightning_meta.tuning.final import HeldOut
from lightning_meta.tuning.paths import overrides

log = logging.getLogger(__name__)
ConfigResolver = Callable[[list[str]], dict[str, Any]]
"""The parsed ``fit`` config (every default filled in) of this argv (everything after ``fit``)."""


def write_trials_csv(study: optuna.Study, path: Path) -> Path:
    """One row per trial: number, state, value, duration (s), then every param."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for t in trials for name in t.params})
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["number", "state", "value", "duration_s", "default", *names])
        for t in trials:
            duration = t.duration.total_seconds() if t.duration is not None else None
            w.writerow(
                [
                    t.number,
                    t.state.name,
                    t.value,
                    None if duration is None else round(duration, 3),
                    bool(t.user_attrs.get("default")),
                    *(t.params.get(n) for n in names),
                ]
            )
    return path


def write_best_yaml(
    resolve: ConfigResolver, base_argv: list[str], best: Mapping[str, Any], path: Path
) -> Path:
    """The experiment's full parsed config with the best values filled in (LightningCLI's own
    ``--print_config`` of the experiment plus the best overrides), for ``fit --config``."""
    config = resolve([*base_argv, *overrides(best, resolve(base_argv))])
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_plots(study: optuna.Study, out: Path) -> dict[str, str]:
    """history.png and importances.png; a plot Optuna cannot draw yet is skipped with a reason."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    done: dict[str, str] = {}
    plots: dict[str, Callable[[optuna.Study], Any]] = {
        "history.png": ovm.plot_optimization_history,
        "importances.png": ovm.plot_param_importances,
    }
    for name, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                ax = plot(study)
            ax.figure.set_size_inches(7, 4.5)
            ax.figure.tight_layout()
            ax.figure.savefig(out / name, dpi=110)
            plt.close(ax.figure)
            done[name] = "written"
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            log.info("tune: %s skipped (%s)", name, reason)
            done[name] = f"skipped: {reason}"
    return done


def _counts(study: optuna.Study) -> str:
    trials = study.get_trials(deepcopy=False)
    parts = [f"{sum(t.state == s for t in trials)} {s.name.lower()}" for s in TrialState]
    return f"{len(trials)} trials (" + ", ".join(p for p in parts if not p.startswith("0 ")) + ")"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_summary(
    study: optuna.Study,
    metric: str,
    defaults: Mapping[str, Any],
    held_out: HeldOut | None,
    plots: Mapping[str, str],
    command: str,
    storage: str,
) -> str:
    best = study.best_trial
    own = " (the experiment's own values)" if best.user_attrs.get("default") else ""
    sections = [
        [f"# Study `{study.study_name}`"],
        [f"Command: `{command}`"] if command else [],
        [
            f"Storage: `{storage}`; objective: {study.direction.name.lower()} `{metric}` on "
            f"validation episodes; {_counts(study)}."
        ],
        [f"Best trial: #{best.number}, {metric} = {best.value:.4f}{own}"],
        [
            "| parameter | default | best |",
            "|---|---|---|",
            *(f"| `{k}` | {_fmt(defaults.get(k))} | {_fmt(v)} |" for k, v in best.params.items()),
        ],
        render_held_out(held_out) if held_out is not None else [],
        ["Plots: " + ", ".join(f"{k} ({v})" for k, v in plots.items())],
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"


def render_held_out(held_out: HeldOut) -> list[str]:
    """The tuned vs default table: mean ± 95% CI (%), and the paired per-episode difference."""
    splits = [s for s in ("val", "test") if s in held_out.tuned]
    head = " | ".join(
        f"{'validation' if s == 'val' else 'test'} ({held_out.episodes[s]} episodes) {m}"
        for s in splits
        for m in ("acc", "macro-F1")
    )
    lines = [
        "Scored after the search, on the same fixed episodes for every row (test episodes are",
        "used here only, once per row): mean ± 95% CI in %.",
        "",
        f"| configuration | {head} |",
        "|---|" + "---|" * (2 * len(splits)),
    ]
    rows = ("tuned", "default", "tuned - default")
    for row in rows:
        cells = []
        for s in splits:
            for m in ("acc", "f1"):
                summary = held_out.summary(s, m)
                cells.append(str(summary[row]) if row in summary else "n/a")
        if any(c != "n/a" for c in cells):
            label = "tuned - default (paired)" if row == "tuned - default" else row
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines
