"""Where bf16 is native: what decides ``make train``'s precision and what the preflight warns on.

bf16 autocast is 1.5-2.3x faster than fp32 on a CPU with AMX or AVX512-BF16 (docs/results.md,
"bf16 mixed precision for meta-training"), but a CPU without bf16 instructions emulates every
bf16 matmul: on an AVX2-only AMD EPYC here a 512x384 @ 384x1536 matmul took 454 ms in bf16
against 18 ms in fp32, and a bf16 meta-training fit ran ~20x slower than the same fit in fp32.
:func:`native_bf16` tells the two apart; :class:`~lightning_meta.callbacks.BF16WhereNative`
uses it to pick bf16 only where it pays, and the preflight warns when a config asks for bf16
on a device that would emulate it.
"""

from __future__ import annotations

import torch

__all__ = ["BF16_PRECISIONS", "cpu_capability", "native_bf16"]

BF16_PRECISIONS = ("bf16-mixed", "bf16-true", "bf16")


def cpu_capability() -> str:
    """The vector ISA PyTorch's CPU kernels dispatch to (``AVX2``, ``AVX512``, ``DEFAULT``...)."""
    return str(torch.backends.cpu.get_cpu_capability())


def native_bf16(device: torch.device | str) -> str | None:
    """What computes bf16 natively on ``device``: ``"AMX"`` or ``"AVX512-BF16"`` (CPU),
    ``"CUDA"`` (a GPU that supports bf16), or None (bf16 would be emulated, or not checked:
    devices other than CPU and CUDA)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return "CUDA" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else None
    if dev.type != "cpu":
        return None
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX512-BF16"
    return None
