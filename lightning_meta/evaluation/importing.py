"""The one importer of classes and functions named in configs, checkpoints and command tables.

``"package.module.Name"`` (config ``class_path`` style) or ``"package.module:name"`` (entry-point
style). Import failures become one-line :class:`ConfigError`\\ s naming ``where`` the name came
from; callers check what kind of class they got (their messages differ).
"""

from __future__ import annotations

import importlib
from typing import Any

from lightning_meta.errors import ConfigError

__all__ = ["import_class", "import_object"]


def import_object(target: str, where: str) -> Any:
    """The object ``target`` names; ``ConfigError("{where}: cannot import '...'")`` if none."""
    if ":" in target:
        module_name, _, name = target.partition(":")
    else:
        module_name, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"{where}: cannot import '{target}'") from None


def import_class(target: str, where: str) -> type:
    """Like :func:`import_object`, and the object must be a class."""
    cls = import_object(target, where)
    if not isinstance(cls, type):
        raise ConfigError(f"{where}: '{target}' is not a class")
    return cls
