"""scripts/score_validation.py: its row specs (test-time overrides, SetFit) and their errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "score_validation.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_validation", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_adaptation_parses_overrides(script: ModuleType) -> None:
    assert script.adaptation("runs/x/export") == ("runs/x/export", None)
    assert script.adaptation("runs/x/export@top12/10/0.003") == (
        "runs/x/export",
        {"inner": {"adapt": "top12", "steps": 10, "lr": 0.003}},
    )
    with pytest.raises(SystemExit, match="EXPORT@ADAPT/STEPS/LR"):
        script.adaptation("runs/x/export@top2/15")


def test_setfit_first_is_refused_before_any_work(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["score_validation.py", "setfit:mpnet", "runs/x/export"])
    monkeypatch.setattr(script, "resolve_config", lambda _: {"data": {"init_args": {}}})
    monkeypatch.setattr(script, "fixed_episodes", lambda *a: pytest.fail("built episodes"))
    with pytest.raises(SystemExit, match="put an export first"):
        script.main()
