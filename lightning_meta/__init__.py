"""lightning-meta: meta-learning and meta-pretraining of NLP encoders with PyTorch Lightning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FewShotClassifier", "SetFitClassifier", "__version__"]

if TYPE_CHECKING:
    from lightning_meta.evaluation.fewshot import FewShotClassifier
    from lightning_meta.evaluation.setfit_classifier import SetFitClassifier

_LAZY = {
    "FewShotClassifier": "lightning_meta.evaluation.fewshot",
    "SetFitClassifier": "lightning_meta.evaluation.setfit_classifier",
}


def __getattr__(name: str) -> Any:
    """Import the public classes on first use: ``import lightning_meta`` stays cheap."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lightning_meta' has no attribute {name!r}")
