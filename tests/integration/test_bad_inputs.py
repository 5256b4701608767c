"""Bad-input matrix: every malformed config or data input fails fast with one line.

Each case runs ``lightning-meta fit`` in-process on the tiny encoder and a tiny CSV and asserts:
exit code != 0; stderr holds exactly one ``error:`` line, which names the field and gives a fix
(``field: what; fix``); no traceback; nothing written under the output directory.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lightning_meta.cli import main
from lightning_meta.errors import ConfigError

Config = dict[str, Any]


def base_config(out: Path, csv_path: Path) -> Config:
    """A valid 2-step fit whose every output lives under ``out``."""
    return {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu", "devices": 1, "max_steps": 2, "limit_val_batches": 2,
            "num_sanity_val_steps": 0, "enable_progress_bar": False, "enable_model_summary": False,
            "default_root_dir": str(out),
            "logger": {"class_path": "pytorch_lightning.loggers.CSVLogger", "init_args": {"save_dir": str(out / "logs")}},
            "callbacks": [
                {"class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                 "init_args": {"dirpath": str(out / "ckpt"), "save_last": True}},
                {"class_path": "lightning_meta.callbacks.HFExport", "init_args": {"dirpath": str(out / "export")}},
            ],
        },
        "model": {"class_path": "lightning_meta.lightning.MAML",
                  "init_args": {"encoder": {"backbone": "tiny"}, "inner": {"steps": 1},
                                "first_order": True}},
        "data": {"class_path": "lightning_meta.data.EpisodicDataModule",
                 "init_args": {"source": str(csv_path), "shape": {"n_way": 3, "k_shot": 2, "q_query": 2},
                               "split_fractions": [0.34, 0.33, 0.33], "split_mode": "classes",
                               "stream": {"meta_batch_size": 2, "train_episodes": 4,
                                          "val_episodes": 2, "test_episodes": 2},
                               "tokens": {"max_length": 16}}},
    }  # fmt: skip


def put(cfg: Config, dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    node = cfg
    for key in path:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value


def setting(dotted: str, value: Any) -> Callable[[Config, Path], None]:
    return lambda cfg, tmp: put(cfg, dotted, value)


def bigger_vocab_tokenizer(cfg: Config, tmp: Path) -> None:
    from transformers import AutoTokenizer

    from lightning_meta.resolve import minilm_dir

    tok = AutoTokenizer.from_pretrained(minilm_dir())
    tok.add_tokens([f"extra_token_{i}" for i in range(8)])  # 30522 + 8 > tiny's 30522 rows
    tok.save_pretrained(tmp / "big_tok")
    put(cfg, "data.init_args.tokens.tokenizer", str(tmp / "big_tok"))


def other_tokenizer(change: str) -> Callable[[Config, Path], None]:
    """An explicit tokenizer of MiniLM's size that is not the tiny backbone's own (issue 12):
    two vocabulary ids swapped, or another [CLS] token."""

    def mutate(cfg: Config, tmp: Path) -> None:
        from transformers import AutoTokenizer, BertTokenizerFast

        from lightning_meta.resolve import minilm_dir

        out = tmp / f"tok_{change}"
        out.mkdir()
        if change == "vocab":
            lines = (minilm_dir() / "vocab.txt").read_text().splitlines()
            a, b = lines.index("the"), lines.index("and")
            lines[a], lines[b] = lines[b], lines[a]
            (out / "vocab.txt").write_text("\n".join(lines) + "\n")
            BertTokenizerFast(vocab_file=str(out / "vocab.txt")).save_pretrained(out)
        else:
            AutoTokenizer.from_pretrained(minilm_dir(), cls_token="[unused1]").save_pretrained(out)
        put(cfg, "data.init_args.tokens.tokenizer", str(out))

    return mutate


def under_a_file(dotted: str) -> Callable[[Config, Path], None]:
    def mutate(cfg: Config, tmp: Path) -> None:
        blocker = tmp / "blocker.txt"
        blocker.write_text("a file, not a directory")
        put(cfg, dotted, str(blocker / "sub"))

    return mutate


REPTILE = {
    "class_path": "lightning_meta.lightning.Reptile",
    "init_args": {"encoder": {"backbone": "tiny"}, "inner": {"steps": 0}},
}
YAML_ERROR = "trainer:\n  max_steps: [1, 2\nmodel: {\n"

# id -> (mutation, text the error line must contain)
CASES: dict[str, tuple[Callable[[Config, Path], None], str]] = {
    "type_inner_steps": (
        setting("model.init_args.inner.steps", "abc"),
        "model.init_args.inner.steps",
    ),
    "type_max_steps": (setting("trainer.max_steps", "ten"), "trainer.max_steps"),
    "negative_max_steps": (setting("trainer.max_steps", -5), "trainer.max_steps"),
    "missing_data_section": (lambda cfg, tmp: cfg.pop("data"), "data"),
    "type_k_shot": (setting("data.init_args.shape.k_shot", "two"), "data.init_args.shape.k_shot"),
    "literal_pooling": (
        setting("model.init_args.encoder.pooling", "max"),
        "model.init_args.encoder.pooling",
    ),
    "literal_on_nonfinite": (
        setting("model.init_args.nonfinite", {"action": "ignore"}),
        "model.init_args.nonfinite.action",
    ),
    "unknown_option": (setting("model.init_args.inner_stpes", 2), "model.init_args.inner_stpes"),
    "unknown_group_option": (
        setting("model.init_args.inner.stpes", 2),
        "model.init_args.inner.stpes",
    ),
    "negative_inner_lr": (setting("model.init_args.inner.lr", -0.1), "model.inner.lr"),
    "negative_outer_lr": (
        setting(
            "model.init_args.optimizer",
            {"class_path": "torch.optim.AdamW", "init_args": {"lr": -1.0}},
        ),
        "model.optimizer",
    ),
    "negative_inner_steps": (setting("model.init_args.inner.steps", -1), "model.inner.steps"),
    "reptile_zero_inner_steps": (setting("model", REPTILE), "model.inner.steps"),
    "max_length_zero": (setting("data.init_args.tokens.max_length", 0), "data.tokens.max_length"),
    "max_length_beyond_positions": (
        setting("data.init_args.tokens.max_length", 512),
        "data.tokens.max_length",
    ),
    "n_way_one": (setting("data.init_args.shape.n_way", 1), "data.shape.n_way"),
    "n_way_above_classes": (setting("data.init_args.shape.n_way", 12), "data.shape.n_way"),
    "meta_batch_zero": (
        setting("data.init_args.stream.meta_batch_size", 0),
        "data.stream.meta_batch_size",
    ),
    "split_fractions_sum": (
        setting("data.init_args.split_fractions", [0.5, 0.5, 0.5]),
        "data.split_fractions",
    ),
    "missing_data_file": (setting("data.init_args.source", "/nonexistent/data.csv"), "data."),
    "wrong_text_column": (setting("data.init_args.text_column", "sentence"), "data.text_column"),
    "wrong_label_column": (setting("data.init_args.label_column", "category"), "data.label_column"),
    "invalid_adapt_regex": (setting("model.init_args.inner.adapt", "re:("), "model.inner.adapt"),
    "unknown_algorithm": (
        setting("model.class_path", "lightning_meta.lightning.MAMLv2"),
        "model.class_path",
    ),
    "unknown_datamodule": (
        setting("data.class_path", "lightning_meta.data.NoSuchData"),
        "data.class_path",
    ),
    "unknown_backbone_path": (
        setting("model.init_args.encoder.backbone", "./no-such-model"),
        "model.encoder.backbone",
    ),
    "unknown_backbone_hub": (
        setting("model.init_args.encoder.backbone", "no-such-org/no-such-model"),
        "model.encoder.backbone",
    ),
    "hub_dataset_offline": (
        setting("data.init_args.source", "no-such-org/no-such-dataset"),
        "data.source",
    ),
    "tokenizer_vocab_mismatch": (bigger_vocab_tokenizer, "data.tokens.tokenizer"),
    "tokenizer_other_vocabulary": (other_tokenizer("vocab"), "data.tokens.tokenizer"),
    "tokenizer_other_special_tokens": (other_tokenizer("cls"), "data.tokens.tokenizer"),
    "unwritable_checkpoint_dir": (under_a_file("trainer.callbacks.0.init_args.dirpath"), "dirpath"),
    "unwritable_root_dir": (under_a_file("trainer.default_root_dir"), "trainer.default_root_dir"),
    "unwritable_logger_dir": (under_a_file("trainer.logger.init_args.save_dir"), "save_dir"),
}


def run_fit(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["fit", *args])
    return rc, capsys.readouterr().err


def assert_one_line_error(rc: int, err: str, field: str) -> str:
    assert rc != 0
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    line = lines[0]
    assert field in line, line
    assert ";" in line.split(field, 1)[1], f"no fix after the field: {line}"
    assert "\n" not in line and len(line) < 400
    return line


def assert_nothing_written(out: Path) -> None:
    written = sorted(p.relative_to(out) for p in out.rglob("*")) if out.exists() else []
    assert written == [], written


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_with_one_line(
    case: str, tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutate, field = CASES[case]
    out = tmp_path / "out"
    cfg = copy.deepcopy(base_config(out, tiny_csv))
    mutate(cfg, tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc, err = run_fit(capsys, ["--config", str(path)])
    assert_one_line_error(rc, err, field)
    assert_nothing_written(out)


def test_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(YAML_ERROR)
    rc, err = run_fit(capsys, ["--config", str(path)])
    line = assert_one_line_error(rc, err, "--config")
    assert "line" in line and str(path) in line


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run_fit(capsys, ["--config", str(tmp_path / "nope.yaml")])
    assert_one_line_error(rc, err, "--config")


def test_unknown_command_line_option(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_config(out, tiny_csv)))
    rc, err = run_fit(capsys, ["--config", str(path), "--model.init_args.inner_lrr", "0.1"])
    assert_one_line_error(rc, err, "inner_lrr")
    assert_nothing_written(out)


def test_missing_ckpt_path(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_config(out, tiny_csv)))
    rc, err = run_fit(capsys, ["--config", str(path), "--ckpt_path", str(tmp_path / "gone.ckpt")])
    assert_one_line_error(rc, err, "checkpoint")
    assert_nothing_written(out)


def test_debug_shows_traceback(tmp_path: Path, tiny_csv: Path) -> None:
    cfg = base_config(tmp_path / "out", tiny_csv)
    put(cfg, "model.init_args.adapt", "re:(")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="adapt"):
        main(["fit", "--config", str(path), "--debug"])


def test_corrupted_last_checkpoint_is_named(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--ckpt_path last` resolving to a damaged file: one line that names it, no traceback."""
    out = tmp_path / "out"
    (out / "ckpt").mkdir(parents=True)
    (out / "ckpt" / "last.ckpt").write_bytes(b"PK\x03\x04 truncated by a crash")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_config(out, tiny_csv)))
    rc, err = run_fit(capsys, ["--config", str(path), "--ckpt_path", "last"])
    line = assert_one_line_error(rc, err, "checkpoint")
    assert str(out / "ckpt" / "last.ckpt") in line and "truncated or corrupted" in line
