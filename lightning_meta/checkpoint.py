"""Safe checkpoint loading: tensors and plain containers only, never arbitrary pickles."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from lightning_meta.resolve import ConfigError


def load_checkpoint_state(path: str | Path) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with one-line errors that name the file.

    A checkpoint whose pickle would build arbitrary objects (and so could run code) is refused;
    a truncated or corrupted file gets an error instead of a traceback from deep inside torch.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"checkpoint: {p} does not exist; pass an existing .ckpt file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"checkpoint: refusing to load {p}: it holds objects that are not tensors or plain "
            f"data and could run code ({first[:160]}); only load checkpoints you trust"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"checkpoint: {p} is truncated or corrupted ({first[:160]})") from err
