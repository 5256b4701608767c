"""Atomic, safe checkpoint IO: a kill during saving never leaves a truncated checkpoint.

:class:`AtomicCheckpointIO` replaces Lightning's ``TorchCheckpointIO``. A save serialises to a
hidden temporary file in the *same directory* (``.last.ckpt.<pid>.tmp``), flushes and fsyncs it,
then ``os.replace``-s it over the target and fsyncs the directory. ``os.replace`` within one
filesystem is atomic, so at every instant the target is either the complete old checkpoint or the
complete new one. (Lightning's default writes through an fsspec transaction whose temporary file
lives in the system temp directory; when that is another filesystem the final move is a copy
into the target, which a kill can cut short, and nothing is fsynced.) The temporary name never
matches Lightning's ``last*.ckpt`` pattern, so ``--ckpt_path last`` cannot pick up a partial
write; stale temporaries of dead processes are removed by the next save to the same target.

Loading is safe by default: ``torch.load(weights_only=True)`` (tensors and plain containers
only), with one-line errors that name the file (see :mod:`lightning_meta.reliability.checkpoint`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lightning_meta.reliability.checkpoint import load_checkpoint_state

log = logging.getLogger(__name__)
TMP_SUFFIX = ".tmp"


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_path(target: Path, pid: int | None = None) -> Path:
    """Hidden temporary file beside ``target`` (never matches ``last*.ckpt``)."""
    return target.with_name(f".{target.name}.{os.getpid() if pid is None else pid}{TMP_SUFFIX}")


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temporaries of ``target`` left by processes that no longer exist."""
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*{TMP_SUFFIX}"):
        pid_text = tmp.name[len(target.name) + 2 : -len(TMP_SUFFIX)]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj, path)`` that is atomic and durable on a local filesystem."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    remove_stale_temps(target)
    return target


def _is_local(path: Any) -> bool:
    return "://" not in str(path) or str(path).startswith("file://")


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic local writes and safe (``weights_only``) loads.

    Remote paths (``s3://`` ...) fall back to Lightning's implementation. ``weights_only=None``
    (Lightning's default) is treated as ``True``: pass ``--weights_only false`` only for a
    checkpoint you trust that really holds pickled objects.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_torch_save(checkpoint, str(path).removeprefix("file://"))

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable[..., Any] | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        if not _is_local(path) or weights_only is False:
            return super().load_checkpoint(
                path, map_location=map_location, weights_only=weights_only
            )
        return load_checkpoint_state(str(path).removeprefix("file://"), map_location=map_location)
