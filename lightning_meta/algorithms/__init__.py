"""Pure-torch meta-learning algorithms (no Lightning): functional inner loop, MAML/FOMAML,
Reptile, ProtoNet and the fine-tune baseline (``maml_task(..., training=False)``)."""

from lightning_meta.algorithms.inner_loop import (
    Adapted,
    InnerLoopConfig,
    inner_loop,
    lr_key,
    support_grads,
)
from lightning_meta.algorithms.maml import adaptation_curve, maml_task
from lightning_meta.algorithms.protonet import COSINE_SCALE, protonet_logits, protonet_task
from lightning_meta.algorithms.reptile import reptile_task
from lightning_meta.algorithms.types import (
    ReptileOutput,
    TaskOutput,
    accuracy,
    inner_lr_map,
    loss_before,
    make_inner_lrs,
)

__all__ = [
    "COSINE_SCALE",
    "Adapted",
    "InnerLoopConfig",
    "ReptileOutput",
    "TaskOutput",
    "accuracy",
    "adaptation_curve",
    "inner_loop",
    "inner_lr_map",
    "loss_before",
    "lr_key",
    "maml_task",
    "make_inner_lrs",
    "protonet_logits",
    "protonet_task",
    "reptile_task",
    "support_grads",
]
