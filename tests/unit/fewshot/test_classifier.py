"""FewShotClassifier as a user meets it: loading from every kind of model, labels, probabilities,
scores, saving, progress and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import precision_recall_fscore_support

from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.fewshot import FewShotClassifier
from lightning_meta.evaluation.loading import load_any
from lightning_meta.lightning import MAML, ProtoNet
from tests.unit.fewshot.helpers import CLASSES, QUERY, SUPPORT, module, perturb_inner_lrs

TEXTS, LABELS = [t for t, _ in SUPPORT], [y for _, y in SUPPORT]
NEW = [t for t, _ in QUERY]


@pytest.fixture(scope="module")
def tiny() -> FewShotClassifier:
    return FewShotClassifier.from_pretrained("tiny", device="cpu").fit(TEXTS, LABELS)


def test_package_root_exports_it_lazily() -> None:
    import lightning_meta

    assert lightning_meta.FewShotClassifier is FewShotClassifier
    assert "FewShotClassifier" in lightning_meta.__all__


def test_importing_the_package_stays_cheap() -> None:
    import subprocess
    import sys

    code = "import sys, lightning_meta; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_progress_bar_on_a_terminal(
    tiny: FewShotClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    tiny.progress = True
    try:
        assert tiny.predict(NEW) == tiny.predict(NEW[:3]) + tiny.predict(NEW[3:])
    finally:
        tiny.progress = None


def test_predict_proba_columns_follow_classes(tiny: FewShotClassifier) -> None:
    proba = tiny.predict_proba(NEW)
    assert proba.shape == (len(NEW), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert tiny.predict(NEW) == [tiny.classes_[i] for i in proba.argmax(1)]
    assert set(tiny.predict(NEW)) <= set(CLASSES)


def test_batches_and_order_do_not_change_results(tiny: FewShotClassifier) -> None:
    texts = NEW + ["a much longer text about a dog, a cat and a horse in a red field"] + NEW[::-1]
    full = tiny.decision_function(texts)
    tiny.batch_size = 1
    try:
        one = tiny.decision_function(texts)
    finally:
        tiny.batch_size = 64
    np.testing.assert_allclose(one, full, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(full[: len(NEW)], full[-1 : len(NEW) : -1], rtol=1e-4, atol=1e-5)


def test_one_example_per_class_any_number_of_classes() -> None:
    """7 classes, one text each; with 0 inner steps the prototype head's nearest class of a
    support text is its own (its embedding is the prototype)."""
    texts = ["dog", "red paint", "hot soup", "heavy rain", "old piano", "golf", "a hammer"]
    labels = [f"c{i}" for i in range(7)]
    clf = FewShotClassifier.from_pretrained("tiny", device="cpu", inner_steps=0)
    assert clf.fit(texts, labels) is clf
    assert clf.classes_ == labels and clf.predict(texts) == labels


def test_integer_labels_round_trip(tmp_path: Path) -> None:
    clf = FewShotClassifier.from_pretrained("tiny", device="cpu").fit(TEXTS, [2, 2, 2, 0, 1, 1])
    assert clf.classes_ == [0, 1, 2]
    assert all(isinstance(y, int) for y in clf.predict(NEW))
    back = FewShotClassifier.from_pretrained(clf.save_pretrained(tmp_path / "c"), device="cpu")
    assert back.classes_ == [0, 1, 2] and back.predict(NEW) == clf.predict(NEW)


def test_score_matches_sklearn(tiny: FewShotClassifier) -> None:
    truth = [y for _, y in QUERY]
    got = tiny.score(NEW, truth)
    pred = tiny.predict(NEW)
    present = sorted(set(truth) | set(pred))
    p, r, f, _ = precision_recall_fscore_support(
        truth, pred, labels=present, average="macro", zero_division=0
    )
    assert got == pytest.approx(
        {"acc": np.mean([a == b for a, b in zip(pred, truth, strict=True)]),
         "precision": p, "recall": r, "f1": f}, abs=1e-6
    )  # fmt: skip


def test_save_and_reload_predict_identically(tmp_path: Path) -> None:
    mod = module(MAML, first_order=True, inner_steps=3, learn_inner_lr=True)
    perturb_inner_lrs(mod)
    clf = FewShotClassifier.from_module(mod, device="cpu", max_length=24).fit(TEXTS, LABELS)
    out = clf.save_pretrained(tmp_path / "clf")
    back = FewShotClassifier.from_pretrained(out, device="cpu")
    assert back.classes_ == clf.classes_ and back.max_length == 24
    assert back.recipe == clf.recipe
    np.testing.assert_array_equal(back.predict_proba(NEW), clf.predict_proba(NEW))
    # the saved directory is an export too: refit from the meta-learned weights, evaluate it
    refit = FewShotClassifier.from_pretrained(out, device="cpu").fit(TEXTS, LABELS)
    np.testing.assert_allclose(refit.decision_function(NEW), clf.decision_function(NEW), atol=1e-5)
    assert load_any(str(out)).eval_steps == clf.recipe.steps


def test_checkpoint_and_export_use_the_learned_recipe(tmp_path: Path) -> None:
    """A .ckpt and an export of the same module adapt exactly like the module itself."""
    from lightning_meta.callbacks.export import export_module

    mod = module(MAML, first_order=True, inner_steps=2, eval_inner_steps=3, learn_inner_lr=True)
    perturb_inner_lrs(mod, seed=1)
    ref = FewShotClassifier.from_module(mod, device="cpu").fit(TEXTS, LABELS)
    ckpt = tmp_path / "m.ckpt"
    state = {"state_dict": mod.state_dict(), "hyper_parameters": dict(mod.hparams)}
    mod.on_save_checkpoint(state)
    torch.save(state, ckpt)
    export = export_module(mod, tmp_path / "export", "minilm", {})
    for source in (ckpt, export):
        clf = FewShotClassifier.from_pretrained(source, device="cpu").fit(TEXTS, LABELS)
        assert clf.recipe.steps == 3 and clf.recipe.learned_lrs == mod.learned_inner_lrs()
        np.testing.assert_allclose(
            clf.decision_function(NEW), ref.decision_function(NEW), rtol=1e-4, atol=1e-5
        )


def test_protonet_export_predicts_by_prototype(tmp_path: Path) -> None:
    from lightning_meta.callbacks.export import export_module

    mod = module(ProtoNet, distance="cosine")
    export = export_module(mod, tmp_path / "export", "minilm", {})
    clf = FewShotClassifier.from_pretrained(export, device="cpu").fit(TEXTS, LABELS)
    assert clf.recipe.method == "prototype" and clf.recipe.distance == "cosine"
    ref = FewShotClassifier.from_module(mod, device="cpu").fit(TEXTS, LABELS)
    np.testing.assert_allclose(clf.decision_function(NEW), ref.decision_function(NEW), atol=1e-5)


def test_fit_works_under_inference_mode() -> None:
    clf = FewShotClassifier.from_pretrained("tiny", device="cpu")
    with torch.inference_mode():
        clf.fit(TEXTS, LABELS)
    assert len(clf.predict(NEW)) == len(NEW)


def test_progress_is_plain_when_not_a_terminal(
    tiny: FewShotClassifier, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny.progress = True
    try:
        tiny.predict(NEW * 4)
    finally:
        tiny.progress = None
    err = capsys.readouterr().err
    assert f"predict: {4 * len(NEW)}/{4 * len(NEW)}" in err
    tiny.predict(NEW)  # short input, progress=None: silent
    assert capsys.readouterr().err == ""


BAD_FIT = {
    "empty texts": ([], [], "texts: empty"),
    "one string": ("just one text", ["a"], "texts: got one string"),
    "one class": (["a b", "c d"], ["x", "x"], "only one class"),
    "length mismatch": (["a b", "c d", "e"], ["x", "y"], "labels: 2 labels for 3 texts"),
    "missing text": (["a b", None], ["x", "y"], "texts: item 1 is NoneType"),
    "blank text": (["a b", "  "], ["x", "y"], "texts: item 1 is blank"),
    "missing label": (["a b", "c"], ["x", float("nan")], "labels: item 1 is float"),
    "mixed label types": (["a b", "c"], ["x", 1], "mixes label types"),
}


@pytest.mark.parametrize("case", list(BAD_FIT))
def test_bad_fit_input_is_one_line(case: str) -> None:
    texts, labels, message = BAD_FIT[case]
    clf = FewShotClassifier.from_pretrained("tiny", device="cpu")
    with pytest.raises(ConfigError, match=message) as info:
        clf.fit(texts, labels)
    assert "\n" not in str(info.value)


def test_other_misuse_is_one_line(tiny: FewShotClassifier) -> None:
    for call, message in [
        (lambda: FewShotClassifier.from_pretrained("tiny").predict(["x"]), "not fitted"),
        (lambda: tiny.predict([]), "texts: empty"),
        (lambda: tiny.score(NEW[:1], ["vehicles"]), "'vehicles' is not a class seen by fit"),
        (lambda: FewShotClassifier.from_pretrained("no-such-org/no-such-model"), "model:"),
        (lambda: FewShotClassifier.from_pretrained("./missing/dir"), "does not exist"),
    ]:
        with pytest.raises(ConfigError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
