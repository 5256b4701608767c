"""``FewShotClassifier``: use a meta-learned model on your own task, scikit-learn style.

    clf = FewShotClassifier.from_pretrained("runs/default/export")   # or a .ckpt, "minilm", ...
    clf.fit(texts, labels)              # adapts with the model's own meta-learned inner loop
    clf.predict(new_texts)              # -> your label names
    clf.predict_proba(new_texts)        # (n, C) array, columns in clf.classes_ order
    clf.score(texts, labels)            # accuracy, macro precision / recall / F1
    clf.save_pretrained("my-classifier")  # reload with from_pretrained: identical predictions

``fit`` runs exactly what evaluation runs on an episode's support set: the pure-torch
:func:`~lightning_meta.algorithms.inner_loop` over the model's adapted tensors (its steps,
learning rate and meta-learned per-tensor rates, its head initialisation), for any number of
classes and unbalanced labelled sets (one example per class is enough). ProtoNet models use the
nearest class mean instead. Prediction embeds the texts in length-sorted batches under the
adapted parameters; the meta-learned weights themselves never change, so ``fit`` can be called
again for another task.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lightning_meta.algorithms.inner_loop import inner_loop
from lightning_meta.algorithms.protonet import protonet_logits
from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation import fewshot_io
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.fewshot_batches import (
    PROGRESS_MIN,
    Label,
    Progress,
    check_labels,
    check_texts,
    encode,
    fit_inputs,
    length_batches,
    pad,
)
from lightning_meta.evaluation.fewshot_recipe import Recipe
from lightning_meta.evaluation.metrics import episode_metrics
from lightning_meta.models.classifier import EpisodicClassifier, class_means, head_logits
from lightning_meta.models.features import EpisodeFeatures

__all__ = ["FewShotClassifier"]


class FewShotClassifier:
    """A meta-learned encoder adapted to your labelled examples (see the module docstring).

    Args:
        model: the encoder with its episodic head settings (pooling, adapted tensors).
        tokenizer: the model's tokenizer (a ``transformers`` tokenizer).
        recipe: how the model adapts (its meta-learned inner loop or prototypes).
        max_length: tokens per text after truncation (special tokens included).
        batch_size: texts per forward pass when predicting.
        device: where to run (default: CUDA when available, else CPU).
        progress: show progress while predicting: True, False, or None (only for inputs of
            1,000 texts or more); a rich bar on a terminal, plain lines otherwise.
        meta: the model's ``meta_learning.json`` (kept, with the recipe, when saving).
    """

    def __init__(
        self,
        model: EpisodicClassifier,
        tokenizer: Any,
        recipe: Recipe,
        *,
        max_length: int = 64,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        progress: bool | None = None,
        meta: ExportMeta | None = None,
    ) -> None:
        if max_length < 2:
            raise ConfigError(f"max_length: must be >= 2, got {max_length}")
        if batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {batch_size}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        self.pad_id = int(getattr(tokenizer, "pad_token_id", None) or 0)
        self.recipe = recipe
        self.max_length, self.batch_size, self.progress = max_length, batch_size, progress
        self.meta = meta or recipe.to_meta()
        self.classes_: list[Label] = []
        """The labels seen by ``fit``, sorted: the columns of ``predict_proba``."""
        self.adapted_: dict[str, Tensor] = {}  # adapted encoder tensors (full shapes)
        self.head_: dict[str, Tensor] = {}  # "weight"/"bias" (inner loop) or "prototypes"

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | Path,
        *,
        tokenizer: str | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        progress: bool | None = None,
        inner_steps: int | None = None,
        inner_lr: float | None = None,
        pair_weight: float | None = None,
    ) -> FewShotClassifier:
        """Load an export directory, a ``.ckpt``, a saved classifier, or an encoder ('minilm').

        ``tokenizer`` / ``max_length`` default to the model's own (the training config's
        ``max_length``, else 64); ``inner_steps`` / ``inner_lr`` / ``pair_weight`` (SetFit's
        cosine pair term in the support loss) override the recipe.
        """
        loaded = fewshot_io.load(str(path_or_name), tokenizer)
        recipe = loaded.recipe
        if inner_steps is not None:
            recipe = replace(recipe, steps=inner_steps)
        if inner_lr is not None:
            recipe = replace(recipe, lr=inner_lr, learned_lrs={})
        if pair_weight is not None:
            recipe = replace(recipe, pair_weight=pair_weight)
        clf = cls(
            loaded.model, loaded.tokenizer, recipe,
            max_length=max_length or loaded.max_length, batch_size=batch_size, device=device,
            progress=progress, meta=loaded.meta,
        )  # fmt: skip
        if loaded.fitted is not None:
            classes, tensors = loaded.fitted

            def part(prefix: str) -> dict[str, Tensor]:
                return {
                    k.removeprefix(prefix): v.to(clf.device)
                    for k, v in tensors.items()
                    if k.startswith(prefix)
                }

            clf.classes_, clf.adapted_, clf.head_ = classes, part("adapted."), part("head.")
        return clf

    @classmethod
    def from_module(
        cls, module: Any, tokenizer: str | None = None, **kwargs: Any
    ) -> FewShotClassifier:
        """Wrap a lightning-meta ``EpisodicModule`` (shares its weights; ``tokenizer`` default:
        the encoder's own, else 'minilm'; ``kwargs`` as ``__init__``)."""
        loaded = fewshot_io.from_module(module, tokenizer)
        return cls(loaded.model, loaded.tokenizer, loaded.recipe, meta=loaded.meta, **kwargs)

    # ---- fitting -----------------------------------------------------------------------
    def fit(self, texts: Any, labels: Any) -> FewShotClassifier:
        """Adapt to labelled examples (two or more classes, any counts); returns ``self``.

        The labelled set is one batch, as a support set is in meta-training (full-batch inner
        SGD): it is meant for few-shot sizes (tens to hundreds of texts), not for thousands.
        """
        texts, ys, classes = fit_inputs(texts, labels)
        index = {c: i for i, c in enumerate(classes)}
        rows = encode(self.tokenizer, texts, self.max_length)
        n = len(classes)
        with torch.inference_mode(False):  # the inner loop needs autograd, also when called
            support = pad(rows, self.pad_id, [index[y] for y in ys]).to(self.device)  # (Ns, T)
            if self.recipe.method == "prototype":
                with torch.no_grad():
                    h = self.model.embed(support)  # (Ns, H)
                    head = {"prototypes": class_means(h, support.labels, n)}  # (C, H)
                adapted: dict[str, Tensor] = {}
            else:
                adapted, head = self._inner_loop(support, n)
        self.classes_, self.adapted_, self.head_ = classes, adapted, head
        return self

    def _inner_loop(
        self, support: TextBatch, n: int
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The model's inner loop on the support set (order 'none': no outer graph)."""
        episode = Episode(support, _empty(support), n_way=n, index=0, split="fit")
        lrs = self.recipe.step_sizes(self.model)
        with torch.enable_grad():
            feats = self.model.features(episode, support_grad=False, query_grad=False)
            out = inner_loop(
                self.model, feats, support.labels, n, self.recipe.steps, lrs, order="none",
                pair_weight=self.recipe.pair_weight,
            )  # fmt: skip
        params = _full_params(self.model, feats, out.params)
        return params, {"weight": out.weight.detach(), "bias": out.bias.detach()}

    # ---- prediction --------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(self.classes_)

    def decision_function(self, texts: Any) -> np.ndarray:
        """(n, C) logits, columns in ``classes_`` order."""
        if not self.is_fitted:
            raise ConfigError("FewShotClassifier: not fitted; call .fit(texts, labels) first")
        texts = check_texts(texts)
        rows = encode(self.tokenizer, texts, self.max_length)
        out = torch.empty(len(rows), len(self.classes_), dtype=torch.float32)  # (n, C)
        show = self.progress if self.progress is not None else len(rows) >= PROGRESS_MIN
        with Progress(len(rows), "predict", show) as bar, torch.inference_mode():
            for idx in length_batches([len(r) for r in rows], self.batch_size):
                batch = pad([rows[i] for i in idx], self.pad_id).to(self.device)
                out[torch.as_tensor(idx)] = self._logits(batch).float().cpu()
                bar.advance(len(idx))
        return out.numpy()

    def _logits(self, batch: TextBatch) -> Tensor:
        if self.recipe.method == "prototype":
            h = self.model.embed(batch)  # (B, H)
            return protonet_logits(h, self.head_["prototypes"], self.recipe.distance)  # (B, C)
        episode = Episode(_empty(batch), batch, n_way=len(self.classes_), index=0, split="predict")
        feats = self.model.features(episode, support_grad=False, query_grad=False)
        h = feats.embed(feats.inner_params(self.adapted_), "query")  # (B, H)
        return head_logits(h, self.head_["weight"], self.head_["bias"])  # (B, C)

    def predict_proba(self, texts: Any) -> np.ndarray:
        """(n, C) class probabilities (float64), columns in ``classes_`` order."""
        logits = torch.from_numpy(self.decision_function(texts)).double()
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, texts: Any) -> list[Label]:
        """The most likely label of every text, as given to ``fit``."""
        best = self.decision_function(texts).argmax(axis=1)
        return [self.classes_[int(i)] for i in best]

    def score(self, texts: Any, labels: Any) -> dict[str, float]:
        """Accuracy and macro precision / recall / F1 on labelled texts (keys acc, precision,
        recall, f1; macro over the classes present in the labels or the predictions)."""
        texts = check_texts(texts)
        ys = check_labels(labels, len(texts))
        index = {c: i for i, c in enumerate(self.classes_)}
        unknown = next((y for y in ys if y not in index), None)
        if unknown is not None and self.is_fitted:
            raise ConfigError(
                f"labels: {unknown!r} is not a class seen by fit ({len(self.classes_)} classes: "
                f"{', '.join(map(repr, self.classes_[:5]))}); score with the fitted classes"
            )
        logits = torch.from_numpy(self.decision_function(texts))
        target = torch.as_tensor([index[y] for y in ys], dtype=torch.long)
        return episode_metrics(logits, target, len(self.classes_))

    # ---- saving ------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the model, tokenizer, recipe and (when fitted) the adapted classifier;
        ``from_pretrained(directory)`` gives identical predictions."""
        tensors = {f"adapted.{k}": v for k, v in self.adapted_.items()}
        tensors.update({f"head.{k}": v for k, v in self.head_.items()})
        return fewshot_io.save(
            Path(directory), self.model, self.tokenizer, self.recipe, self.meta,
            max_length=self.max_length, classes=self.classes_ or None, tensors=tensors,
        )  # fmt: skip

    def __repr__(self) -> str:
        fitted = f"{len(self.classes_)} classes" if self.is_fitted else "not fitted"
        r = self.recipe
        how = (
            f"prototype ({r.distance})"
            if r.method == "prototype"
            else f"{r.algorithm}: adapt={r.adapt}, steps={r.steps}, head_init={r.head_init}"
        )
        return f"FewShotClassifier({how}, {fitted})"


def _empty(batch: TextBatch) -> TextBatch:
    """Zero rows of the same width: the episode half that is not used."""
    return TextBatch(batch.input_ids[:0], batch.attention_mask[:0], batch.labels[:0])


def _full_params(
    model: EpisodicClassifier, feats: EpisodeFeatures, adapted: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Adapted tensors in the model's full shapes (a per-episode compact vocabulary matrix is
    put back into the meta-learned one: rows the support never used are unchanged)."""
    meta = dict(model.encoder.named_parameters())
    out: dict[str, Tensor] = {}
    for name, value in adapted.items():
        full = meta[name].detach()
        value = value.detach()
        if value.shape == full.shape:
            out[name] = value.clone()
            continue
        placed = feats.to_full(name, value)
        hit = feats.to_full(name, torch.ones_like(value)).bool()
        out[name] = torch.where(hit, placed, full)
    return out
