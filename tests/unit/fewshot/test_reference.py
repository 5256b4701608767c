"""FewShotClassifier against an independent reference: the module's own ``evaluate_episode``
(the code every benchmark scores with) on the same support and query rows.

The classifier embeds support and query separately, pads each batch to its own width and runs
its own head; the reference pads both together and runs ``maml_task`` / ``protonet_task``. The
logits must agree for every recipe: learned per-tensor inner lrs, evaluation steps that differ
from training steps, a zero head, every tensor adapted (compact vocabulary path), a regex
adapt set, ProtoNet with both distances; unbalanced support, 3 classes for a 5-way model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from lightning_meta.evaluation.fewshot import FewShotClassifier
from lightning_meta.lightning import MAML, FineTune, ProtoNet, Reptile
from tests.unit.fewshot.helpers import CLASSES, QUERY, SUPPORT, episode, module, perturb_inner_lrs

CASES: dict[str, tuple[type, dict[str, Any]]] = {
    "fomaml-learned-lrs": (
        MAML,
        {"first_order": True, "inner_steps": 2, "eval_inner_steps": 4, "learn_inner_lr": True},
    ),
    "maml-zero-head": (MAML, {"head_init": "zero", "inner_steps": 3, "inner_lr": 0.1}),
    "finetune-all": (FineTune, {"adapt": "all", "inner_steps": 2, "inner_lr": 0.05}),
    "reptile-regex": (Reptile, {"adapt": "re:encoder\\.layer\\.0\\.", "inner_steps": 2}),
    "protonet-euclidean": (ProtoNet, {"distance": "euclidean"}),
    "protonet-cosine": (ProtoNet, {"distance": "cosine", "pooling": "cls"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_logits_equal_evaluate_episode(case: str) -> None:
    cls, args = CASES[case]
    mod = module(cls, **args)
    if mod.inner_lrs is not None:
        perturb_inner_lrs(mod)
    mod.eval()
    reference = mod.evaluate_episode(episode(SUPPORT, QUERY)).logits  # (Q, 3)

    clf = FewShotClassifier.from_module(mod, device="cpu")
    before = {k: v.clone() for k, v in mod.state_dict().items()}
    clf.fit([t for t, _ in SUPPORT], [y for _, y in SUPPORT])
    logits = clf.decision_function([t for t, _ in QUERY])

    assert clf.classes_ == CLASSES
    np.testing.assert_allclose(logits, reference.numpy(), rtol=1e-4, atol=1e-5)
    proba = clf.predict_proba([t for t, _ in QUERY])
    np.testing.assert_allclose(proba, torch.softmax(reference.double(), -1).numpy(), atol=1e-5)
    best = reference.argmax(-1).tolist()
    assert clf.predict([t for t, _ in QUERY]) == [CLASSES[i] for i in best]
    # fitting never moves the meta-learned weights
    after = mod.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_fit_is_repeatable_for_another_task() -> None:
    """A second fit starts from the meta-learned weights again, not from the first task's."""
    mod = module(MAML, first_order=True, inner_steps=3, inner_lr=0.1)
    clf = FewShotClassifier.from_module(mod, device="cpu")
    other = [("one two", "x"), ("three four", "y"), ("five", "y")]
    clf.fit([t for t, _ in other], [y for _, y in other])
    clf.fit([t for t, _ in SUPPORT], [y for _, y in SUPPORT])
    fresh = FewShotClassifier.from_module(mod, device="cpu").fit(
        [t for t, _ in SUPPORT], [y for _, y in SUPPORT]
    )
    texts = [t for t, _ in QUERY]
    np.testing.assert_array_equal(clf.decision_function(texts), fresh.decision_function(texts))
