"""`lightning-meta report`: the results table of `make train`.

    lightning-meta report --export runs/default/export --episodes 300 --sentiment-episodes 100
    lightning-meta report --config my_report.yaml      # the same options from YAML

Rows: the meta-trained init (adapted per episode with its own inner-loop settings), the
pretrained init with the same fine-tuning, and the frozen pretrained encoder + nearest centroid
(cosine). Columns: accuracy ± 95% CI and macro-F1 ± CI on the held-out classes of the training
data (same class split as training) and on ``sentiment:movie`` (2-way, example-disjoint test
pool). Every row is scored on the identical fixed episodes. Writes results.md and results.csv.
"""

from __future__ import annotations

from pathlib import Path

from jsonargparse import ArgumentParser

from lightning_meta.callbacks.model_card import refresh_model_card
from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.report import build_rows, build_targets, read_export, score_rows
from lightning_meta.evaluation.tables import render_wide, write_csv


def build_parser() -> ArgumentParser:
    p = tool_parser("report", __doc__, config=True)
    p.add_argument(
        "--export", type=str, required=True,
        help="exported model directory (has meta_learning.json)",
    )  # fmt: skip
    p.add_argument(
        "--baseline", type=str, default="minilm", help="pretrained encoder for the baseline rows"
    )
    p.add_argument("--episodes", type=int, default=300, help="fixed test episodes per target")
    p.add_argument("--sentiment-shots", type=int, default=8)
    p.add_argument("--sentiment-episodes", type=int, default=None, help="default: --episodes")
    p.add_argument("--no-sentiment", action="store_true", help="skip the sentiment:movie target")
    p.add_argument(
        "--out", type=str, default=None,
        help="where to write results.md/.csv (default: export's parent)",
    )  # fmt: skip
    return p


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    export = Path(a.export)
    meta, data_args = read_export(export)
    for line in meta.provenance():  # before the scoring starts: a capped run is visible at once
        print(line, flush=True)
    if a.episodes <= 0:
        raise ConfigError(f"episodes: must be positive (got {a.episodes})")
    targets = build_targets(data_args, a.sentiment_shots, sentiment=not a.no_sentiment)
    counts = {t: a.episodes for t in targets}
    for t in targets:
        if t.startswith("sentiment") and a.sentiment_episodes:
            counts[t] = a.sentiment_episodes
    results = score_rows(build_rows(export, meta, a.baseline), targets, counts)
    table = "\n".join([*meta.provenance(), "", render_wide(results, counts)])
    print("\n" + table)
    out = Path(a.out) if a.out else export.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    write_csv(out / "results.csv", results)
    refresh_model_card(export, table)  # the export's README.md shows the table
    print(f"\nwrote {out / 'results.md'} and {out / 'results.csv'}")
    return 0
