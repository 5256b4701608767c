"""Safe checkpoint loading: tensors and plain containers only, never arbitrary pickles.

Every ``.ckpt`` the package reads (``evaluate``, ``HFExport``, ``--ckpt_path`` resumes through
:class:`~lightning_meta.reliability.AtomicCheckpointIO`) goes through
:func:`load_checkpoint_state`: ``torch.load(weights_only=True)``, whose unpickler only builds
tensors, numbers, strings and containers, so a crafted file cannot run code while loading. Any
failure becomes a one-line :class:`ConfigError` that names the file.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lightning_meta.errors import ConfigError

MapLocation = str | torch.device | Callable[..., Any] | dict[str, str] | None


def _informative_line(err: BaseException) -> str:
    """The line of a (long, multi-line) torch error that says what went wrong."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for key in ("GLOBAL", "Unsupported", "Unpickler error", "failed finding", "failed reading"):
        for ln in lines:
            if key in ln and not ln.startswith("Weights only load failed"):
                return ln[:200]
    return (lines[0] if lines else type(err).__name__)[:200]


def load_checkpoint_state(path: str | Path, map_location: MapLocation = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with one-line errors that name the file.

    A checkpoint whose pickle would build arbitrary objects (and so could run code) is refused;
    a truncated or corrupted file gets an error instead of a traceback from deep inside torch.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"checkpoint: {p} does not exist; pass an existing .ckpt file")
    if not p.is_file():
        raise ConfigError(f"checkpoint: {p} is not a file; pass a .ckpt file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Detected pickle protocol ..." on garbage input
            state = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err) and "global" in str(err).lower():
            raise ConfigError(
                f"checkpoint: refusing to load {p}: it holds objects that are not tensors or plain "
                f"data and could run code ({_informative_line(err)}); only load checkpoints you "
                f"trust, re-saved as plain state dicts"
            ) from err
        raise ConfigError(
            f"checkpoint: {p} is truncated or corrupted ({_informative_line(err)}); "
            f"use another checkpoint (e.g. an earlier one in the same directory)"
        ) from err
    except Exception as err:  # torch raises RuntimeError, EOFError, KeyError, ... on bad bytes
        raise ConfigError(
            f"checkpoint: {p} is truncated or corrupted ({_informative_line(err)}); "
            f"use another checkpoint (e.g. an earlier one in the same directory)"
        ) from err
    if not isinstance(state, dict):
        raise ConfigError(
            f"checkpoint: {p} holds a {type(state).__name__}, not a checkpoint dict; "
            f"pass a .ckpt written by Lightning"
        )
    return state
