"""The accuracy-suite schema: typed loading, one-line errors naming the field, quick overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lightning_meta.bench.suite.demo import tiny_suite
from lightning_meta.bench.suite.runner import resolve
from lightning_meta.bench.suite.spec import load_suite
from lightning_meta.errors import ConfigError

BENCH = Path(__file__).resolve().parents[3] / "configs" / "bench"


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bench_config_loads_and_resolves(path: Path) -> None:
    for quick in (False, True):
        spec = load_suite(path, quick=quick)
        resolved = resolve(spec)  # imports every class, checks every init arg; reads no data
        assert set(resolved.targets) == {t.name for t in spec.targets}
        targets = resolved.targets.values()
        assert all(args["stream"]["test_episodes"] == spec.episodes for args in targets)


def test_default_suite_matrix() -> None:
    spec = load_suite(BENCH / "default.yaml")
    names = [m.name for m in spec.methods]
    assert len(names) == 11 and any("SMLMT" in n for n in names)
    assert [m.baseline.kind for m in spec.methods if m.baseline] == [
        "logreg",
        "logreg",
        "setfit",
        "vader",
    ]
    assert [t.name for t in spec.targets] == [
        "WordNet 5-way 1-shot", "WordNet 5-way 5-shot", "fortunes 5-way 5-shot",
        "sentiment:movie 2-way 8-shot", "sentiment:movie 2-way 16-shot",
    ]  # fmt: skip
    quick = load_suite(BENCH / "default.yaml", quick=True)
    assert quick.episodes < spec.episodes
    assert all(
        q.train_steps <= m.train_steps for q, m in zip(quick.methods, spec.methods, strict=True)
    )
    assert quick.train.init_args["meta_batch_size"] == 2


def test_quick_overrides(tmp_path: Path) -> None:
    data = tiny_suite("x.csv", episodes=5, train_steps=4)
    data["quick"] = {"episodes": 2, "train_steps": 1, "methods": ["MAML", "FineTune"]}
    spec = load_suite(write(tmp_path, data), quick=True)
    assert spec.episodes == 2
    assert [(m.name, m.train_steps) for m in spec.methods] == [("MAML", 1), ("FineTune", 0)]
    assert load_suite(write(tmp_path, data)).episodes == 5


def test_resolved_fills_defaults_and_seed(tmp_path: Path) -> None:
    data = tiny_suite("x.csv")
    data["seed"] = 7
    resolved = resolve(load_suite(write(tmp_path, data)))
    target = resolved.targets["held-out classes 3-way 1-shot"]
    assert target["stream"]["seed"] == 7 and target["tokens"]["tokenizer"] == "minilm"
    assert target["shape"]["q_query"] == 3
    assert resolved.models["MAML"]["inner"]["lr"] == 0.01  # a default made explicit
    assert resolved.train["MAML"].init_args["stream"]["seed"] == 7
    assert "FineTune" not in resolved.train  # nothing to meta-train


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("episodes", 0, "suite.episodes: must be positive (got 0)"),
        ("episodes", "ten", "suite.episodes: expected int (got str 'ten')"),
        ("seed", None, "suite.seed: must not be null"),
        ("methods.1.train_steps", -1, "suite.methods[1].train_steps: must be >= 0 (got -1)"),
        ("methods.1.name", "MAML", "suite.methods[1].name: duplicate name 'MAML'"),
        ("methods.0.trian_steps", 3, "suite.methods[0]: unknown field 'trian_steps'"),
        (
            "methods.0.model.class_path",
            "os.system",
            "suite.methods[0].model.class_path: 'os.system' is not a lightning_meta.lightning module",
        ),
        (
            "methods.0.model.class_path",
            "lightning_meta.lightning.Nope",
            "suite.methods[0].model.class_path: cannot import 'lightning_meta.lightning.Nope'",
        ),
        (
            "methods.0.model.init_args.inner_stpes",
            2,
            "suite.methods[0].model.init_args.inner_stpes: not an argument of MAML",
        ),
        (
            "methods.4.train_steps",
            3,
            "suite.methods[4].train_steps: FineTune has nothing to meta-train; set 0",
        ),
        (
            "methods.0.optimizer",
            {"class_path": "builtins.dict"},
            "suite.methods[0].optimizer.class_path: 'builtins.dict' is not a torch.optim class",
        ),
        (
            "targets.0.data.k_shoot",
            1,
            "suite.targets[0].data.k_shoot: not an argument of EpisodicDataModule",
        ),
        ("targets", [], "suite.targets: needs at least one target"),
        ("baseline", "Nope", "suite.baseline: 'Nope' is not a method name"),
        ("baseline", ["FineTune", "Nope"], "suite.baseline[1]: 'Nope' is not a method name"),
        ("quick.methods", ["Nope"], "suite.quick.methods[0]: unknown method 'Nope'"),
        ("quick.episodes", -2, "suite.quick.episodes: must be positive or null (got -2)"),
        (
            "train.init_args.n_wya",
            3,
            "suite.train.init_args.n_wya: not an argument of EpisodicDataModule",
        ),
    ],
)
def test_errors_name_the_field(tmp_path: Path, dotted: str, value: Any, message: str) -> None:
    data = tiny_suite("x.csv")
    _set(data, dotted, value)
    with pytest.raises(ConfigError) as err:
        resolve(load_suite(write(tmp_path, data)))
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_suite(bad)


def test_requires_skips_a_missing_export(tmp_path: Path) -> None:
    data = tiny_suite("x.csv")
    data["methods"].append({
        "name": "SMLMT export", "requires": str(tmp_path / "missing"),
        "model": {"class_path": "lightning_meta.lightning.FineTune", "init_args": {"encoder": {"backbone": "tiny"}}},
    })  # fmt: skip
    resolved = resolve(load_suite(write(tmp_path, data)))
    assert resolved.skipped == {"SMLMT export": f"{tmp_path / 'missing'} not found"}
