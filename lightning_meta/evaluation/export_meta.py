"""``meta_learning.json``: what an exported model directory says about how it was trained.

Written by :func:`lightning_meta.callbacks.export.export_module` (the ``HFExport`` callback and
``lightning-meta export``), read by model loading, ``report`` and ``evaluate``. It also holds the
one place where the test-time adaptation defaults live (:data:`ADAPTATION_DEFAULTS`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_meta.data.config import flatten

__all__ = ["ADAPTATION_DEFAULTS", "META_FILE", "ExportMeta", "InnerLoopMeta"]

META_FILE = "meta_learning.json"
# test-time adaptation of an export that does not record its own (or of a plain encoder):
# the top transformer layer + a prototype-initialised head, 5 SGD steps at lr 1e-2 on the
# cross-entropy alone (no SetFit pair term)
ADAPTATION_DEFAULTS: dict[str, Any] = {
    "adapt": "top1",
    "head_init": "prototype",
    "inner_steps": 5,
    "inner_lr": 1e-2,
    "pair_weight": 0.0,
}


@dataclass
class InnerLoopMeta:
    """The inner loop the model was meta-trained with (None: not recorded)."""

    adapt: str | None = None
    head_init: str | None = None
    inner_steps: int | None = None
    eval_inner_steps: int | None = None
    inner_lr: float | None = None
    first_order: bool | None = None
    pair_weight: float | None = None
    """Weight of SetFit's cosine pair loss in the support loss (None: not recorded, i.e. 0)."""
    learned_inner_lrs: dict[str, float] = field(default_factory=dict)
    """Meta-learned step size of every adapted tensor and of the head (``lr_key`` names, e.g.
    ``head__weight``), the exact value of each 0-dim rate (a float32 round-trips through the
    JSON float unchanged), so the export adapts exactly as the checkpoint does."""


@dataclass
class ExportMeta:
    """The fields of ``meta_learning.json``, in the order they are written."""

    algorithm: str = "?"
    pooling: str = "mean"
    inner_loop: InnerLoopMeta = field(default_factory=InnerLoopMeta)
    attn_implementation: str | None = None
    """The encoder's attention implementation when exported ('eager' for second-order MAML and
    the tiny test encoder; None: the library default): loading uses it, so the export scores
    exactly like its checkpoint (sdpa and eager differ in the last float bits)."""
    n_way: int | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    best_checkpoint: str | None = None
    best_val_score: float | None = None
    monitor: str | None = None
    seed: int | None = None
    global_step: int | None = None
    """The step training ended at."""
    exported_step: int | None = None
    """The step the exported checkpoint (the best one) came from."""
    stop_reason: str | None = None
    """Why training stopped: max_steps, max_time, early_stopping, max_epochs, interrupted, other."""
    precision: str | None = None
    """The precision meta-training ran in (``trainer.precision``; with BF16WhereNative, its
    reason, e.g. ``32-true (this CPU has no native bf16: AVX2 only)``)."""
    config: Any = None
    """The run's resolved LightningCLI config (``trainer``, ``model``, ``data``, ...)."""
    soup_of: list[str] | None = None
    """A weight soup (:mod:`~lightning_meta.evaluation.soup`): the exports it averages; the
    fields above are the first one's."""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExportMeta:
        """Known fields of a parsed ``meta_learning.json`` (unknown keys are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        args = {k: v for k, v in raw.items() if k in known and k != "inner_loop"}
        inner_known = {f.name for f in dataclasses.fields(InnerLoopMeta)}
        inner = {k: v for k, v in dict(raw.get("inner_loop") or {}).items() if k in inner_known}
        if inner.get("learned_inner_lrs") is None:
            inner.pop("learned_inner_lrs", None)
        return cls(inner_loop=InnerLoopMeta(**inner), **args)

    @classmethod
    def read(cls, directory: str | Path) -> ExportMeta | None:
        """The metadata of an exported directory; None when it has no ``meta_learning.json``."""
        path = Path(directory) / META_FILE
        if not path.is_file():
            return None
        return cls.from_dict(json.loads(path.read_text()))

    def write(self, directory: str | Path) -> Path:
        """Write ``meta_learning.json`` into ``directory`` atomically (temp file + replace)."""
        out = Path(directory) / META_FILE
        tmp = out.with_name(META_FILE + ".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2, default=str))
        os.replace(tmp, out)
        return out

    def adaptation(self) -> dict[str, Any]:
        """How this model adapts at evaluation time, exactly as it was meta-trained: pooling, the
        inner loop's ``adapt``, ``head_init``, evaluation steps (``eval_inner_steps``, else
        ``inner_steps``), ``inner_lr``, ``pair_weight`` and the meta-learned per-tensor rates
        (``learned_inner_lrs``, ``lr_key`` names -> step size; {} when not learned).

        The one place that reads the recorded inner loop (model loading, ``report``,
        ``evaluate`` and the few-shot recipe all call it). :data:`ADAPTATION_DEFAULTS` fills only
        what is not recorded (None); a recorded 0 (e.g. ``eval_inner_steps: 0``) stays 0.
        """
        inner = self.inner_loop
        steps = inner.inner_steps if inner.eval_inner_steps is None else inner.eval_inner_steps
        recorded = {
            "adapt": inner.adapt,
            "head_init": inner.head_init,
            "inner_steps": steps,
            "inner_lr": inner.inner_lr,
            "pair_weight": inner.pair_weight,
        }
        return {
            "pooling": self.pooling,
            **{k: ADAPTATION_DEFAULTS[k] if v is None else v for k, v in recorded.items()},
            "learned_inner_lrs": {str(k): float(v) for k, v in inner.learned_inner_lrs.items()},
        }

    def provenance(self) -> list[str]:
        """Lines for the top of a results table: which step the export is from, why training
        stopped, and a warning when a time cap, not the step budget, ended it."""
        trainer = (
            ((self.config or {}).get("trainer") or {}) if isinstance(self.config, dict) else {}
        )
        max_steps = trainer.get("max_steps")
        budget = (
            f" of max_steps {max_steps}" if isinstance(max_steps, int) and max_steps > 0 else ""
        )
        lines = [
            f"Exported checkpoint: step {_shown(self.exported_step)} (selected on "
            f"{self.monitor or 'the last step'}); training stopped at step "
            f"{_shown(self.global_step)}{budget}, stop_reason: {self.stop_reason or 'not recorded'}."
        ]
        if self.precision:
            lines.append(f"Meta-trained in precision {self.precision}; scored in fp32.")
        if self.soup_of:
            lines.append(
                f"Uniform weight soup of {len(self.soup_of)} exports (the line above is the "
                f"first one's): {', '.join(self.soup_of)}."
            )
        if self.stop_reason == "max_time":
            lines.append(
                f"WARNING: the time cap (trainer.max_time {trainer.get('max_time', '?')}) ended "
                f"training at step {_shown(self.global_step)}{budget}: these numbers are NOT "
                "those of the configured run; rerun on a faster machine or raise max_time."
            )
        return lines

    def data_args(self) -> dict[str, Any]:
        """``init_args`` of the run's data config with its argument groups spread into flat
        names (``n_way``, ``max_length``, ...); {} when the export records none."""
        data = ((self.config or {}).get("data") or {}) if isinstance(self.config, dict) else {}
        return flatten(dict(data.get("init_args") or {}))


def _shown(step: int | None) -> str:
    return "?" if step is None else str(step)
