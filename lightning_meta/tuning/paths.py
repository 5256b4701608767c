"""Dotted config paths (``model.init_args.inner_lr``) over a parsed LightningCLI config.

The config is the plain ``dict`` LightningCLI prints with ``--print_config`` (every default
filled in), so a path is checked against the real schema of the experiment, whatever shape
the model and data classes give it. A search key names a value that a LightningCLI override
(``--model.init_args.inner_lr=0.03``) can set, or a value inside a list of groups by its
position (``data.init_args.families.2.weight``: the third family's weight), which is set by
overriding the whole list (``--data.init_args.families=[...]``, every other entry unchanged).
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from lightning_meta.errors import ConfigError

MISSING = object()


def _groups(value: Any) -> bool:
    """A non-empty list whose entries are all groups (mappings): traversed by position."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def leaf_paths(config: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every dotted path to a value (a list of plain values counts as one value; a list of
    groups is entered by position)."""
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, prefix=f"{path}.")
        elif _groups(value):
            for i, entry in enumerate(value):
                yield from leaf_paths(entry, prefix=f"{path}.{i}.")
        else:
            yield path


def _child(node: Any, part: str) -> Any:
    if isinstance(node, Mapping):
        return node.get(part, MISSING)
    if _groups(node) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return MISSING


def get_path(config: Mapping[str, Any], path: str) -> Any:
    """The value at ``path``, or :data:`MISSING`."""
    node: Any = config
    for part in path.split("."):
        node = _child(node, part)
        if node is MISSING:
            return MISSING
    return node


def list_root(config: Mapping[str, Any], path: str) -> str | None:
    """The path of the first list of groups on the way to ``path`` (None: no list)."""
    node: Any = config
    parts = path.split(".")
    for i, part in enumerate(parts):
        node = _child(node, part)
        if _groups(node) and i < len(parts) - 1:
            return ".".join(parts[: i + 1])
        if node is MISSING:
            return None
    return None


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
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
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


def overrides(values: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> list[str]:
    """``{"model.init_args.inner_lr": 0.03}`` -> ``["--model.init_args.inner_lr=0.03"]``.

    A path inside a list of groups (``data.init_args.families.2.weight``) becomes one override
    of the whole list, read from ``config`` with every such value set."""
    out: list[str] = []
    lists: dict[str, dict[str, Any]] = {}
    for path, v in values.items():
        root = list_root(config, path) if config is not None else None
        if root is None:
            out.append(f"--{path}={override_value(v)}")
        else:
            lists.setdefault(root, dict(config or {}))
            lists[root] = set_path(lists[root], path, v)
    for root, changed in lists.items():
        out.append(f"--{root}={json.dumps(get_path(changed, root))}")
    return out
