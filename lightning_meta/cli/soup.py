"""`lightning-meta soup`: average the encoder weights of several exports into one (a uniform
model soup), e.g. the same experiment trained with three seeds.

    lightning-meta soup --exports runs/seed0/export runs/seed1/export runs/seed2/export \\
        --out runs/soup/export
    lightning-meta report --export runs/soup/export --only-meta --episodes 100

Every export must come from the same pretrained encoder and adapt the same way; the soup then
evaluates, predicts and reports like any export (its results.md header names the ingredients).
See lightning_meta.evaluation.soup.
"""

from __future__ import annotations

from jsonargparse import ArgumentParser

from lightning_meta.cli.parser import tool_parser


def build_parser() -> ArgumentParser:
    p = tool_parser("soup", __doc__)
    p.add_argument(
        "--exports", type=str, nargs="+", required=True, help="exported directories (2+)"
    )
    p.add_argument("--out", type=str, required=True, help="new directory for the soup")
    return p


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    from lightning_meta.evaluation.soup import soup_exports

    out = soup_exports(a.exports, a.out)
    print(f"wrote the uniform soup of {len(a.exports)} exports to {out}")
    return 0
