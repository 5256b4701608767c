"""Every YAML under configs/ parses and instantiates through LightningCLI (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_meta.cli.lightning import make_cli

ROOT = Path(__file__).resolve().parents[2] / "configs"
EXPERIMENTS = sorted((ROOT / "experiment").glob("*.yaml"))
# overlays over families.yaml: the ablation arms and `make train`'s own (train/)
ABLATIONS = sorted((ROOT / "experiment" / "ablation").glob("*.yaml")) + sorted(
    (ROOT / "experiment" / "train").glob("*.yaml")
)
MODELS = sorted((ROOT / "model").glob("*.yaml"))
DATA = sorted((ROOT / "data").glob("*.yaml"))
TRAINERS = sorted((ROOT / "trainer").glob("*.yaml"))
# instantiate on this CPU-only machine: GPU/multi-process settings are overridden, the schema is not
CPU = [
    "--trainer.accelerator",
    "cpu",
    "--trainer.devices",
    "1",
    "--trainer.precision",
    "32-true",
    "--trainer.num_nodes",
    "1",
    "--trainer.strategy",
    "auto",
    "--trainer.logger",
    "false",
]
TINY = ["--model.init_args.encoder.backbone", "tiny"]


def test_configs_exist() -> None:
    assert len(EXPERIMENTS) >= 6 and len(MODELS) >= 5 and DATA and TRAINERS


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_instantiates(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # loggers/checkpoints would be created relative to cwd
    cli = make_cli(["--config", str(path), *CPU, *TINY], run=False)
    cfg = yaml.safe_load(path.read_text())
    assert type(cli.model).__name__ == cfg["model"]["class_path"].rsplit(".", 1)[1]
    assert type(cli.datamodule).__name__ == cfg["data"]["class_path"].rsplit(".", 1)[1]
    if "shape" in cfg["data"]["init_args"]:  # task families: one shape per family instead
        assert cli.datamodule.n_way == cfg["data"]["init_args"]["shape"]["n_way"]
    assert not hasattr(cli.model, "n_way")  # the episode shape lives on the data side only


@pytest.mark.parametrize("path", ABLATIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_ablation_overlay_instantiates_on_families(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each arm of configs/experiment/ablation/ (and train/) is a second --config over
    families.yaml."""
    monkeypatch.chdir(tmp_path)
    base = ROOT / "experiment" / "families.yaml"
    overlay = yaml.safe_load(path.read_text())
    tokens = ((overlay.get("data") or {}).get("init_args") or {}).get("tokens") or {}
    backbone = (((overlay.get("model") or {}).get("init_args") or {}).get("encoder") or {}).get(
        "backbone"
    )
    # An arm on another encoder names its tokenizer too; on the tiny test encoder (MiniLM's
    # vocabulary) it instantiates with MiniLM's, so CI needs no extra model package.
    assert tokens.get("tokenizer", backbone) == backbone
    retok = ["--data.init_args.tokens.tokenizer", "minilm"] if backbone else []
    cli = make_cli(["--config", str(base), "--config", str(path), *CPU, *TINY, *retok], run=False)
    callbacks = (overlay.get("trainer") or {}).get("callbacks") or []
    names = {type(c).__name__ for c in cli.trainer.callbacks}
    assert {c["class_path"].rsplit(".", 1)[1] for c in callbacks} <= names
    families = ((overlay.get("data") or {}).get("init_args") or {}).get("families")
    if families is not None:  # the arm's own mixture replaces the full one
        assert [f.source for f in cli.datamodule.families] == [f["source"] for f in families]


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_model_config_instantiates(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = make_cli(
        [
            "--model",
            str(path),
            "--data",
            str(ROOT / "data" / "wordnet.yaml"),
            *CPU,
            *TINY,
        ],
        run=False,
    )
    assert (
        type(cli.model).__name__ == yaml.safe_load(path.read_text())["class_path"].rsplit(".", 1)[1]
    )


@pytest.mark.parametrize("path", DATA, ids=lambda p: p.stem)
def test_data_config_instantiates(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = make_cli(
        [
            "--model",
            str(ROOT / "model" / "fomaml.yaml"),
            "--data",
            str(path),
            *CPU,
            *TINY,
        ],
        run=False,
    )
    assert cli.datamodule.n_way == yaml.safe_load(path.read_text())["init_args"]["shape"]["n_way"]


@pytest.mark.parametrize("path", TRAINERS, ids=lambda p: p.stem)
def test_trainer_config_instantiates(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = make_cli(
        [
            "--config",
            str(path),
            "--model",
            str(ROOT / "model" / "fomaml.yaml"),
            "--data",
            str(ROOT / "data" / "wordnet.yaml"),
            *CPU,
            *TINY,
        ],
        run=False,
    )
    assert cli.trainer is not None


def test_groups_render_nested_with_attribute_docs(capsys: pytest.CaptureFixture[str]) -> None:
    """`--model.help` lists every group field with its attribute docstring."""
    from lightning_meta.cli import main

    with pytest.raises(SystemExit) as done:
        main(["fit", "--model.help", "lightning_meta.lightning.MAML"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--model.encoder.backbone", "--model.inner.steps", "--model.nonfinite.action"):
        assert option in text
    assert "SGD steps on the support set during meta-training" in text  # attribute docstring
    assert "--model.n_way" not in text and "--model.inner_steps" not in text


@pytest.mark.parametrize("path", [*EXPERIMENTS, *MODELS, *DATA], ids=lambda p: p.stem)
def test_configs_use_the_grouped_layout(path: Path) -> None:
    """No flat group field is left at the top of any init_args (they would be rejected)."""
    flat = {"backbone", "adapt", "inner_steps", "inner_lr", "n_way", "k_shot", "q_query",
            "meta_batch_size", "max_length", "tokenizer", "on_nonfinite"}  # fmt: skip
    cfg = yaml.safe_load(path.read_text())
    for section in (cfg, cfg.get("model"), cfg.get("data")):
        if isinstance(section, dict) and isinstance(section.get("init_args"), dict):
            assert not flat & set(section["init_args"]), path
