"""The results table of ``lightning-meta report``: its targets and rows.

Targets. A task-families export (its data config is a ``FamilyDataModule``, it has
``families``): the held-out targets the families were checked against (the recorded
``targets``, else :data:`~lightning_meta.data.family_rules.DEFAULT_TARGETS`: WordNet test
classes and fortunes test categories 5-way 5-shot, ``sentiment:movie`` 2-way 8- and 16-shot),
with the export's ``max_length``, tokenizer and cache, episode seed 0. A single-source export:
the held-out classes of its training data (same class split) and ``sentiment:movie`` 2-way.

Rows (the meta-trained ones start with ``meta-trained``): the meta-trained init + its own
fine-tuning; the meta-trained embeddings + logistic regression; with ``setfit_episodes``,
SetFit's recipe started from the meta-trained encoder; with ``setfit_mix`` W, the meta-trained
fine-tuning's query probabilities averaged with SetFit's (SetFit weight W, fitted once per
episode for both rows, :mod:`~lightning_meta.evaluation.ensemble`); the pretrained init + the same
fine-tuning; the frozen pretrained encoder + nearest centroid; + logistic regression; VADER
(sentiment targets only); SetFit (the first ``setfit_episodes`` episodes). The baseline rows
take every evaluation setting from the export (``meta.adaptation()``), so "same fine-tuning"
differs from the first row in the init only. ``basic`` rows: the first, third and fourth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from lightning_meta.data.family_rules import DEFAULT_TARGETS, HeldOutTarget
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.baselines import (
    LogisticRegressionHead,
    SetFitBaseline,
    VaderZeroShot,
)
from lightning_meta.evaluation.ensemble import Memoized, ProbabilityAverage
from lightning_meta.evaluation.export_meta import META_FILE, ExportMeta
from lightning_meta.evaluation.loading import load_module_from_export
from lightning_meta.evaluation.paired_table import RowSpec, TargetSpec
from lightning_meta.lightning.base import EpisodicModule

META_SETFIT = "meta-trained body + SetFit (library defaults)"
"""SetFit's recipe (same defaults as the SetFit row) started from the meta-trained encoder."""


def mix_row(weight: float) -> str:
    """Name of the row averaging the meta-trained fine-tuning with SetFit (SetFit weight)."""
    return f"meta-trained init + fine-tuning, averaged with SetFit (SetFit weight {weight:g})"


__all__ = [
    "META_SETFIT",
    "build_rows", "build_targets", "family_targets", "is_families", "mix_row", "read_export",
    "report_rows", "report_targets", "target_args",
]  # fmt: skip


def read_export(export: Path) -> tuple[ExportMeta, dict[str, Any]]:
    """The export's metadata and its training data config (one-line errors when missing)."""
    meta = ExportMeta.read(export)
    if meta is None:
        raise ConfigError(f"export: {export} has no {META_FILE}; pass the directory HFExport wrote")
    data_args = meta.data_args()
    if not data_args:
        raise ConfigError(
            f"export: {export}/{META_FILE} holds no data config; was it written by `lightning-meta fit`?"
        )
    return meta, data_args


def is_families(data_args: dict[str, Any]) -> bool:
    """Whether the export's data config is a task-family mixture (``FamilyDataModule``)."""
    return "families" in data_args


def family_targets(data_args: dict[str, Any]) -> list[HeldOutTarget]:
    """The held-out targets of a families data config: recorded, else the defaults."""
    recorded = data_args.get("targets")
    if not recorded:
        return list(DEFAULT_TARGETS)
    out = []
    for i, t in enumerate(recorded):
        given = dict(t)
        if "split_fractions" in given:
            given["split_fractions"] = tuple(given["split_fractions"])
        try:
            out.append(HeldOutTarget(**given))
        except TypeError as err:
            raise ConfigError(f"targets.{i}: {err}") from err
    return out


def target_args(
    t: HeldOutTarget, max_length: int, tokenizer: str = "minilm", cache_dir: str | None = None
) -> dict[str, Any]:
    """DataModule arguments of a target's fixed test episodes (episode seed 0)."""
    args: dict[str, Any] = {
        "source": t.source, "n_way": t.n_way, "k_shot": t.k_shot, "q_query": t.q_query,
        "max_length": max_length, "tokenizer": tokenizer, "seed": 0, "cache_dir": cache_dir,
    }  # fmt: skip
    if t.held_out == "domain":  # the whole domain is unseen: score its example-disjoint test pool
        return {**args, "split_mode": "examples"}
    return {**args, "split_mode": "classes", "split_fractions": list(t.split_fractions),
            "split_seed": t.split_seed}  # fmt: skip


def build_targets(
    data_args: dict[str, Any], sentiment_shots: int = 8, sentiment: bool = True
) -> dict[str, dict[str, Any]]:
    """Single-source export: target name -> DataModule arguments of its fixed test episodes."""
    targets: dict[str, dict[str, Any]] = {
        f"{data_args.get('source', 'wordnet')} test classes {data_args.get('n_way', 5)}-way "
        f"{data_args.get('eval_k_shot') or data_args.get('k_shot', 5)}-shot": data_args,
    }
    if sentiment:
        movie = HeldOutTarget("sentiment:movie", "domain", n_way=2, k_shot=sentiment_shots)
        targets[movie.name] = {
            **target_args(movie, data_args.get("max_length", 64),
                          data_args.get("tokenizer", "minilm"), data_args.get("cache_dir")),
            "seed": data_args.get("seed", 0),
        }  # fmt: skip
    return targets


def _sentiment(args: dict[str, Any]) -> bool:
    return str(args.get("source", "")).startswith("sentiment:")


def report_targets(
    data_args: dict[str, Any],
    episodes: int,
    sentiment_episodes: int | None = None,
    sentiment_shots: int | None = None,
    sentiment: bool = True,
    names: list[str] | None = None,
) -> list[TargetSpec]:
    """The targets of the export's table (see the module doc), ``names`` (target names or
    sources) selecting some; sentiment targets get ``sentiment_episodes`` (default:
    ``episodes``). One-line ConfigErrors before anything is scored."""
    if is_families(data_args):
        if sentiment_shots is not None:
            raise ConfigError(
                "sentiment-shots: a families export is scored on its held-out targets "
                "(sentiment:movie 8- and 16-shot); choose among them with --targets"
            )
        max_length, tok = data_args.get("max_length", 64), data_args.get("tokenizer", "minilm")
        cache = data_args.get("cache_dir")
        given = {t.name: target_args(t, max_length, tok, cache) for t in family_targets(data_args)}
    else:
        given = build_targets(data_args, sentiment_shots or 8)
    if names:
        unknown = [x for x in names if not any(x in (n, a["source"]) for n, a in given.items())]
        if unknown:
            raise ConfigError(
                f"targets: no target named {', '.join(map(repr, unknown))}; this export has "
                f"{'; '.join(given)} (give names or sources, comma-separated)"
            )
        given = {n: a for n, a in given.items() if n in names or a["source"] in names}
    if not sentiment:
        given = {n: a for n, a in given.items() if not _sentiment(a)}
    if not given:
        raise ConfigError("targets: none left to score (drop --no-sentiment or widen --targets)")
    return [
        TargetSpec(n, a, (sentiment_episodes or episodes) if _sentiment(a) else episodes,
                   _sentiment(a))
        for n, a in given.items()
    ]  # fmt: skip


def build_rows(
    export: Path, meta: ExportMeta, baseline: str, adaptation: dict[str, Any] | None = None
) -> dict[str, EpisodicModule]:
    """The three module rows (meta-trained init, pretrained init + same fine-tuning, frozen
    centroid), every evaluation setting from the export, ``adaptation`` (e.g. ``inner_steps``,
    ``inner_lr``, ``adapt``, tuned on validation) replacing some in both fine-tuning rows."""
    same = {**meta.adaptation(), **(adaptation or {})}
    return {
        f"meta-trained init ({meta.algorithm}) + fine-tuning": load_module_from_export(
            export, overrides=adaptation
        ),
        "pretrained init + same fine-tuning": load_module_from_export(baseline, overrides=same),
        "pretrained frozen + nearest centroid": load_module_from_export(
            baseline, "centroid", overrides={"pooling": same["pooling"]}
        ),
    }


def report_rows(
    export: Path,
    meta: ExportMeta,
    baseline: str = "minilm",
    rows: Literal["all", "basic"] = "all",
    setfit_episodes: int = 10,
    only_meta: bool = False,
    tokenizer: str = "minilm",
    adaptation: dict[str, Any] | None = None,
    setfit_rows: Literal["both", "baseline"] = "both",
    setfit_mix: float = 0.0,
) -> dict[str, RowSpec]:
    """Row name -> row, in table order (see the module doc). ``only_meta``: the meta-trained
    rows only (an ablation); ``setfit_episodes`` 0: no SetFit row; ``setfit_rows`` "baseline":
    the SetFit baseline without the meta-trained body + SetFit row (half SetFit's time);
    ``adaptation``: settings replacing the export's in both fine-tuning rows (:func:`build_rows`);
    ``setfit_mix`` W in (0, 1): also the average of the first row's and SetFit's query
    probabilities (:func:`mix_row`), on SetFit's episodes (0: no such row)."""
    if setfit_mix and not 0 < setfit_mix < 1:
        raise ConfigError(
            f"setfit-mix: SetFit's weight must lie in (0, 1) (got {setfit_mix}); 0: no row"
        )
    if setfit_mix and setfit_episodes <= 0:
        raise ConfigError("setfit-mix: needs SetFit episodes (--setfit-episodes > 0)")
    if setfit_mix and rows == "basic":
        raise ConfigError("setfit-mix: the basic rows have no SetFit; pass --rows all")
    pooling = str(meta.adaptation()["pooling"])
    meta_ft = f"meta-trained init ({meta.algorithm}) + fine-tuning"
    modules = (
        {meta_ft: load_module_from_export(export, overrides=adaptation)}
        if only_meta
        else build_rows(export, meta, baseline, adaptation)
    )
    if rows == "basic":
        return {name: RowSpec(m) for name, m in modules.items()}
    first, *pretrained = modules
    out = {
        first: RowSpec(modules[first]),
        "meta-trained embeddings + logistic regression": RowSpec(
            LogisticRegressionHead.from_encoder(str(export))
        ),
    }
    body = "MiniLM" if baseline == "minilm" else baseline
    wanted = setfit_episodes > 0 and (bool(setfit_mix) or not only_meta)
    setfit = Memoized(SetFitBaseline(body=baseline, tokenizer=tokenizer)) if wanted else None
    if setfit is not None and setfit_mix:  # one SetFit fit per episode serves both rows
        out[mix_row(setfit_mix)] = RowSpec(
            ProbabilityAverage([(Memoized(modules[first]), 1 - setfit_mix), (setfit, setfit_mix)]),
            max_episodes=setfit_episodes,
        )
    if setfit_episodes > 0 and setfit_rows == "both":  # SetFit adapting the meta-trained body
        out[META_SETFIT] = RowSpec(
            SetFitBaseline(body=str(export), tokenizer=tokenizer, normalize=True),
            max_episodes=setfit_episodes,
        )
    if only_meta:
        return out
    out.update({name: RowSpec(modules[name]) for name in pretrained})
    out["pretrained frozen + logistic regression"] = RowSpec(
        LogisticRegressionHead.from_encoder(baseline, pooling=pooling)
    )
    out["VADER (zero-shot lexicon)"] = RowSpec(VaderZeroShot(tokenizer), sentiment_only=True)
    if setfit is not None:  # paired with the meta-trained SetFit row: what the init adds
        out[f"SetFit ({body} body, library defaults)"] = RowSpec(
            setfit, max_episodes=setfit_episodes
        )
    return out
