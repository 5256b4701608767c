"""Exports others can use: SentenceTransformer(export) pools like lightning-meta (mean or CLS)
and gives the same embeddings; the model card says what the model is and shows the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lightning_meta.callbacks.model_card import refresh_model_card, write_export_extras
from lightning_meta.evaluation.export_meta import ExportMeta, InnerLoopMeta
from lightning_meta.evaluation.fewshot import FewShotClassifier
from lightning_meta.evaluation.fewshot_batches import encode, pad
from lightning_meta.lightning import MAML
from lightning_meta.models import EpisodicClassifier, tiny_encoder
from tests.unit.fewshot.helpers import QUERY, SUPPORT, module

TEXTS = [t for t, _ in QUERY] + ["a longer sentence, so that the batch has padding in it"]
CONFIG = {"data": {"init_args": {"tokens": {"max_length": 24}, "source": "wordnet"}},
          "model": {"init_args": {"encoder": {"backbone": "minilm"}}}}  # fmt: skip


def _export(tmp_path: Path, pooling: str) -> tuple[Path, Any, Any]:
    from transformers import AutoTokenizer

    from lightning_meta.data.tokens import load_tokenizer

    out = tmp_path / f"export-{pooling}"
    encoder = tiny_encoder(seed=3)
    encoder.save_pretrained(out)
    tok: Any = load_tokenizer("minilm")
    tok.save_pretrained(out)
    meta = ExportMeta(
        algorithm="fomaml", pooling=pooling, config=CONFIG, best_val_score=0.8, global_step=50,
        monitor="val/acc", inner_loop=InnerLoopMeta(adapt="top1", inner_steps=5, inner_lr=0.01),
    )  # fmt: skip
    meta.write(out)
    write_export_extras(out, meta, encoder)
    assert isinstance(AutoTokenizer.from_pretrained(out), type(tok))
    return out, encoder, tok


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_sentence_transformers_gives_the_same_embeddings(tmp_path: Path, pooling: str) -> None:
    from sentence_transformers import SentenceTransformer

    out, encoder, tok = _export(tmp_path, pooling)
    st = SentenceTransformer(str(out), device="cpu")
    assert st.max_seq_length == 24
    got = st.encode(TEXTS, convert_to_numpy=True)
    model = EpisodicClassifier(encoder, pooling=pooling)  # type: ignore[arg-type]
    with torch.no_grad():
        want = model.embed(pad(encode(tok, TEXTS, 24), int(tok.pad_token_id))).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    other = "cls" if pooling == "mean" else "mean"
    with torch.no_grad():
        wrong = EpisodicClassifier(encoder, pooling=other).embed(  # type: ignore[arg-type]
            pad(encode(tok, TEXTS, 24), int(tok.pad_token_id))
        )
    assert not np.allclose(got, wrong.numpy(), atol=1e-3)  # the pooling really is chosen


def test_model_card_describes_the_model_and_picks_up_the_report(tmp_path: Path) -> None:
    out, _, _ = _export(tmp_path, "mean")
    card = (out / "README.md").read_text()
    for needed in ("fomaml", "## How it was meta-trained", "`wordnet`", "`minilm`",
                   "val/acc = 0.8000 at step 50", "lightning-meta predict", "FewShotClassifier",
                   "SentenceTransformer", "## Intended use", "No report yet"):  # fmt: skip
        assert needed in card, needed
    table = "| method | acc |\n|---|---|\n| meta-trained | 83.06 ± 0.90 |"
    (out.parent / "results.md").write_text(table + "\n")  # where `report` writes it
    refresh_model_card(out)
    card = (out / "README.md").read_text()
    assert table in card and "No report yet" not in card
    refresh_model_card(out, "| given | table |")  # what `report --out elsewhere` passes
    assert "| given | table |" in (out / "README.md").read_text()


def test_saved_classifier_is_a_shareable_export(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    mod = module(MAML, first_order=True, pooling="cls")
    clf = FewShotClassifier.from_module(mod, device="cpu", max_length=32)
    clf.fit([t for t, _ in SUPPORT], [y for _, y in SUPPORT])
    out = clf.save_pretrained(tmp_path / "clf")
    card = (out / "README.md").read_text()
    assert "3 classes: `animals`, `colors`, `food`" in card
    assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode_cls_token"]
    st = SentenceTransformer(str(out), device="cpu")
    with torch.no_grad():
        want = mod.model.embed(pad(encode(clf.tokenizer, TEXTS, 32), clf.pad_id)).numpy()
    np.testing.assert_allclose(st.encode(TEXTS), want, atol=1e-5)
