"""``SetFitClassifier``: SetFit as the adaptation of an exported model to your labelled texts.

    clf = SetFitClassifier.from_pretrained("runs/families/export")   # or 'minilm', a saved one
    clf.fit(texts, labels)              # SetFit (library defaults) started from those weights
    clf.predict(new_texts)              # -> your label names
    clf.predict_proba(new_texts)        # (n, C) array, columns in clf.classes_ order
    clf.save_pretrained("my-setfit")    # reload with from_pretrained: identical predictions

``fit`` runs exactly the recipe of ``report``'s "meta-trained body + SetFit" row
(:class:`~lightning_meta.evaluation.baselines.SetFitBaseline` with ``normalize``): contrastive
fine-tuning of a fresh copy of the body on pairs of the labelled texts, then scikit-learn's
logistic regression on its unit-length embeddings, with setfit's documented defaults. On long,
topical 5-way tasks (fortunes) it beats the model's own meta-learned fine-tuning by ~3.5
points (docs/results.md); it costs tens of seconds per fit on a CPU instead of about one.
The body's weights never change, so ``fit`` can be called again for another task; a saved
classifier's ``fit`` starts from its saved (already fine-tuned) body.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.fewshot_batches import Label, check_texts, fit_inputs

__all__ = ["SETFIT_FILE", "SetFitClassifier", "is_saved_setfit"]

SETFIT_FILE = "lightning_meta_setfit.json"  # marks a directory saved by SetFitClassifier
FORMAT = 1


def is_saved_setfit(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by :meth:`SetFitClassifier.save_pretrained`."""
    return (Path(path).expanduser() / SETFIT_FILE).is_file()


def _check_body(name: str) -> None:
    """A .ckpt or a saved fine-tuning classifier is not a SetFit body (one line each)."""
    from lightning_meta.evaluation.fewshot_io import FEWSHOT_FILE

    if name.endswith(".ckpt"):
        raise ConfigError(
            f"model: {name}: SetFit needs an exported directory or an encoder name, not a "
            f".ckpt; export it first with `lightning-meta export`"
        )
    if (Path(name).expanduser() / FEWSHOT_FILE).is_file():
        raise ConfigError(
            f"model: {name} is a saved fine-tuning classifier; give SetFit the export it came "
            f"from (or 'minilm')"
        )


class SetFitClassifier:
    """SetFit from a model's weights, scikit-learn style (see the module docstring).

    Args:
        body: exported directory, sentence-transformers directory, or encoder name ('minilm').
        device: where to train and predict (default: setfit's choice, CUDA when available).
        batch_size: texts per forward pass when predicting.
        max_length: tokens per text (default: the body's ``max_seq_length``; an export keeps
            its training ``max_length``).
        seed: setfit's training seed (the report's row uses its default, 42).
    """

    def __init__(
        self,
        body: str,
        *,
        device: str | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
        seed: int = 42,
    ) -> None:
        from lightning_meta.evaluation.baselines import SetFitBaseline

        _check_body(body)
        if batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {batch_size}")
        if max_length is not None and max_length < 2:
            raise ConfigError(f"max_length: must be >= 2, got {max_length}")
        self.body, self.batch_size, self.seed = body, batch_size, seed
        self.recipe = SetFitBaseline(body=body, device=device, normalize=True, seed=seed)
        if max_length is not None:
            self.recipe.base.model_body.max_seq_length = max_length
        self.classes_: list[Label] = []
        """The labels seen by ``fit``, sorted: the columns of ``predict_proba``."""
        self.model_: Any = None  # the fitted setfit.SetFitModel

    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | Path,
        *,
        device: str | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
    ) -> SetFitClassifier:
        """A body to fit (export, encoder name) or a classifier saved after ``fit``."""
        path = str(path_or_name)
        clf = cls(path, device=device, batch_size=batch_size, max_length=max_length)
        if is_saved_setfit(path):
            info = json.loads((Path(path).expanduser() / SETFIT_FILE).read_text())
            if int(info.get("format", 0)) > FORMAT:
                raise ConfigError(
                    f"model: {path}/{SETFIT_FILE} has format {info.get('format')}, newer than "
                    f"this lightning-meta reads ({FORMAT}); upgrade lightning-meta"
                )
            clf.classes_, clf.model_ = list(info["classes"]), clf.recipe.base
        return clf

    # ---- scikit-learn API ----------------------------------------------------------------
    def fit(self, texts: Any, labels: Any) -> SetFitClassifier:
        """SetFit on ``texts`` / ``labels`` (any str/int labels, at least two classes)."""
        texts, ys, classes = fit_inputs(texts, labels)
        index = {c: i for i, c in enumerate(classes)}
        self.model_ = self.recipe.fit(texts, [index[y] for y in ys])
        self.classes_ = classes
        return self

    @property
    def is_fitted(self) -> bool:
        return self.model_ is not None

    def predict_proba(self, texts: Any) -> np.ndarray:
        """(n, C) class probabilities, columns in ``classes_`` order."""
        if self.model_ is None:
            raise ConfigError("SetFitClassifier: call fit(texts, labels) before predicting")
        texts = check_texts(texts)
        proba = self.model_.predict_proba(
            texts, batch_size=self.batch_size, as_numpy=True, show_progress_bar=False
        )
        return np.asarray(proba, dtype=np.float64).reshape(len(texts), len(self.classes_))

    def predict(self, texts: Any) -> list[Label]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def save_pretrained(self, directory: str | Path) -> Path:
        """The fitted model (setfit's own files) plus its classes; reload with
        :meth:`from_pretrained`."""
        if self.model_ is None:
            raise ConfigError("save: fit the classifier before saving it")
        out = Path(directory).expanduser()
        self.model_.save_pretrained(str(out))
        info = {"format": FORMAT, "adaptation": "setfit", "classes": self.classes_,
                "body": self.body, "seed": self.seed}  # fmt: skip
        tmp = out / f"{SETFIT_FILE}.tmp"
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, out / SETFIT_FILE)
        return out

    def __repr__(self) -> str:
        state = f"{len(self.classes_)} classes" if self.is_fitted else "not fitted"
        return f"SetFitClassifier(body={self.body!r}, {state})"
