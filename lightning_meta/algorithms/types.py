"""Types and small helpers shared by every algorithm (MAML, Reptile, ProtoNet, the `higher`
backend): task outputs, the learned inner learning rates and the query loss before adaptation.
Imports nothing from the algorithm modules, so they can all import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_meta.algorithms.inner_loop import LR, Adapted, InnerLoopConfig, lr_key
from lightning_meta.data.episode import Episode
from lightning_meta.models.classifier import HEAD_BIAS, HEAD_WEIGHT, EpisodicClassifier, head_logits
from lightning_meta.models.features import EpisodeFeatures

__all__ = [
    "ENCODER_PREFIX",
    "ReptileOutput",
    "TaskOutput",
    "accuracy",
    "inner_lr_map",
    "loss_before",
    "make_inner_lrs",
]


@dataclass
class TaskOutput:
    loss: Tensor  # query loss after adaptation (graph to the meta-params when training)
    logits: Tensor  # (N*Q, N) query logits after adaptation, detached
    loss_before: Tensor  # query loss before adaptation, detached (NaN when not computed)
    support_loss: Tensor  # last inner-step support loss, detached


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max logit is the label."""
    return float((logits.argmax(-1) == labels).float().mean())


def make_inner_lrs(
    model: EpisodicClassifier, inner: InnerLoopConfig, values: Mapping[str, float] | None = None
) -> nn.ParameterDict:
    """One inner learning rate per adapted tensor plus the head (Meta-SGD with per-tensor lrs).

    Keys are parameter names with '.' replaced by '__' (``lr_key``), e.g. ``head__weight``.
    Each starts at ``inner.lr``, or at ``values[key]`` (rates meta-learned earlier, e.g. read
    from an export: every key of this model must be there, and no other). Trainable only when
    ``inner.learn_lr``.
    """
    keys = [lr_key(n) for n in [*model.adapted_names, HEAD_WEIGHT, HEAD_BIAS]]
    if values is not None and set(values) != set(keys):
        missing, extra = sorted(set(keys) - set(values)), sorted(set(values) - set(keys))
        raise ValueError(
            f"learned_inner_lrs: the rates are for other tensors than this model adapts "
            f"(missing {missing[:2]}, unexpected {extra[:2]}); evaluate with the adapt setting "
            f"and backbone the model was meta-trained with"
        )
    start = {k: float(inner.lr) if values is None else float(values[k]) for k in keys}
    return nn.ParameterDict(
        {k: nn.Parameter(torch.tensor(v), requires_grad=inner.learn_lr) for k, v in start.items()}
    )


def inner_lr_map(
    model: EpisodicClassifier, inner: InnerLoopConfig, inner_lrs: nn.ParameterDict | None
) -> dict[str, LR]:
    """Step size per adapted name (and head entry): the learned tensor or ``inner.lr``."""
    names = [*model.adapted_names, HEAD_WEIGHT, HEAD_BIAS]
    if inner_lrs is None:
        return {n: float(inner.lr) for n in names}
    missing = [n for n in names if lr_key(n) not in inner_lrs]
    if missing:
        raise ValueError(
            f"inner_lrs: no learning rate for {missing[0]} (and {len(missing) - 1} more); "
            "build them with make_inner_lrs(model, inner) for this adapt setting"
        )
    return {n: inner_lrs[lr_key(n)] for n in names}


def loss_before(feats: EpisodeFeatures, adapted: Adapted, episode: Episode) -> Tensor:
    """Query loss at the meta parameters with the initial head (no graph)."""
    with torch.no_grad():
        hq = feats.embed({}, "query")  # (Nq, H), module's own (meta) parameters
        logits = head_logits(hq, adapted.init_weight, adapted.init_bias)
        return F.cross_entropy(logits, episode.query.labels)


ENCODER_PREFIX = "encoder."  # EpisodicClassifier.encoder in model.named_parameters()


@dataclass
class ReptileOutput:
    grads: dict[str, Tensor]  # per model.named_parameters() name (see module docstring)
    out: TaskOutput
