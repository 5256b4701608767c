"""The accuracy suite run behind ``lightning-meta bench accuracy``: a reproducible accuracy
table across algorithms and targets.

Runs the suite's matrix (see :mod:`lightning_meta.bench.suite.spec`): every method is built from
the same seed, meta-trained for its budget, and scored on every target's identical fixed test
episodes. Writes to the output directory (default ``runs/bench/<suite>[-quick]``):

- ``results.csv`` / ``results.md``: accuracy and macro-F1, mean ± 95% CI (best in bold); a row
  scored on fewer episodes says so in its label (``SetFit [10 episodes]``), a target a row does
  not apply to shows ``-`` (VADER off sentiment); with ``baseline:`` in the suite (one name or
  a list), ``results.md`` adds the paired per-episode difference of every row to each of them,
  on the episodes both scored (:mod:`lightning_meta.bench.suite.paired`);
- ``results.png``: grouped bars with CI whiskers;
- ``episodes.csv``: per-episode scores (for paired comparisons);
- ``config.yaml``: the resolved suite (every default filled in), ``environment.json``
  (package versions, git commit, device, CPU threads, command), ``timings.json``.

Same suite, same seed, same machine type: identical ``results.csv``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
import yaml

from lightning_meta.bench.perf.environment import environment
from lightning_meta.bench.suite.baseline_spec import select_methods
from lightning_meta.bench.suite.paired import (
    paired_differences,
    render_paired,
    scores_from_rows,
    write_episodes,
)
from lightning_meta.bench.suite.runner import Resolved, SuiteRun, resolve, run_suite
from lightning_meta.bench.suite.spec import MethodSpec, load_suite
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.tables import plot_results, render_markdown, write_csv

__all__ = ["DEFAULT_SUITE", "pick_device", "run_accuracy", "write_outputs"]

DEFAULT_SUITE = "configs/bench/default.yaml"


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda requested but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


def notes(resolved: Resolved, env: dict[str, object], quick: bool) -> list[str]:
    git, device = env["git"], env["device"]
    assert isinstance(git, dict) and isinstance(device, dict)
    commit = (git.get("commit") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
    out = [
        f"command: `{env['command']}`",
        f"suite: {resolved.spec.name}{' (--quick)' if quick else ''}, seed {resolved.spec.seed}, "
        f"{resolved.spec.episodes} fixed test episodes per target (identical for every method)",
        f"commit {commit}; device {device['type']} ({device['name']}); "
        f"torch threads {env['cpu']['torch_threads']}",  # type: ignore[index]
    ]
    out += [f"{m.name}: meta-trained {m.train_steps} steps" for m in resolved.spec.methods
            if m.train_steps and m.name not in resolved.skipped]  # fmt: skip
    out += [f"{m.name}: {baseline_note(m)}" for m in resolved.spec.methods
            if m.baseline is not None and m.name not in resolved.skipped]  # fmt: skip
    out += [f"{name}: skipped ({why})" for name, why in resolved.skipped.items()]
    return out


def baseline_note(m: MethodSpec) -> str:
    """What a baseline row is, in words (for the notes of results.md)."""
    b = m.baseline
    assert b is not None
    cap = "" if b.episodes is None else f", on the first {b.episodes} episodes of each target"
    if b.kind == "logreg":
        on = f"{b.embeddings_of}'s embeddings after its meta-training" if b.embeddings_of else \
            "the frozen embeddings of its model"  # fmt: skip
        return f"scikit-learn logistic regression (C={b.c:g}) per episode on {on}{cap}"
    if b.kind == "setfit" and b.embeddings_of:
        return (f"SetFit per episode from {b.embeddings_of}'s encoder after its meta-training, "
                f"the library's defaults{cap}")  # fmt: skip
    if b.kind == "setfit":
        return f"SetFit per episode, body {b.body_name}, the library's defaults{cap}"
    return f"VADER zero-shot (no labels), 2-way sentiment targets only (else -){cap}"


def write_outputs(
    out: Path, resolved: Resolved, run: SuiteRun, env: dict[str, object], quick: bool
) -> None:
    """results.csv/.md/.png, episodes.csv and timings.json (config/environment come first)."""
    write_csv(out / "results.csv", run.results)
    title = f"lightning-meta accuracy suite '{resolved.spec.name}'" + (
        " (--quick)" if quick else ""
    )
    text = render_markdown(run.results, title, notes(resolved, env, quick))
    targets = list(dict.fromkeys(r.target for r in run.results))
    scores = scores_from_rows(run.per_episode)
    for name in resolved.spec.baselines:
        baseline = run.labels.get(name, name)  # its row label (with a capped episode count)
        if baseline in scores:
            diffs = paired_differences(scores, baseline)
            text = text.rstrip("\n") + "\n\n## " + render_paired(diffs, baseline, targets) + "\n"
    (out / "results.md").write_text(text)
    plot_results(run.results, title, out / "results.png")
    write_episodes(out / "episodes.csv", run.per_episode)
    (out / "timings.json").write_text(json.dumps(run.timings, indent=2) + "\n")


def run_accuracy(
    suite: str,
    out: str | None,
    argv: list[str],
    quick: bool = False,
    device: str = "auto",
    threads: int | None = None,
    methods: list[str] | None = None,
    dry_run: bool = False,
) -> int:
    """Load, check and run a suite; write every output. ``argv``: the command line (recorded)."""
    if threads is not None and threads <= 0:
        raise ConfigError(f"threads: must be positive (got {threads})")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads or before)
        return _run(suite, out, argv, quick, device, methods, dry_run)
    finally:
        torch.set_num_threads(before)


def _run(suite: str, out_dir: str | None, argv: list[str], quick: bool, device_name: str,
         methods: list[str] | None, dry_run: bool) -> int:  # fmt: skip
    spec = load_suite(suite, quick=quick)
    if methods is not None:
        known = [m.name for m in spec.methods]
        for name in methods:
            if name not in known:
                raise ConfigError(f"methods: unknown method '{name}' (known: {', '.join(known)})")
        chosen = select_methods(spec.methods, methods)
        for m in chosen:
            if m.name not in methods:
                print(f"[{m.name}] also run: a chosen logistic-regression row uses its embeddings")
        spec = dataclasses.replace(spec, methods=chosen)
    device = pick_device(device_name)
    resolved = resolve(spec)
    out = Path(out_dir or f"runs/bench/{spec.name}{'-quick' if quick else ''}")
    out.mkdir(parents=True, exist_ok=True)
    env = environment(device, argv)
    (out / "config.yaml").write_text(
        yaml.dump(resolved.as_dict(), Dumper=_NoAliases, sort_keys=False)
    )
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    if dry_run:
        print(f"suite '{spec.name}' is valid; wrote {out / 'config.yaml'}")
        return 0
    run = run_suite(resolved, device)
    write_outputs(out, resolved, run, env, quick)
    print("\n" + (out / "results.md").read_text())
    print(f"wrote {out}/results.csv, results.md, results.png, episodes.csv, config.yaml, "
          f"environment.json, timings.json ({run.timings['total']:.0f}s)")  # fmt: skip
    return 0
