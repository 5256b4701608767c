"""Build a suite method (a lightning-meta module) and meta-train it reproducibly.

Every method is built and trained from a fresh ``seed_everything(seed)``, so its numbers do not
depend on which other methods the suite runs or in which order. Training uses a plain
``pl.Trainer`` (``inference_mode=False``, ``deterministic=True``, no logger, no checkpoints,
no validation) for exactly ``train_steps`` meta-batches.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytorch_lightning as pl
import torch

from lightning_meta.bench.suite.spec import ClassSpec, MethodSpec
from lightning_meta.data.config import group_kwargs, plain
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.importing import import_class
from lightning_meta.lightning import EpisodicModule, FineTune

__all__ = [
    "build_data", "build_method", "check_method", "data_class", "meta_train", "model_class",
    "resolved_args",
]  # fmt: skip

TRAINER_ARGS: dict[str, Any] = {
    "devices": 1,
    "inference_mode": False,
    "deterministic": True,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "limit_val_batches": 0,
    "num_sanity_val_steps": 0,
    "use_distributed_sampler": False,
    "max_epochs": -1,
}


def resolved_args(cls: type, init_args: dict[str, Any], where: str) -> dict[str, Any]:
    """``init_args`` checked against ``cls.__init__`` and completed with its defaults, as plain
    YAML-ready data (argument groups as nested dicts; flat group fields such as ``n_way`` or
    ``meta_batch_size`` overrides are merged into their group)."""
    params = {
        n: p for n, p in inspect.signature(cls.__init__).parameters.items()  # type: ignore[misc]
        if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }  # fmt: skip
    given = group_kwargs(cls, init_args, f"{where}.", strict=True)
    out: dict[str, Any] = {}
    for name, p in params.items():
        if name in given:
            out[name] = given[name]
        elif p.default is not inspect.Parameter.empty:
            out[name] = p.default
        else:
            raise ConfigError(f"{where}.{name}: missing (required by {cls.__name__})")
    return _lists(plain(out))


def _lists(value: Any) -> Any:
    """Tuples as lists, also nested (YAML-ready)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def model_class(spec: ClassSpec, where: str) -> type[EpisodicModule]:
    cls = import_class(spec.class_path, f"{where}.class_path")
    if not issubclass(cls, EpisodicModule):
        raise ConfigError(f"{where}.class_path: {spec.class_path} is not an EpisodicModule")
    return cls


def data_class(spec: ClassSpec, where: str) -> type[pl.LightningDataModule]:
    from lightning_meta.data import TaskDataModule

    cls = import_class(spec.class_path, f"{where}.class_path")
    if not (spec.class_path.startswith("lightning_meta.data") and issubclass(cls, TaskDataModule)):
        raise ConfigError(
            f"{where}.class_path: {spec.class_path} is not a lightning_meta.data TaskDataModule"
        )
    return cls


def optimizer_factory(spec: ClassSpec | None, where: str) -> Any:
    if spec is None:
        return None
    cls = import_class(spec.class_path, f"{where}.class_path")
    if not issubclass(cls, torch.optim.Optimizer):
        raise ConfigError(f"{where}.class_path: {spec.class_path} is not a torch.optim.Optimizer")
    return functools.partial(cls, **spec.init_args)


def _model(method: MethodSpec, where: str) -> ClassSpec:
    if method.model is None:
        raise ConfigError(f"{where}.model: missing (required)")
    return method.model


def check_method(method: MethodSpec, where: str) -> None:
    """Errors a suite can show before any data is read or any model is built."""
    spec = _model(method, where)
    cls = model_class(spec, f"{where}.model")
    resolved_args(cls, spec.init_args, f"{where}.model.init_args")
    if method.optimizer is not None:
        optimizer_factory(method.optimizer, f"{where}.optimizer")
    if method.train_steps > 0 and issubclass(cls, FineTune):
        raise ConfigError(f"{where}.train_steps: FineTune has nothing to meta-train; set 0")
    if method.train_data is not None:
        dcls = data_class(method.train_data, f"{where}.train_data")
        resolved_args(dcls, method.train_data.init_args, f"{where}.train_data.init_args")


def build_method(method: MethodSpec, seed: int, where: str) -> EpisodicModule:
    """A fresh module for ``method`` (seeded: identical weights on every run)."""
    spec = _model(method, where)
    cls = model_class(spec, f"{where}.model")
    args = group_kwargs(cls, spec.init_args, f"{where}.model.init_args.", strict=True)
    factory = optimizer_factory(method.optimizer, f"{where}.optimizer")
    if factory is not None:
        args["optimizer"] = factory
    pl.seed_everything(seed, workers=True, verbose=False)
    return cls(**args)


def build_data(spec: ClassSpec, where: str) -> pl.LightningDataModule:
    cls = data_class(spec, where)
    return cls(**resolved_args(cls, spec.init_args, f"{where}.init_args"))


@contextmanager
def _quiet_and_restored() -> Iterator[None]:
    """Silence Lightning's banner lines; undo ``deterministic=True``'s global switch after."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    loggers = [
        logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def trainer_args(method: MethodSpec, accelerator: str) -> dict[str, Any]:
    return {
        **TRAINER_ARGS,
        "accelerator": accelerator,
        "max_steps": method.train_steps,
        "gradient_clip_val": method.gradient_clip_val,
    }


def meta_train(
    module: EpisodicModule,
    method: MethodSpec,
    data: ClassSpec,
    seed: int,
    accelerator: str,
    where: str,
) -> None:
    """Meta-train ``module`` in place for ``method.train_steps`` meta-batches of ``data``."""
    if method.train_steps == 0:
        return
    dm = build_data(data, f"{where}.train_data")
    with _quiet_and_restored():
        pl.seed_everything(seed, workers=True, verbose=False)
        trainer = pl.Trainer(**trainer_args(method, accelerator))
        trainer.fit(module, datamodule=dm)
    if trainer.global_step != method.train_steps:
        raise RuntimeError(
            f"{where}: meta-training stopped after {trainer.global_step} of {method.train_steps} steps"
        )
