"""Thin LightningModules over the pure-torch algorithms."""

from lightning_meta.lightning.base import EpisodicModule
from lightning_meta.lightning.finetune import FineTune
from lightning_meta.lightning.maml import MAML
from lightning_meta.lightning.protonet import ProtoNet
from lightning_meta.lightning.reptile import Reptile

__all__ = ["MAML", "EpisodicModule", "FineTune", "ProtoNet", "Reptile"]
