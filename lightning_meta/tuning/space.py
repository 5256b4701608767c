"""The search space: a small YAML of config paths -> distributions.

    model.init_args.inner_lr: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
    model.init_args.inner_steps: {type: int, low: 1, high: 10}
    model.init_args.adapt: {type: categorical, choices: [head, top1, top2]}

``float`` and ``int`` take ``low``/``high`` (inclusive), optional ``log`` or ``step``;
``categorical`` takes ``choices``. :func:`load_space` checks the shape and ranges,
:func:`check_against_config` checks every key against the experiment's parsed config; both fail
before the first trial with one line naming the key.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from lightning_meta.errors import ConfigError
from lightning_meta.tuning.paths import resolve_leaf

TYPES = ("float", "int", "categorical")
FIELDS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Param:
    """One searched config value."""

    path: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Scalar, ...] = ()

    def contains(self, value: Any) -> bool:
        """True when ``value`` is a point of this distribution (the experiment's default)."""
        if self.type == "categorical":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.type == "int" and value != int(value):
            return False
        low, high = float(self.low or 0), float(self.high or 0)
        if not low <= value <= high:
            return False
        if self.step is None:
            return True
        k = (value - low) / self.step
        return math.isclose(k, round(k), abs_tol=1e-9)

    def bounds(self) -> list[Any]:
        """Values that exercise the whole range (for the parse check)."""
        return list(self.choices) if self.type == "categorical" else [self.low, self.high]


def _number(key: str, name: str, value: Any, integer: bool) -> float | int:
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"space: {key}: {name} must be a finite number (got {value!r})")
    if integer:
        if value != int(value):
            raise ConfigError(f"space: {key}: {name} must be an integer for type int (got {value})")
        return int(value)
    return float(value)


def parse_param(key: str, spec: Any) -> Param:
    """One ``path: {type: ..., ...}`` entry -> :class:`Param` (shape and range checks)."""
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(
            f"space: {key}: expected a mapping with a type, e.g. {{type: float, low: 0.001, "
            f"high: 0.1, log: true}} (got {spec!r})"
        )
    kind = spec["type"]
    if kind not in TYPES:
        raise ConfigError(f"space: {key}: type '{kind}' is not one of {', '.join(TYPES)}")
    unknown = sorted(set(spec) - FIELDS[kind])
    if unknown:
        raise ConfigError(
            f"space: {key}: unknown field(s) {', '.join(unknown)} for type {kind}; "
            f"use {', '.join(sorted(FIELDS[kind]))}"
        )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"space: {key}: categorical needs a non-empty list of choices")
        if any(isinstance(c, (list, dict)) for c in choices) or len(set(map(repr, choices))) < len(
            choices
        ):
            raise ConfigError(f"space: {key}: choices must be distinct scalars (got {choices})")
        return Param(path=key, type=kind, choices=tuple(choices))
    integer = kind == "int"
    for name in ("low", "high"):
        if name not in spec:
            raise ConfigError(f"space: {key}: type {kind} needs both low and high")
    low = _number(key, "low", spec["low"], integer)
    high = _number(key, "high", spec["high"], integer)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"space: {key}: log must be true or false (got {log!r})")
    step = None if spec.get("step") is None else _number(key, "step", spec["step"], integer)
    if low > high or (low == high and kind == "float"):
        raise ConfigError(f"space: {key}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ConfigError(f"space: {key}: log scale needs low > 0 (got {low})")
    if step is not None:
        if step <= 0:
            raise ConfigError(f"space: {key}: step must be > 0 (got {step})")
        if log:
            raise ConfigError(f"space: {key}: use either log or step, not both")
    return Param(path=key, type=kind, low=low, high=high, log=log, step=step)


def load_space(source: str | Path | Mapping[str, Any]) -> list[Param]:
    """Parse a space YAML file (or an already loaded mapping); at least one key."""
    field = "space"
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        path = Path(source)
        field = f"--space {path}"
        if not path.is_file():
            raise ConfigError(f"{field}: file does not exist; pass a YAML such as configs/tune/")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"{field}: not valid YAML ({str(err).splitlines()[0]})") from err
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{field}: expected a mapping of config paths to distributions")
    return [parse_param(str(key), spec) for key, spec in raw.items()]


def check_against_config(params: list[Param], config: Mapping[str, Any]) -> dict[str, Any]:
    """Every key is a settable value of the parsed experiment config, of a matching kind.

    Returns the experiment's current value at each path (the untuned defaults).
    """
    defaults: dict[str, Any] = {}
    for p in params:
        value = resolve_leaf(config, p.path, field=f"space: {p.path}")
        if p.type != "categorical" and value is not None:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not numeric:
                raise ConfigError(
                    f"space: {p.path}: the experiment's value {value!r} is not a number; "
                    f"search it as type categorical"
                )
        defaults[p.path] = value
    return defaults


def bound_vectors(params: Sequence[Param]) -> list[dict[str, Any]]:
    """Value sets that together visit every range end and every choice of every param."""
    n = max(len(p.bounds()) for p in params)
    return [{p.path: p.bounds()[i % len(p.bounds())] for p in params} for i in range(n)]


def suggest(trial: optuna.trial.Trial, params: list[Param]) -> dict[str, Any]:
    """The trial's value for every param, by path (Optuna's param name is the path)."""
    values: dict[str, Any] = {}
    for p in params:
        if p.type == "categorical":
            values[p.path] = trial.suggest_categorical(p.path, list(p.choices))
        elif p.type == "int":
            values[p.path] = trial.suggest_int(
                p.path, int(p.low or 0), int(p.high or 0), step=int(p.step or 1), log=p.log
            )
        else:
            values[p.path] = trial.suggest_float(
                p.path, float(p.low or 0.0), float(p.high or 0.0), step=p.step, log=p.log
            )
    return values
