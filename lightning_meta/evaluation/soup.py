"""Uniform model soup (Wortsman et al. 2022): one export whose encoder weights are the mean of
several exports' (e.g. the same experiment run with different seeds).

Every ingredient must be fine-tuned from the same pretrained encoder and adapt the same way
(pooling, adapted set, head init, inner steps and lr): the soup is scored, used and exported
exactly like each of them. Weights are averaged in float64 and stored in the ingredients'
dtype. The soup directory is the first ingredient's files (tokenizer, sentence-transformers
modules, config) with the averaged ``model.safetensors`` and ``meta_learning.json`` recording
``soup_of`` (the ingredient directories); its selection fields (best checkpoint, score, step)
are the first ingredient's. Whether a soup helps is decided on validation episodes, never on
test (docs/results.md, "Seeds and a weight soup").
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import META_FILE, ExportMeta

__all__ = ["WEIGHTS_FILE", "soup_exports"]

WEIGHTS_FILE = "model.safetensors"
SAME = ("pooling", "adapt", "head_init", "inner_steps", "inner_lr")  # how each one adapts


def _check(exports: Sequence[Path]) -> list[ExportMeta]:
    if len(exports) < 2:
        raise ConfigError(f"exports: a soup needs at least 2 exports (got {len(exports)})")
    if len({p.resolve() for p in exports}) < len(exports):
        raise ConfigError("exports: the same directory is given twice; each counts once")
    metas = []
    for p in exports:
        meta = ExportMeta.read(p)
        if meta is None or not (p / WEIGHTS_FILE).is_file():
            raise ConfigError(
                f"exports: {p} is not an export (needs {META_FILE} and {WEIGHTS_FILE}); pass the "
                f"directories HFExport or `lightning-meta export` wrote"
            )
        metas.append(meta)
    first = metas[0].adaptation()
    for p, meta in zip(exports[1:], metas[1:], strict=True):
        own = meta.adaptation()
        for key in SAME:
            if own[key] != first[key]:
                raise ConfigError(
                    f"exports: {p} adapts with {key}={own[key]!r}, {exports[0]} with "
                    f"{first[key]!r}; soup exports that adapt the same way"
                )
        if own["learned_inner_lrs"] or first["learned_inner_lrs"]:
            raise ConfigError(
                f"exports: {p}: meta-learned per-tensor inner rates cannot be averaged with the "
                f"weights; soup exports without learned rates"
            )
    return metas


def soup_exports(exports: Sequence[str | Path], out: str | Path) -> Path:
    """Write the uniform soup of ``exports`` to ``out`` (must not exist); returns ``out``."""
    import torch
    from safetensors.torch import load_file, save_file

    paths = [Path(p).expanduser() for p in exports]
    target = Path(out).expanduser()
    metas = _check(paths)
    if target.exists():
        raise ConfigError(f"out: {target} already exists; choose a new directory")
    states = [load_file(str(p / WEIGHTS_FILE)) for p in paths]
    names = set(states[0])
    for p, state in zip(paths[1:], states[1:], strict=True):
        if set(state) != names:
            missing = sorted(names.symmetric_difference(state))[0]
            raise ConfigError(
                f"exports: {p} has other tensors than {paths[0]} (e.g. '{missing}'); soup "
                f"exports of the same encoder"
            )
        for k in names:
            if state[k].shape != states[0][k].shape:
                raise ConfigError(
                    f"exports: {p}: tensor '{k}' is {tuple(state[k].shape)}, "
                    f"{tuple(states[0][k].shape)} in {paths[0]}; soup exports of the same encoder"
                )
    mean = {
        k: torch.stack([s[k].double() for s in states]).mean(0).to(states[0][k].dtype)
        for k in states[0]
    }
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(paths[0], tmp)
    save_file(mean, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
    meta = dataclasses.replace(metas[0], soup_of=[str(p) for p in paths])
    meta.write(tmp)
    os.replace(tmp, target)  # never a half-written soup under the final name
    return target
