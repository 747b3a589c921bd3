"""``fit``: epochs of :func:`train_step` with a progress bar, a history, schedulers, divergence, checkpoints.

``fit`` reads as its parts: :func:`check_fit_args` (the arguments), :class:`SchedulerPolicy` (when
``scheduler.step()`` is called), :class:`Checkpointer` (when a checkpoint is written and what it
holds), :func:`resume` (restore a run), :func:`epoch_batches` (an epoch's batches, replayed when
resuming mid-epoch), :func:`train_epoch` (the batches of one epoch) and :func:`end_epoch`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

from course_lib._validation import check_bool, check_choice, check_int
from course_lib.param_groups import freeze, unfreeze
from course_lib.training.checkpoint import load_checkpoint, save_checkpoint
from course_lib.training.history import FitState, History
from course_lib.training.rng import loader_generators, rng_state, seed_everything, set_rng_state
from course_lib.training.step import (
    RunningMeans,
    batch_size,
    default_metrics,
    evaluate,
    resolve_device,
    to_device,
    to_float,
    train_step,
)

__all__ = [
    "HOOKS",
    "Checkpointer",
    "FitConfig",
    "Run",
    "SchedulerPolicy",
    "call_hooks",
    "check_callbacks",
    "check_fit_args",
    "check_monitor",
    "check_scheduler_interval",
    "diverge",
    "end_epoch",
    "epoch_batches",
    "epoch_record",
    "fit",
    "make_bar",
    "record_step",
    "resume",
    "train_epoch",
]

#: The callback methods ``fit`` calls (see :class:`FitState`).
HOOKS = ("on_fit_start", "on_epoch_start", "on_step_end", "on_epoch_end", "on_fit_end")


def call_hooks(callbacks, hook: str, state: FitState) -> None:
    """Call ``cb.<hook>(state)`` on every callback that has that method."""
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(state)


# --------------------------------------------------------------------------------------------------
# The arguments
# --------------------------------------------------------------------------------------------------


@dataclass
class FitConfig:
    """``fit``'s checked arguments (what stays fixed during a run)."""

    epochs: int
    loss_fn: Callable
    val_loader: object
    metrics: dict[str, Callable]
    device: torch.device
    progress: bool
    max_steps: int | None
    callbacks: list = field(default_factory=list)


def check_scheduler_interval(scheduler, interval: str | None) -> str | None:
    """The checked ``scheduler_interval``; ``ReduceLROnPlateau`` defaults to and requires ``"epoch"``."""
    if scheduler is None:
        if interval is not None:
            check_choice("scheduler_interval", interval, ("step", "epoch"))
        return interval
    if not (hasattr(scheduler, "step") and hasattr(scheduler, "state_dict")):
        raise TypeError(f"scheduler must be a torch LR scheduler, got {scheduler!r}")
    is_plateau = isinstance(scheduler, ReduceLROnPlateau)
    if is_plateau and interval is None:
        interval = "epoch"
    if interval is None:
        raise ValueError(
            "scheduler_interval must be 'step' (per batch, e.g. OneCycleLR) or 'epoch' when "
            "a scheduler is given, got None"
        )
    check_choice("scheduler_interval", interval, ("step", "epoch"))
    if is_plateau and interval != "epoch":
        raise ValueError(
            "scheduler_interval must be 'epoch' for ReduceLROnPlateau (it watches an epoch "
            f"metric), got {interval!r}"
        )
    return interval


def check_monitor(monitor: str | None, val_loader, metrics: Mapping) -> str:
    """The checked epoch key ``ReduceLROnPlateau`` watches (default ``val_loss`` or ``train_loss``)."""
    if monitor is None:
        return "val_loss" if val_loader is not None else "train_loss"
    split = "val" if val_loader is not None else "train"
    valid = [f"{s}_{m}" for s in ("train", split) for m in ("loss", *metrics)]
    check_choice("monitor", monitor, dict.fromkeys(valid))
    return monitor


def check_fit_args(model, optimizer, epochs, progress, max_steps, path, every, seed) -> None:
    """Type and range checks of ``fit``'s plain arguments (``path``, ``every``: the checkpoint's)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    check_int("epochs", epochs, low=1)
    check_bool("progress", progress)
    if max_steps is not None:
        check_int("max_steps", max_steps, low=1)
    if every is not None:
        check_int("checkpoint_every", every, low=1)
        if path is None:
            raise ValueError("checkpoint_every needs a checkpoint_path")
    if seed is not None:
        check_int("seed", seed, low=0)


# --------------------------------------------------------------------------------------------------
# The run's parts
# --------------------------------------------------------------------------------------------------


@dataclass
class SchedulerPolicy:
    """When ``scheduler.step()`` is called: after every optimizer step (``interval="step"``) or after
    every completed epoch (``"epoch"``; ``ReduceLROnPlateau`` gets the ``monitor`` value)."""

    scheduler: Any
    interval: str | None
    monitor: str

    def after_step(self) -> None:
        """Step a per-batch scheduler."""
        if self.scheduler is not None and self.interval == "step":
            self.scheduler.step()

    def after_epoch(self, record: Mapping) -> None:
        """Step a per-epoch scheduler, with the monitored value for ``ReduceLROnPlateau``."""
        if self.scheduler is None or self.interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(record[self.monitor])
        else:
            self.scheduler.step()


@dataclass
class Run:
    """The mutable position of one ``fit`` run (what a checkpoint saves besides the objects)."""

    state: FitState
    generators: list
    running: RunningMeans
    epoch_start_rng: dict | None = None
    resumed: dict | None = None
    stop_reason: str | None = None

    @property
    def history(self) -> History:
        """The run's history (the one callbacks see)."""
        return self.state.history

    # The position lives in ``state`` (the FitState callbacks see); these read and write it there.
    @property
    def epoch(self) -> int:
        return self.state.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.state.epoch = value

    @property
    def batch(self) -> int:
        return self.state.batch

    @batch.setter
    def batch(self, value: int) -> None:
        self.state.batch = value

    @property
    def step(self) -> int:
        return self.state.step

    @step.setter
    def step(self, value: int) -> None:
        self.state.step = value


@dataclass
class Checkpointer:
    """Writes ``fit``'s checkpoints to ``path``: every ``every`` steps, at epoch ends and early stops."""

    path: object
    every: int | None
    callbacks: list

    def write(self, run: Run) -> None:
        """Save the objects, the position, the history and the RNG states (nothing without a path)."""
        if self.path is None:
            return
        s = run.state
        save_checkpoint(
            self.path,
            s.model,
            s.optimizer,
            s.scheduler,
            epoch=run.epoch,
            batch=run.batch,
            step=run.step,
            running=run.running.state_dict(),
            rng=rng_state(run.generators),
            rng_epoch_start=run.epoch_start_rng if run.batch > 0 else None,
            history=run.history.to_dict(),
            frozen=[n for n, p in s.model.named_parameters() if not p.requires_grad],
            callbacks=[
                cb.state_dict() if hasattr(cb, "state_dict") else None for cb in self.callbacks
            ],
        )

    def after_step(self, run: Run) -> None:
        """Write one every ``every`` optimizer steps."""
        if self.every is not None and run.step % self.every == 0:
            self.write(run)


def resume(run: Run, path, callbacks) -> None:
    """Load the checkpoint at ``path`` into the run's objects and position (frozen flags included)."""
    s = run.state
    ckpt = load_checkpoint(path, s.model, s.optimizer, s.scheduler)
    s.history = History.from_dict(ckpt["history"])
    run.epoch, run.batch, run.step = ckpt["epoch"], ckpt["batch"], ckpt["step"]
    run.running.load_state_dict(ckpt["running"])
    frozen = set(ckpt["frozen"])
    names = [n for n, _ in s.model.named_parameters()]
    if frozen:
        freeze(s.model, [n for n in names if n in frozen])
    unfreeze(s.model, [n for n in names if n not in frozen])
    for cb, st in zip(callbacks, ckpt.get("callbacks", [])):
        if st is not None and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(st)
    run.resumed = ckpt


def epoch_batches(run: Run, loader, config: FitConfig):
    """The iterator of this epoch's batches; when resuming mid-epoch, its order replayed and the
    trained batches skipped (see the package docstring)."""
    resumed, run.resumed = run.resumed, None
    if resumed is not None and run.batch > 0:
        run.epoch_start_rng = resumed["rng_epoch_start"]
        set_rng_state(run.epoch_start_rng, run.generators)
        batches = iter(loader)
        for _ in range(run.batch):
            next(batches)
        set_rng_state(resumed["rng"], run.generators)
        return batches
    if resumed is not None:
        set_rng_state(resumed["rng"], run.generators)
    call_hooks(config.callbacks, "on_epoch_start", run.state)
    run.epoch_start_rng = rng_state(run.generators)
    run.batch, run.running = 0, RunningMeans(config.metrics)
    return iter(loader)


def record_step(run: Run, result, targets, config: FitConfig, bar) -> None:
    """Count a finished step: position, running means, progress bar, the callbacks' ``on_step_end``."""
    run.step, run.batch = run.step + 1, run.batch + 1
    with torch.no_grad():
        values = {"loss": result.loss}
        values.update(
            {m: to_float(fn(result.outputs, targets)) for m, fn in config.metrics.items()}
        )
    run.running.add(batch_size(targets), values)
    bar.update(1)
    bar.set_postfix(epoch=run.epoch, loss=f"{result.loss:.4g}", refresh=False)
    run.state.loss = result.loss
    call_hooks(config.callbacks, "on_step_end", run.state)


def diverge(run: Run, loss: float) -> None:
    """Mark the run as diverged at this step, with a ``RuntimeWarning``."""
    run.history.diverged, run.history.diverged_at = True, run.step
    run.stop_reason = "diverged"
    warnings.warn(
        f"diverged at step {run.step} (loss={loss}); training stopped", RuntimeWarning, stacklevel=4
    )


def train_epoch(run, batches, config, policy, checkpointer, n_batches, bar) -> None:
    """Train on the epoch's batches until they end or the run stops (divergence, callback, steps)."""
    s = run.state
    for inputs, targets in batches:
        inputs, targets = to_device(inputs, config.device), to_device(targets, config.device)
        result = train_step(s.model, s.optimizer, inputs, targets, loss_fn=config.loss_fn)
        run.history.record_step(result.loss, s.optimizer.param_groups)
        if not result.finite:
            diverge(run, result.loss)
            return
        policy.after_step()
        record_step(run, result, targets, config, bar)
        checkpointer.after_step(run)
        wants_stop = s.stop or (config.max_steps is not None and run.step >= config.max_steps)
        if wants_stop and run.batch != n_batches:
            run.stop_reason = "callback" if s.stop else "max_steps"
            return


def epoch_record(run: Run, config: FitConfig, complete: bool) -> dict:
    """The epoch's record: position, training means, validation scores."""
    record: dict = {"epoch": run.epoch, "step": run.step, "complete": complete}
    record.update({f"train_{k}": v for k, v in run.running.means().items()})
    if config.val_loader is not None:
        scores = evaluate(
            run.state.model,
            config.val_loader,
            loss_fn=config.loss_fn,
            metrics=config.metrics,
            device=config.device,
        )
        record.update({f"val_{k}": v for k, v in scores.items()})
    return record


def end_epoch(run: Run, config: FitConfig, policy, checkpointer, bar) -> None:
    """After the epoch's batches: record it (complete or not), step the scheduler, checkpoint, stop?"""
    if run.stop_reason == "diverged":
        return
    if run.stop_reason is not None:  # stopped inside the epoch
        checkpointer.write(run)
        run.history.record_epoch(epoch_record(run, config, complete=False))
        return
    record = epoch_record(run, config, complete=True)
    run.history.record_epoch(record)
    policy.after_epoch(record)
    run.epoch, run.batch = run.epoch + 1, 0
    call_hooks(config.callbacks, "on_epoch_end", run.state)
    checkpointer.write(run)
    if run.state.stop:
        run.stop_reason = "callback"
    elif config.max_steps is not None and run.step >= config.max_steps:
        run.stop_reason = "max_steps"
    if record.get("train_loss") is not None:
        bar.set_postfix(epoch=run.epoch, train_loss=f"{record['train_loss']:.4g}")


def make_bar(loader, config: FitConfig, step: int):
    """The ``tqdm`` bar over all the run's steps (``epochs * len(loader)``, at most ``max_steps``)."""
    try:
        n_batches = len(loader)
    except TypeError:
        n_batches = None
    total = None if n_batches is None else config.epochs * n_batches
    if config.max_steps is not None:
        total = config.max_steps if total is None else min(total, config.max_steps)
    bar = tqdm(total=total, initial=step, disable=not config.progress, unit="step", desc="fit")
    return bar, n_batches


def check_callbacks(callbacks) -> list:
    """``callbacks`` as a list, each with at least one of the :data:`HOOKS`."""
    callbacks = list(callbacks)
    for cb in callbacks:
        if not any(hasattr(cb, h) for h in HOOKS):
            raise TypeError(f"a callback needs at least one of the methods {HOOKS}, got {cb!r}")
    return callbacks


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    epochs: int,
    *,
    loss_fn: Callable = F.cross_entropy,
    val_loader=None,
    metrics: Mapping[str, Callable] | None = None,
    scheduler=None,
    scheduler_interval: str | None = None,
    monitor: str | None = None,
    device="auto",
    progress: bool = True,
    checkpoint_path=None,
    checkpoint_every: int | None = None,
    resume_from=None,
    callbacks=(),
    max_steps: int | None = None,
    seed: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return a :class:`History`.

    Each batch: ``zero_grad``, forward, ``loss = loss_fn(outputs, y)``, ``backward``,
    ``optimizer.step()``, then ``scheduler.step()`` when ``scheduler_interval="step"``. After each
    epoch: validation, the epoch record, then ``scheduler.step()`` when ``scheduler_interval="epoch"``
    (``ReduceLROnPlateau`` gets ``scheduler.step(history[monitor][-1])``).

    A non-finite loss stops training before the update: a ``RuntimeWarning`` "diverged at step k
    (loss=nan)", ``history.diverged = True``, ``history.diverged_at = k`` (0-based step index; the
    non-finite loss is the last entry of ``history.step_loss``). No checkpoint is written then.

    Args:
        model: the model; moved to ``device``.
        optimizer: built on ``model``'s parameters.
        train_loader: yields ``(inputs, targets)``; shuffle with its own ``torch.Generator`` for
            reproducible resuming (see the module docstring).
        epochs: total number of epochs (>= 1), counted from the start of the run, also when resuming.
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch mean.
        val_loader: optional validation batches, evaluated after each epoch.
        metrics: name -> ``fn(outputs, targets)`` (batch mean). ``None``: ``{"accuracy": accuracy}``
            when ``loss_fn`` is cross-entropy, no metric otherwise.
        scheduler: a torch scheduler (or any object with ``step()`` and ``state_dict()``).
        scheduler_interval: ``"step"`` (per batch, e.g. OneCycleLR) or ``"epoch"``. Required with a
            scheduler, because stepping a per-batch schedule once per epoch (or the reverse) is the
            commonest scheduler bug; ``ReduceLROnPlateau`` defaults to and requires ``"epoch"``.
        monitor: the epoch key ``ReduceLROnPlateau`` watches; default ``"val_loss"`` with a
            validation loader, else ``"train_loss"``. Set the scheduler's ``mode="max"`` for accuracy.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, a ``torch.device``.
        progress: show a ``tqdm.auto`` bar (a widget in JupyterLab); ``False`` is quiet.
        checkpoint_path: where to write checkpoints (see module docstring); ``None``: no checkpoints.
        checkpoint_every: also write one every this many optimizer steps (>= 1).
        resume_from: a checkpoint path to continue from.
        callbacks: objects with hooks (see :class:`FitState`), e.g. a ``GradualUnfreezer``.
        max_steps: stop after this many optimizer steps in total (>= 1).
        seed: seeds Python's ``random``, NumPy's global RNG and torch (CPU and CUDA) before training
            (not when resuming: the checkpoint's RNG states are used). The loader's own generator
            and the model's initialisation are yours to seed.

    Returns:
        The :class:`History` (also when training diverged).

    Example:
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(64, 4, generator=g); y = (x[:, 0] > 0).long()
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g)
        >>> model = nn.Linear(4, 2)
        >>> h = fit(model, torch.optim.SGD(model.parameters(), lr=0.5), loader, 3, progress=False)
        >>> h.steps, len(h.train_loss), h.train_loss[-1] < h.train_loss[0]
        (12, 3, True)
    """
    check_fit_args(
        model, optimizer, epochs, progress, max_steps, checkpoint_path, checkpoint_every, seed
    )
    metrics = default_metrics(metrics, loss_fn)
    interval = check_scheduler_interval(scheduler, scheduler_interval)
    policy = SchedulerPolicy(scheduler, interval, check_monitor(monitor, val_loader, metrics))
    callbacks = check_callbacks(callbacks)
    config = FitConfig(
        epochs, loss_fn, val_loader, metrics, resolve_device(device), progress, max_steps, callbacks
    )
    model.to(config.device)
    names = [str(g.get("name", i)) for i, g in enumerate(optimizer.param_groups)]
    state = FitState(model, optimizer, scheduler, History(group_names=names))
    run = Run(state, loader_generators(train_loader), RunningMeans(metrics))
    if resume_from is not None:
        resume(run, resume_from, callbacks)
    elif seed is not None:
        seed_everything(seed)
    checkpointer = Checkpointer(checkpoint_path, checkpoint_every, callbacks)
    bar, n_batches = make_bar(train_loader, config, run.step)
    call_hooks(callbacks, "on_fit_start", state)
    try:
        while run.epoch < epochs and run.stop_reason is None:
            if max_steps is not None and run.step >= max_steps:
                run.stop_reason = "max_steps"
                break
            model.train()
            batches = epoch_batches(run, train_loader, config)
            train_epoch(run, batches, config, policy, checkpointer, n_batches, bar)
            end_epoch(run, config, policy, checkpointer, bar)
    finally:
        bar.close()
    run.history.stop_reason = run.stop_reason or "completed"
    call_hooks(callbacks, "on_fit_end", state)
    return run.history
