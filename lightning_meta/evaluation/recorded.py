"""The data settings a model was trained with, for evaluating it on its own held-out split.

``evaluate`` given an export or a checkpoint of a run on the same source takes the split
(fractions, mode, seed, class lists), the columns, ``max_length`` and the tokenizer from what
the run recorded (an export's ``meta_learning.json`` config, a checkpoint's DataModule
hyper-parameters), unless a flag overrides them; :func:`overlap_warning` says when an override
makes the evaluated classes (or examples) overlap the ones the model was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_meta.data.config import AUTO_TOKENIZER, flatten
from lightning_meta.evaluation.episodes import build_datamodule
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.resolve import backbone_tokenizer

__all__ = [
    "SOURCE_SETTINGS", "SPLIT_SETTINGS", "model_tokenizer", "overlap_warning", "recorded_data",
    "same_source", "split_classes",
]  # fmt: skip

SPLIT_SETTINGS = (
    "split_fractions", "split_mode", "split_seed", "train_classes", "val_classes", "test_classes",
)  # fmt: skip
"""The settings that decide which classes (or examples) each split holds."""
SOURCE_SETTINGS = ("text_column", "label_column", "config_name", "hub_split")
"""How the source is read: taken over with the split when the source is the same."""
MODEL_SETTINGS = ("max_length", "tokenizer")
"""Taken from the recorded run whatever the evaluated source (they belong to the model)."""


def _checkpoint_data(path: str) -> dict[str, Any]:
    state = load_checkpoint_state(path)
    data = dict(state.get("datamodule_hyper_parameters") or {})
    model = dict(state.get("hyper_parameters") or {})
    encoder = model.get("encoder")  # grouped hyper-parameters, or the flat earlier layout
    backbone = encoder.get("backbone") if isinstance(encoder, dict) else model.get("backbone")
    if isinstance(backbone, str):
        data.setdefault("_backbone", backbone)
    return data


def recorded_data(model: str) -> dict[str, Any]:
    """The flat DataModule arguments (``source``, ``split_seed``, ``max_length``, ...) the run
    that produced ``model`` recorded; {} for an encoder name or a model that records none. A
    checkpoint's ``tokenizer`` is its backbone's own when the run recorded none (or 'auto')."""
    if model.endswith(".ckpt"):
        args = flatten(_checkpoint_data(model))
        backbone = args.pop("_backbone", None)
    else:
        path = Path(model)
        meta = ExportMeta.read(path) if path.is_dir() else None
        args = meta.data_args() if meta is not None else {}
        backbone = model
    if args.get("tokenizer") == AUTO_TOKENIZER:
        args.pop("tokenizer")
    if "tokenizer" not in args and model.endswith(".ckpt") and isinstance(backbone, str):
        args["tokenizer"] = backbone_tokenizer(backbone)  # the checkpoint's encoder's own
    return args


def model_tokenizer(model: str) -> str:
    """The tokenizer of an export or encoder that records none: an export directory's own
    files (else the MiniLM vocabulary its 'tiny' or MiniLM encoder uses), an encoder name's own
    (a checkpoint's comes from :func:`recorded_data`)."""
    path = Path(model)
    if path.is_dir():
        has_files = any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))
        return model if has_files else backbone_tokenizer("tiny")
    return backbone_tokenizer(model)


def same_source(recorded: Mapping[str, Any], source: str, data_files: list[str] | None) -> bool:
    """True when ``source`` (+ ``data_files``) is the source the run recorded (paths compared
    after resolving them)."""

    def norm(value: Any) -> str:
        text = str(value)
        path = Path(text).expanduser()
        return str(path.resolve()) if path.exists() else text

    if "source" not in recorded or norm(recorded["source"]) != norm(source):
        return False
    files = [norm(f) for f in recorded.get("data_files") or ()]
    return files == [norm(f) for f in data_files or ()]


def split_classes(data_args: Mapping[str, Any], split: str) -> tuple[str, list[str]]:
    """The split mode and the class names of ``split`` under ``data_args`` (reads the cached
    tokenised corpus; no episodes are built)."""
    dm = build_datamodule(dict(data_args))
    corpus = dm.load_corpus()
    plan = dm.make_plan(corpus.labels, corpus.class_names)
    return plan.mode, [corpus.class_names[c] for c in plan.classes(split)]


def overlap_warning(
    recorded: Mapping[str, Any], effective: Mapping[str, Any], split: str
) -> str | None:
    """A one-line warning when the evaluated ``split`` under ``effective`` holds classes the
    recorded run trained on (class split), or when a changed example split may put training
    texts into it (example split); None when the split settings are the recorded ones."""
    changed = [
        k for k in SPLIT_SETTINGS if k in effective and _differs(recorded.get(k), effective[k])
    ]
    if split == "train" or not changed:
        return None
    trained = {**effective, **{k: recorded[k] for k in (*SPLIT_SETTINGS, "n_way") if k in recorded}}
    mode, train = split_classes(trained, "train")
    _, evaluated = split_classes(effective, split)
    where = ", ".join(f"{k}={effective[k]!r} (trained: {recorded.get(k)!r})" for k in changed)
    if mode == "examples":
        return (
            f"WARNING: {where}: the model was trained on an example split of these classes; a "
            f"different example split puts training texts into the {split} episodes"
        )
    overlap = sorted(set(train) & set(evaluated))
    if not overlap:
        return None
    return (
        f"WARNING: {where}: {len(overlap)} of the {len(evaluated)} {split} classes are classes "
        f"the model was trained on: {', '.join(overlap)}; the scores are not held-out scores "
        f"(drop the override to evaluate on the run's own {split} classes)"
    )


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [str(x) for x in a] != [str(x) for x in b]
    return a != b
