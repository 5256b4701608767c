"""Explicit gradient synchronisation for meta-learning under data-parallel training.

Why not ``DistributedDataParallel``: DDP all-reduces gradients from autograd hooks that fire
during ``backward``. Second-order MAML backpropagates through inner-loop gradients taken with
``create_graph=True``, which DDP does not support (pytorch#47562), and Reptile never calls
``backward`` at all (it writes ``.grad`` by hand). So :class:`MetaDDPStrategy` keeps everything
Lightning's DDP strategy does (process launch, ranks, process group, collectives for metrics,
rank-0 checkpoints) except the wrapper, and synchronises gradients itself:

1. ``configure_ddp`` (fit only): no wrapper; broadcast every parameter and buffer from rank 0.
2. every optimizer step, after the training closure (``training_step`` + ``backward``) and
   before ``on_before_optimizer_step``, gradient clipping and ``optimizer.step``:
   :func:`all_reduce_gradients` replaces each ``.grad`` with its mean over ranks.

The mean over ranks is the mean over all tasks of the meta-batch because every rank trains on
the same number of tasks (``meta_batch_size / world_size``; the DataModule checks it) and its
loss (or Reptile direction) is the mean over its own tasks. A rank that skips a meta-batch
(non-finite loss) makes every rank skip it, so parameters never drift apart.

Manual optimisation (Reptile) writes ``.grad`` and clips before ``opt.step()``: it calls
:meth:`MetaDDPStrategy.reduce_gradients` itself first (``EpisodicModule.sync_gradients``); a
manual module that does not is synchronised inside ``opt.step()`` instead.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Literal

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.strategies import DDPStrategy
from torch import Tensor, nn

from lightning_meta.errors import ConfigError

log = logging.getLogger(__name__)

BUCKET_BYTES = 64 * 1024 * 1024  # flat buffers of at most this size per collective


def world_size(group: Any = None) -> int:
    """Processes in ``group``; 1 when torch.distributed is not initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return int(dist.get_world_size(group))


def _buckets(tensors: Sequence[Tensor], cap: int = BUCKET_BYTES) -> list[list[Tensor]]:
    """Consecutive tensors of one device and dtype, at most ``cap`` bytes each (or one tensor)."""
    groups: dict[tuple[torch.device, torch.dtype], list[list[Tensor]]] = {}
    for t in tensors:
        lists = groups.setdefault((t.device, t.dtype), [[]])
        last = lists[-1]
        size = sum(x.numel() for x in last) * t.element_size()
        if last and size + t.numel() * t.element_size() > cap:
            lists.append([t])
        else:
            last.append(t)
    return [b for lists in groups.values() for b in lists if b]


def _coalesced(tensors: Sequence[Tensor], collective: Callable[[Tensor], None]) -> None:
    """Run ``collective`` in place on flat copies of ``tensors`` and write the results back."""
    for bucket in _buckets(tensors):
        flat = torch.cat([t.reshape(-1) for t in bucket])  # (sum of numel,)
        collective(flat)
        offset = 0
        for t in bucket:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n


def broadcast_module(module: nn.Module, src: int = 0, group: Any = None) -> None:
    """Copy every parameter and buffer of rank ``src`` to all ranks (in place)."""
    if world_size(group) == 1:
        return
    tensors = [t.data for t in module.parameters()] + [b.data for b in module.buffers()]
    with torch.no_grad():
        _coalesced(tensors, lambda flat: dist.broadcast(flat, src, group))


def all_reduce_gradients(
    params: Iterable[nn.Parameter], skip: bool = False, group: Any = None
) -> bool:
    """Replace each ``.grad`` by its mean over the ranks of ``group``.

    A parameter with a gradient on some ranks only counts as zero where it has none; one
    without a gradient anywhere keeps ``None`` (optimizers then leave it alone, as in a single
    process). ``skip``: this rank wants to skip the step. Returns True when any rank does; then
    every gradient is set to ``None`` on every rank. Every rank must call this with the same
    parameters in the same order (one module, built the same way everywhere).
    """
    params = [p for p in params if p.requires_grad]
    world = world_size(group)
    if world == 1:
        return skip
    device = params[0].device if params else torch.device("cpu")
    # one small collective for the decisions: [skip, has_grad(p) for p in params]
    flags = torch.tensor(
        [float(skip)] + [float(p.grad is not None) for p in params], device=device
    )  # (1 + P,)
    dist.all_reduce(flags, op=dist.ReduceOp.SUM, group=group)
    if flags[0].item() > 0:
        for p in params:
            p.grad = None
        return True
    grads: list[Tensor] = []
    for p, anywhere in zip(params, flags[1:].tolist(), strict=True):
        if anywhere > 0:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)

    def mean(flat: Tensor) -> None:
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        flat.div_(world)

    with torch.no_grad():
        _coalesced(grads, mean)
    return False


def gather_rows(rows: Tensor, all_gather: Callable[..., Any], world: int) -> Tensor:
    """Concatenate every rank's ``(n_r, C)`` rows (``n_r`` may differ): ``(sum n_r, C)``.

    ``all_gather`` is e.g. ``LightningModule.all_gather`` (same shape on every rank), so the
    rows are padded with NaN to the largest count and the padding dropped afterwards.
    """
    if world == 1:
        return rows
    n = torch.tensor([rows.shape[0]], device=rows.device)
    longest = int(all_gather(n).max())
    pad = rows.new_full((longest - rows.shape[0], rows.shape[1]), float("nan"))
    everything = all_gather(torch.cat([rows, pad])).reshape(-1, rows.shape[1])  # (W*longest, C)
    return everything[~torch.isnan(everything[:, 0])]


def destroy_process_group() -> None:
    """Tear the default process group down (at interpreter exit); a no-op without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


_exit_hook: list[bool] = []  # destroy_process_group registered with atexit (once per process)


class MetaDDPStrategy(DDPStrategy):
    """Lightning's DDP strategy without the DDP wrapper: gradients are averaged explicitly.

    Use it wherever ``strategy: ddp`` would go::

        trainer:
          strategy: {class_path: lightning_meta.lightning.distributed.MetaDDPStrategy}

    Launching (``popen``: Lightning starts the local processes; torchrun and SLURM are
    detected from the environment) and the process group work as in :class:`DDPStrategy`.
    """

    strategy_name = "meta_ddp"

    def __init__(
        self,
        accelerator: pl.accelerators.Accelerator | None = None,
        parallel_devices: list[torch.device] | None = None,
        cluster_environment: Any = None,
        checkpoint_io: Any = None,
        precision_plugin: Any = None,
        process_group_backend: str | None = None,
        timeout: timedelta | None = timedelta(minutes=30),
        start_method: Literal["popen", "spawn", "fork", "forkserver"] = "popen",
    ) -> None:
        """
        Args:
            process_group_backend: ``nccl`` (default on GPU) or ``gloo`` (default on CPU).
            timeout: how long a collective may wait for the other ranks.
            start_method: ``popen`` (re-run the command per local process, the default),
                ``spawn``, ``fork`` or ``forkserver``; ignored under torchrun and SLURM.
        """
        super().__init__(
            accelerator=accelerator,
            parallel_devices=parallel_devices,
            cluster_environment=cluster_environment,
            checkpoint_io=checkpoint_io,
            precision_plugin=precision_plugin,
            process_group_backend=process_group_backend,
            timeout=timeout,
            start_method=start_method,
        )
        self._module_synced = False  # manual optimisation: grads reduced since the last step

    def setup_distributed(self) -> None:
        super().setup_distributed()
        # Lightning destroys only NCCL groups at exit; a gloo group left alive can abort the
        # process during interpreter shutdown ("terminate called without an active exception")
        if not _exit_hook:
            atexit.register(destroy_process_group)
            _exit_hook.append(True)

    def configure_ddp(self) -> None:
        """No DistributedDataParallel wrapper; start every rank from rank 0's weights."""
        assert isinstance(self.model, pl.LightningModule)
        broadcast_module(self.model, src=0)
        log.info("MetaDDPStrategy: %d ranks, explicit gradient all-reduce", self.world_size)

    def reduce_gradients(
        self, params: Iterable[nn.Parameter] | None = None, skip: bool = False
    ) -> bool:
        """Average ``.grad`` of ``params`` (default: the module's) over all ranks now.

        For manual optimisation: call it after writing ``.grad`` and before clipping and
        ``opt.step()``, on every rank. Returns True when any rank skips (grads are then None).
        """
        if params is None:
            assert self.lightning_module is not None
            params = self.lightning_module.parameters()
        skipped = all_reduce_gradients(params, skip=skip)
        self._module_synced = True
        return skipped

    def optimizer_step(
        self,
        optimizer: Any,
        closure: Callable[[], Any],
        model: pl.LightningModule | nn.Module | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the closure, average the gradients, then clip and step (as Lightning does)."""
        module = model if isinstance(model, pl.LightningModule) else self.lightning_module
        assert module is not None
        automatic = module.automatic_optimization
        if not automatic and self._module_synced:
            self._module_synced = False
            return super().optimizer_step(optimizer, closure, model, **kwargs)
        params = [p for group in optimizer.param_groups for p in group["params"]]

        def synced_closure() -> Any:
            result = closure()
            # automatic optimisation: training_step returned None -> this rank skips the step
            skipped = all_reduce_gradients(params, skip=automatic and result is None)
            return None if skipped else result

        self._module_synced = False
        return super().optimizer_step(optimizer, synced_closure, model, **kwargs)


def register_strategy() -> None:
    """Make ``strategy: meta_ddp`` (and ``meta_ddp_spawn``) resolve by name in Trainer/CLI.

    Explicit (no registration at import); ``strategy: {class_path:
    lightning_meta.lightning.distributed.MetaDDPStrategy}`` works without it.
    """
    from pytorch_lightning.strategies import StrategyRegistry

    for name, start_method in (("meta_ddp", "popen"), ("meta_ddp_spawn", "spawn")):
        if name not in StrategyRegistry:
            StrategyRegistry.register(
                name,
                MetaDDPStrategy,
                description=f"DDP without the wrapper, explicit meta-gradient all-reduce ({start_method})",
                start_method=start_method,
            )


def require_explicit_sync(trainer: pl.Trainer, stage: str | None) -> None:
    """Refuse to fit on several processes under a strategy that would use DDP's hooks."""
    if stage not in ("fit", None) or trainer.world_size <= 1:
        return
    if not isinstance(trainer.strategy, MetaDDPStrategy):
        raise ConfigError(
            f"trainer.strategy: {type(trainer.strategy).__name__} with {trainer.world_size} "
            "processes relies on DistributedDataParallel's autograd hooks, which do not "
            "synchronise second-order or hand-written (Reptile) meta-gradients; use "
            "strategy: {class_path: lightning_meta.lightning.distributed.MetaDDPStrategy} "
            "(configs/trainer/ddp.yaml)"
        )
