"""Every space in configs/tune/ is valid against the experiment it is written for: a change of
the experiment's config shape (a renamed or regrouped argument) fails here, not in a long run."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_meta.cli.tune import resolve_config
from lightning_meta.errors import ConfigError
from lightning_meta.tuning.space import load_space
from lightning_meta.tuning.tuner import check_space

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SPACES = {  # space -> the experiment it searches (its configs, merged in order)
    "default.yaml": ("experiment/default.yaml",),
    "eval_only.yaml": ("experiment/finetune_wordnet.yaml",),
    "families.yaml": ("experiment/families.yaml",),
    "families_eval.yaml": ("experiment/families.yaml",),
    "eval_only_deep.yaml": (
        "experiment/families.yaml",
        "experiment/train/mpnet.yaml",
        "experiment/tune/val_sentiment16.yaml",
    ),
}


def test_every_space_has_its_experiment() -> None:
    assert sorted(p.name for p in (CONFIGS / "tune").glob("*.yaml")) == sorted(SPACES)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_space_is_valid_for_its_experiment_and_contains_its_values(name: str) -> None:
    params = load_space(CONFIGS / "tune" / name)
    base = [a for c in SPACES[name] for a in ("--config", str(CONFIGS / c))]
    config = resolve_config(base)
    defaults = check_space(params, resolve_config, base, config)  # each range end parses too
    outside = [p.path for p in params if not p.contains(defaults[p.path])]
    assert not outside, f"the experiment's values of {outside} are outside {name}"


def test_a_range_the_experiment_rejects_fails_naming_the_key() -> None:
    params = load_space(
        {"model.init_args.inner.steps": {"type": "categorical", "choices": [2, "x"]}}
    )
    base = ["--config", str(CONFIGS / "experiment/default.yaml")]
    with pytest.raises(ConfigError, match=r"^space: model.init_args.inner.steps: 'x' is rejected"):
        check_space(params, resolve_config, base, resolve_config(base))
