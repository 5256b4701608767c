"""``inner.pair_weight`` (SetFit's cosine pair term in the support loss) is a recorded part of how
a model adapts: config check, export, evaluators, the few-shot classifier and report's overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lightning_meta.callbacks.export import export_module
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.fewshot import FewShotClassifier
from lightning_meta.evaluation.fewshot_recipe import Recipe, recipe_from_meta
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.report import build_rows
from lightning_meta.evaluation.scoring import score_module
from lightning_meta.lightning import MAML
from tests.unit.evaluation.test_export_adaptation import data_args
from tests.unit.fewshot.helpers import module

TEXTS = ["a fine film", "a great film", "a dull film", "a bad film"]
LABELS = ["pos", "pos", "neg", "neg"]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Any, Path]:
    mod = module(MAML, first_order=True, inner_steps=3, inner_lr=0.3, pair_weight=2.0)
    return mod, export_module(mod, tmp_path / "export", "minilm", {})


def test_negative_pair_weight_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^model\.inner\.pair_weight: must be >= 0"):
        module(MAML, pair_weight=-1.0)
    with pytest.raises(ConfigError, match=r"^pair_weight: must be >= 0"):
        Recipe(pair_weight=-0.5)


def test_export_records_and_replays_the_pair_weight(
    exported: tuple[Any, Path], tiny_csv: Path
) -> None:
    mod, export = exported
    meta = ExportMeta.read(export)
    assert meta is not None and meta.inner_loop.pair_weight == 2.0
    assert meta.adaptation()["pair_weight"] == 2.0
    assert recipe_from_meta(meta).pair_weight == 2.0
    loaded = load_any(str(export))
    assert loaded.inner.pair_weight == 2.0
    eps = fixed_episodes(data_args(tiny_csv), 4)
    reference = [s.row() for s in score_module(mod, eps)]
    assert [s.row() for s in score_module(loaded, eps)] == reference  # exactly, episode by episode
    without = [s.row() for s in score_module(load_any(str(export), overrides={"pair_weight": 0.0}), eps)]  # fmt: skip
    assert without != reference  # the term changes the adaptation


def test_fewshot_classifier_adapts_with_the_recorded_pair_weight(
    exported: tuple[Any, Path],
) -> None:
    _, export = exported
    clf = FewShotClassifier.from_pretrained(export, tokenizer="minilm")
    assert clf.recipe.pair_weight == 2.0
    with_pairs = clf.fit(TEXTS, LABELS).decision_function(TEXTS)
    off = FewShotClassifier.from_pretrained(export, tokenizer="minilm", pair_weight=0.0)
    assert off.recipe.pair_weight == 0.0
    assert not np.allclose(with_pairs, off.fit(TEXTS, LABELS).decision_function(TEXTS))


def test_report_adaptation_override_reaches_both_fine_tuning_rows(
    exported: tuple[Any, Path],
) -> None:
    _, export = exported
    meta = ExportMeta.read(export)
    assert meta is not None
    rows = build_rows(export, meta, "tiny", {"pair_weight": 5.0})
    tuned = [m for name, m in rows.items() if "fine-tuning" in name]
    assert len(tuned) == 2 and all(m.inner.pair_weight == 5.0 for m in tuned)
    assert all(m.inner.pair_weight == 2.0 for name, m in build_rows(export, meta, "tiny").items() if "fine-tuning" in name)  # fmt: skip
