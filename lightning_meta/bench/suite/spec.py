"""The accuracy-suite schema: small typed dataclasses read from ``configs/bench/*.yaml``.

A suite is a matrix ``methods x targets``. Every target's fixed test episodes are built once and
every method is scored on that same list. A method is a lightning-meta module (``class_path`` +
``init_args``) that is meta-trained for ``train_steps`` meta-batches on the suite's ``train``
data (or its own ``train_data``) before evaluation; ``train_steps: 0`` evaluates it as built
(the fine-tuning and frozen nearest-centroid baselines). A method with a ``baseline:`` block
(logistic regression, SetFit, VADER: :mod:`~lightning_meta.bench.suite.baseline_spec`) is never
meta-trained and is scored on the same episodes (or the first ``baseline.episodes`` of them).

Loading checks every field and raises a one-line :class:`ConfigError` that names it, e.g.
``suite.methods[2].train_steps: must be >= 0 (got -1)``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
from argparse import ArgumentError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml
from jsonargparse import ArgumentParser

from lightning_meta.bench.suite import baseline_spec as bs
from lightning_meta.bench.suite.baseline_spec import BaselineSpec
from lightning_meta.errors import ConfigError

__all__ = [
    "BaselineSpec",
    "ClassSpec",
    "MethodSpec",
    "QuickSpec",
    "SuiteSpec",
    "TargetSpec",
    "load_suite",
]

DEFAULT_TRAIN_DATA = "lightning_meta.data.EpisodicDataModule"


@dataclass
class ClassSpec:
    """A class to build: ``class_path`` and keyword ``init_args`` (LightningCLI style)."""

    class_path: str
    init_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class MethodSpec:
    """One row of the table."""

    name: str
    """Row label in results.md/.csv (unique)."""
    model: ClassSpec | None = None
    """A ``lightning_meta.lightning`` module and its init args (null only for a baseline)."""
    train_steps: int = 0
    """Meta-training steps (meta-batches) before evaluation; 0: evaluate as built."""
    train_data: ClassSpec | None = None
    """Meta-training data (default: the suite's ``train``), e.g. an SMLMT DataModule."""
    optimizer: ClassSpec | None = None
    """A ``torch.optim`` class for the outer loop (default: the module's own default)."""
    gradient_clip_val: float | None = None
    """Trainer gradient clipping (leave null for Reptile: it clips inside its own step)."""
    requires: str | None = None
    """A path that must exist (e.g. an exported encoder); the row is skipped when missing."""
    baseline: BaselineSpec | None = None
    """A baseline row (logreg, setfit, vader): no meta-training, its own per-episode learner."""


@dataclass
class TargetSpec:
    """One column group of the table: fixed test episodes of an ``EpisodicDataModule``."""

    name: str
    """Column label (unique)."""
    data: dict[str, Any]
    """``EpisodicDataModule`` init args (source, split, n_way, k_shot, q_query, ...)."""


@dataclass
class QuickSpec:
    """What ``--quick`` changes (null: keep the full value)."""

    episodes: int | None = None
    """Fixed test episodes per target."""
    train_steps: int | None = None
    """Cap on every method's meta-training steps."""
    meta_batch_size: int | None = None
    """Meta-batch size of every training run."""
    methods: list[str] | None = None
    """Only these methods (by name)."""
    capped_episodes: int | None = None
    """Cap on ``baseline.episodes`` of every baseline row that has one (SetFit)."""


@dataclass
class SuiteSpec:
    """A reproducible accuracy benchmark."""

    name: str
    methods: list[MethodSpec]
    targets: list[TargetSpec]
    train: ClassSpec
    """Default meta-training data (class_path defaults to EpisodicDataModule)."""
    episodes: int = 100
    """Fixed test episodes per target (the same list for every method)."""
    seed: int = 0
    """Seeds every method's construction and meta-training, and the test episodes."""
    baseline: str | list[str] | None = None
    """Method(s) whose per-episode scores a paired-difference table each subtracts (or null)."""
    quick: QuickSpec = field(default_factory=QuickSpec)

    @property
    def baselines(self) -> list[str]:
        """``baseline`` as a list."""
        if self.baseline is None:
            return []
        return [self.baseline] if isinstance(self.baseline, str) else list(self.baseline)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _nested(tp: Any) -> tuple[type | None, bool, bool]:
    """``(dataclass, is_list, nullable)`` of a field type that holds dataclasses, else None."""
    args = get_args(tp)
    nullable = get_origin(tp) in (Union, types.UnionType) and type(None) in args
    inner = next((t for t in args if t is not type(None)), tp) if nullable else tp
    if get_origin(inner) is list and dataclasses.is_dataclass(get_args(inner)[0]):
        return get_args(inner)[0], True, nullable
    return (inner if dataclasses.is_dataclass(inner) else None), False, nullable  # type: ignore[return-value]


def _reduce(err: Exception, data: dict[str, Any], hints: dict[str, Any], where: str) -> str:
    """jsonargparse's parse error as one line naming the field."""
    text = str(err)
    if m := re.match(r'Parser key "([^"]+)"', text):
        key = m.group(1)
        value = data.get(key)
        return f"{where}.{key}: expected {_type_name(hints[key])} (got {type(value).__name__} {value!r})"
    if m := re.search(r"arguments are required: ([\w.]+)", text):
        return f"{where}.{m.group(1).split(',')[0]}: missing (required)"
    return f"{where}: {text.splitlines()[0]}"


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping: jsonargparse checks each field against its type
    and fills the defaults; fields holding dataclasses are built the same way, recursively.
    Unknown, missing and null (unless Optional) fields are one-line errors naming the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping (got {type(data).__name__})")
    hints = get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field '{unknown[0]}' (known: {', '.join(fields)})")
    for name in fields:
        if name in data and data[name] is None and type(None) not in get_args(hints[name]):
            raise ConfigError(
                f"{where}.{name}: must not be null (expected {_type_name(hints[name])})"
            )
    nested = {name: _nested(hints[name]) for name in fields if _nested(hints[name])[0] is not None}
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, skip=set(nested))
    flat = {k: copy.deepcopy(v) for k, v in data.items() if k not in nested}
    try:
        kwargs = parser.parse_object(flat).as_dict()
    except ArgumentError as err:
        raise ConfigError(_reduce(err, data, hints, where)) from None
    for name, (sub, is_list, _) in nested.items():
        if name not in data:
            f = dataclasses.fields(cls)[fields.index(name)]
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}.{name}: missing (required)")
            continue
        value = data[name]
        if value is None:
            kwargs[name] = None
        elif is_list:
            if not isinstance(value, list):
                raise ConfigError(f"{where}.{name}: expected a list (got {type(value).__name__})")
            kwargs[name] = [from_dict(sub, v, f"{where}.{name}[{i}]") for i, v in enumerate(value)]  # type: ignore[arg-type]
        else:
            kwargs[name] = from_dict(sub, value, f"{where}.{name}")  # type: ignore[arg-type]
    return cls(**kwargs)


def _unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if not n.strip():
            raise ConfigError(f"{where}[{i}].name: must not be empty")
        if n in seen:
            raise ConfigError(f"{where}[{i}].name: duplicate name '{n}'")
        seen.add(n)


def validate(spec: SuiteSpec) -> SuiteSpec:
    """Value checks the types cannot express (classes are checked when built)."""
    if not spec.methods:
        raise ConfigError("suite.methods: needs at least one method")
    if not spec.targets:
        raise ConfigError("suite.targets: needs at least one target")
    _unique([m.name for m in spec.methods], "suite.methods")
    _unique([t.name for t in spec.targets], "suite.targets")
    if spec.episodes <= 0:
        raise ConfigError(f"suite.episodes: must be positive (got {spec.episodes})")
    for j, name in enumerate(spec.baselines):
        if name not in [m.name for m in spec.methods]:
            at = "" if isinstance(spec.baseline, str) else f"[{j}]"
            raise ConfigError(
                f"suite.baseline{at}: '{name}' is not a method name; use one of "
                f"{', '.join(m.name for m in spec.methods)} or null"
            )
    for i, m in enumerate(spec.methods):
        if m.train_steps < 0:
            raise ConfigError(f"suite.methods[{i}].train_steps: must be >= 0 (got {m.train_steps})")
        if m.model is not None and not m.model.class_path.startswith("lightning_meta.lightning."):
            raise ConfigError(
                f"suite.methods[{i}].model.class_path: '{m.model.class_path}' is not a "
                "lightning_meta.lightning module (MAML, Reptile, ProtoNet, FineTune)"
            )
        if m.optimizer is not None and not m.optimizer.class_path.startswith("torch.optim."):
            raise ConfigError(
                f"suite.methods[{i}].optimizer.class_path: '{m.optimizer.class_path}' is not a torch.optim class"
            )
    bs.check_baselines(spec.methods)
    for i, t in enumerate(spec.targets):
        if "source" not in t.data:
            raise ConfigError(f"suite.targets[{i}].data.source: missing (required)")
    q = spec.quick
    for name in ("episodes", "train_steps", "meta_batch_size", "capped_episodes"):
        value = getattr(q, name)
        if value is not None and value <= 0:
            raise ConfigError(f"suite.quick.{name}: must be positive or null (got {value})")
    known = {m.name for m in spec.methods}
    for i, n in enumerate(q.methods or []):
        if n not in known:
            raise ConfigError(
                f"suite.quick.methods[{i}]: unknown method '{n}' (known: {', '.join(sorted(known))})"
            )
    return spec


def apply_quick(spec: SuiteSpec) -> SuiteSpec:
    """The suite with the ``quick`` overrides applied (and ``quick`` emptied)."""
    q = spec.quick
    methods = (
        list(spec.methods) if q.methods is None else bs.select_methods(spec.methods, q.methods)
    )
    methods = bs.cap_episodes(methods, q.capped_episodes)
    if q.train_steps is not None:
        methods = [
            dataclasses.replace(m, train_steps=min(m.train_steps, q.train_steps)) for m in methods
        ]
    train = spec.train
    if q.meta_batch_size is not None:
        train = ClassSpec(
            train.class_path, {**train.init_args, "meta_batch_size": q.meta_batch_size}
        )
        methods = [
            dataclasses.replace(m, train_data=ClassSpec(
                m.train_data.class_path, {**m.train_data.init_args, "meta_batch_size": q.meta_batch_size}))
            if m.train_data is not None else m
            for m in methods
        ]  # fmt: skip
    return dataclasses.replace(
        spec,
        methods=methods,
        train=train,
        episodes=q.episodes if q.episodes is not None else spec.episodes,
        quick=QuickSpec(),
    )


def load_suite(path: str | Path, quick: bool = False) -> SuiteSpec:
    """Read, type-check and validate a suite YAML; with ``quick``, apply its overrides."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"suite: {p} does not exist (see configs/bench/)")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"suite: {p} is not valid YAML ({str(err).splitlines()[0]})") from None
    if isinstance(raw, dict) and "train" in raw and isinstance(raw["train"], dict):
        raw["train"] = {"class_path": DEFAULT_TRAIN_DATA, **raw["train"]}
    spec = validate(from_dict(SuiteSpec, raw, "suite"))
    return apply_quick(spec) if quick else spec


def to_dict(spec: SuiteSpec) -> dict[str, Any]:
    """Plain data (for the resolved YAML)."""
    return dataclasses.asdict(spec)
