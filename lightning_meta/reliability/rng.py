"""Random-number state in checkpoints, so a resumed run draws the same numbers.

Lightning saves model, optimizer, scheduler, loop and callback states, but not the global RNGs
(torch CPU and CUDA, numpy, Python ``random``). :class:`RNGState` adds them to every checkpoint
as plain data (tensors, ints, floats: loadable with ``weights_only=True``) and restores them when
a run resumes, just before training continues.

Restoring the saved state alone is exact only when nothing draws random numbers between the
checkpoint and the next step in one run but not the other, which Lightning does not promise
(a resumed run rebuilds its DataLoader iterator, which draws a seed; validation may or may not
repeat). So by default the callback also reseeds every generator at the start of each training
batch from ``(seed, batch index)``: the random numbers of batch ``b`` are then a function of the
seed and ``b`` alone, identical in an uninterrupted and a resumed run whatever happened in
between. Set ``reseed_each_step: false`` to keep one continuous stream (restored at resume).
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback


def capture_rng() -> dict[str, Any]:
    """Every global RNG state as tensors and plain Python values."""
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)
    name, key, pos, has_gauss, cached = np_state
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(name),
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng` (missing entries are left alone)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        s = state["numpy"]
        key = s["key"].cpu().numpy().astype(np.uint32)
        np.random.set_state(
            (s["bit_generator"], key, s["pos"], s["has_gauss"], s["cached_gaussian"])
        )
    if "python" in state:
        s = state["python"]
        internal = tuple(int(v) for v in s["internal"].tolist())
        random.setstate((s["version"], internal, s["gauss_next"]))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([t.cpu() for t in cuda])


def step_seed(base: int, batch_index: int) -> int:
    """A 32-bit seed for training batch ``batch_index`` of a run seeded with ``base``."""
    digest = hashlib.sha256(f"lightning-meta:{base}:{batch_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def reseed_all(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), numpy and Python ``random``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class RNGState(Callback):
    """Save/restore all RNG states in checkpoints; reseed per training batch (see module doc)."""

    def __init__(self, reseed_each_step: bool = True, seed: int | None = None) -> None:
        """
        Args:
            reseed_each_step: reseed every generator at the start of each training batch from
                ``(seed, batch index)``, making resumed runs bit-identical whatever Lightning
                does between a checkpoint and the next step.
            seed: base seed (default: ``seed_everything``'s, else 0). A resumed run keeps the
                seed stored in its checkpoint.
        """
        self.reseed_each_step = reseed_each_step
        self.seed = seed
        self._pending: dict[str, Any] | None = None

    @property
    def base_seed(self) -> int:
        if self.seed is not None:
            return self.seed
        return int(os.environ.get("PL_GLOBAL_SEED", "0"))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after Lightning's restore and the DataLoader iterator (which draws a seed)
        if self._pending is not None:
            restore_rng(self._pending)
            self._pending = None

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.reseed_each_step:
            reseed_all(step_seed(self.base_seed, trainer.fit_loop.epoch_loop.total_batch_idx))

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": capture_rng(),
            "seed": self.base_seed,
            "reseed_each_step": self.reseed_each_step,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("rng")
        if state_dict.get("seed") is not None:
            self.seed = int(state_dict["seed"])
