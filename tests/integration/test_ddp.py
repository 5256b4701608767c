"""Proof that data-parallel meta-training applies exactly the single-process meta-gradient.

One ``torchrun --nproc_per_node 2`` launch (gloo, CPU) runs this file as a script: each rank
fits every algorithm with :class:`~lightning_meta.lightning.distributed.MetaDDPStrategy` on its half of
each meta-batch, then tests; rank 0 saves the parameters and the gathered metrics. The tests
fit the same algorithms in one process on the whole meta-batches (the same union of tasks) and
compare: parameters to 1e-6 (float64, several meta-steps, SGD with clipping active so that
averaging after clipping would show), val/test mean and CI over the same episodes exactly.
A run on rank 0's tasks alone shows the comparison is sensitive.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from lightning_meta.data.config import EpisodeShape, EpisodeStream, Tokenization
from lightning_meta.lightning import MAML, EpisodicModule, ProtoNet, Reptile
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs

STEPS = 3  # meta-steps: train_episodes / meta_batch_size = one epoch, then validation
TOL = 1e-6
ALGORITHMS: dict[str, tuple[type[EpisodicModule], dict[str, Any], float]] = {
    # name: (class, init args, SGD learning rate)
    "maml": (MAML, {"inner": InnerLoopArgs(steps=1, learn_lr=True), "first_order": False}, 0.5),
    "fomaml": (MAML, {"inner": InnerLoopArgs(steps=2), "first_order": True}, 0.5),
    "reptile": (Reptile, {"inner": InnerLoopArgs(steps=2), "gradient_clip_val": 0.05}, 1.0),
    "protonet": (ProtoNet, {}, 0.5),
}
CLIP = 0.05  # Trainer gradient clipping (automatic optimisation): below the gradient norms


def build_module(name: str) -> EpisodicModule:
    cls, kwargs, lr = ALGORITHMS[name]
    optimizer = functools.partial(torch.optim.SGD, lr=lr, momentum=0.9)
    return cls(encoder=EncoderConfig(backbone="tiny"), optimizer=optimizer, **kwargs)


def build_data(csv: Path, **overrides: Any) -> Any:
    from lightning_meta.data import EpisodicDataModule

    cls = overrides.pop("cls", EpisodicDataModule)
    return cls(
        source=str(csv),
        shape=EpisodeShape(n_way=3, k_shot=2, q_query=3),
        split_fractions=(0.34, 0.33, 0.33),
        split_mode="classes",
        stream=EpisodeStream(
            meta_batch_size=4, train_episodes=4 * STEPS, val_episodes=5, test_episodes=5
        ),
        tokens=Tokenization(max_length=16),
    )


def fit_and_test(
    name: str, csv: Path, devices: int, strategy: Any = "auto", data_cls: Any = None
) -> dict[str, Any]:
    """Fit ``STEPS`` meta-steps in float64, validate, test; parameters and gathered metrics."""
    import pytorch_lightning as pl

    module = build_module(name)
    data = build_data(csv, **({"cls": data_cls} if data_cls else {}))
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        precision="64-true",
        max_steps=STEPS,
        max_epochs=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        inference_mode=False,
        use_distributed_sampler=False,
        gradient_clip_val=None if name == "reptile" else CLIP,
    )
    trainer.fit(module, data)
    val = dict(module.val_results)
    trainer.test(module, data, verbose=False)
    return {
        "params": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
        "val": {k: (m.mean, m.ci, m.n) for k, m in val.items()},
        "test": {k: (m.mean, m.ci, m.n) for k, m in module.test_results.items()},
        "world_size": trainer.world_size,
    }


def family_data(csv: Path) -> Any:
    """Two task families over the tiny CSV (3-way classes, 2-way examples), both validated:
    validation episodes alternate between them, so on 2 ranks each rank scores one family."""
    from lightning_meta.data.families import FamilyDataModule, TaskFamily

    files: dict[str, Any] = dict(source="files", data_files=(str(csv),), k_shot=2, q_query=2,
                                 split_fractions=(0.34, 0.33, 0.33))  # fmt: skip
    fams = [
        TaskFamily(**files, n_way=3),
        TaskFamily(**{**files, "split_mode": "examples", "split_fractions": (0.5, 0.25, 0.25),
                      "k_shot": 1}, name="pairs", n_way=2),
    ]  # fmt: skip
    return FamilyDataModule(
        families=fams, validation=fams, tokens=Tokenization(max_length=16),
        stream=EpisodeStream(meta_batch_size=4, train_episodes=8, val_episodes=6, test_episodes=2),
    )  # fmt: skip


def fit_families(csv: Path, devices: int, strategy: Any = "auto") -> dict[str, float]:
    """Two FOMAML meta-steps on the two families; the logged validation accuracies."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        accelerator="cpu", devices=devices, strategy=strategy, precision="64-true", max_steps=2,
        max_epochs=1, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
        use_distributed_sampler=False,
    )  # fmt: skip
    trainer.fit(build_module("fomaml"), family_data(csv))
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/acc")}


def check_collectives() -> dict[str, Any]:
    """Edge cases of all_reduce_gradients on the live process group (2 ranks)."""
    import torch.distributed as dist

    from lightning_meta.lightning.distributed import all_reduce_gradients, broadcast_module

    rank = dist.get_rank()
    lin = torch.nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.fill_(float(rank))
    broadcast_module(lin)
    lin.weight.grad = torch.full_like(lin.weight, float(rank + 1))  # 1 and 2: mean 1.5
    lin.bias.grad = torch.ones_like(lin.bias) if rank == 0 else None  # only rank 0: mean 0.5
    skipped = all_reduce_gradients(lin.parameters())
    out = {
        "broadcast": float(lin.weight.abs().max()),
        "weight_grad": lin.weight.grad.tolist(),
        "bias_grad": lin.bias.grad.tolist(),
        "skipped": skipped,
    }
    lin.weight.grad, lin.bias.grad = torch.ones_like(lin.weight), None
    out["skip_any"] = all_reduce_gradients(lin.parameters(), skip=rank == 1)
    out["grads_after_skip"] = [p.grad is None for p in lin.parameters()]
    return out


def worker(out_dir: Path, csv: Path) -> None:
    """Body of the torchrun launch: every algorithm under MetaDDPStrategy on 2 ranks."""
    import torch.distributed as dist

    from lightning_meta.lightning.distributed import MetaDDPStrategy

    for name in ALGORITHMS:
        result = fit_and_test(name, csv, devices=2, strategy=MetaDDPStrategy())
        if int(os.environ["RANK"]) == 0:
            torch.save(result, out_dir / f"{name}.pt")
    families = fit_families(csv, devices=2, strategy=MetaDDPStrategy())
    if dist.get_rank() == 0:
        (out_dir / "families.json").write_text(json.dumps(families))
    collectives = check_collectives()
    if dist.get_rank() == 0:
        (out_dir / "collectives.json").write_text(json.dumps(collectives))


# ---- tests (pytest process) -----------------------------------------------------------------
@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Launch the 2-process run once (torchrun, gloo on 127.0.0.1) for all algorithms."""
    from tests.conftest import tiny_rows

    root = tmp_path_factory.mktemp("ddp")
    csv = root / "tiny.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in tiny_rows()))
    cache = tmp_path_factory.getbasetemp() / "lm_cache"  # the conftest cache (module scope)
    cache.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIGHTNING_META_CACHE", str(cache))
        build_data(csv).prepare_data()  # tokenise once, so the ranks only read the cache
        family_data(csv).prepare_data()
    env = {
        **os.environ,
        "LIGHTNING_META_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        __file__,
        str(root),
        str(csv),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(
            f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return root, csv


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_two_ranks_match_one_process(ddp_results: tuple[Path, Path], name: str) -> None:
    root, csv = ddp_results
    ddp = torch.load(root / f"{name}.pt", weights_only=False)
    assert ddp["world_size"] == 2
    torch.set_num_threads(1)
    single = fit_and_test(name, csv, devices=1)
    init = {k: v.detach().double() for k, v in build_module(name).state_dict().items()}
    moved = max_abs_diff(single["params"], init)
    diff = max_abs_diff(ddp["params"], single["params"])
    print(f"{name}: max |theta_2proc - theta_1proc| = {diff:.3g} (parameters moved {moved:.3g})")
    assert moved > 1e-3, "training must move the parameters for the comparison to mean anything"
    assert diff <= TOL
    # validation/test: each episode scored once across ranks, CI over the same union
    for stage in ("val", "test"):
        assert ddp[stage].keys() == single[stage].keys() == {"acc", "f1"}
        for key, (mean, ci, n) in single[stage].items():
            d_mean, d_ci, d_n = ddp[stage][key]
            assert d_n == n == 5
            assert d_mean == pytest.approx(mean, abs=1e-12) and d_ci == pytest.approx(ci, abs=1e-12)


def test_rank_zero_tasks_alone_differ(ddp_results: tuple[Path, Path]) -> None:
    """Without the all-reduce rank 0 would train on its own tasks: visibly different."""
    from lightning_meta.data import EpisodicDataModule

    class RankZeroShare(EpisodicDataModule):
        def rank_world(self) -> tuple[int, int]:
            return 0, 2

    root, csv = ddp_results
    ddp = torch.load(root / "maml.pt", weights_only=False)
    local = fit_and_test("maml", csv, devices=1, data_cls=RankZeroShare)
    diff = max_abs_diff(ddp["params"], local["params"])
    print(f"maml: max |theta_2proc - theta_rank0_tasks_only| = {diff:.3g}")
    assert diff > 1e-4


def test_per_family_validation_matches_one_process(ddp_results: tuple[Path, Path]) -> None:
    """val/acc/<family> on 2 ranks, where rank 0 scores only one family's episodes and rank 1
    only the other's, equals one process: every rank names every family before logging."""
    root, csv = ddp_results
    ddp = json.loads((root / "families.json").read_text())
    torch.set_num_threads(1)
    single = fit_families(csv, devices=1)
    assert set(ddp) == set(single) == {"val/acc", "val/acc_ci", "val/acc/files", "val/acc/pairs"}
    for key, value in single.items():
        assert ddp[key] == pytest.approx(value, abs=1e-12), key


def test_collective_edge_cases(ddp_results: tuple[Path, Path]) -> None:
    out = json.loads((ddp_results[0] / "collectives.json").read_text())
    assert out["broadcast"] == 0.0  # rank 1 started from rank 0's weights
    assert out["weight_grad"] == [[1.5, 1.5], [1.5, 1.5]]
    assert out["bias_grad"] == [0.5, 0.5]  # missing on rank 1 counts as zero
    assert out["skipped"] is False
    assert out["skip_any"] is True and out["grads_after_skip"] == [True, True]


def test_plain_ddp_is_refused_for_fit() -> None:
    from pytorch_lightning.strategies import DDPStrategy

    from lightning_meta.errors import ConfigError
    from lightning_meta.lightning.distributed import MetaDDPStrategy, require_explicit_sync

    trainer: Any = SimpleNamespace(world_size=2, strategy=DDPStrategy())
    with pytest.raises(ConfigError, match="MetaDDPStrategy"):
        require_explicit_sync(trainer, "fit")
    require_explicit_sync(trainer, "test")  # evaluation has no gradients to synchronise
    require_explicit_sync(SimpleNamespace(world_size=2, strategy=MetaDDPStrategy()), "fit")  # type: ignore[arg-type]
    require_explicit_sync(SimpleNamespace(world_size=1, strategy=DDPStrategy()), "fit")  # type: ignore[arg-type]


def test_strategy_name_after_registration() -> None:
    from pytorch_lightning.strategies import StrategyRegistry

    from lightning_meta.lightning.distributed import MetaDDPStrategy, register_strategy

    register_strategy()
    register_strategy()  # idempotent
    strategy = StrategyRegistry.get("meta_ddp")
    assert isinstance(strategy, MetaDDPStrategy) and strategy._start_method == "popen"


# torchrun entry: python -m torch.distributed.run --nproc_per_node 2 test_ddp.py OUT CSV
if __name__ == "__main__":
    torch.set_num_threads(1)
    worker(Path(sys.argv[1]), Path(sys.argv[2]))
