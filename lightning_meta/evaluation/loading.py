"""Load any model for evaluation: a ``.ckpt`` file, an exported directory or an encoder name.

- :func:`load_module_from_checkpoint`: the lightning-meta module a checkpoint was written by
  (safe load: tensors and plain data only);
- :func:`load_module_from_export`: an exported Hugging Face directory (or any encoder name)
  wrapped for evaluation, adapting with the settings its ``meta_learning.json`` records;
- :func:`build_evaluator`: the one place that constructs those evaluation modules.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_meta.algorithms.types import make_inner_lrs
from lightning_meta.data.config import as_group, flatten, group_kwargs
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.importing import import_class
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.config import MODEL_GROUPS, EncoderConfig
from lightning_meta.models.encoder import ensure_eager
from lightning_meta.reliability.checkpoint import load_checkpoint_state

__all__ = [
    "METHODS", "build_evaluator", "checkpoint_overrides", "evaluation_settings", "load_any",
    "load_module_from_checkpoint", "load_module_from_export", "module_class",
]  # fmt: skip

# finetune: adapt on the support set; centroid: frozen encoder + nearest class centroid (cosine)
METHODS = ("finetune", "centroid")


def module_class(class_path: str) -> type[EpisodicModule]:
    """The ``EpisodicModule`` subclass a checkpoint names (lightning-meta classes only)."""
    module_name, _, _ = class_path.rpartition(".")
    if not module_name.startswith("lightning_meta."):
        raise ConfigError(
            f"checkpoint: class {class_path} is not a lightning-meta module; refusing to import it"
        )
    cls = import_class(class_path, "checkpoint.class_path")
    if not issubclass(cls, EpisodicModule):
        raise ConfigError(f"checkpoint: {class_path} is not an EpisodicModule")
    return cls


def load_module_from_checkpoint(path: str | Path) -> EpisodicModule:
    """Rebuild a lightning-meta module from a .ckpt (safe load: tensors and plain data only)."""
    state = load_checkpoint_state(path)
    meta = state.get("lightning_meta")
    if not isinstance(meta, dict) or "class_path" not in meta:
        raise ConfigError(
            f"checkpoint: {path} was not written by lightning-meta (no 'lightning_meta' entry)"
        )
    cls = module_class(str(meta["class_path"]))
    # plain dicts (argument groups as nested dicts; flat names of older checkpoints too) ->
    # the constructor's arguments; keys it does not take (_class_path, n_way, ...) are dropped
    hparams = group_kwargs(cls, dict(state.get("hyper_parameters", {})))
    module = cls(**hparams)
    module.load_state_dict(state["state_dict"])
    return module


def build_evaluator(
    backbone: str,
    method: str = "finetune",
    pooling: str = "mean",
    n_way: int = 5,
    adaptation: dict[str, Any] | None = None,
    learned_inner_lrs: Mapping[str, float] | None = None,
) -> EpisodicModule:
    """An evaluation-only module over the encoder ``backbone``.

    method 'finetune': ``FineTune`` adapting with ``adaptation`` (adapt, head_init, inner_steps,
    inner_lr; FineTune's own defaults for what is missing) and, when given, the meta-learned
    step size of every adapted tensor (``learned_inner_lrs``, fixed, as ``inner_lrs``); method
    'centroid': the frozen encoder + nearest class centroid (cosine), a ``ProtoNet`` that is
    never trained.
    """
    from lightning_meta.lightning import FineTune, ProtoNet

    # n_way is not a module argument (heads are built per episode from the episode's n_way)
    encoder = {"backbone": backbone, "pooling": pooling}
    if method == "centroid":
        return ProtoNet(distance="cosine", encoder=as_group(EncoderConfig, encoder, "model"))
    if method != "finetune":
        raise ConfigError(f"method: unknown '{method}'; use finetune or centroid")
    # adaptation: flat (adapt, inner_steps, inner_lr, ...) or grouped ({"inner": {"lr": ...}})
    args = {"encoder": encoder, **(adaptation or {})}
    module = FineTune(**group_kwargs(FineTune, args, "adaptation.", strict=True))
    if learned_inner_lrs:
        try:
            rates = make_inner_lrs(module.model, module.inner, learned_inner_lrs)
        except ValueError as err:
            raise ConfigError(f"{err} (model: {backbone})") from None
        module.inner_lrs = rates.to(module.device)
    return module


def evaluation_settings(
    meta: ExportMeta, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``meta.adaptation()`` with ``overrides`` (flat names or grouped blocks) replacing any of
    them. Overriding ``inner_lr`` or ``adapt`` drops the learned per-tensor rates (they replace
    the scalar lr and belong to the adapted tensors they were learned for)."""
    given = flatten(dict(overrides or {}), MODEL_GROUPS)
    settings = {**meta.adaptation(), **given}
    if ("inner_lr" in given or "adapt" in given) and "learned_inner_lrs" not in given:
        settings["learned_inner_lrs"] = {}
    return settings


def load_module_from_export(
    path: str | Path,
    method: str = "finetune",
    n_way: int = 5,
    overrides: dict[str, Any] | None = None,
) -> EpisodicModule:
    """Build an evaluator over an exported HF directory (or any encoder name).

    Settings: :func:`evaluation_settings` of its meta_learning.json (ExportMeta defaults for a
    plain encoder), ``overrides`` (e.g. another export's ``meta.adaptation()``: the same
    pooling and inner loop) replacing any of them. method 'finetune': adapt exactly as
    recorded, learned per-tensor rates included; method 'centroid': frozen encoder + nearest
    class centroid (cosine) with that pooling.
    """
    meta = ExportMeta.read(path) or ExportMeta()
    settings = evaluation_settings(meta, overrides)
    pooling = str(settings.pop("pooling"))
    if method == "centroid":
        return build_evaluator(str(path), "centroid", pooling=pooling, n_way=n_way)
    learned = settings.pop("learned_inner_lrs") or None
    module = build_evaluator(str(path), method, pooling, n_way, settings, learned)
    if meta.attn_implementation == "eager":  # as exported: the same numbers as its checkpoint
        log = logging.getLogger(ensure_eager.__module__)  # its note is about second order
        level = log.level
        log.setLevel(logging.WARNING)
        try:
            ensure_eager(module.model.encoder)
        finally:
            log.setLevel(level)
    return module


def load_any(
    path: str, method: str = "finetune", n_way: int = 5, overrides: dict[str, Any] | None = None
) -> EpisodicModule:
    """A .ckpt file, an exported directory, or an encoder name ('minilm').

    ``overrides`` replace recorded evaluation settings; a checkpoint takes ``inner_steps``
    (its evaluation steps) and ``inner_lr`` (which replaces learned rates), nothing else."""
    if path.endswith(".ckpt"):
        if method == "centroid":
            raise ConfigError(
                "method: centroid needs an exported directory or encoder name, not a .ckpt"
            )
        return checkpoint_overrides(load_module_from_checkpoint(path), overrides)
    return load_module_from_export(path, method=method, n_way=n_way, overrides=overrides)


def checkpoint_overrides(
    module: EpisodicModule, overrides: Mapping[str, Any] | None
) -> EpisodicModule:
    """A checkpoint's module evaluating with ``inner_steps`` / ``inner_lr`` overridden (a
    one-line error for any other setting: export the checkpoint to change what adapts)."""
    given = flatten(dict(overrides or {}), MODEL_GROUPS)
    other = sorted(set(given) - {"inner_steps", "eval_inner_steps", "inner_lr"})
    if other:
        raise ConfigError(
            f"{other[0]}: a .ckpt evaluates with its own settings (inner steps and lr can be "
            f"overridden); export it (`lightning-meta export`) to change {other[0]}"
        )
    steps = given.get("eval_inner_steps", given.get("inner_steps"))
    if steps is not None:
        if int(steps) < 0:
            raise ConfigError(f"inner_steps: must be >= 0, got {steps}")
        module.eval_steps = int(steps)
    if given.get("inner_lr") is not None:
        module.inner = dataclasses.replace(module.inner, lr=float(given["inner_lr"]))
        module.inner_lrs = None
    return module
