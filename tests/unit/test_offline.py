"""Offline behaviour: the defaults never touch the network, and a hub model or dataset name fails
within 5 seconds with a one-line error that points at a local alternative.

``no_network`` makes every socket connection and DNS lookup fail (and counts the attempts), and
unsets ``HF_HUB_OFFLINE`` so that the package's own reachability check is what is exercised.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from lightning_meta.cli import main
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import hub_reachable, resolve_pretrained

ROOT = Path(__file__).resolve().parents[2]
FAST = 5.0  # seconds


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[:1])
        raise OSError("network is unreachable (disabled by the test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return attempts


def fit_config(
    tmp_path: Path, csv_path: Path, backbone: str = "tiny", source: str | None = None
) -> Path:
    cfg = {
        "trainer": {"default_root_dir": str(tmp_path / "out"), "logger": False, "max_steps": 1},
        "model": {"class_path": "lightning_meta.lightning.ProtoNet",
                  "init_args": {"encoder": {"backbone": backbone}}},
        "data": {"class_path": "lightning_meta.data.EpisodicDataModule",
                 "init_args": {"source": source or str(csv_path), "shape": {"n_way": 3},
                               "tokens": {"max_length": 16}}},
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_default_encoder_and_tokenizer_need_no_network(no_network: list[Any]) -> None:
    from transformers import AutoConfig, AutoTokenizer

    path = resolve_pretrained("minilm")
    assert Path(path, "config.json").is_file()
    assert AutoConfig.from_pretrained(path).hidden_size == 384
    assert (
        len(AutoTokenizer.from_pretrained(resolve_pretrained("minilm", field="tokenizer"))) == 30522
    )
    assert no_network == []


def test_default_experiment_config_instantiates_offline(no_network: list[Any]) -> None:
    from lightning_meta.cli.lightning import make_cli
    from lightning_meta.data.sources import builtin_data_missing

    args = ["--config", str(ROOT / "configs" / "experiment" / "default.yaml"),
            "--trainer.logger=false", "--trainer.callbacks=[]"]  # fmt: skip
    if builtin_data_missing("wordnet"):  # the Debian corpus is optional; its loader is offline too
        args.append("--data.init_args.source=fortunes")
    cli = make_cli(args, run=False)
    assert cli.model.model.encoder.config.hidden_size == 384  # MiniLM, from the local package
    assert no_network == []


def test_hub_model_name_fails_fast_with_local_hint(no_network: list[Any]) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        resolve_pretrained("sentence-transformers/all-mpnet-base-v2")
    assert time.perf_counter() - start < FAST
    assert "minilm" in str(info.value) and "local directory" in str(info.value)


def test_hub_dataset_name_fails_fast_with_local_hint(no_network: list[Any]) -> None:
    from lightning_meta.data.sources import SourceSpec

    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        SourceSpec(source="stanfordnlp/imdb").validate()
    assert time.perf_counter() - start < FAST
    assert "local files" in str(info.value) and "data_files" in str(info.value)


@pytest.mark.parametrize("what", ["backbone", "source"])
def test_hub_names_fail_fast_through_the_cli(
    what: str,
    no_network: list[Any],
    tmp_path: Path,
    tiny_csv: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = {"backbone": {"backbone": "bert-base-uncased"}, "source": {"source": "imdb"}}[what]
    config = fit_config(tmp_path, tiny_csv, **hub)
    start = time.perf_counter()
    assert main(["fit", "--config", str(config)]) == 2
    assert time.perf_counter() - start < FAST
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f".{what}:" in errors[0] and "unreachable" in errors[0]
    assert "local" in errors[0]
    assert not (tmp_path / "out").exists()


def test_this_machine_fails_fast_without_the_offline_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real network path (no patching): on an offline machine the check answers in seconds."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.perf_counter()
    reachable = hub_reachable()
    assert time.perf_counter() - start < FAST
    if reachable:
        pytest.skip("the Hugging Face hub is reachable from this machine")
    with pytest.raises(ConfigError, match="unreachable"):
        resolve_pretrained("bert-base-uncased")
