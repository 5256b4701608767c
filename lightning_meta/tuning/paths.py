"""Dotted config paths (``model.init_args.inner_lr``) over a parsed LightningCLI config.

The config is the plain ``dict`` LightningCLI prints with ``--print_config`` (every default
filled in), so a path is checked against the real schema of the experiment, whatever shape
the model and data classes give it. Lists are not traversed: a search key names a value that a
LightningCLI override (``--model.init_args.inner_lr=0.03``) can set.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from lightning_meta.errors import ConfigError

MISSING = object()


def leaf_paths(config: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every dotted path to a non-mapping value (lists count as values)."""
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, prefix=f"{path}.")
        else:
            yield path


def get_path(config: Mapping[str, Any], path: str) -> Any:
    """The value at ``path``, or :data:`MISSING`."""
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def find_key(config: Mapping[str, Any], name: str) -> Any:
    """The value of the first key ``name`` at any depth of ``config`` (depth-first), or
    :data:`MISSING`: reads e.g. ``val_episodes`` whether the data config is flat or grouped."""
    if name in config:
        return config[name]
    for value in config.values():
        if isinstance(value, Mapping):
            found = find_key(value, name)
            if found is not MISSING:
                return found
    return MISSING


def set_path(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``config`` with ``path`` (which must exist) set to ``value``."""
    out = copy.deepcopy(config)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[last] = value
    return out


def resolve_leaf(config: Mapping[str, Any], path: str, field: str) -> Any:
    """The current value at ``path``; one-line ConfigError naming ``field`` when ``path`` is not a
    settable value of this config (unknown, or a group of values), with the nearest paths."""
    value = get_path(config, path)
    leaves = list(leaf_paths(config))
    if value is MISSING:
        last = path.rsplit(".", 1)[-1]
        same_name = [p for p in leaves if p.rsplit(".", 1)[-1] == last]
        near = same_name or difflib.get_close_matches(path, leaves, n=2, cutoff=0.6)
        hint = f"did you mean {' or '.join(near[:2])}?" if near else _siblings(config, path)
        raise ConfigError(f"{field}: not in the experiment config; {hint}")
    if isinstance(value, Mapping) and value:
        inside = [p for p in leaves if p.startswith(path + ".")][:4]
        raise ConfigError(
            f"{field}: '{path}' is a group of values, not one value; search one of "
            f"{', '.join(inside)}"
        )
    return value


def _siblings(config: Mapping[str, Any], path: str) -> str:
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        node = get_path(config, ".".join(parts[:cut]))
        if isinstance(node, Mapping) and node:
            keys = ", ".join(sorted(node)[:8])
            return f"'{'.'.join(parts[:cut])}' holds {keys}"
    return f"top-level keys are {', '.join(sorted(config))}"


def override_value(value: Any) -> str:
    """``value`` as LightningCLI reads it on the command line (strings as is, the rest JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def overrides(values: Mapping[str, Any]) -> list[str]:
    """``{"model.init_args.inner_lr": 0.03}`` -> ``["--model.init_args.inner_lr=0.03"]``."""
    return [f"--{path}={override_value(v)}" for path, v in values.items()]
