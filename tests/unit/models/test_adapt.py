"""The ``adapt`` spec: validation and which parameters it selects."""

from __future__ import annotations

import logging

import pytest
import torch
from transformers import DistilBertConfig, DistilBertModel

from lightning_meta.algorithms import InnerLoopConfig, maml_task
from lightning_meta.models import EpisodicClassifier, parse_adapt, tiny_encoder
from tests.unit.algorithms.helpers import make_episode, max_diff, meta_grads


@pytest.mark.parametrize(
    "bad", ["re:(", "re:", "top0", "topx", "bottom2", "re:nomatch_anywhere", "top9"]
)
def test_invalid_adapt_is_one_line_value_error(bad: str) -> None:
    with pytest.raises(ValueError) as err:
        EpisodicClassifier(tiny_encoder(layers=2), adapt=bad)
    msg = str(err.value)
    assert msg.startswith("adapt:") and "\n" not in msg
    assert "top" in msg  # names the fix


def test_adapt_selections() -> None:
    enc = tiny_encoder(layers=3)
    names = [n for n, _ in enc.named_parameters()]
    per_layer = sum(n.startswith("encoder.layer.0.") for n in names)
    assert EpisodicClassifier(enc, adapt="head").adapted_names == []
    top2 = EpisodicClassifier(enc, adapt="top2")
    assert len(top2.adapted_names) == 2 * per_layer and top2.cache_start == 1
    assert all(n.startswith(("encoder.layer.1.", "encoder.layer.2.")) for n in top2.adapted_names)
    everything = EpisodicClassifier(enc, adapt="all")
    assert everything.cache_start is None and everything.fixed_names == []
    assert not any(n.startswith("pooler.") for n in everything.adapted_names)  # no path to output
    regex = EpisodicClassifier(enc, adapt=r"re:layer\.2\.output\.")
    assert regex.adapted_names and all("layer.2.output." in n for n in regex.adapted_names)
    assert regex.cache_start == 2
    assert EpisodicClassifier(enc, adapt="re:LayerNorm").cache_start is None  # embeddings adapt
    assert parse_adapt("top12").top_k == 12


def test_unknown_architecture_falls_back_to_full_model(caplog: pytest.LogCaptureFixture) -> None:
    """DistilBERT is not in the BERT-like list: top1 runs the whole model each step, correctly."""
    config = DistilBertConfig(
        vocab_size=30522,
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        dropout=0.0,
        attention_dropout=0.0,
        attn_implementation="eager",
    )
    episode = make_episode()
    grads = {}
    for backend in ("func", "higher"):
        torch.manual_seed(0)
        enc = DistilBertModel(config).double()
        with caplog.at_level(logging.INFO, logger="lightning_meta"):
            model = EpisodicClassifier(enc, adapt="top1")
        assert model.cache_start is None
        assert all(n.startswith("transformer.layer.1.") for n in model.adapted_names)
        out = maml_task(model, episode, InnerLoopConfig(steps=2, lr=0.3, backend=backend))  # type: ignore[arg-type]
        grads[backend] = meta_grads(model, out.loss)
    assert max_diff(grads["func"], grads["higher"]) <= 1e-6
    assert caplog.text.count("runs the whole model") <= 1  # logged once
