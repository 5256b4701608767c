"""BF16WhereNative: bf16 autocast only where the device computes bf16 natively, fp32 elsewhere,
said in one line and recorded in the export; the preflight warns on an explicit emulated bf16.

The CPU's instruction set is monkeypatched (``torch.cpu._is_amx_tile_supported`` ...), so both
branches run on any machine; which one a real run takes is printed by the fit itself."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from lightning_meta.callbacks import BF16WhereNative, HFExport
from lightning_meta.data.config import EpisodeShape, EpisodeStream, Tokenization
from lightning_meta.data.datamodule import EpisodicDataModule
from lightning_meta.errors import ConfigError
from lightning_meta.lightning import MAML
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs
from lightning_meta.lightning.precision import native_bf16
from lightning_meta.reliability.preflight import check_precision


def _cpu(monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "expected"),
    [(True, True, "AMX"), (False, True, "AVX512-BF16"), (False, False, None)],
)
def test_native_bf16_on_cpu(
    monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool, expected: str | None
) -> None:
    _cpu(monkeypatch, amx, avx512_bf16)
    assert native_bf16("cpu") == expected
    assert native_bf16(torch.device("meta")) is None  # not checked: never claimed native


class _Probe(pl.Callback):
    """Records the dtype a Linear computes in during each training step."""

    def __init__(self) -> None:
        self.dtypes: list[torch.dtype] = []

    def on_train_batch_start(self, trainer: pl.Trainer, *_: object) -> None:
        with trainer.precision_plugin.train_step_context():
            x = torch.ones(2, 4)
            self.dtypes.append(torch.nn.Linear(4, 4)(x).dtype)


def _fit(tmp_path: Path, callbacks: list[pl.Callback], precision: str | None = None) -> pl.Trainer:
    (tmp_path / "s.csv").write_text(
        "text,label\n" + "".join(f"text {i % 7} number {i},{'ab'[i % 2]}\n" for i in range(60))
    )
    dm = EpisodicDataModule(
        data_files=[str(tmp_path / "s.csv")],
        shape=EpisodeShape(n_way=2, k_shot=3, q_query=3),
        stream=EpisodeStream(meta_batch_size=2, train_episodes=4, val_episodes=2, test_episodes=2),
        tokens=Tokenization(max_length=12, cache_dir=str(tmp_path)),
    )
    model = MAML(first_order=True, encoder=EncoderConfig("tiny"), inner=InnerLoopArgs(steps=1))
    t = pl.Trainer(
        max_steps=1, limit_val_batches=1, num_sanity_val_steps=0, inference_mode=False,
        use_distributed_sampler=False, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        callbacks=callbacks, precision=precision,  # type: ignore[arg-type]
    )  # fmt: skip
    t.fit(model, datamodule=dm)
    return t


@pytest.mark.parametrize(("amx", "precision"), [(True, "bf16-mixed"), (False, "32-true")])
def test_the_callback_chooses_the_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, amx: bool, precision: str
) -> None:
    _cpu(monkeypatch, amx, False)
    choice, probe = BF16WhereNative(), _Probe()
    export = HFExport(dirpath=str(tmp_path / "export"))
    t = _fit(tmp_path, [choice, probe, export])
    assert t.precision == choice.precision == precision
    assert probe.dtypes == [torch.bfloat16 if amx else torch.float32]
    assert all(p.dtype == torch.float32 for p in t.lightning_module.parameters())
    reason = "native bf16 on this CPU (AMX)" if amx else "this CPU has no native bf16"
    assert reason in choice.reason
    recorded = json.loads((tmp_path / "export" / "meta_learning.json").read_text())["precision"]
    assert recorded == f"{precision} ({choice.reason})"


def test_the_callback_refuses_an_explicit_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cpu(monkeypatch, True, False)
    with pytest.raises(ConfigError, match=r"^trainer\.precision: bf16-mixed is set and the "):
        _fit(tmp_path, [BF16WhereNative()], precision="bf16-mixed")


def test_preflight_warns_on_emulated_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    def trainer(precision: str) -> pl.Trainer:
        return pl.Trainer(accelerator="cpu", precision=precision, logger=False)  # type: ignore[arg-type]

    _cpu(monkeypatch, False, False)
    with pytest.warns(UserWarning, match=r"^trainer\.precision: bf16-mixed on a CPU without nat"):
        check_precision(trainer("bf16-mixed"))
    _cpu(monkeypatch, False, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_precision(trainer("bf16-mixed"))  # native: silent
        check_precision(trainer("32-true"))
