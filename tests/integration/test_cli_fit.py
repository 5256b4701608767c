"""End-to-end through the `lightning-meta` CLI on the tiny encoder and a tiny CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lightning_meta.cli import main


def write_config(tmp_path: Path, csv_path: Path, model: dict, max_steps: int = 3) -> Path:
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": max_steps,
            "max_epochs": 10,
            "limit_val_batches": 4,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
            "default_root_dir": str(tmp_path / "run"),
            "logger": {
                "class_path": "pytorch_lightning.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "run")},
            },
            "callbacks": [
                {
                    "class_path": "pytorch_lightning.callbacks.ModelCheckpoint",
                    "init_args": {
                        "monitor": "val/acc",
                        "mode": "max",
                        "save_last": True,
                        "dirpath": str(tmp_path / "ckpt"),
                    },
                },
                {
                    "class_path": "lightning_meta.callbacks.HFExport",
                    "init_args": {"dirpath": str(tmp_path / "export")},
                },
            ],
        },
        "model": model,
        "data": {
            "class_path": "lightning_meta.data.EpisodicDataModule",
            "init_args": {
                "source": str(csv_path),
                "shape": {"n_way": 3, "k_shot": 2, "q_query": 3},
                "split_fractions": [0.34, 0.33, 0.33],
                "split_mode": "classes",
                "stream": {
                    "meta_batch_size": 2,
                    "train_episodes": 4,
                    "val_episodes": 4,
                    "test_episodes": 4,
                },
                "tokens": {"max_length": 16},
            },
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


TINY = {"backbone": "tiny"}
MODELS = {
    "maml": {
        "class_path": "lightning_meta.lightning.MAML",
        "init_args": {"encoder": TINY, "inner": {"steps": 1}, "first_order": False},
    },
    "fomaml": {
        "class_path": "lightning_meta.lightning.MAML",
        "init_args": {
            "encoder": TINY,
            "inner": {"steps": 2, "learn_lr": True},
            "first_order": True,
        },
    },
    "reptile": {
        "class_path": "lightning_meta.lightning.Reptile",
        "init_args": {"encoder": TINY, "inner": {"steps": 2}},
    },
    "protonet": {
        "class_path": "lightning_meta.lightning.ProtoNet",
        "init_args": {"encoder": TINY},
    },
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_then_export_loads_with_automodel(tmp_path: Path, tiny_csv: Path, name: str) -> None:
    from transformers import AutoModel

    cfg = write_config(tmp_path, tiny_csv, MODELS[name])
    assert main(["fit", "--config", str(cfg)]) == 0
    export = tmp_path / "export"
    meta = json.loads((export / "meta_learning.json").read_text())
    assert meta["algorithm"] in {"maml", "fomaml", "reptile", "protonet"}
    assert meta["config"]["data"]["init_args"]["shape"]["n_way"] == 3
    assert meta["best_val_score"] is not None
    model = AutoModel.from_pretrained(export)
    assert model.config.hidden_size == 32
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()


def test_test_command_reports_ci(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = {
        "class_path": "lightning_meta.lightning.FineTune",
        "init_args": {"encoder": TINY, "inner": {"steps": 1}},
    }
    cfg = write_config(tmp_path, tiny_csv, model)
    assert main(["test", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "test/acc" in out and "test/acc_ci" in out


def test_finetune_refuses_fit(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = {"class_path": "lightning_meta.lightning.FineTune", "init_args": {"encoder": TINY}}
    cfg = write_config(tmp_path, tiny_csv, model)
    assert main(["fit", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: model: FineTune has no meta-training")


def test_report_table_after_fit(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, tiny_csv, MODELS["fomaml"])
    assert main(["fit", "--config", str(cfg)]) == 0
    out_dir = tmp_path / "report"
    rc = main(
        [
            "report",
            "--export",
            str(tmp_path / "export"),
            "--baseline",
            "tiny",
            "--episodes",
            "5",
            "--no-sentiment",
            "--out",
            str(out_dir),
        ]
    )
    assert rc == 0
    table = (out_dir / "results.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "method" not in line]
    assert len(rows) == 3
    assert "meta-trained init (fomaml)" in rows[0] and "nearest centroid" in rows[2]
    lines = (out_dir / "results.csv").read_text().strip().splitlines()
    assert len(lines) == 4 and lines[1].split(",")[6] == "5"
    # issue 12.5: the export says where it came from; the report prints it above the table
    meta = json.loads((tmp_path / "export" / "meta_learning.json").read_text())
    assert meta["stop_reason"] == "max_steps" and meta["global_step"] == 3
    best = Path(meta["best_checkpoint"])
    assert meta["exported_step"] == int(best.stem.split("step=")[1].split("-")[0].split(".")[0])
    assert "stop_reason: max_steps" in capsys.readouterr().out
    assert table.startswith(f"Exported checkpoint: step {meta['exported_step']}")
    # issue 12.8: the centroid row against a hand-written nearest-centroid on the same episodes
    centroid = [line.split(",") for line in lines[1:] if "nearest centroid" in line][0]
    expected = _hand_centroid_accuracy(yaml.safe_load(cfg.read_text())["data"]["init_args"], 5)
    assert float(centroid[2]) == pytest.approx(expected, abs=1e-6)  # float32 episode acc


def _hand_centroid_accuracy(data_args: dict, n: int) -> float:
    """Mean query accuracy of cosine nearest class mean over mean-pooled tiny-encoder states."""
    import torch

    from lightning_meta.evaluation.episodes import fixed_episodes
    from lightning_meta.models import tiny_encoder

    enc = tiny_encoder(seed=0).eval()

    def embed(batch):  # (B, H): mean of the last hidden states over real tokens
        with torch.no_grad():
            h = enc(input_ids=batch.input_ids, attention_mask=batch.attention_mask)[0]
        m = batch.attention_mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)

    accs = []
    for ep in fixed_episodes(data_args, n):
        s, q = embed(ep.support), embed(ep.query)
        protos = torch.stack([s[ep.support.labels == c].mean(0) for c in range(ep.n_way)])
        cos = (
            torch.nn.functional.normalize(q, dim=-1)
            @ torch.nn.functional.normalize(protos, dim=-1).T
        )
        accs.append((cos.argmax(-1) == ep.query.labels).double().mean().item())
    return sum(accs) / len(accs)


def test_evaluate_identical_episodes_give_identical_scores(tmp_path: Path, tiny_csv: Path) -> None:
    from lightning_meta.evaluation.episodes import fixed_episodes
    from lightning_meta.evaluation.loading import load_any
    from lightning_meta.evaluation.scoring import evaluate_episodes

    cfg = write_config(tmp_path, tiny_csv, MODELS["protonet"])
    assert main(["fit", "--config", str(cfg)]) == 0
    data = yaml.safe_load(cfg.read_text())["data"]["init_args"]
    eps = fixed_episodes(data, 6)
    again = fixed_episodes(data, 6)
    assert all(
        torch_equal(a.query.input_ids, b.query.input_ids) for a, b in zip(eps, again, strict=True)
    )
    ckpt = str(tmp_path / "ckpt" / "last.ckpt")
    r1 = evaluate_episodes(load_any(ckpt), eps)
    r2 = evaluate_episodes(load_any(ckpt), again)
    assert r1 == r2 and r1["acc"].n == 6


def torch_equal(a, b) -> bool:  # type: ignore[no-untyped-def]
    import torch

    return bool(torch.equal(a, b))


def test_evaluate_command_prints_acc_and_f1(
    tmp_path: Path, tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, tiny_csv, MODELS["fomaml"])
    assert main(["fit", "--config", str(cfg)]) == 0
    capsys.readouterr()
    for model in (str(tmp_path / "export"), str(tmp_path / "ckpt" / "last.ckpt")):
        rc = main(
            [
                "evaluate",
                "--model",
                model,
                "--data",
                str(tiny_csv),
                "--n-way",
                "3",
                "--k-shot",
                "2",
                "--q-query",
                "3",
                "--episodes",
                "4",
                "--max-length",
                "16",
                "--tokenizer",
                "minilm",
                "--split-fractions",
                "0.34",
                "0.33",
                "0.33",
                "--split-mode",
                "classes",
            ]
        )
        assert rc == 0
        out = capsys.readouterr().out
        assert "acc: " in out and "f1: " in out and "± " in out and "4 episodes" in out


def test_export_command_from_checkpoint(tmp_path: Path, tiny_csv: Path) -> None:
    from transformers import AutoModel

    cfg = write_config(tmp_path, tiny_csv, MODELS["reptile"])
    assert main(["fit", "--config", str(cfg)]) == 0
    out = tmp_path / "exported"
    rc = main(
        [
            "export",
            "--ckpt",
            str(tmp_path / "ckpt" / "last.ckpt"),
            "--config",
            str(cfg),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    meta = json.loads((out / "meta_learning.json").read_text())
    assert (
        meta["algorithm"] == "reptile"
        and meta["config"]["data"]["init_args"]["shape"]["n_way"] == 3
    )
    assert AutoModel.from_pretrained(out).config.hidden_size == 32


def test_learned_inner_lrs_export_scores_like_its_checkpoint(
    tmp_path: Path, tiny_csv: Path
) -> None:
    """Issue 12 items 1 + 3 through a real fit: the export of a learn_lr model adapts with its
    learned per-tensor rates (identical per-episode scores to the checkpoint it came from), and
    the run records the tokenizer linked from the backbone (the config sets none)."""
    from lightning_meta.evaluation.episodes import fixed_episodes
    from lightning_meta.evaluation.loading import load_any
    from lightning_meta.evaluation.scoring import score_module

    cfg = write_config(tmp_path, tiny_csv, MODELS["fomaml"], max_steps=4)
    assert main(["fit", "--config", str(cfg)]) == 0
    meta = json.loads((tmp_path / "export" / "meta_learning.json").read_text())
    assert meta["config"]["data"]["init_args"]["tokens"]["tokenizer"] == "minilm"  # tiny's own
    rates = meta["inner_loop"]["learned_inner_lrs"]
    assert rates and len(set(rates.values())) > 1  # meta-training moved them apart
    data = yaml.safe_load(cfg.read_text())["data"]["init_args"]
    eps = fixed_episodes(data, 6)
    best = meta["best_checkpoint"]
    from_ckpt = [s.row() for s in score_module(load_any(best), eps)]
    from_export = [s.row() for s in score_module(load_any(str(tmp_path / "export")), eps)]
    assert from_export == from_ckpt


def test_source_path_in_yaml_and_on_the_command_line_stays_a_path(
    tmp_path: Path, tiny_csv: Path
) -> None:
    """Loose end B: ``source: some.csv`` is the path, not the file's contents (the CLI type
    of ``source`` is ``str``; Python callers may still pass a DataFrame/Dataset)."""
    from lightning_meta.cli.lightning import make_cli

    cfg = write_config(tmp_path, tiny_csv, MODELS["protonet"])
    cli = make_cli(["--config", str(cfg)], run=False)
    assert cli.datamodule.spec.source == str(tiny_csv)
    assert cli.config["data"]["init_args"]["source"] == str(tiny_csv)
    other = tmp_path / "other.csv"
    other.write_text(tiny_csv.read_text())
    cli = make_cli(["--config", str(cfg), "--data.init_args.source", str(other)], run=False)
    assert cli.datamodule.spec.source == str(other)
