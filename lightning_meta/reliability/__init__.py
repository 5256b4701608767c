"""Reliability: atomic checkpoints, RNG state in checkpoints, fault injection, config checks.

See docs/reliability.md. Submodules are imported on attribute access (no work at import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning_meta.reliability.atomic_io import AtomicCheckpointIO, atomic_torch_save
    from lightning_meta.reliability.faults import KillAtStep
    from lightning_meta.reliability.rng import RNGState

_EXPORTS = {
    "AtomicCheckpointIO": "lightning_meta.reliability.atomic_io",
    "atomic_torch_save": "lightning_meta.reliability.atomic_io",
    "KillAtStep": "lightning_meta.reliability.faults",
    "RNGState": "lightning_meta.reliability.rng",
}
__all__ = ["AtomicCheckpointIO", "KillAtStep", "RNGState", "atomic_torch_save"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
