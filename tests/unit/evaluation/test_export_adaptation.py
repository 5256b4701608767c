"""Issue 12 items 1-2: an export adapts exactly like the checkpoint it came from (learned
per-tensor inner rates included), and recorded settings are never replaced by defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_meta.callbacks.export import export_module
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.export_meta import ExportMeta, InnerLoopMeta
from lightning_meta.evaluation.fewshot_recipe import Recipe, recipe_from_meta
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.report import build_rows
from lightning_meta.evaluation.scoring import score_module
from lightning_meta.lightning import MAML
from tests.unit.fewshot.helpers import module, perturb_inner_lrs


def data_args(csv: Path) -> dict[str, Any]:
    return {
        "source": str(csv), "split_fractions": (0.34, 0.33, 0.33), "split_mode": "classes",
        "n_way": 3, "k_shot": 2, "q_query": 3, "max_length": 16, "tokenizer": "minilm",
    }  # fmt: skip


def save_ckpt(mod: Any, path: Path) -> Path:
    state = {"state_dict": mod.state_dict(), "hyper_parameters": dict(mod.hparams)}
    mod.on_save_checkpoint(state)
    torch.save(state, path)
    return path


@pytest.fixture
def learned(tmp_path: Path) -> tuple[Any, Path, Path]:
    """A FOMAML module with distinct learned inner rates, its .ckpt and its export."""
    mod = module(MAML, first_order=True, inner_steps=2, eval_inner_steps=3, learn_inner_lr=True)
    perturb_inner_lrs(mod, seed=3)
    ckpt = save_ckpt(mod, tmp_path / "m.ckpt")
    export = export_module(mod, tmp_path / "export", "minilm", {})
    return mod, ckpt, export


def test_export_and_checkpoint_give_identical_per_episode_scores(
    learned: tuple[Any, Path, Path], tiny_csv: Path
) -> None:
    mod, ckpt, export = learned
    eps = fixed_episodes(data_args(tiny_csv), 6)
    reference = [s.row() for s in score_module(mod, eps)]
    from_ckpt = [s.row() for s in score_module(load_any(str(ckpt)), eps)]
    from_export = [s.row() for s in score_module(load_any(str(export)), eps)]
    assert from_ckpt == reference
    assert from_export == reference  # exactly: acc, F1 and both query losses per episode
    # the scalar starting lr (what the export path used before) adapts differently
    scalar = load_any(str(export), overrides={"inner_lr": 0.01})
    assert [s.row() for s in score_module(scalar, eps)] != reference


def test_learned_rates_are_stored_exactly(learned: tuple[Any, Path, Path]) -> None:
    mod, _, export = learned
    stored = json.loads((export / "meta_learning.json").read_text())["inner_loop"]
    rates = stored["learned_inner_lrs"]
    assert set(rates) == set(mod.inner_lrs)
    for key, p in mod.inner_lrs.items():
        assert torch.tensor(rates[key], dtype=p.dtype) == p.detach()  # bit-exact round trip
    module_ = load_any(str(export))
    assert module_.inner_lrs is not None and not any(
        p.requires_grad for p in module_.inner_lrs.values()
    )
    assert module_.learned_inner_lrs() == mod.learned_inner_lrs()
    assert module_.eval_steps == 3


def test_overrides_of_lr_or_adapt_drop_learned_rates(learned: tuple[Any, Path, Path]) -> None:
    _, ckpt, export = learned
    assert load_any(str(export), overrides={"inner_lr": 0.1}).inner_lrs is None
    assert load_any(str(export), overrides={"inner": {"lr": 0.1}}).inner_lrs is None
    kept = load_any(str(export), overrides={"inner_steps": 0})
    assert kept.inner_lrs is not None and kept.eval_steps == 0
    # a checkpoint takes inner steps / lr overrides too (they used to be ignored silently)
    assert load_any(str(ckpt), overrides={"inner_steps": 1}).eval_steps == 1
    by_lr = load_any(str(ckpt), overrides={"inner_lr": 0.2})
    assert by_lr.inner_lrs is None and by_lr.inner.lr == 0.2
    with pytest.raises(ConfigError, match=r"^adapt: a \.ckpt evaluates with its own settings"):
        load_any(str(ckpt), overrides={"adapt": "head"})


def test_rates_for_other_tensors_are_refused(tmp_path: Path) -> None:
    mod = module(MAML, first_order=True, inner_steps=1, learn_inner_lr=True)
    export = export_module(mod, tmp_path / "export", "minilm", {})
    meta = ExportMeta.read(export)
    assert meta is not None
    with pytest.raises(ConfigError, match=r"^learned_inner_lrs: the rates are for other tensors"):
        load_any("tiny", overrides={**meta.adaptation(), "adapt": "top2", "learned_inner_lrs":
                                    meta.inner_loop.learned_inner_lrs})  # fmt: skip


def test_zero_eval_steps_stay_zero(tmp_path: Path) -> None:
    meta = ExportMeta(inner_loop=InnerLoopMeta(inner_steps=5, eval_inner_steps=0))
    assert meta.adaptation()["inner_steps"] == 0  # was 5 through `x or default`
    assert recipe_from_meta(meta).steps == 0
    mod = module(MAML, first_order=True, inner_steps=0, eval_inner_steps=0)
    export = export_module(mod, tmp_path / "export", "minilm", {})
    assert load_any(str(export)).eval_steps == 0
    assert Recipe(steps=2).to_meta(ExportMeta(inner_loop=InnerLoopMeta(inner_steps=0))).inner_loop.inner_steps == 0  # fmt: skip
    # not recorded (None): the documented defaults
    assert ExportMeta().adaptation() == {
        "pooling": "mean", "adapt": "top1", "head_init": "prototype", "inner_steps": 5,
        "inner_lr": 1e-2, "pair_weight": 0.0, "learned_inner_lrs": {},
    }  # fmt: skip


def test_report_baseline_rows_take_every_setting_from_the_export(tmp_path: Path) -> None:
    mod = module(
        MAML, first_order=True, inner_steps=2, eval_inner_steps=0, learn_inner_lr=True,
        pooling="cls", adapt="top1", head_init="zero",
    )  # fmt: skip
    perturb_inner_lrs(mod, seed=5)
    export = export_module(mod, tmp_path / "export", "minilm", {})
    meta = ExportMeta.read(export)
    assert meta is not None
    rows = list(build_rows(export, meta, "tiny").values())
    for row in rows[:2]:  # meta-trained init, pretrained init + same fine-tuning
        assert row.model.pooling == "cls" and row.model.head_init == "zero"
        assert row.eval_steps == 0 and row.learned_inner_lrs() == mod.learned_inner_lrs()
    assert rows[2].model.pooling == "cls"  # the frozen centroid row embeds the same way
