"""How a loaded model adapts to a new task: its meta-learned recipe.

A :class:`Recipe` is everything :class:`~lightning_meta.evaluation.fewshot.FewShotClassifier`
needs besides the encoder weights: pooling, what adapts, the head initialisation, the number of
inner steps at evaluation, the inner learning rate and the meta-learned per-tensor rates (or,
for ProtoNet, nearest class mean with its distance). It is read from a LightningModule
(:func:`recipe_from_module`) or from an export's ``meta_learning.json``
(:func:`recipe_from_meta`; defaults for a plain encoder), and written back into the same
:class:`~lightning_meta.evaluation.export_meta.ExportMeta` (:meth:`Recipe.to_meta`), so a saved
classifier is also an export every other command loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from lightning_meta.algorithms.inner_loop import lr_key
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import (
    ADAPTATION_DEFAULTS,
    META_FILE,
    ExportMeta,
    InnerLoopMeta,
)
from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier

Method = Literal["inner_loop", "prototype"]
Distance = Literal["euclidean", "cosine"]
PROTONET = "protonet"


@dataclass(frozen=True)
class Recipe:
    """The meta-learned adaptation of one model (see the module docstring)."""

    method: Method = "inner_loop"
    """``inner_loop``: the model's own inner loop (MAML, FOMAML, Reptile, fine-tuning);
    ``prototype``: nearest class mean of the support embeddings (ProtoNet)."""
    pooling: Literal["mean", "cls"] = "mean"
    """Sentence embedding: mean over tokens or the [CLS] token."""
    adapt: str = ADAPTATION_DEFAULTS["adapt"]
    """What the inner loop adapts: 'all', 'head', 'top<k>' or 're:<regex>'."""
    head_init: Literal["zero", "prototype"] = ADAPTATION_DEFAULTS["head_init"]
    """Head before the first inner step."""
    steps: int = ADAPTATION_DEFAULTS["inner_steps"]
    """Inner SGD steps on the labelled examples (the model's evaluation steps)."""
    lr: float = ADAPTATION_DEFAULTS["inner_lr"]
    """Inner learning rate of every tensor without a learned one."""
    pair_weight: float = ADAPTATION_DEFAULTS["pair_weight"]
    """Weight of SetFit's cosine pair loss added to the inner loop's cross-entropy."""
    learned_lrs: dict[str, float] = field(default_factory=dict)
    """Meta-learned step size per adapted tensor, keyed like ``inner_lrs`` (``lr_key`` names,
    e.g. ``head__weight``)."""
    distance: Distance = "euclidean"
    """ProtoNet distance (``prototype`` method only)."""
    algorithm: str = "finetune"
    """Algorithm that produced the weights (for the model card)."""

    def __post_init__(self) -> None:
        if self.method not in ("inner_loop", "prototype"):
            raise ConfigError(f"method: '{self.method}' is not inner_loop or prototype")
        if self.steps < 0:
            raise ConfigError(f"inner_steps: must be >= 0, got {self.steps}")
        if not self.lr > 0:
            raise ConfigError(f"inner_lr: must be > 0, got {self.lr}; use e.g. 0.01")
        if not self.pair_weight >= 0:
            raise ConfigError(f"pair_weight: must be >= 0, got {self.pair_weight}; use 0 (off)")
        if self.distance not in ("euclidean", "cosine"):
            raise ConfigError(f"distance: '{self.distance}' is not euclidean or cosine")

    def step_sizes(self, model: EpisodicClassifier) -> dict[str, float]:
        """Step size of every adapted tensor and of the head (``inner_loop``'s ``lrs``)."""
        names = [*model.adapted_names, HEAD_WEIGHT, HEAD_BIAS]
        missing = [n for n in names if self.learned_lrs and lr_key(n) not in self.learned_lrs]
        if missing:  # the rates were learned for other tensors: never mix them with ``lr``
            raise ConfigError(
                f"learned_inner_lrs: no learned rate for {missing[0]}; adapt with the tensors "
                f"the model was meta-trained with (adapt={self.adapt})"
            )
        return {n: float(self.learned_lrs.get(lr_key(n), self.lr)) for n in names}

    def to_meta(self, base: ExportMeta | None = None) -> ExportMeta:
        """``base`` (or an empty ``meta_learning.json``) with this recipe written into it."""
        base = base or ExportMeta()
        hp = dict(base.hyperparameters)
        if self.method == "prototype":
            hp["distance"] = self.distance
        inner = InnerLoopMeta(
            adapt=self.adapt,
            head_init=self.head_init,
            inner_steps=self.steps
            if base.inner_loop.inner_steps is None
            else base.inner_loop.inner_steps,
            eval_inner_steps=self.steps,
            inner_lr=self.lr,
            first_order=base.inner_loop.first_order,
            pair_weight=self.pair_weight,
            learned_inner_lrs=dict(self.learned_lrs),
        )
        algorithm = PROTONET if self.method == "prototype" else self.algorithm
        return replace(
            base, algorithm=algorithm, pooling=self.pooling, inner_loop=inner, hyperparameters=hp
        )


def recipe_from_module(module: Any) -> Recipe:
    """The recipe of a lightning-meta ``EpisodicModule`` (MAML, Reptile, ProtoNet, FineTune)."""
    model: EpisodicClassifier = module.model
    if getattr(module, "algorithm", "") == PROTONET:
        return Recipe(
            method="prototype", pooling=model.pooling, adapt="head", head_init="prototype",
            steps=0, distance=module.distance, algorithm=PROTONET,
        )  # fmt: skip
    return Recipe(
        pooling=model.pooling,
        adapt=model.adapt,
        head_init=model.head_init,
        steps=int(module.eval_steps),
        lr=float(module.inner.lr),
        pair_weight=float(module.inner.pair_weight),
        learned_lrs=dict(module.learned_inner_lrs()),
        algorithm=str(module.algorithm),
    )


def recipe_from_meta(meta: ExportMeta | None) -> Recipe:
    """The recipe an export records (None: a plain encoder, fine-tuning defaults)."""
    if meta is None:
        return Recipe()
    pooling: Literal["mean", "cls"] = "cls" if meta.pooling == "cls" else "mean"
    if meta.algorithm == PROTONET:
        distance: Distance = (
            "cosine" if meta.hyperparameters.get("distance") == "cosine" else "euclidean"
        )
        return Recipe(
            method="prototype", pooling=pooling, adapt="head", steps=0, distance=distance,
            algorithm=PROTONET,
        )  # fmt: skip
    # the same reading of the recorded inner loop as every evaluator (None: not recorded)
    settings = meta.adaptation()
    return Recipe(
        pooling=pooling,
        adapt=str(settings["adapt"]),
        head_init=cast(Literal["zero", "prototype"], settings["head_init"]),
        steps=int(settings["inner_steps"]),
        lr=float(settings["inner_lr"]),
        pair_weight=float(settings["pair_weight"]),
        learned_lrs=dict(settings["learned_inner_lrs"]),
        algorithm=meta.algorithm if meta.algorithm != "?" else Recipe().algorithm,
    )


def read_meta(directory: str | Path) -> ExportMeta | None:
    """``meta_learning.json`` of an export directory (None when it has none)."""
    try:
        return ExportMeta.read(directory)
    except (json.JSONDecodeError, TypeError) as err:
        raise ConfigError(
            f"model: {Path(directory) / META_FILE} is not a valid meta_learning.json ({err}); "
            f"re-export the model"
        ) from None


def find_key(tree: Any, key: str) -> Any:
    """First value stored under ``key`` anywhere in nested dicts/lists (None when absent):
    reads training settings (``max_length``, ``tokenizer``) from a saved config whatever its
    grouping."""
    if isinstance(tree, dict):
        if key in tree and tree[key] is not None:
            return tree[key]
        children: Any = tree.values()
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for child in children:
        found = find_key(child, key)
        if found is not None:
            return found
    return None
