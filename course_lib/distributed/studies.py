"""What notebook 12's launches compute on each rank, and the one-process runs they are checked against.

Every study trains the course MLP (``course_lib.models.MLP``, seeded) on MNIST-1D with cross-entropy
:math:`L(\\theta) = \\frac1B \\sum_{i \\in \\mathcal B} \\ell_i(\\theta)` over a global batch
:math:`\\mathcal B` of :math:`B` examples. With :math:`N` ranks, torch's ``DistributedSampler`` gives
rank :math:`r` the examples at positions :math:`r, r + N, \\dots` of each epoch's permutation, so the
local batches of step :math:`t` together are the global batch :math:`t` that one process would draw
(:func:`local_batch`, :func:`global_batch`). Each rank computes the gradient of its local mean loss
:math:`g_r = \\frac{N}{B}\\sum_{i \\in \\mathcal B_r} \\nabla \\ell_i`, DDP all-reduces
:math:`\\frac1N \\sum_r g_r = \\nabla L`: the gradient of the mean loss over the global batch.

The functions named ``*_study`` run inside :func:`~course_lib.distributed.worker.run_worker` (a
process group must exist); :func:`single_process_run` and :func:`max_abs_diff` run anywhere.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.tensor import DTensor
from torch.utils.data import DistributedSampler, TensorDataset

from course_lib._validation import check_int, check_number
from course_lib.data import Split
from course_lib.models import MLP
from course_lib.optim import SGD
from course_lib.optim import Adam as CourseAdam
from course_lib.param_groups import no_decay_groups
from course_lib.schedulers import OneCycleLR

__all__ = [
    "WEIGHT_DECAY",
    "combined_study",
    "ddp_study",
    "failing_study",
    "global_batch",
    "hanging_study",
    "local_batch",
    "max_abs_diff",
    "resume_study",
    "sharding_study",
    "single_process_run",
    "state_bytes",
]

WEIGHT_DECAY = 5e-4
OPTIMIZERS = {"torch.optim.Adam": torch.optim.Adam, "course_lib.optim.Adam": CourseAdam}


def global_batch(n: int, batch_size: int, step: int, *, seed: int) -> torch.Tensor:
    """Indices of global batch ``step``: chunk ``k`` of epoch ``e``'s permutation (``seed + e``).

    This is how ``DistributedSampler`` shuffles (``torch.randperm`` seeded with ``seed + epoch``);
    a partial last chunk is dropped.

        >>> global_batch(8, 4, 0, seed=0).tolist() == torch.randperm(8, generator=torch.Generator().manual_seed(0))[:4].tolist()
        True
    """
    check_int("batch_size", batch_size, low=1, high=n)
    epoch, k = divmod(check_int("step", step, low=0), n // batch_size)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
    return perm[k * batch_size : (k + 1) * batch_size]


def local_batch(
    n: int, batch_size: int, step: int, *, seed: int, rank: int, world_size: int
) -> torch.Tensor:
    """Rank ``rank``'s share of global batch ``step``, as torch's ``DistributedSampler`` splits it.

    Each rank takes ``batch_size // world_size`` examples per step from its sampler's list (the
    positions ``rank, rank + world_size, ...`` of the epoch's permutation).

        >>> parts = [local_batch(8, 4, 1, seed=0, rank=r, world_size=2) for r in range(2)]
        >>> sorted(torch.cat(parts).tolist()) == sorted(global_batch(8, 4, 1, seed=0).tolist())
        True
    """
    if batch_size % world_size or n % world_size:
        raise ValueError(
            f"batch_size ({batch_size}) and n ({n}) must be multiples of world_size ({world_size})"
        )
    epoch, k = divmod(check_int("step", step, low=0), n // batch_size)
    sampler: DistributedSampler = DistributedSampler(
        TensorDataset(torch.arange(n)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    local = batch_size // world_size
    return torch.tensor(list(sampler)[k * local : (k + 1) * local])


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """:math:`\\max_i |a_i - b_i|` over every entry of two state dicts with the same keys."""
    if set(a) != set(b):
        raise ValueError(f"the state dicts have different keys: {sorted(set(a) ^ set(b))}")
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the tensors in ``optimizer.state`` held by this process (a DTensor's local shard)."""
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                local = value.to_local() if isinstance(value, DTensor) else value
                total += local.numel() * local.element_size()
    return total


def _rank_world() -> tuple[int, int]:
    return dist.get_rank(), dist.get_world_size()


def _global_mean(value: torch.Tensor) -> float:
    """The mean over ranks of a scalar (the global batch's mean loss when batches are equal)."""
    total = value.detach().clone()
    dist.all_reduce(total)
    return float(total) / dist.get_world_size()


def _local(split: Split, batch_size: int, step: int, seed: int):
    rank, world = _rank_world()
    idx = local_batch(len(split.y_train), batch_size, step, seed=seed, rank=rank, world_size=world)
    return split.x_train[idx], split.y_train[idx]


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    """Full parameter values by name (a DTensor gathered with ``full_tensor``, a collective)."""
    out = {}
    for name, p in model.named_parameters():
        value = p.full_tensor() if isinstance(p, DTensor) else p
        out[name.removeprefix("module.")] = value.detach().clone()
    return out


# ------------------------------------------------------------------------------------------------
# DDP: gradients, a training curve, schedulers on every rank
# ------------------------------------------------------------------------------------------------


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def _gradient_check(split: Split, batch_size: int, seed: int, dtype: torch.dtype) -> dict:
    """Max |DDP gradient - full-batch gradient| and, for contrast, the same for the local one."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    model = MLP(seed=seed).to(dtype)
    reference, unsynced = copy.deepcopy(model), copy.deepcopy(model)
    ddp = DDP(model)
    x, y = _local(split, batch_size, 0, seed)
    F.cross_entropy(ddp(x.to(dtype)), y).backward()
    F.cross_entropy(unsynced(x.to(dtype)), y).backward()
    idx = global_batch(len(split.y_train), batch_size, 0, seed=seed)
    F.cross_entropy(reference(split.x_train[idx].to(dtype)), split.y_train[idx]).backward()
    grads = _grads(reference)
    return {
        "ddp": max_abs_diff(_grads(model), grads),
        "local": max_abs_diff(_grads(unsynced), grads),
        "scale": max(float(g.abs().max()) for g in grads.values()),
    }


def _sgd_setup(seed: int, lr: float, steps: int, dtype: torch.dtype):
    """The course MLP, two param groups (no decay on biases), SGD with momentum and 1cycle."""
    model = MLP(seed=seed).to(dtype)
    groups = no_decay_groups(model, WEIGHT_DECAY, lr=lr, momentum=0.9)
    optimizer = SGD(groups, lr=lr, momentum=0.9)
    return model, optimizer, OneCycleLR(optimizer, max_lr=lr, total_steps=steps)


def _train(model, optimizer, scheduler, batches: Callable, steps: int, reduce: Callable) -> dict:
    """``steps`` steps on ``batches(step)``; the loss (``reduce``-d) and each group's lr, momentum."""
    losses, hparams = [], []
    for step in range(steps):
        x, y = batches(step)
        hparams.append([(g["lr"], g["momentum"]) for g in optimizer.param_groups])
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(reduce(loss))
    return {"losses": losses, "hparams": hparams}


def _check_run_args(steps: int, batch_size: int, lr: float) -> None:
    check_int("steps", steps, low=4)  # 1cycle warms up for 0.3 x steps > 1 steps
    check_int("batch_size", batch_size, low=2)
    check_number("lr", lr, low=0.0, low_inclusive=False)


def single_process_run(
    split: Split, *, steps: int, batch_size: int, lr: float, seed: int = 0, dtype=torch.float32
) -> dict:
    """One process, global batches of ``batch_size``: the run DDP's curve is compared with.

    Returns ``{"losses", "hparams", "params"}`` (per-step loss, per-step ``(lr, momentum)`` of each
    group, final parameters by name).
    """
    _check_run_args(steps, batch_size, lr)
    model, optimizer, scheduler = _sgd_setup(seed, lr, steps, dtype)

    def batches(step):
        idx = global_batch(len(split.y_train), batch_size, step, seed=seed)
        return split.x_train[idx].to(dtype), split.y_train[idx]

    out = _train(model, optimizer, scheduler, batches, steps, lambda loss: float(loss.detach()))
    return {**out, "params": _params(model)}


def _ddp_run(split: Split, steps: int, batch_size: int, lr: float, seed: int, dtype) -> dict:
    from torch.nn.parallel import DistributedDataParallel as DDP

    model, optimizer, scheduler = _sgd_setup(seed, lr, steps, dtype)
    ddp = DDP(model)

    def batches(step):
        x, y = _local(split, batch_size, step, seed)
        return x.to(dtype), y

    out = _train(ddp, optimizer, scheduler, batches, steps, _global_mean)
    return {**out, "params": _params(model)}


def ddp_study(*, split: Split, steps: int, batch_size: int, lr: float, seed: int = 0) -> dict:
    """On each rank: the gradient check and the DDP training run, in float64 and float32.

    Returns ``{"rank", "world_size", "gradients": {dtype: {"ddp", "local", "scale"}},
    "runs": {dtype: {"losses", "hparams", "params"}}, "seconds"}``; each rank's local batch is
    ``batch_size // world_size``.
    """
    _check_run_args(steps, batch_size, lr)
    start = time.perf_counter()
    rank, world = _rank_world()
    dtypes = {"float64": torch.float64, "float32": torch.float32}
    gradients = {k: _gradient_check(split, batch_size, seed, dt) for k, dt in dtypes.items()}
    runs = {k: _ddp_run(split, steps, batch_size, lr, seed, dt) for k, dt in dtypes.items()}
    return {
        "rank": rank,
        "world_size": world,
        "gradients": gradients,
        "runs": runs,
        "seconds": time.perf_counter() - start,
    }


# ------------------------------------------------------------------------------------------------
# ZeRO, FSDP, sharded checkpoints
# ------------------------------------------------------------------------------------------------


def _adam_ddp_run(split: Split, steps, batch_size, lr, seed, optimizer_class, zero: bool) -> dict:
    """DDP + Adam (``optimizer_class``), sharded by ``ZeroRedundancyOptimizer`` when ``zero``."""
    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel as DDP

    model = MLP(seed=seed)
    ddp = DDP(model)
    if zero:
        optimizer = ZeroRedundancyOptimizer(
            ddp.parameters(), optimizer_class=optimizer_class, lr=lr
        )
    else:
        optimizer = optimizer_class(ddp.parameters(), lr=lr)
    losses = _local_steps(ddp, optimizer, split, batch_size, seed, range(steps))
    local = optimizer.optim if zero else optimizer
    owned = [p for g in local.param_groups for p in g["params"]]
    return {
        "losses": losses,
        "params": _params(model),
        "state_bytes": state_bytes(local),
        "owned_numel": sum(p.numel() for p in owned),
        "owned_tensors": len(owned),
        "dcp_error": _try_get_state_dict(ddp, optimizer) if zero else None,
    }


def _try_get_state_dict(model: nn.Module, optimizer) -> str | None:
    """What ``torch.distributed.checkpoint.state_dict.get_state_dict`` says to this pair."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    try:
        get_state_dict(model, optimizer)
    except Exception as error:  # reported to the notebook, whatever torch raises
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


def _fsdp_model(seed: int) -> nn.Module:
    """The course MLP with FSDP2's ``fully_shard`` on each block, the head and the root."""
    from torch.distributed.fsdp import fully_shard

    model = MLP(seed=seed)
    for block in model.features:
        fully_shard(block)
    fully_shard(model.classifier)
    fully_shard(model)
    return model


def _local_steps(model, optimizer, split: Split, batch_size, seed, steps: range) -> list[float]:
    """One step per step index on this rank's share of the batch; the loss averaged over ranks."""
    losses = []
    for step in steps:
        x, y = _local(split, batch_size, step, seed)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(_global_mean(loss))
    return losses


def _fsdp_run(split, steps, batch_size, lr, seed, checkpoint_dir: str, save_at: int) -> dict:
    """FSDP2 + Adam for ``steps`` steps; a DCP checkpoint of model and optimizer at ``save_at``."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model = _fsdp_model(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = _local_steps(model, optimizer, split, batch_size, seed, range(save_at))
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=checkpoint_dir)
    losses += _local_steps(model, optimizer, split, batch_size, seed, range(save_at, steps))
    local = sum(p.to_local().numel() for p in model.parameters() if isinstance(p, DTensor))
    return {
        "losses": losses,
        "params": _params(model),
        "state_bytes": state_bytes(optimizer),
        "local_param_numel": local,
    }


def sharding_study(
    *,
    split: Split,
    steps: int,
    batch_size: int,
    lr: float,
    checkpoint_dir: str,
    save_at: int,
    seed: int = 0,
) -> dict:
    """On each rank: Adam unsharded, under ZeRO (torch's and course_lib's Adam), and under FSDP2.

    Returns ``{"adam": {name: run}, "zero": {name: run}, "fsdp": run, "checkpoint_files"}``, each run
    with ``losses``, final ``params``, this rank's optimizer ``state_bytes``; the FSDP2 run saves a
    ``torch.distributed.checkpoint`` of its model and optimizer after ``save_at`` steps into
    ``checkpoint_dir`` (an existing folder both ranks can reach).
    """
    _check_run_args(steps, batch_size, lr)
    check_int("save_at", save_at, low=1, high=steps - 1)
    args = (split, steps, batch_size, lr, seed)
    adam = {k: _adam_ddp_run(*args, cls, zero=False) for k, cls in OPTIMIZERS.items()}
    zero = {k: _adam_ddp_run(*args, cls, zero=True) for k, cls in OPTIMIZERS.items()}
    fsdp = _fsdp_run(*args, checkpoint_dir, save_at)
    dist.barrier()
    return {"adam": adam, "zero": zero, "fsdp": fsdp, "rank": dist.get_rank()}


def resume_study(
    *,
    split: Split,
    steps: int,
    batch_size: int,
    lr: float,
    checkpoint_dir: str,
    save_at: int,
    seed: int = 0,
) -> dict:
    """In a new launch: a fresh FSDP2 model and Adam, loaded from the DCP checkpoint, trained on.

    The fresh model is initialised with another seed, so only the checkpoint can make it continue
    the saved run. Returns ``{"losses"`` (steps ``save_at .. steps - 1``), ``"params"``,
    ``"state_bytes"``, ``"step"`` (Adam's step counter after loading)``}``.
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    _check_run_args(steps, batch_size, lr)
    check_int("save_at", save_at, low=1, high=steps - 1)
    model = _fsdp_model(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state: dict[str, Any] = {"model": model_sd, "optim": optim_sd}
    dcp.load(state, checkpoint_id=checkpoint_dir)
    set_state_dict(
        model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"]
    )
    loaded_step = float(next(iter(optimizer.state.values()))["step"])
    losses = _local_steps(model, optimizer, split, batch_size, seed, range(save_at, steps))
    return {
        "losses": losses,
        "params": _params(model),
        "state_bytes": state_bytes(optimizer),
        "step": loaded_step,
    }


def combined_study(*, split: Split, checkpoint_dir: str, ddp: dict, sharding: dict) -> dict:
    """:func:`ddp_study` ``(**ddp)`` then :func:`sharding_study` ``(**sharding)`` in one launch.

    Start-up (torchrun, two interpreters importing torch) costs more than either study's work, so
    notebook 12 pays it once for both. Returns ``{"ddp": ..., "sharding": ...}``.
    """
    return {
        "ddp": ddp_study(split=split, **ddp),
        "sharding": sharding_study(split=split, checkpoint_dir=checkpoint_dir, **sharding),
    }


# ------------------------------------------------------------------------------------------------
# Workers that go wrong, for the launcher's error and timeout paths
# ------------------------------------------------------------------------------------------------


def failing_study(*, failing_rank: int = 1, message: str = "this rank failed on purpose") -> int:
    """Rank ``failing_rank`` raises ``ValueError(message)``; the others wait for it at a barrier."""
    rank, _ = _rank_world()
    if rank == failing_rank:
        raise ValueError(message)
    dist.barrier()
    return rank


def crashing_study(*, marker: str, crashing_rank: int = 1) -> int:
    """Rank ``crashing_rank`` aborts (SIGABRT, as a native ``std::terminate`` does) the first time,
    when the file ``marker`` does not exist yet (it creates it); afterwards it is :func:`failing_study`
    without the failure. For the launcher's ``retries``."""
    rank, _ = _rank_world()
    if rank == crashing_rank and not os.path.exists(marker):
        Path(marker).touch()
        os.abort()
    dist.barrier()
    return rank


def hanging_study(*, seconds: float = 3600.0) -> int:
    """Every rank sleeps ``seconds``: a worker that never finishes, for the launcher's timeout."""
    time.sleep(check_number("seconds", seconds, low=0.0))
    return dist.get_rank()
