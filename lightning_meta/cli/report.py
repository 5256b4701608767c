"""`lightning-meta report`: the results table of an exported model.

    lightning-meta report --export runs/families/export --episodes 300 --setfit-episodes 10
    lightning-meta report --export runs/default/export --sentiment-episodes 100
    lightning-meta report --export runs/ablation/export --only-meta --targets sentiment:movie
    lightning-meta report --config my_report.yaml      # the same options from YAML
    lightning-meta report --export runs/families/export --adapt top3 --inner-steps 15 \\
        --inner-lr 0.0223 --setfit-episodes 0   # an adaptation tuned on validation (tune)

Targets: a task-families export is scored on its held-out targets (WordNet test classes and
fortunes test categories 5-way 5-shot, sentiment:movie 2-way 8- and 16-shot); a single-source
export on the held-out classes of its training data and sentiment:movie 2-way. Rows (a
families export; `--rows all` for any): the meta-trained init + its fine-tuning, the
meta-trained embeddings + logistic regression, the pretrained init + the same fine-tuning, the
frozen pretrained encoder + nearest centroid / + logistic regression, VADER (sentiment targets)
and SetFit (the first --setfit-episodes episodes, stated in its label), which also adds SetFit
started from the meta-trained encoder (`meta-trained body + SetFit`; `--setfit-rows baseline`
leaves it out) and, with `--setfit-mix W`, the meta-trained fine-tuning's query probabilities
averaged with SetFit's (SetFit weighted W, chosen on validation; SetFit is fitted once per
episode for both rows). A single-source export
gets the three fine-tuning/centroid rows (`--rows basic`). Every row is scored on the identical
fixed episodes; columns per target: accuracy, macro-F1, macro-precision and macro-recall
± 95% CI and the paired accuracy difference of each meta-trained row to the target's best
baseline; below the table the paired difference to every baseline. Writes results.md,
results.csv (its 11 columns, then best_baseline, delta_best, delta_best_ci, delta_n) and
episodes.csv (row, target, episode, acc, f1), so that two runs scored on the same episodes pair
up: `lightning-meta bench paired A=run1/episodes.csv B=run2/episodes.csv`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from jsonargparse import ArgumentParser, Namespace

from lightning_meta.bench.suite.paired import write_episodes
from lightning_meta.callbacks.model_card import refresh_model_card
from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.paired_table import score_table
from lightning_meta.evaluation.report import is_families, read_export, report_rows, report_targets
from lightning_meta.evaluation.tables import render_wide, write_csv


def build_parser() -> ArgumentParser:
    p = tool_parser("report", __doc__, config=True)
    p.add_argument(
        "--export", type=str, required=True,
        help="exported model directory (has meta_learning.json)",
    )  # fmt: skip
    p.add_argument(
        "--baseline", type=str, default="minilm",
        help="pretrained encoder of the baseline rows (and SetFit's body)",
    )  # fmt: skip
    p.add_argument("--episodes", type=int, default=300, help="fixed test episodes per target")
    p.add_argument("--sentiment-episodes", type=int, default=None, help="default: --episodes")
    p.add_argument(
        "--setfit-episodes", type=int, default=10,
        help="SetFit on the first N episodes of each target (0: no SetFit row)",
    )  # fmt: skip
    p.add_argument(
        "--setfit-rows", type=Literal["both", "baseline"], default="both",
        help="both SetFit rows, or the SetFit baseline only (not meta-trained body + SetFit)",
    )  # fmt: skip
    p.add_argument(
        "--setfit-mix", type=float, default=0.0,
        help="also average the meta-trained fine-tuning's probabilities with SetFit's, SetFit "
        "weighted W in (0, 1) (choose W on validation: scripts/score_validation.py mix:W:...)",
    )  # fmt: skip
    p.add_argument(
        "--sentiment-shots", type=int, default=None,
        help="single-source export: shots of its sentiment:movie target (default 8)",
    )  # fmt: skip
    p.add_argument(
        "--targets", type=str, default=None,
        help="comma-separated target names or sources to score (default: all)",
    )  # fmt: skip
    p.add_argument(
        "--rows", type=Literal["auto", "all", "basic"], default="auto",
        help="all rows, or basic (fine-tuning and centroid); auto: all for a families export",
    )  # fmt: skip
    p.add_argument(
        "--only-meta", action="store_true", help="score the meta-trained rows only (ablations)"
    )
    p.add_argument("--no-sentiment", action="store_true", help="skip the sentiment targets")
    p.add_argument(
        "--inner-steps", type=int, default=None,
        help="fine-tuning rows: inner steps instead of the export's (e.g. tuned on validation)",
    )  # fmt: skip
    p.add_argument("--inner-lr", type=float, default=None, help="fine-tuning rows: inner lr")
    p.add_argument(
        "--adapt", type=str, default=None, help="fine-tuning rows: adapted set (top1, top3, ...)"
    )
    p.add_argument(
        "--pair-weight", type=float, default=None,
        help="fine-tuning rows: weight of SetFit's cosine pair loss added to the support loss",
    )  # fmt: skip
    p.add_argument(
        "--out", type=str, default=None,
        help="where to write results.md/.csv (default: export's parent)",
    )  # fmt: skip
    return p


def _check(episodes: int, sentiment_episodes: int | None, setfit_episodes: int) -> None:
    if episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {episodes})")
    if sentiment_episodes is not None and sentiment_episodes <= 0:
        raise ConfigError(f"sentiment-episodes: must be positive (got {sentiment_episodes})")
    if setfit_episodes < 0:
        raise ConfigError(f"setfit-episodes: must be >= 0 (got {setfit_episodes}); 0: no SetFit")


def adaptation_overrides(a: Namespace, meta: ExportMeta) -> tuple[dict[str, Any], list[str]]:
    """--inner-steps/--inner-lr/--adapt/--pair-weight as evaluation overrides, and the provenance
    line that states them beside the export's own values (none given: {} and no line)."""
    given = {
        "inner_steps": a.inner_steps, "inner_lr": a.inner_lr, "adapt": a.adapt,
        "pair_weight": a.pair_weight,
    }  # fmt: skip
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return {}, []
    if given.get("inner_steps", 1) < 0:
        raise ConfigError(f"inner-steps: must be >= 0 (got {a.inner_steps})")
    if given.get("inner_lr", 1.0) <= 0:
        raise ConfigError(f"inner-lr: must be > 0 (got {a.inner_lr})")
    if given.get("pair_weight", 0.0) < 0:
        raise ConfigError(f"pair-weight: must be >= 0 (got {a.pair_weight}); 0: off")
    own = meta.adaptation()
    shown = ", ".join(f"{k} {given[k]} (export: {own[k]})" for k in ("adapt", "inner_steps",
                      "inner_lr", "pair_weight") if k in given)  # fmt: skip
    return given, [f"Fine-tuning rows adapt with {shown}."]


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    export = Path(a.export)
    meta, data_args = read_export(export)
    adaptation, adapt_lines = adaptation_overrides(a, meta)
    for line in [*meta.provenance(), *adapt_lines]:  # before the scoring: a capped run shows
        print(line, flush=True)
    _check(a.episodes, a.sentiment_episodes, a.setfit_episodes)
    names = [n.strip() for n in a.targets.split(",") if n.strip()] if a.targets else None
    targets = report_targets(
        data_args, a.episodes, a.sentiment_episodes, a.sentiment_shots,
        sentiment=not a.no_sentiment, names=names,
    )  # fmt: skip
    full = a.rows == "all" or (a.rows == "auto" and is_families(data_args))
    rows: Literal["all", "basic"] = "all" if full else "basic"
    tokenizer = str(data_args.get("tokenizer") or "minilm")
    built = report_rows(
        export, meta, a.baseline, rows, a.setfit_episodes, a.only_meta, tokenizer, adaptation,
        a.setfit_rows, a.setfit_mix,
    )  # fmt: skip
    t = score_table(built, targets)
    wide = render_wide(t.results, t.counts, paired=t.paired)
    notes = ["", "Paired accuracy differences (pp, mean ± 95% CI over the episodes both scored):"]
    notes += [f"- {n}" for n in t.notes]
    table = "\n".join([*meta.provenance(), *adapt_lines, "", wide, *(notes if t.notes else [])])
    print("\n" + table)
    out = Path(a.out) if a.out else export.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    write_csv(out / "results.csv", t.results, paired=t.paired)
    write_episodes(out / "episodes.csv", t.episodes)  # for paired comparisons across runs
    if not (a.only_meta or names or adaptation):  # partial or other settings: card kept
        refresh_model_card(export, table)  # the export's README.md shows the table
    print(f"\nwrote {out / 'results.md'}, {out / 'results.csv'} and {out / 'episodes.csv'}")
    return 0
