"""Search-space parsing and checks: every mistake is one line naming the key, before any trial."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from lightning_meta.errors import ConfigError
from lightning_meta.tuning.paths import leaf_paths, overrides, resolve_leaf, set_path
from lightning_meta.tuning.space import Param, check_against_config, load_space, suggest

CONFIG = {
    "model": {
        "class_path": "lightning_meta.lightning.MAML",
        "init_args": {
            "inner_lr": 0.01,
            "inner_steps": 5,
            "adapt": "top1",
            "eval_inner_steps": None,
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 5e-5}},
        },
    },
    "data": {"init_args": {"meta_batch_size": 4, "split_fractions": [0.5, 0.25, 0.25]}},
}


def one_line_error(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        fn(*args)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_parses_every_type_and_yaml_1e_notation(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(
        "model.init_args.inner_lr: {type: float, low: 1e-3, high: 1e-1, log: true}\n"
        "model.init_args.inner_steps: {type: int, low: 1, high: 9, step: 2}\n"
        "model.init_args.adapt: {type: categorical, choices: [head, top1, top2]}\n"
    )
    lr, steps, adapt = load_space(path)
    assert lr == Param(
        "model.init_args.inner_lr", "float", 1e-3, 0.1, log=True
    )  # '1e-3' is a str in YAML 1.1
    assert (steps.low, steps.high, steps.step) == (1, 9, 2)
    assert adapt.choices == ("head", "top1", "top2")
    assert steps.contains(5) and not steps.contains(4) and not steps.contains(11)
    assert lr.contains(0.01) and not lr.contains(0.5) and not lr.contains(True)
    assert adapt.contains("top1") and not adapt.contains("all")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "float", "low": 0.1, "high": 0.01}, "low (0.1) must be below high (0.01)"),
        ({"type": "float", "low": 0.0, "high": 0.1, "log": True}, "log scale needs low > 0"),
        ({"type": "int", "low": 1.5, "high": 4}, "low must be an integer"),
        ({"type": "int", "low": 1, "high": 4, "step": 0}, "step must be > 0"),
        ({"type": "float", "low": 1, "high": "x"}, "high must be a finite number"),
        ({"type": "float", "low": 1}, "needs both low and high"),
        ({"type": "float", "low": 1, "high": 2, "choices": [1]}, "unknown field(s) choices"),
        ({"type": "categorical", "choices": []}, "non-empty list of choices"),
        ({"type": "categorical", "choices": ["a", "a"]}, "distinct scalars"),
        ({"type": "normal", "low": 0, "high": 1}, "type 'normal' is not one of"),
        ({"low": 0, "high": 1}, "expected a mapping with a type"),
    ],
)
def test_bad_ranges_name_the_key(spec: dict, expected: str) -> None:
    msg = one_line_error(load_space, {"model.init_args.inner_lr": spec})
    assert msg.startswith("space: model.init_args.inner_lr: ") and expected in msg


def test_keys_are_checked_against_the_parsed_config() -> None:
    space = load_space(
        {
            "model.init_args.inner_lr": {"type": "float", "low": 1e-3, "high": 0.1},
            "model.init_args.eval_inner_steps": {"type": "int", "low": 1, "high": 3},
            "model.init_args.optimizer.init_args.lr": {"type": "float", "low": 1e-5, "high": 1e-3},
        }
    )
    defaults = check_against_config(space, CONFIG)
    assert defaults == {
        "model.init_args.inner_lr": 0.01,
        "model.init_args.eval_inner_steps": None,
        "model.init_args.optimizer.init_args.lr": 5e-5,
    }


@pytest.mark.parametrize(
    ("key", "spec", "expected"),
    [
        ("model.init_args.inner_lrr", {"type": "float", "low": 0.1, "high": 1}, "did you mean model.init_args.inner_lr"),
        ("model.inner_lr", {"type": "float", "low": 0.1, "high": 1}, "did you mean model.init_args.inner_lr"),
        ("model.init_args.optimizer", {"type": "float", "low": 0.1, "high": 1}, "a group of values"),
        ("model.init_args.adapt", {"type": "float", "low": 0.1, "high": 1}, "search it as type categorical"),
        ("trainer.max_steps", {"type": "int", "low": 1, "high": 9}, "top-level keys are data, model"),
    ],
)  # fmt: skip
def test_unknown_or_unsettable_paths_fail_naming_the_key(
    key: str, spec: dict, expected: str
) -> None:
    msg = one_line_error(check_against_config, load_space({key: spec}), CONFIG)
    assert msg.startswith(f"space: {key}: ") and expected in msg


def test_paths_and_overrides() -> None:
    assert "model.init_args.optimizer.init_args.lr" in set(leaf_paths(CONFIG))
    assert resolve_leaf(CONFIG, "data.init_args.split_fractions", "k") == [0.5, 0.25, 0.25]
    changed = set_path(CONFIG, "model.init_args.inner_lr", 0.5)
    assert changed["model"]["init_args"]["inner_lr"] == 0.5
    assert CONFIG["model"]["init_args"]["inner_lr"] == 0.01  # a copy
    assert overrides({"a.b": 0.5, "a.c": "top1", "a.d": None, "a.e": True}) == [
        "--a.b=0.5",
        "--a.c=top1",
        "--a.d=null",
        "--a.e=true",
    ]


def test_suggest_stays_in_range_and_same_seed_gives_same_values() -> None:
    space = load_space(
        {
            "a": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
            "b": {"type": "int", "low": 2, "high": 8, "step": 2},
            "c": {"type": "categorical", "choices": ["x", "y", None]},
        }
    )

    def draws(seed: int) -> list[dict]:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        return [suggest(study.ask(), space) for _ in range(6)]

    first = draws(3)
    assert first == draws(3) and first != draws(4)
    for values in first:
        assert all(p.contains(values[p.path]) for p in space)


def test_a_value_inside_a_list_of_groups_overrides_the_whole_list() -> None:
    config = {"data": {"init_args": {"families": [
        {"source": "wordnet", "weight": 0.3, "split_fractions": [0.5, 0.5]},
        {"source": "sentiment:nyt", "weight": 0.15, "split_fractions": [0.6, 0.4]},
    ]}}}  # fmt: skip
    paths = set(leaf_paths(config))
    assert "data.init_args.families.1.weight" in paths
    assert "data.init_args.families.0.split_fractions" in paths  # a list of values stays one value
    assert resolve_leaf(config, "data.init_args.families.1.weight", "k") == 0.15
    msg = one_line_error(resolve_leaf, config, "data.init_args.families.2.weight", "space: k")
    assert msg.startswith("space: k: not in the experiment config")
    out = overrides(
        {"data.init_args.families.1.weight": 0.5, "data.init_args.families.0.weight": 0.1,
         "model.lr": 0.01}, config,
    )  # fmt: skip
    assert out[0] == "--model.lr=0.01"
    assert out[1] == "--data.init_args.families=" + json.dumps([
        {"source": "wordnet", "weight": 0.1, "split_fractions": [0.5, 0.5]},
        {"source": "sentiment:nyt", "weight": 0.5, "split_fractions": [0.6, 0.4]},
    ])  # fmt: skip
    assert config["data"]["init_args"]["families"][1]["weight"] == 0.15  # unchanged


def test_family_weights_reach_the_parsed_families_config() -> None:
    """Through LightningCLI's own parser: the shipped mixture with two weights changed."""
    from lightning_meta.cli.tune import resolve_config

    base = ["--config", "configs/experiment/families.yaml"]
    config = resolve_config(base)
    values = {"data.init_args.families.0.weight": 0.5, "data.init_args.families.5.weight": 0.02}
    parsed = resolve_config([*base, *overrides(values, config)])
    got = [f["weight"] for f in parsed["data"]["init_args"]["families"]]
    assert got == [0.5, 0.15, 0.15, 0.15, 0.15, 0.02, 0.15]
    assert parsed["data"]["init_args"]["families"][5]["smlmt"]["max_count"] == 1000
