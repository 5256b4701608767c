"""scripts/finetune_ceiling.py: masked mean pooling in padded batches, and training that learns."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from lightning_meta.data.tokens import load_tokenizer
from lightning_meta.models import tiny_encoder

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "finetune_ceiling", SCRIPTS / "finetune_ceiling.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TEXTS = ["good", "a good film", "bad", "a bad and dull film that drags on", "good good", "bad bad"]
LABELS = np.array([1, 1, 0, 0, 1, 0])


def test_predict_pads_batches_without_changing_any_prediction(script: ModuleType) -> None:
    tok = load_tokenizer("minilm")
    torch.manual_seed(0)
    model = script.MeanPoolClassifier(tiny_encoder(seed=3), 2)
    # reference: each text alone (no padding), pooled over all of its tokens by hand
    ref = []
    with torch.no_grad():
        for text in TEXTS:
            enc = tok([text], return_tensors="pt")
            hidden = model.encoder(**enc).last_hidden_state[0]
            ref.append(int(model.head(hidden.mean(0)).argmax()))
    got = script.predict(model, tok, TEXTS, max_length=32, bf16=False, batch_size=4)
    assert got.tolist() == ref
    logits = model(
        *[tok(TEXTS, padding=True, return_tensors="pt")[k] for k in ("input_ids", "attention_mask")]
    )
    assert logits.argmax(-1).tolist() == ref


def test_train_epoch_fits_a_separable_toy_task(script: ModuleType) -> None:
    tok = load_tokenizer("minilm")
    torch.manual_seed(0)
    model = script.MeanPoolClassifier(tiny_encoder(seed=1), 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    losses = [
        script.train_epoch(
            model, opt, tok, TEXTS, LABELS, rng, batch_size=3, max_length=32, bf16=False
        )
        for _ in range(30)
    ]
    assert losses[-1] < 0.05 < losses[0]
    assert (script.predict(model, tok, TEXTS, max_length=32, bf16=False) == LABELS).all()


def test_binomial_ci_matches_the_normal_approximation(script: ModuleType) -> None:
    # 3 of 4 correct: 75%, half-width 1.96 * sqrt(0.75 * 0.25 / 4) = 0.4244
    assert script.binomial_ci(np.array([1, 1, 1, 0])) == "75.00 ± 42.44"
