"""Issue 12 item 3: the data tokenizer defaults to the model backbone's own (a CLI link), and an
explicit tokenizer whose vocabulary or special tokens differ from the backbone's is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lightning_meta.cli.lightning import link_tokenizer, make_cli
from lightning_meta.errors import ConfigError
from lightning_meta.reliability.preflight import check_tokenizer
from lightning_meta.resolve import minilm_dir


def config(tmp_path: Path, csv: Path, backbone: str, tokens: dict[str, Any]) -> Path:
    cfg = {
        "trainer": {"accelerator": "cpu", "devices": 1, "max_steps": 1, "logger": False,
                    "enable_checkpointing": False, "default_root_dir": str(tmp_path / "run")},
        "model": {"class_path": "lightning_meta.lightning.MAML",
                  "init_args": {"encoder": {"backbone": backbone}, "first_order": True}},
        "data": {"class_path": "lightning_meta.data.EpisodicDataModule",
                 "init_args": {"source": str(csv), "split_mode": "classes",
                               "split_fractions": [0.34, 0.33, 0.33],
                               "shape": {"n_way": 3, "k_shot": 2, "q_query": 2},
                               "tokens": {"max_length": 16, **tokens}}},
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def built(tmp_path: Path, csv: Path, backbone: str, **tokens: Any) -> Any:
    return make_cli(["--config", str(config(tmp_path, csv, backbone, tokens))], run=False)


@pytest.fixture(scope="module")
def own_vocab_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory with its own tokenizer: MiniLM's vocabulary with two ids swapped (as
    any other encoder's WordPiece/BPE vocabulary: same size, other ids)."""
    from transformers import BertTokenizerFast

    from lightning_meta.models.encoder import tiny_encoder

    out = tmp_path_factory.mktemp("own_vocab")
    lines = (minilm_dir() / "vocab.txt").read_text().splitlines()
    a, b = lines.index("the"), lines.index("and")
    lines[a], lines[b] = lines[b], lines[a]
    (out / "vocab.txt").write_text("\n".join(lines) + "\n")
    BertTokenizerFast(vocab_file=str(out / "vocab.txt")).save_pretrained(out)
    tiny_encoder(seed=0).save_pretrained(out)
    return out


def test_link_fills_auto_only() -> None:
    cfg = {"model": {"init_args": {"encoder": {"backbone": "some/dir"}}},
           "data": {"init_args": {"tokens": {"tokenizer": "auto"}}}}  # fmt: skip
    assert link_tokenizer(cfg) == "some/dir"
    assert cfg["data"]["init_args"]["tokens"]["tokenizer"] == "some/dir"
    cfg["model"]["init_args"]["encoder"]["backbone"] = "tiny"
    cfg["data"]["init_args"]["tokens"]["tokenizer"] = "auto"
    assert link_tokenizer(cfg) == "minilm"  # the tiny test encoder is built on MiniLM's vocab
    assert link_tokenizer(cfg) is None  # explicit (here: already linked) values stay


def test_default_tokenizer_is_the_backbones_own(
    tmp_path: Path, tiny_csv: Path, own_vocab_backbone: Path
) -> None:
    cli = built(tmp_path, tiny_csv, str(own_vocab_backbone))
    assert cli.datamodule.tokenizer == str(own_vocab_backbone)  # was 'minilm' whatever the model
    assert cli.config["data"]["init_args"]["tokens"]["tokenizer"] == str(own_vocab_backbone)
    check_tokenizer(cli.model, cli.datamodule)  # the backbone's own: accepted
    assert built(tmp_path, tiny_csv, "tiny").datamodule.tokenizer == "minilm"


def test_explicit_minilm_for_a_minilm_vocab_backbone_stays_valid(
    tmp_path: Path, tiny_csv: Path
) -> None:
    cli = built(tmp_path, tiny_csv, "tiny", tokenizer="minilm")  # as configs/experiment/*.yaml
    assert cli.datamodule.tokenizer == "minilm"
    check_tokenizer(cli.model, cli.datamodule)


def test_explicit_tokenizer_with_another_vocabulary_is_refused(
    tmp_path: Path, tiny_csv: Path, own_vocab_backbone: Path
) -> None:
    cli = built(tmp_path, tiny_csv, str(own_vocab_backbone), tokenizer="minilm")
    with pytest.raises(ConfigError) as err:
        check_tokenizer(cli.model, cli.datamodule)
    line = str(err.value)
    assert line.startswith("data.tokens.tokenizer: 'minilm' does not match the tokenizer of ")
    assert (
        str(own_vocab_backbone) in line and "vocabulary differs: 30522 vs 30522 tokens, 2" in line
    )
    assert "\n" not in line


def test_explicit_tokenizer_with_other_special_tokens_is_refused(
    tmp_path: Path, tiny_csv: Path
) -> None:
    from transformers import AutoTokenizer

    other = tmp_path / "other_cls"
    AutoTokenizer.from_pretrained(minilm_dir(), cls_token="[unused1]").save_pretrained(other)
    cli = built(tmp_path, tiny_csv, "tiny", tokenizer=str(other))
    with pytest.raises(
        ConfigError, match=r"special token cls_token differs: '\[unused1\]' vs '\[CLS\]'"
    ):
        check_tokenizer(cli.model, cli.datamodule)
