"""`lightning-meta predict`: labelled CSV + texts in, the input rows plus predictions and
probabilities out; the numbers are those of FewShotClassifier fitted on the same rows in Python."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_meta.cli.main import main
from lightning_meta.evaluation.fewshot import FewShotClassifier

SUPPORT = [
    ("the dog chased the cat", "animals"), ("a horse in the field", "animals"),
    ("red and blue paint", "colors"), ("bread with cheese", "food"), ("hot soup", "food"),
]  # fmt: skip
INPUT = [
    ("7", "a lion and a cow", "first"), ("8", "green, yellow, purple", ""),
    ("9", "apple cake", "x"), ("10", "", "empty text"), ("11", "the sheep", "y"),
    ("12", "orange and white", "z"), ("13", "pasta salad", "w"),
]  # fmt: skip
CLASSES = ["animals", "colors", "food"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    support, texts = tmp_path / "labelled.csv", tmp_path / "texts.csv"
    with support.open("w", newline="") as fh:
        csv.writer(fh).writerows([("sentence", "topic"), *SUPPORT])
    with texts.open("w", newline="") as fh:
        csv.writer(fh).writerows([("id", "sentence", "note"), *INPUT])
    return {"support": support, "input": texts, "out": tmp_path / "preds.csv"}


def _args(files: dict[str, Path], *extra: str) -> list[str]:
    return ["predict", "--model", "tiny", "--support", str(files["support"]),
            "--input", str(files["input"]), "--out", str(files["out"]),
            "--text-column", "sentence", "--label-column", "topic", *extra]  # fmt: skip


def _python_reference() -> np.ndarray:
    clf = FewShotClassifier.from_pretrained("tiny", device="cpu")
    clf.fit([t for t, _ in SUPPORT], [y for _, y in SUPPORT])
    return clf.predict_proba([t for _, t, _ in INPUT])


def test_predict_writes_rows_predictions_and_probabilities(files: dict[str, Path]) -> None:
    assert main(_args(files)) == 0
    out = pd.read_csv(files["out"], dtype={"id": str, "note": str}, keep_default_na=False)
    assert list(out.columns) == ["id", "sentence", "note", "prediction",
                                 *[f"prob_{c}" for c in CLASSES]]  # fmt: skip
    assert out[["id", "sentence", "note"]].values.tolist() == [list(r) for r in INPUT]
    proba = out[[f"prob_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(proba, _python_reference(), atol=1e-6)
    assert out["prediction"].tolist() == [CLASSES[i] for i in proba.argmax(1)]


def test_chunks_stream_the_same_result(files: dict[str, Path], tmp_path: Path) -> None:
    assert main(_args(files)) == 0
    whole = pd.read_csv(files["out"], keep_default_na=False)
    files["out"] = tmp_path / "chunked.csv"
    assert main(_args(files, "--chunk-size", "2")) == 0  # 4 chunks: 2 + 2 + 2 + 1 rows
    chunked = pd.read_csv(files["out"], keep_default_na=False)
    pd.testing.assert_frame_equal(chunked, whole, atol=1e-5)  # batches pad differently


def test_refuses_to_overwrite_without_force(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["out"].write_text("keep me\n")
    assert main(_args(files)) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "--force" in errors[0]
    assert files["out"].read_text() == "keep me\n"
    assert main(_args(files, "--force")) == 0
    assert files["out"].read_text().startswith("id,sentence,note,prediction")


def test_jsonl_and_a_saved_classifier(files: dict[str, Path], tmp_path: Path) -> None:
    saved = tmp_path / "clf"
    files["out"] = tmp_path / "preds.jsonl"
    assert main(_args(files, "--save", str(saved))) == 0
    first = [json.loads(line) for line in files["out"].read_text().splitlines()]
    assert [r["id"] for r in first] == [r[0] for r in INPUT]
    files["out"] = tmp_path / "again.jsonl"  # the saved, fitted classifier needs no --support
    args = ["predict", "--model", str(saved), "--input", str(files["input"]),
            "--out", str(files["out"]), "--input-text-column", "sentence"]  # fmt: skip
    assert main(args) == 0
    again = [json.loads(line) for line in files["out"].read_text().splitlines()]
    assert again == first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--input-text-column": "body"}, "input-text-column: column 'body' not found"),
        ({"--label-column": "y"}, "support: label_column: column 'y' not found"),
        ({"--out": "preds.xlsx"}, "out: unsupported extension"),
        ({"--support": None}, "support: required"),
    ],
)
def test_bad_arguments_are_one_line(
    files: dict[str, Path], change: dict[str, str | None], message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    args = _args(files)
    for flag, value in change.items():
        if flag not in args:
            args += [flag, ""]
        i = args.index(flag)
        if value is None:
            del args[i : i + 2]
        else:
            args[i + 1] = value
    assert main(args) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], errors


def test_lightning_predict_subcommand_is_gone() -> None:
    from lightning_meta.cli.lightning import MetaCLI

    assert set(MetaCLI.subcommands()) == {"fit", "validate", "test"}


def _tiny_body(tmp_path: Path) -> Path:
    from lightning_meta.evaluation.baselines.text import load_tokenizer
    from lightning_meta.models import tiny_encoder

    body = tmp_path / "body"
    tiny_encoder(seed=0).save_pretrained(body)
    load_tokenizer("minilm").save_pretrained(body)
    return body


def test_setfit_adaptation_matches_python_and_reloads(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """--adaptation setfit: the numbers of SetFitClassifier fitted on the same rows; a saved
    SetFit classifier predicts again without --support (and without --adaptation)."""
    from lightning_meta.evaluation.setfit_classifier import SetFitClassifier

    body, saved = _tiny_body(tmp_path), tmp_path / "setfit"
    args = _args(files, "--adaptation", "setfit", "--device", "cpu", "--save", str(saved))
    args[args.index("--model") + 1] = str(body)
    assert main(args) == 0
    out = pd.read_csv(files["out"], dtype={"id": str, "note": str}, keep_default_na=False)
    proba = out[[f"prob_{c}" for c in CLASSES]].to_numpy()
    clf = SetFitClassifier.from_pretrained(body, device="cpu")
    clf.fit([t for t, _ in SUPPORT], [y for _, y in SUPPORT])
    np.testing.assert_allclose(proba, clf.predict_proba([t for _, t, _ in INPUT]), atol=1e-6)
    assert out["prediction"].tolist() == [CLASSES[i] for i in proba.argmax(1)]
    files["out"] = tmp_path / "again.csv"
    again = ["predict", "--model", str(saved), "--input", str(files["input"]), "--out",
             str(files["out"]), "--input-text-column", "sentence", "--device", "cpu"]  # fmt: skip
    assert main(again) == 0
    reloaded = pd.read_csv(files["out"], keep_default_na=False)
    np.testing.assert_allclose(reloaded[[f"prob_{c}" for c in CLASSES]].to_numpy(), proba,
                               atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--adaptation", "setfit", "--inner-steps", "3"], "inner-steps: a fine-tuning setting"),
        (["--adaptation", "setfit", "--tokenizer", "minilm"], "tokenizer: a fine-tuning setting"),
        (["--adaptation", "finetune"], "is a saved SetFit classifier"),
    ],
)
def test_setfit_adaptation_errors_are_one_line(
    files: dict[str, Path], tmp_path: Path, extra: list[str], message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from lightning_meta.evaluation.setfit_classifier import SETFIT_FILE

    model = _tiny_body(tmp_path)
    if "finetune" in extra:  # a directory marked as a saved SetFit classifier
        (model / SETFIT_FILE).write_text(json.dumps({"format": 1, "classes": CLASSES}))
    args = _args(files, *extra)
    args[args.index("--model") + 1] = str(model)
    assert main(args) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], errors
    assert not files["out"].exists()
