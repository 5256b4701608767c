"""The SMLMT and hybrid experiment configs parse and instantiate through LightningCLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_meta.cli.lightning import make_cli
from lightning_meta.data.hybrid import HybridDataModule, LabelledSource
from lightning_meta.data.smlmt import SMLMTDataModule, SMLMTText

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "experiment"


def instantiate(name: str):  # type: ignore[no-untyped-def]
    args = ["--config", str(CONFIGS / name), "--model.init_args.encoder.backbone=tiny",
            "--trainer.logger=false", "--trainer.callbacks=[]"]  # fmt: skip
    return make_cli(args, run=False)


def test_smlmt_pretrain_config() -> None:
    cli = instantiate("smlmt_pretrain.yaml")
    dm = cli.datamodule
    assert isinstance(dm, SMLMTDataModule)
    assert dm.text.texts == ("wordnet",) and dm.text.max_count == 1000
    assert dm.n_way == dm.shape.n_way == 5


@pytest.mark.filterwarnings("ignore")
def test_hybrid_config() -> None:
    cli = instantiate("hybrid.yaml")
    dm = cli.datamodule
    assert isinstance(dm, HybridDataModule)
    assert isinstance(dm.smlmt, SMLMTText) and dm.smlmt.texts == ("wordnet",)
    assert dm.labelled == [LabelledSource(source="wordnet", split_fractions=(0.5555556, 0.2222222,
                                                                             0.2222222),
                                          split_mode="classes")]  # fmt: skip
    assert dm.mixing == "temperature" and dm.temperature == 8.0
    assert dm.n_way == dm.shape.n_way == 5
