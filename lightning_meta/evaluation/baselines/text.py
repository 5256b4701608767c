"""What the baselines share: episode rows decoded back to text, and the TaskOutput they return."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import TextBatch

__all__ = ["CPU", "decode_rows", "load_tokenizer", "output_from_logits"]

CPU = torch.device("cpu")


@lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    """The tokenizer the episodes were built with ('minilm' = the offline default)."""
    from transformers import AutoTokenizer

    from lightning_meta.resolve import resolve_pretrained

    return AutoTokenizer.from_pretrained(resolve_pretrained(name, field="tokenizer"))


def decode_rows(batch: TextBatch, tokenizer: Any) -> list[str]:
    """The text of each row as the tokenizer reads it back (special and pad tokens dropped):
    what every other row of the table sees, with the same truncation."""
    texts = []
    for ids, mask in zip(batch.input_ids, batch.attention_mask, strict=True):
        real = ids[mask.bool()].tolist()
        texts.append(tokenizer.decode(real, skip_special_tokens=True).strip())
    return texts


def output_from_logits(logits: Tensor, labels: Tensor) -> TaskOutput:
    """A TaskOutput of query ``logits`` (N*Q, N): loss = query cross-entropy, no 'before'."""
    logits = logits.detach().float().cpu()
    loss = F.cross_entropy(logits, labels.cpu())
    nan = torch.tensor(float("nan"))
    return TaskOutput(loss=loss, logits=logits, loss_before=nan, support_loss=nan)
