"""scripts/headroom.py: the seeded per-class draws every encoder is probed on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))  # headroom.py imports its sibling frozen_lr_validation
    try:
        spec = importlib.util.spec_from_file_location("headroom", SCRIPTS / "headroom.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def test_draws_are_balanced_distinct_and_seeded(script: ModuleType) -> None:
    labels = np.array([0, 1] * 10 + [1] * 5)  # 10 negatives, 15 positives
    picks = script.draws(labels, 4, 3, seed=7)
    assert len(picks) == 3
    for ix in picks:
        assert len(set(ix.tolist())) == 8
        assert (labels[ix] == 0).sum() == 4 and (labels[ix] == 1).sum() == 4
    again = script.draws(labels, 4, 3, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(picks, again, strict=True))
    assert not np.array_equal(picks[0], picks[1])
    assert not all(
        np.array_equal(a, b) for a, b in zip(picks, script.draws(labels, 4, 3, seed=8), strict=True)
    )
