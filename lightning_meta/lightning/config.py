"""Argument groups of the LightningModules (see :mod:`lightning_meta.data.config` for the idea).

- :class:`EncoderConfig` (``encoder``): which transformers encoder and how texts are pooled;
  every method has one.
- :class:`InnerLoopArgs` (``inner``): the user-facing inner loop (what adapts, the per-episode
  head, steps, learning rate, ...) of MAML, Reptile and the fine-tune baseline; it becomes the
  algorithms' :class:`~lightning_meta.algorithms.InnerLoopConfig` with the method's order.
- :class:`NonFiniteConfig` (``nonfinite``): what a NaN/inf loss or gradient does.

YAML::

    model:
      class_path: lightning_meta.lightning.MAML
      init_args:
        encoder: {backbone: minilm, pooling: mean}   # attention: eager (with bf16-mixed)
        inner: {adapt: top1, head_init: prototype, steps: 5, lr: 0.01}
        first_order: true

``FLAT_NAMES`` map the flat argument names of the earlier layout (``inner_lr``, ``on_nonfinite``)
to the fields: :func:`~lightning_meta.data.config.group_kwargs` accepts them, so checkpoints,
exports and overrides written with them still build modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Literal

from lightning_meta.algorithms import InnerLoopConfig
from lightning_meta.errors import ConfigError

__all__ = ["MODEL_GROUPS", "EncoderConfig", "InnerLoopArgs", "NonFiniteConfig", "builder_errors"]


@dataclass(frozen=True)
class EncoderConfig:
    """Encoder: the transformers model under every method and its sentence embedding."""

    backbone: str = "minilm"
    """Transformers encoder: 'minilm' (offline default), a local directory, a hub name, or
    'tiny' (random 2-layer BERT for tests)."""
    pooling: Literal["mean", "cls"] = "mean"
    """Sentence embedding: mean over tokens or the [CLS] token."""
    attention: Literal["eager", "sdpa"] | None = None
    """Attention kernel during training: null (the library default, SDPA for BERT), 'sdpa' or
    'eager'. With ``trainer.precision: bf16-mixed`` on CPU use 'eager': the fused SDPA
    kernel's backward is then the slow part of a step (docs/results.md, "bf16 mixed precision
    for meta-training"). Second-order MAML
    always trains with 'eager'; exports load with the library default."""


@dataclass(frozen=True)
class InnerLoopArgs:
    """Inner loop: what adapts on each episode's support set, and how."""

    adapt: str = "top1"
    """What adapts: 'all', 'head', 'top<k>' (top k layers + head) or 're:<regex>' over
    parameter names (+ head). The rest is meta-learned only."""
    head_init: Literal["zero", "prototype"] = "prototype"
    """Per-episode head: 'prototype' (W=2c_k, b=-|c_k|^2 from the support prototypes) or
    'zero' (zero weights); both make label order irrelevant."""
    steps: int = 5
    """SGD steps on the support set during meta-training."""
    lr: float = 1e-2
    """Inner-loop learning rate (initial value when learned)."""
    learn_lr: bool = False
    """Learn one inner learning rate per adapted tensor (Meta-SGD style)."""
    eval_steps: int | None = None
    """Inner steps at validation/test (null: steps)."""
    backend: Literal["func", "higher"] = "func"
    """Inner-loop implementation: 'func' (torch.func) or 'higher' (the reference)."""
    pair_weight: float = 0.0
    """Support loss = head cross-entropy + this weight x SetFit's cosine pair loss over the
    support embeddings (0: cross-entropy alone), in meta-training and at evaluation."""

    FLAT_NAMES: ClassVar[dict[str, str]] = {
        "adapt": "adapt",
        "head_init": "head_init",
        "inner_steps": "steps",
        "inner_lr": "lr",
        "learn_inner_lr": "learn_lr",
        "eval_inner_steps": "eval_steps",
        "backend": "backend",
        "pair_weight": "pair_weight",
    }

    def validate(self, where: str = "model.inner") -> None:
        if self.steps < 0:
            raise ConfigError(f"{where}.steps: must be >= 0, got {self.steps}; use 0 or more")
        if not self.lr > 0:
            raise ConfigError(f"{where}.lr: must be > 0, got {self.lr}; use e.g. 0.01")
        if self.eval_steps is not None and self.eval_steps < 0:
            raise ConfigError(f"{where}.eval_steps: must be >= 0, got {self.eval_steps}")
        if not self.pair_weight >= 0:
            raise ConfigError(
                f"{where}.pair_weight: must be >= 0, got {self.pair_weight}; use 0 (off) or e.g. 4"
            )

    @property
    def evaluation_steps(self) -> int:
        return self.steps if self.eval_steps is None else self.eval_steps

    def config(self, first_order: bool) -> InnerLoopConfig:
        """The algorithms' inner-loop settings for a method of this order."""
        return InnerLoopConfig(
            steps=self.steps,
            lr=self.lr,
            first_order=first_order,
            learn_lr=self.learn_lr,
            backend=self.backend,
            pair_weight=self.pair_weight,
        )


@dataclass(frozen=True)
class NonFiniteConfig:
    """Non-finite guard: NaN/inf in a loss or gradient."""

    action: Literal["error", "skip"] = "error"
    """'error' stops naming the episode and step (the last good checkpoint stays intact);
    'skip' skips the meta-batch."""
    max_skips: int = 10
    """With 'skip': stop after this many consecutive skipped meta-batches."""

    FLAT_NAMES: ClassVar[dict[str, str]] = {
        "on_nonfinite": "action",
        "max_nonfinite_skips": "max_skips",
    }

    def validate(self, where: str = "model.nonfinite") -> None:
        if self.action not in ("error", "skip"):
            raise ConfigError(f"{where}.action: '{self.action}' is not error or skip")
        if self.max_skips < 0:
            raise ConfigError(f"{where}.max_skips: must be >= 0, got {self.max_skips}")


MODEL_GROUPS: dict[str, type] = {
    "encoder": EncoderConfig,
    "inner": InnerLoopArgs,
    "nonfinite": NonFiniteConfig,
}
"""Argument name -> group class of the LightningModules (for ``flatten``)."""

# bare field names in errors of the encoder/classifier builders -> their config keys
BUILDER_FIELDS = {
    "model": "model.encoder.backbone",  # resolve_pretrained: the encoder could not be found
    "pooling": "model.encoder.pooling",
    "adapt": "model.inner.adapt",
    "head_init": "model.inner.head_init",
}


@contextmanager
def builder_errors() -> Iterator[None]:
    """Re-raise ``adapt: ...`` (from the models layer) as ``model.inner.adapt: ...``."""
    try:
        yield
    except ValueError as err:
        field, sep, rest = str(err).partition(":")
        if not sep or field not in BUILDER_FIELDS or "\n" in str(err):
            raise
        raise ConfigError(f"{BUILDER_FIELDS[field]}{sep}{rest}") from err
