"""SetFitClassifier (predict's ``--adaptation setfit``): the report row's SetFit recipe on your
own labelled texts, checked against setfit's Trainer run by hand with its library defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.setfit_classifier import SetFitClassifier, is_saved_setfit

TEXTS = ["a good film", "bad acting", "a great film", "an awful plot", "fine work", "dull"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]  # not in sorted order: classes_ sorts them
NEW = ["a good plot", "awful film", "great acting"]


@pytest.fixture(scope="module")
def body(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lightning_meta.evaluation.baselines.text import load_tokenizer
    from lightning_meta.models import tiny_encoder

    out = tmp_path_factory.mktemp("tiny_body")
    tiny_encoder(seed=0).save_pretrained(out)
    load_tokenizer("minilm").save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def fitted(body: Path) -> SetFitClassifier:
    return SetFitClassifier.from_pretrained(body, device="cpu").fit(TEXTS, LABELS)


def _by_hand(body: Path, texts: list[str], ids: list[int], new: list[str]) -> np.ndarray:
    """setfit's own Trainer, default TrainingArguments, on the body + a Normalize module."""
    import tempfile

    from datasets import Dataset
    from sentence_transformers.models import Normalize
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(str(body), device="cpu")
    model.model_body.append(Normalize())
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, report_to="none", save_strategy="no")
        data = Dataset.from_dict({"text": texts, "label": ids})
        Trainer(model=model, args=args, train_dataset=data).train()
    return np.asarray(model.predict_proba(new, as_numpy=True))


def test_fit_is_setfit_with_library_defaults_and_sorted_classes(
    body: Path, fitted: SetFitClassifier
) -> None:
    assert fitted.classes_ == ["neg", "pos"] and fitted.is_fitted
    proba = fitted.predict_proba(NEW)
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    ids = [fitted.classes_.index(y) for y in LABELS]  # column j is class classes_[j]
    reference = _by_hand(body, TEXTS, ids, NEW)
    np.testing.assert_allclose(proba, reference, atol=1e-6)
    assert np.abs(reference - reference[:, ::-1]).max() > 1e-3  # swapped columns would fail
    assert fitted.predict(NEW) == [fitted.classes_[i] for i in proba.argmax(1)]


def test_the_body_is_left_unchanged_so_fit_can_run_again(
    body: Path, fitted: SetFitClassifier
) -> None:
    again = SetFitClassifier.from_pretrained(body, device="cpu")
    first = again.fit(TEXTS, LABELS).predict_proba(NEW)
    again.fit(TEXTS, LABELS)
    np.testing.assert_array_equal(again.predict_proba(NEW), first)
    np.testing.assert_allclose(first, fitted.predict_proba(NEW), atol=1e-6)


def test_save_and_reload_give_identical_predictions(
    fitted: SetFitClassifier, tmp_path: Path
) -> None:
    saved = fitted.save_pretrained(tmp_path / "clf")
    assert is_saved_setfit(saved) and not is_saved_setfit(tmp_path)
    back = SetFitClassifier.from_pretrained(saved, device="cpu")
    assert back.is_fitted and back.classes_ == ["neg", "pos"]
    np.testing.assert_allclose(back.predict_proba(NEW), fitted.predict_proba(NEW), atol=1e-6)


def test_one_line_errors(body: Path, tmp_path: Path) -> None:
    clf = SetFitClassifier.from_pretrained(body, device="cpu")
    with pytest.raises(ConfigError, match="call fit"):
        clf.predict(NEW)
    with pytest.raises(ConfigError, match="save: fit the classifier"):
        clf.save_pretrained(tmp_path / "x")
    with pytest.raises(ConfigError, match="labels: only one class"):
        clf.fit(TEXTS[:2], ["pos", "pos"])
    with pytest.raises(ConfigError, match="texts: got one string"):
        clf.fit("a good film", ["pos"])
    with pytest.raises(ConfigError, match="texts: item 1 is blank"):
        clf.fit(["a good film", " ", "dull"], ["pos", "neg", "neg"])
    with pytest.raises(ConfigError, match="not a .ckpt; export it first"):
        SetFitClassifier("runs/x/last.ckpt")
    with pytest.raises(ConfigError, match="max_length: must be >= 2"):
        SetFitClassifier(str(body), max_length=1)
