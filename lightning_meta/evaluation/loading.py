"""Evaluate any few-shot method on fixed episodes, and load models from exports or checkpoints."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from lightning_meta.callbacks.export import META_FILE
from lightning_meta.reliability.checkpoint import load_checkpoint_state
from lightning_meta.data.episode import Episode
from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.evaluation.metrics import MeanCI, episode_scores, mean_ci
from lightning_meta.errors import ConfigError


def evaluate_episodes(module: EpisodicModule, episodes: Iterable[Episode]) -> dict[str, MeanCI]:
    """Adapt on every episode's support set, score its query: mean ± 95% CI of acc and F1."""
    accs, f1s = episode_score_lists(module, episodes)
    return {"acc": mean_ci(accs), "f1": mean_ci(f1s)}


def episode_score_lists(
    module: EpisodicModule, episodes: Iterable[Episode]
) -> tuple[list[float], list[float]]:
    """Per-episode query accuracy and macro-F1 after adapting on each support set, in order."""
    module.eval()
    accs: list[float] = []
    f1s: list[float] = []
    device = module.device
    with torch.enable_grad():
        for ep in episodes:
            ep = ep.to(device)
            out = module.evaluate_episode(ep)
            acc, f1 = episode_scores(out.logits, ep.query.labels, ep.n_way)
            accs.append(acc)
            f1s.append(f1)
    return accs, f1s


def _module_class(class_path: str) -> type[EpisodicModule]:
    module_name, _, cls_name = class_path.rpartition(".")
    if not module_name.startswith("lightning_meta."):
        raise ConfigError(
            f"checkpoint: class {class_path} is not a lightning-meta module; refusing to import it"
        )
    cls = getattr(importlib.import_module(module_name), cls_name)
    if not (isinstance(cls, type) and issubclass(cls, EpisodicModule)):
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
    cls = _module_class(str(meta["class_path"]))
    accepted = inspect.signature(cls.__init__).parameters
    hparams = {k: v for k, v in dict(state.get("hyper_parameters", {})).items() if k in accepted}
    module = cls(**hparams)
    module.load_state_dict(state["state_dict"])
    return module


def load_module_from_export(
    path: str | Path,
    method: str = "finetune",
    n_way: int = 5,
    overrides: dict[str, Any] | None = None,
) -> EpisodicModule:
    """Build an evaluator over an exported HF directory (or any encoder name).

    method 'finetune': adapt with the inner-loop settings in meta_learning.json (or defaults);
    method 'centroid': frozen encoder + nearest class centroid (cosine).
    """
    from lightning_meta.lightning import FineTune, ProtoNet

    meta_path = Path(path) / META_FILE
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    pooling = meta.get("pooling", "mean")
    if method == "centroid":
        return ProtoNet(backbone=str(path), pooling=pooling, n_way=n_way, distance="cosine")
    if method != "finetune":
        raise ConfigError(f"method: unknown '{method}'; use finetune or centroid")
    inner = dict(meta.get("inner_loop", {}))
    args: dict[str, Any] = {
        "adapt": inner.get("adapt") or "top1",
        "head_init": inner.get("head_init") or "prototype",
        "inner_steps": inner.get("eval_inner_steps") or inner.get("inner_steps") or 5,
        "inner_lr": inner.get("inner_lr") or 1e-2,
    }
    args.update(overrides or {})
    return FineTune(backbone=str(path), pooling=pooling, n_way=n_way, **args)


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
