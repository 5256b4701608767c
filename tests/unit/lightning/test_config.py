"""Argument groups: the defaults of the flat layout they replace, plain hyper-parameters that
load with ``weights_only=True``, rebuilding from a checkpoint (grouped and old flat layouts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_meta.algorithms import InnerLoopConfig
from lightning_meta.data.config import (
    EpisodeShape,
    EpisodeStream,
    Tokenization,
    flatten,
    group_kwargs,
)
from lightning_meta.data.smlmt import SMLMT_SHAPE
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.loading import build_evaluator, load_module_from_checkpoint
from lightning_meta.lightning import MAML, FineTune, ProtoNet, Reptile
from lightning_meta.lightning.config import (
    MODEL_GROUPS,
    EncoderConfig,
    InnerLoopArgs,
    NonFiniteConfig,
)

TINY = EncoderConfig(backbone="tiny")


def test_defaults_are_the_flat_layouts_defaults() -> None:
    # the values the flat __init__ signatures declared before the groups (hand-copied)
    assert EncoderConfig() == EncoderConfig(backbone="minilm", pooling="mean")
    assert InnerLoopArgs() == InnerLoopArgs(
        adapt="top1", head_init="prototype", steps=5, lr=1e-2, learn_lr=False,
        eval_steps=None, backend="func",
    )  # fmt: skip
    assert NonFiniteConfig() == NonFiniteConfig(action="error", max_skips=10)
    assert EpisodeShape() == EpisodeShape(5, 5, 15, None, None)
    assert EpisodeShape(5, 5, 5, None, None) == SMLMT_SHAPE  # SMLMT and hybrid: 5 queries
    assert EpisodeStream() == EpisodeStream(4, 1000, 100, 200, 0, 0)
    # tokenizer 'auto' (issue 12 item 3): the backbone's own, 'minilm' without a model
    assert Tokenization() == Tokenization("auto", 64, None)
    assert Tokenization().resolved() == Tokenization("minilm", 64, None)


def test_modules_build_the_same_inner_loop() -> None:
    maml = MAML(encoder=TINY)
    assert maml.inner == InnerLoopConfig(steps=5, lr=1e-2, first_order=False)
    assert maml.eval_steps == 5 and maml.model.adapt == "top1" and maml.inner_lrs is None
    fo = MAML(first_order=True, encoder=TINY, inner=InnerLoopArgs(steps=2, eval_steps=7))
    assert fo.inner.first_order and (fo.inner.steps, fo.eval_steps) == (2, 7)
    proto = ProtoNet(encoder=TINY)
    assert (proto.model.adapt, proto.inner.steps, proto.eval_steps) == ("head", 0, 0)
    assert not hasattr(maml, "n_way")  # heads are built per episode from episode.n_way


def test_hparams_are_plain_and_rebuild_the_module(tmp_path: Path) -> None:
    m = MAML(first_order=True, encoder=TINY, inner=InnerLoopArgs(steps=2, lr=0.05, learn_lr=True))
    hp = dict(m.hparams)
    assert hp["encoder"] == {"backbone": "tiny", "pooling": "mean", "attention": None}
    assert hp["inner"]["steps"] == 2 and hp["nonfinite"] == {"action": "error", "max_skips": 10}
    ckpt = tmp_path / "m.ckpt"
    torch.save(
        {
            "state_dict": m.state_dict(),
            "hyper_parameters": hp,
            "lightning_meta": {"class_path": "lightning_meta.lightning.maml.MAML"},
        },
        ckpt,
    )
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"] == hp  # plain data only
    back = load_module_from_checkpoint(ckpt)
    assert isinstance(back, MAML) and back.inner == m.inner and back.inner_args == m.inner_args
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in m.state_dict().items())
    assert MAML(**hp).inner_args == m.inner_args  # what Lightning's load_from_checkpoint does


def test_old_flat_checkpoint_hparams_still_load(tmp_path: Path) -> None:
    ref = Reptile(
        encoder=TINY, inner=InnerLoopArgs(steps=3, lr=0.05), nonfinite=NonFiniteConfig("skip")
    )
    flat = {  # hyper_parameters as the flat layout saved them
        "backbone": "tiny", "pooling": "mean", "adapt": "top1", "head_init": "prototype",
        "n_way": 5, "inner_steps": 3, "inner_lr": 0.05, "eval_inner_steps": None,
        "gradient_clip_val": None, "on_nonfinite": "skip", "max_nonfinite_skips": 10,
        "_class_path": "lightning_meta.lightning.Reptile",
    }  # fmt: skip
    ckpt = tmp_path / "old.ckpt"
    torch.save(
        {
            "state_dict": ref.state_dict(),
            "hyper_parameters": flat,
            "lightning_meta": {"class_path": "lightning_meta.lightning.reptile.Reptile"},
        },
        ckpt,
    )
    back = load_module_from_checkpoint(ckpt)
    assert back.inner_args == ref.inner_args and back.nonfinite == ref.nonfinite


def test_group_kwargs_merges_flat_and_nested_names() -> None:
    args = {"first_order": True, "backbone": "tiny", "inner": {"lr": 0.5}, "inner_steps": 2}
    kw = group_kwargs(MAML, args)
    assert kw["encoder"] == TINY and kw["inner"] == InnerLoopArgs(steps=2, lr=0.5)
    assert kw["first_order"] is True and "nonfinite" not in kw
    assert group_kwargs(MAML, {"n_way": 5, "_class_path": "x"}) == {}  # dropped, not an error
    with pytest.raises(ConfigError, match=r"^model\.inner_stpes: not an argument of MAML"):
        group_kwargs(MAML, {"inner_stpes": 2}, "model.", strict=True)
    with pytest.raises(ConfigError, match=r"^model\.inner\.stpes: unknown option"):
        group_kwargs(MAML, {"inner": {"stpes": 2}}, "model.")
    # a group's class default is the base (SMLMT: 5 queries), flat keys win over it
    from lightning_meta.data.smlmt import SMLMTDataModule

    assert group_kwargs(SMLMTDataModule, {"n_way": 3})["shape"] == EpisodeShape(3, 5, 5)


def test_flatten_is_the_inverse_for_reading_configs() -> None:
    nested = {"source": "wordnet", "shape": {"n_way": 3, "k_shot": 2}, "tokens": None}
    assert flatten(nested) == {"source": "wordnet", "n_way": 3, "k_shot": 2, "tokens": None}
    hp = dict(MAML(encoder=TINY).hparams)
    flat = flatten(hp, MODEL_GROUPS)
    assert (flat["backbone"], flat["inner_steps"], flat["inner_lr"]) == ("tiny", 5, 1e-2)
    assert flat["on_nonfinite"] == "error" and "inner" not in flat


def test_bad_group_values_name_the_grouped_field() -> None:
    with pytest.raises(ConfigError, match=r"^model\.inner\.steps: must be >= 0"):
        MAML(encoder=TINY, inner=InnerLoopArgs(steps=-1))
    with pytest.raises(ConfigError, match=r"^model\.inner\.lr: must be > 0"):
        FineTune(encoder=TINY, inner=InnerLoopArgs(lr=0.0))
    with pytest.raises(ConfigError, match=r"^model\.inner\.adapt: "):
        MAML(encoder=TINY, inner=InnerLoopArgs(adapt="re:("))
    with pytest.raises(ConfigError, match=r"^model\.encoder\.pooling: "):
        MAML(encoder=EncoderConfig("tiny", "max"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^model\.inner\.steps: Reptile needs at least one"):
        Reptile(encoder=TINY, inner=InnerLoopArgs(steps=0))
    for cls in (Reptile, FineTune):
        with pytest.raises(ConfigError, match=r"^model\.inner\.learn_lr: "):
            cls(encoder=TINY, inner=InnerLoopArgs(learn_lr=True))


def test_build_evaluator_takes_flat_or_grouped_adaptation() -> None:
    flat = build_evaluator("tiny", adaptation={"adapt": "head", "inner_steps": 3, "inner_lr": 0.1})
    grouped = build_evaluator(
        "tiny", adaptation={"inner": {"adapt": "head", "steps": 3, "lr": 0.1}}
    )
    assert isinstance(flat, FineTune) and flat.inner_args == grouped.inner_args
    assert (flat.model.adapt, flat.inner.steps, flat.inner.lr) == ("head", 3, 0.1)
    with pytest.raises(ConfigError, match=r"^adaptation\.inner_stpes: not an argument"):
        build_evaluator("tiny", adaptation={"inner_stpes": 3})
    centroid = build_evaluator("tiny", "centroid", pooling="cls")
    assert isinstance(centroid, ProtoNet) and centroid.distance == "cosine"
    assert centroid.model.pooling == "cls"
