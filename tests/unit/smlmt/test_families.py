"""FamilyDataModule: per-family episode shapes, mixing counts, the held-out rule, and MAML
training on meta-batches of mixed shapes."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch

from lightning_meta.data.config import EpisodeStream, Tokenization
from lightning_meta.data.families import FamilyDataModule, TaskFamily
from lightning_meta.data.family_rules import HeldOutTarget
from lightning_meta.data.smlmt import SMLMTText
from lightning_meta.errors import ConfigError
from lightning_meta.lightning import MAML
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs

SPLIT = (0.34, 0.33, 0.33)


def families(csv: Path, corpus: Path) -> list[TaskFamily]:
    files = dict(source="files", data_files=(str(csv),), split_fractions=SPLIT, k_shot=2, q_query=2)
    return [
        TaskFamily(**files, n_way=3, weight=0.5),  # type: ignore[arg-type]
        TaskFamily(**{**files, "split_mode": "examples", "split_fractions": (0.5, 0.25, 0.25), "k_shot": 1},  # type: ignore[arg-type]
                   name="pairs", n_way=2, weight=0.3),
        TaskFamily("smlmt", n_way=4, k_shot=1, q_query=2, weight=0.2,
                   smlmt=SMLMTText(texts=(str(corpus),), min_count=2)),
    ]  # fmt: skip


def make(csv: Path, corpus: Path, cache: Path, **kw: Any) -> FamilyDataModule:
    args: dict[str, Any] = dict(
        families=families(csv, corpus),
        validation=[TaskFamily("files", data_files=(str(csv),), split_fractions=SPLIT, n_way=3,
                               k_shot=2, q_query=2)],
        stream=EpisodeStream(meta_batch_size=4, train_episodes=8, val_episodes=3, test_episodes=3),
        tokens=Tokenization(cache_dir=str(cache)),
    )  # fmt: skip
    args.update(kw)
    return FamilyDataModule(**args)


def test_each_family_keeps_its_shape_and_counts(
    labelled_csv: Path, corpus_file: Path, tmp_path: Path
) -> None:
    dm = make(labelled_csv, corpus_file, tmp_path)
    dm.setup("fit")
    assert dm.probabilities == pytest.approx({"files": 0.5, "pairs": 0.3, "smlmt": 0.2})
    shape = {"files": (3, 2, 2), "pairs": (2, 1, 2), "smlmt": (4, 1, 2)}
    provider = dm.require_provider()
    eps = [provider.episode("train", i) for i in range(60)]
    for ep in eps:
        n, k, q = shape[ep.task_source]
        assert (ep.n_way, len(ep.support), len(ep.query)) == (n, n * k, n * q)
        assert sorted(set(ep.support.labels.tolist())) == list(range(n))
    seen = Counter(ep.task_source for ep in eps)
    assert dm.task_counts(60) == {name: seen[name] for name in shape}
    assert all(seen[name] > 0 for name in shape)
    val = dm.fixed_episodes("val", 3)
    assert [ep.task_source for ep in val] == ["files"] * 3
    assert [ep.index for ep in val] == [0, 1, 2] and all(ep.split == "val" for ep in val)
    # class-disjoint: train tasks of the class-split family never show a validation class
    val_classes = {c for ep in val for c in ep.class_names}
    train_classes = {c for ep in eps if ep.task_source == "files" for c in ep.class_names}
    assert val_classes and not val_classes & train_classes


def test_held_out_rule(labelled_csv: Path, corpus_file: Path, tmp_path: Path) -> None:
    movie = TaskFamily("sentiment:movie", n_way=2, split_mode="examples")
    with pytest.raises(ConfigError, match=r"^families\.0\.source: sentiment:movie is held out"):
        make(labelled_csv, corpus_file, tmp_path, families=[movie])
    with pytest.raises(ConfigError, match=r"^validation\.0\.source: sentiment:movie"):
        make(labelled_csv, corpus_file, tmp_path, validation=[movie])
    wordnet = TaskFamily("wordnet", split_mode="examples")
    with pytest.raises(ConfigError, match=r"^families\.0: wordnet is also a target"):
        make(labelled_csv, corpus_file, tmp_path, families=[wordnet])
    off_split = TaskFamily("wordnet", split_fractions=(0.6, 0.2, 0.2))
    with pytest.raises(ConfigError, match="split_fractions: \\[0.5555556"):
        make(labelled_csv, corpus_file, tmp_path, families=[off_split])
    text = TaskFamily("smlmt", smlmt=SMLMTText(texts=("wordnet", "sentiment:movie")))
    with pytest.raises(ConfigError, match=r"^families\.0\.smlmt\.texts\.1: 'sentiment:movie'"):
        make(labelled_csv, corpus_file, tmp_path, families=[text])
    domain = [HeldOutTarget("files", "domain")]
    with pytest.raises(ConfigError, match="files is a held-out target domain"):
        make(labelled_csv, corpus_file, tmp_path, targets=domain)
    odd = [HeldOutTarget("wordnet", "classes", (0.6, 0.2, 0.2))]
    with pytest.raises(ConfigError, match="texts.0: SMLMT text from wordnet"):
        make(labelled_csv, corpus_file, tmp_path, targets=odd,
             families=[TaskFamily("smlmt", smlmt=SMLMTText(texts=("wordnet",)))])  # fmt: skip
    with pytest.raises(ConfigError, match="validation: smlmt is not a held-out target"):
        make(labelled_csv, corpus_file, tmp_path, validation=[TaskFamily("smlmt")])
    with pytest.raises(ConfigError, match="name: 'files' is used twice"):
        fams = families(labelled_csv, corpus_file)
        make(labelled_csv, corpus_file, tmp_path, families=[fams[0], fams[0]])


class Shapes(pl.Callback):
    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:  # fmt: skip
        self.batches.append([ep.n_way for ep in batch])


def test_maml_trains_on_mixed_shapes(labelled_csv: Path, corpus_file: Path, tmp_path: Path) -> None:
    pl.seed_everything(0)
    dm = make(labelled_csv, corpus_file, tmp_path)
    model = MAML(first_order=True, encoder=EncoderConfig(backbone="tiny"),
                 inner=InnerLoopArgs(adapt="top1", steps=1))  # fmt: skip
    shapes = Shapes()
    t = pl.Trainer(
        callbacks=[shapes], max_steps=2, num_sanity_val_steps=0, inference_mode=False,
        use_distributed_sampler=False, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    t.fit(model, datamodule=dm)
    assert t.global_step == 2
    assert any(len(set(b)) > 1 for b in shapes.batches), shapes.batches  # mixed n_way batches
    assert math.isfinite(float(t.callback_metrics["train/loss"]))
    assert 0.0 <= float(t.callback_metrics["val/acc"]) <= 1.0
    # the meta-loss of a mixed batch is the mean of its tasks' losses, each with its own n_way
    batch = [dm.require_provider().episode("train", i) for i in range(4)]
    loss, outs = model.meta_loss(batch)
    assert [o.logits.shape[1] for o in outs] == [ep.n_way for ep in batch]
    assert float(loss) == pytest.approx(float(torch.stack([o.loss for o in outs]).mean()))


def test_validation_logs_accuracy_per_family(
    labelled_csv: Path, corpus_file: Path, tmp_path: Path
) -> None:
    """val/acc/<family>: each validation family's mean query accuracy, recomputed here from the
    same episodes by argmax; val/acc stays the mean over all episodes."""
    pl.seed_everything(0)
    fams = families(labelled_csv, corpus_file)
    dm = make(labelled_csv, corpus_file, tmp_path, validation=fams[:2],
              stream=EpisodeStream(meta_batch_size=2, train_episodes=4, val_episodes=4,
                                   test_episodes=2))  # fmt: skip
    model = MAML(first_order=True, encoder=EncoderConfig(backbone="tiny"),
                 inner=InnerLoopArgs(adapt="top1", steps=1))  # fmt: skip
    t = pl.Trainer(
        max_steps=2, num_sanity_val_steps=0, inference_mode=False, use_distributed_sampler=False,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    t.fit(model, datamodule=dm)
    accs: dict[str, list[float]] = {"files": [], "pairs": []}
    for i in range(4):  # validation cycles over the families: 0, 2 -> files; 1, 3 -> pairs
        ep = dm.require_provider().episode("val", i)
        out = model.evaluate_episode(ep)
        hits = (out.logits.argmax(-1) == ep.query.labels).double()
        accs[ep.task_source].append(float(hits.mean()))
    assert [len(v) for v in accs.values()] == [2, 2]
    for name, values in accs.items():
        assert float(t.callback_metrics[f"val/acc/{name}"]) == pytest.approx(sum(values) / 2)
    everything = accs["files"] + accs["pairs"]
    assert float(t.callback_metrics["val/acc"]) == pytest.approx(sum(everything) / 4)


def test_fixed_episodes_of_a_families_config_are_its_validation_episodes(
    labelled_csv: Path, corpus_file: Path, tmp_path: Path
) -> None:
    """`tune --eval-only`, `evaluate` and the suite build episodes with ``fixed_episodes``; a
    task-family config (as LightningCLI parses it: plain dicts) must give the episodes `fit`
    validates on, cycling over its validation families with their own shapes, not episodes of
    a default single source."""
    import dataclasses

    from lightning_meta.evaluation.episodes import fixed_episodes

    fams = families(labelled_csv, corpus_file)
    dm = make(labelled_csv, corpus_file, tmp_path, validation=fams[:2])
    dm.setup("fit")
    args = {
        "families": [dataclasses.asdict(f) for f in fams],
        "validation": [dataclasses.asdict(f) for f in fams[:2]],
        "stream": {"meta_batch_size": 4, "train_episodes": 8, "val_episodes": 3,
                   "test_episodes": 3},
        "tokens": {"cache_dir": str(tmp_path)},
    }  # fmt: skip
    for split in ("val", "test"):
        got = fixed_episodes(args, 5, split=split)  # more than the config's 3: n wins
        assert [e.task_source for e in got] == ["files", "pairs", "files", "pairs", "files"]
        assert [(e.n_way, len(e.support)) for e in got[:2]] == [(3, 6), (2, 2)]
        own = [dm.require_provider().episode(split, i) for i in range(5)]
        for a, b in zip(got, own, strict=True):
            assert torch.equal(a.support.input_ids, b.support.input_ids)
            assert torch.equal(a.query.labels, b.query.labels)
