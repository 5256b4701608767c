"""Score exports on an experiment's fixed VALIDATION episodes (never test), paired.

    python scripts/score_validation.py --episodes 90 runs/families/export \\
        runs/seed1/runs/families/export runs/soup012/export

    python scripts/score_validation.py --config configs/experiment/families.yaml \
        --config configs/experiment/tune/val_sentiment16.yaml --episodes 96 \
        --only-family "nyt 16-shot" runs/families_mpnet/export runs/families_mpnet/export@top4/37/0.0115

Each export adapts with its own settings (or, written ``EXPORT@ADAPT/STEPS/LR``, with those
test-time settings; ``EXPORT@ADAPT/STEPS/LR/W`` also adds SetFit's cosine pair loss with weight W
to the support loss) on the first N validation episodes of the experiment (default
configs/experiment/families.yaml: its validation families in turn, seed 0; repeated
``--config`` files are merged by LightningCLI, exactly as ``fit`` merges them), the same
episodes for every export; ``--only-family`` scores the episodes of one validation family among
them, and ``--skip N`` leaves out the first N of those (to extend an earlier run with new
episodes). ``setfit:BODY`` (``setfit:mpnet``, ``setfit:minilm`` or ``setfit:EXPORT``) scores
SetFit with its library defaults from that body on the same episodes, as report's SetFit rows (an
export's body gets report's unit-length ``Normalize``); its texts are decoded with the
tokenizer of the first export, so put an export first. ``mix:W:A+B`` scores the weighted average
of two rows' query probabilities (``A`` with weight ``W``, ``B`` with ``1 - W``; ``A`` and ``B``
are specs as above, e.g. ``mix:0.5:setfit:mpnet+runs/x/export``): a row that is also scored on
its own is computed once per episode and shared. Prints each export's mean accuracy,
per validation family, and the paired per-episode difference to the first export and to the
mean of the others (mean ± 95% CI, pp): what docs/results.md ("Seeds") decided the weight soup
on, and, when the episodes span several validation families, the same paired difference per
family. ``--out`` also writes every row's per-episode accuracy (with the episode's family) to a
CSV, for later pairing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from lightning_meta.cli.tune import resolve_config
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.metrics import mean_ci
from lightning_meta.evaluation.scoring import score_module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exports", nargs="+", help="exported directories; the first is the reference")
    p.add_argument("--config", action="append", help="default: configs/experiment/families.yaml")
    p.add_argument("--episodes", type=int, default=90, help="first N validation episodes")
    p.add_argument("--only-family", default=None, help="score one validation family's episodes")
    p.add_argument(
        "--skip", type=int, default=0, help="leave out the first N of those (scored before)"
    )
    p.add_argument("--out", type=Path, default=None, help="write per-episode accuracies (CSV)")
    a = p.parse_args()
    if a.skip < 0:
        raise SystemExit(f"--skip: must be >= 0 (got {a.skip})")
    configs = a.config or ["configs/experiment/families.yaml"]
    data = dict(
        resolve_config([arg for c in configs for arg in ("--config", c)])["data"]["init_args"]
    )
    if a.exports[0].startswith(("setfit:", "mix:")):
        raise SystemExit(f"{a.exports[0]}: put an export first; the other rows decode its episodes")
    by_tokenizer: dict[str, list[Any]] = {}

    def episodes_of(tokenizer: str) -> list[Any]:
        """The chosen validation episodes, built with ``tokenizer`` (once)."""
        if tokenizer not in by_tokenizer:
            tokens = {**(data.get("tokens") or {}), "tokenizer": tokenizer}
            built = fixed_episodes({**data, "tokens": tokens}, a.episodes, "val")
            chosen = [e for e in built if a.only_family in (None, e.task_source)]
            if not chosen:
                raise SystemExit(f"--only-family: no validation episode of '{a.only_family}'")
            by_tokenizer[tokenizer] = chosen[a.skip :]
            if not by_tokenizer[tokenizer]:
                raise SystemExit(f"--skip: {a.skip} leaves none of {len(chosen)} episodes")
            same_tasks(by_tokenizer[tokenizer], next(iter(by_tokenizer.values())))
        return by_tokenizer[tokenizer]

    first = export_tokenizer(adaptation(a.exports[0])[0], data)
    rows = Rows(first, data)
    scores = {}
    for path in a.exports:
        if path.startswith(("setfit:", "mix:")):
            episodes, model = episodes_of(first), rows.get(path)
        else:  # an export on its own: the cached fast path, its own tokenizer's episodes
            export, overrides = adaptation(path)
            episodes = episodes_of(export_tokenizer(export, data))
            model = load_any(export, overrides=overrides)
        scores[path] = np.array([s.acc for s in score_module(model, episodes, progress=path)])
        families = [e.task_source or "all" for e in episodes]
        per = {
            f: 100 * scores[path][[g == f for g in families]].mean()
            for f in dict.fromkeys(families)
        }
        shown = ", ".join(f"{f} {v:.2f}" for f, v in per.items())
        print(f"{path}: val acc {100 * scores[path].mean():.2f} ({shown})", flush=True)
    scored = episodes_of(first)
    families = [e.task_source or "all" for e in scored]
    if a.out is not None:
        write_scores(a.out, a.exports, [e.index for e in scored], families, scores)
    for line in paired_lines(a.exports, families, scores):
        print(line)


def write_scores(
    out: Path,
    rows: list[str],
    indices: list[int],
    families: list[str],
    scores: dict[str, np.ndarray],
) -> None:
    """One line per episode: its index among the validation episodes, its family, every row's
    accuracy."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = ["episode,family," + ",".join(rows)]
    lines += [f"{e},{f}," + ",".join(f"{scores[x][i]:.6f}" for x in rows)
              for i, (e, f) in enumerate(zip(indices, families, strict=True))]  # fmt: skip
    out.write_text("\n".join(lines) + "\n")


def paired_lines(rows: list[str], families: list[str], scores: dict[str, np.ndarray]) -> list[str]:
    """Each row minus the first, paired per episode (pp, mean ± 95% CI), overall and, when the
    episodes span several validation families, per family; then the last row minus the mean
    of the others (three rows or more)."""
    names = list(dict.fromkeys(families))
    masks = {f: np.array([g == f for g in families]) for f in names}
    first, *rest = rows
    lines = []
    for path in rest:
        diff = scores[path] - scores[first]
        lines.append(f"{path} - {first}: {mean_ci(list(diff))} pp")
        if len(names) > 1:
            lines += [f"  {f}: {mean_ci(list(diff[m]))} pp" for f, m in masks.items()]
    if len(rows) >= 3:
        last, others = rows[-1], rows[:-1]
        mean = np.mean([scores[o] for o in others], axis=0)
        lines.append(f"{last} - mean of the others: {mean_ci(list(scores[last] - mean))} pp")
    return lines


def adaptation(spec: str) -> tuple[str, dict[str, Any] | None]:
    """``EXPORT`` -> (EXPORT, None); ``EXPORT@top4/37/0.0115`` -> (EXPORT, test-time overrides);
    a fourth field, ``EXPORT@top2/30/0.02/4``, also sets the SetFit pair-loss weight."""
    export, sep, settings = spec.partition("@")
    if not sep:
        return export, None
    try:
        adapt, steps, lr, *pairs = settings.split("/")
        inner: dict[str, Any] = {"adapt": adapt, "steps": int(steps), "lr": float(lr)}
        if len(pairs) > 1:
            raise ValueError(spec)
        if pairs:
            inner["pair_weight"] = float(pairs[0])
        return export, {"inner": inner}
    except ValueError:
        raise SystemExit(
            f"{spec}: write EXPORT@ADAPT/STEPS/LR[/PAIR_WEIGHT], e.g. EXPORT@top2/15/0.0133"
        ) from None


class Rows:
    """The evaluator of each row spec, built once (a spec inside a ``mix:`` and on its own is
    the same memoized evaluator, so its per-episode outputs are computed once)."""

    def __init__(self, tokenizer: str, data: dict[str, Any]) -> None:
        self.tokenizer, self.data = tokenizer, data
        self.built: dict[str, Any] = {}

    def get(self, spec: str) -> Any:
        if spec not in self.built:
            self.built[spec] = self.build(spec)
        return self.built[spec]

    def build(self, spec: str) -> Any:
        from lightning_meta.evaluation.ensemble import Memoized, ProbabilityAverage

        if spec.startswith("mix:"):
            weight, sep, pair = spec.removeprefix("mix:").partition(":")
            parts = pair.split("+")
            try:
                w = float(weight)
            except ValueError:
                w = float("nan")
            if not sep or len(parts) != 2 or not 0 < w < 1:
                raise SystemExit(
                    f"{spec}: write mix:W:A+B with 0 < W < 1, e.g. mix:0.5:setfit:mpnet+EXPORT"
                )
            return ProbabilityAverage([(self.get(parts[0]), w), (self.get(parts[1]), 1 - w)])
        if spec.startswith("setfit:"):
            from lightning_meta.evaluation.baselines import SetFitBaseline

            body = spec.removeprefix("setfit:")
            normalize = Path(body).is_dir()
            return Memoized(
                SetFitBaseline(body=body, tokenizer=self.tokenizer, normalize=normalize)
            )
        export, overrides = adaptation(spec)  # a mix's member: the first export's episodes
        if export_tokenizer(export, self.data) != self.tokenizer:
            raise SystemExit(f"{spec}: a mix's export must share the first export's tokenizer")
        return Memoized(load_any(export, overrides=overrides))


def export_tokenizer(path: str, data: dict[str, Any]) -> str:
    """The tokenizer the export was meta-trained with (its recorded config), else the config's."""
    meta = json.loads((Path(path) / "meta_learning.json").read_text())
    recorded = ((meta.get("config") or {}).get("data") or {}).get("init_args") or {}
    fallback = (data.get("tokens") or {}).get("tokenizer", "minilm")
    return str((recorded.get("tokens") or {}).get("tokenizer") or fallback)


def same_tasks(a: list[Any], b: list[Any]) -> None:
    """Episodes built with two tokenizers must be the same tasks: classes, labels, sizes."""
    for x, y in zip(a, b, strict=True):
        if (x.task_source, x.class_names, x.index) != (
            y.task_source,
            y.class_names,
            y.index,
        ) or not (
            x.support.labels.equal(y.support.labels) and x.query.labels.equal(y.query.labels)
        ):
            raise SystemExit(f"episode {x.index}: the tokenizers' episodes differ; not comparable")


if __name__ == "__main__":
    main()
