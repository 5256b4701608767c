"""SetFit (Tunstall et al. 2022) per episode: contrastive fine-tuning of the sentence encoder on
pairs of support texts, then a logistic-regression head on its embeddings.

Each episode starts from a fresh copy of the same body (``minilm``: the offline MiniLM-L6
sentence-transformers directory every other row uses; or an export, for SetFit as a test-time
adaptation of the meta-trained encoder, with ``normalize`` giving it the same unit-length
embeddings as MiniLM's own stack) and trains with the library's
documented defaults (setfit 1.x ``TrainingArguments``: ``batch_size=(16, 2)``,
``num_epochs=(1, 16)``, ``sampling_strategy="oversampling"``, ``num_iterations=None``,
``body_learning_rate=(2e-5, 1e-5)``, scikit-learn ``LogisticRegression`` head); only the
logging, saving and progress bars are switched off. Texts are the episode rows decoded with
the episode's tokenizer (:mod:`.text`). Query logits: log of ``predict_proba``, (N*Q, N).
"""

from __future__ import annotations

import copy
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.baselines.text import (
    CPU,
    decode_rows,
    load_tokenizer,
    output_from_logits,
)
from lightning_meta.resolve import resolve_pretrained

__all__ = ["SetFitBaseline"]


@contextmanager
def _quiet() -> Iterator[None]:
    """No per-episode progress bars from datasets/transformers (restored afterwards)."""
    import datasets
    from transformers.utils import logging as hf_logging

    bars = datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # the Trainer's own tqdm follows it (``disable_tqdm``)
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars[0]:
            datasets.enable_progress_bars()
        if bars[1]:
            hf_logging.enable_progress_bar()


class SetFitBaseline:
    """SetFit trained on each episode's support set, scored on its query set."""

    def __init__(
        self,
        body: str = "minilm",
        tokenizer: str = "minilm",
        num_iterations: int | None = None,
        num_epochs: int = 1,
        batch_size: int = 16,
        body_learning_rate: float = 2e-5,
        seed: int = 42,
        device: str | None = None,
        normalize: bool = False,
    ) -> None:
        """
        Args:
            body: sentence-transformers body: 'minilm' or a local model directory.
            tokenizer: the tokenizer the episodes were built with (to decode their rows).
            num_iterations: pairs per support text (null: setfit's oversampling default).
            num_epochs: contrastive epochs of the body (setfit default 1).
            batch_size: pairs per contrastive step (setfit default 16).
            body_learning_rate: body learning rate (setfit default 2e-5).
            seed: setfit's training seed.
            device: 'cpu', 'cuda', ... (default: setfit's choice).
            normalize: end the body with a unit-length ``Normalize`` module if it has none
                (an export's stack is Transformer + mean Pooling; MiniLM's adds Normalize).
        """
        from sentence_transformers.models import Normalize
        from setfit import SetFitModel

        path = resolve_pretrained(body, field="body")
        logging.getLogger("setfit").setLevel(logging.WARNING)
        self.base: Any = SetFitModel.from_pretrained(path, device=device)
        stack = self.base.model_body
        if normalize and not any(isinstance(m, Normalize) for m in stack):
            stack.append(Normalize())
        self.tokenizer = load_tokenizer(tokenizer)
        self.num_iterations, self.num_epochs, self.batch_size = (
            num_iterations,
            num_epochs,
            batch_size,
        )
        self.body_learning_rate, self.seed = body_learning_rate, seed

    @property
    def device(self) -> torch.device:
        return CPU  # episodes stay on the CPU: only their texts are used

    def eval(self) -> SetFitBaseline:
        return self

    def fit(self, texts: list[str], labels: list[int]) -> Any:
        """A fresh copy of the body trained with SetFit on ``texts``; the trained model."""
        from datasets import Dataset
        from setfit import Trainer, TrainingArguments

        model = copy.deepcopy(self.base)
        with tempfile.TemporaryDirectory() as tmp:
            args = TrainingArguments(
                output_dir=tmp, batch_size=self.batch_size, num_epochs=self.num_epochs,
                num_iterations=self.num_iterations, body_learning_rate=self.body_learning_rate,
                seed=self.seed, report_to="none", show_progress_bar=False, save_strategy="no",
                logging_strategy="no", logging_first_step=False,
            )  # fmt: skip
            data = Dataset.from_dict({"text": texts, "label": labels})
            with _quiet():
                Trainer(model=model, args=args, train_dataset=data).train()
        return model

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        texts = decode_rows(episode.support, self.tokenizer)
        model = self.fit(texts, episode.support.labels.tolist())
        proba = model.predict_proba(decode_rows(episode.query, self.tokenizer), as_numpy=True)
        logits = torch.log(torch.as_tensor(proba, dtype=torch.float32).clamp_min(1e-12))
        return output_from_logits(logits, episode.query.labels)
