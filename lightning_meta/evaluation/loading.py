"""Load any model for evaluation: a ``.ckpt`` file, an exported directory or an encoder name.

- :func:`load_module_from_checkpoint`: the lightning-meta module a checkpoint was written by
  (safe load: tensors and plain data only);
- :func:`load_module_from_export`: an exported Hugging Face directory (or any encoder name)
  wrapped for evaluation, adapting with the settings its ``meta_learning.json`` records;
- :func:`build_evaluator`: the one place that constructs those evaluation modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_meta.data.config import as_group, group_kwargs
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.importing import import_class
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.config import EncoderConfig
from lightning_meta.reliability.checkpoint import load_checkpoint_state

__all__ = [
    "METHODS", "build_evaluator", "load_any", "load_module_from_checkpoint",
    "load_module_from_export", "module_class",
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
) -> EpisodicModule:
    """An evaluation-only module over the encoder ``backbone``.

    method 'finetune': ``FineTune`` adapting with ``adaptation`` (adapt, head_init, inner_steps,
    inner_lr; FineTune's own defaults for what is missing); method 'centroid': the frozen
    encoder + nearest class centroid (cosine), a ``ProtoNet`` that is never trained.
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
    return FineTune(**group_kwargs(FineTune, args, "adaptation.", strict=True))


def load_module_from_export(
    path: str | Path,
    method: str = "finetune",
    n_way: int = 5,
    overrides: dict[str, Any] | None = None,
) -> EpisodicModule:
    """Build an evaluator over an exported HF directory (or any encoder name).

    method 'finetune': adapt with the inner-loop settings in meta_learning.json (or defaults),
    ``overrides`` replacing any of them; method 'centroid': frozen encoder + nearest class
    centroid (cosine).
    """
    meta = ExportMeta.read(path) or ExportMeta()
    if method == "centroid":
        return build_evaluator(str(path), "centroid", pooling=meta.pooling, n_way=n_way)
    adaptation = {**meta.adaptation(), **(overrides or {})}
    return build_evaluator(str(path), method, meta.pooling, n_way, adaptation)


def load_any(
    path: str, method: str = "finetune", n_way: int = 5, overrides: dict[str, Any] | None = None
) -> EpisodicModule:
    """A .ckpt file, an exported directory, or an encoder name ('minilm')."""
    if path.endswith(".ckpt"):
        if method == "centroid":
            raise ConfigError(
                "method: centroid needs an exported directory or encoder name, not a .ckpt"
            )
        return load_module_from_checkpoint(path)
    return load_module_from_export(path, method=method, n_way=n_way, overrides=overrides)
