"""Where lightning-meta keeps derived data, and how cache entries are named.

The root is, in order: the ``cache_dir`` argument, the ``LIGHTNING_META_CACHE`` environment
variable, ``~/.cache/lightning_meta``. Entries are named by a short hash of everything that
determines their content (:func:`fingerprint`), so changing any input makes a new entry and an
unchanged input reuses the old one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_ENV = "LIGHTNING_META_CACHE"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root directory (not created here)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lightning_meta"


def fingerprint(obj: Any) -> str:
    """A 16-hex-digit hash of a JSON-serialisable description."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_stamp(path: str | os.PathLike[str]) -> list[Any]:
    """Identity of a file for cache keys: absolute path, size and modification time."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]
