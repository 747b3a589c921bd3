"""``fit``: epochs of :func:`train_step` with a progress bar, a history, schedulers, divergence, checkpoints.

``fit`` reads as its parts: :func:`check_fit_args` (the arguments), :class:`SchedulerPolicy` (when
``scheduler.step()`` is called), :class:`Checkpointer` (when a checkpoint is written and what it
holds), :func:`resume` (restore a run), :func:`epoch_batches` (an epoch's batches, replayed when
resuming mid-epoch), :func:`train_epoch` (the batches of one epoch) and :func:`end_epoch`.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

from course_lib._validation import check_bool, check_choice, check_int
from course_lib.param_groups import freeze, unfreeze
from course_lib.training.checkpoint import load_checkpoint, load_scaler_and_ema, save_checkpoint
from course_lib.training.history import FitState, History
from course_lib.training.rng import loader_generators, rng_state, seed_everything, set_rng_state
from course_lib.training.step import (
    RunningMeans,
    accumulate_step,
    batch_size,
    check_step_options,
    default_metrics,
    evaluate,
    model_device,
    resolve_device,
    to_device,
    to_float,
)

__all__ = [
    "HOOKS",
    "PRECISIONS",
    "Checkpointer",
    "FitConfig",
    "Run",
    "SchedulerPolicy",
    "call_hooks",
    "check_callbacks",
    "check_ema",
    "check_fit_args",
    "check_monitor",
    "check_practice_args",
    "check_resume_matches",
    "check_scheduler_interval",
    "diverge",
    "end_epoch",
    "epoch_batches",
    "epoch_record",
    "fit",
    "make_bar",
    "record_history",
    "record_step",
    "resume",
    "run_epochs",
    "train_epoch",
    "windows",
]

#: ``fit``'s ``precision`` -> the ``torch.autocast`` dtype (``None``: float32, no autocast).
PRECISIONS = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

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
    accumulation_steps: int = 1
    max_grad_norm: float | None = None
    clip_grad_value: float | None = None
    precision: str = "32"
    scaler: torch.amp.GradScaler | None = None
    ema: nn.Module | None = None


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


def check_ema(ema, model: nn.Module) -> None:
    """``ema`` is ``None`` or an averaged copy of ``model`` (an ``nn.Module`` with
    ``update_parameters`` whose parameters have the model's number and shapes)."""
    if ema is None:
        return
    if not isinstance(ema, nn.Module) or not callable(getattr(ema, "update_parameters", None)):
        raise TypeError(
            "ema must be an AveragedModel (an nn.Module with update_parameters), e.g. "
            "AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999)), got "
            f"{type(ema).__name__}"
        )
    ours = [tuple(p.shape) for p in ema.parameters()]
    theirs = [tuple(p.shape) for p in model.parameters()]
    if ours != theirs:
        first = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs))
        )
        raise ValueError(
            f"ema must average this model's parameters: it holds {len(ours)} parameters, the model "
            f"{len(theirs)}, first difference at parameter #{first}; build it from this model"
        )


def check_practice_args(
    model, accumulation_steps, max_grad_norm, clip_grad_value, precision, scaler, ema, device
) -> torch.amp.GradScaler | None:
    """Checks of ``fit``'s training-practice options; returns the scaler to use (the default
    ``torch.amp.GradScaler(device.type)`` for ``precision="fp16"``, ``None`` otherwise)."""
    check_int("accumulation_steps", accumulation_steps, low=1)
    check_choice("precision", precision, PRECISIONS)
    if scaler is not None and precision != "fp16":
        raise ValueError(
            f"scaler is used only with precision='fp16' (float16 gradients underflow without it), "
            f"got a scaler with precision={precision!r}"
        )
    check_step_options(max_grad_norm, clip_grad_value, PRECISIONS[precision], scaler)
    check_ema(ema, model)
    if precision == "fp16" and scaler is None:
        scaler = torch.amp.GradScaler(device.type)
    return scaler


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
    config: FitConfig | None = None

    def write(self, run: Run) -> None:
        """Save the objects, the position, the history and the RNG states (nothing without a path)."""
        if self.path is None:
            return
        s, config = run.state, self.config
        save_checkpoint(
            self.path,
            s.model,
            s.optimizer,
            s.scheduler,
            scaler=None if config is None else config.scaler,
            ema=None if config is None else config.ema,
            accumulation_steps=1 if config is None else config.accumulation_steps,
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


def check_resume_matches(ckpt: Mapping, path, config: FitConfig) -> None:
    """A ``ValueError`` when the checkpoint and this ``fit`` disagree on the scaler, the EMA or
    ``accumulation_steps`` (its position counts windows of that many batches)."""
    for name, what, ours, hint in (
        ("scaler", "a GradScaler", config.scaler, "precision='fp16'"),
        ("ema", "an EMA", config.ema, "ema=AveragedModel(model, ...)"),
    ):
        if (ckpt.get(name) is None) != (ours is None):
            has, lacks = (
                ("the checkpoint", "this fit") if ours is None else ("this fit", "the checkpoint")
            )
            raise ValueError(
                f"cannot resume from {str(path)!r}: {has} has {what} ({name}) and {lacks} has "
                f"none; "
                f"resume with the options of the run that wrote it ({hint} or not)"
            )
    saved = ckpt.get("accumulation_steps", 1)
    if saved != config.accumulation_steps:
        raise ValueError(
            f"cannot resume from {str(path)!r}: it was written with accumulation_steps={saved}, "
            f"this fit has accumulation_steps={config.accumulation_steps}; use the same value"
        )


def resume(run: Run, path, callbacks, config: FitConfig | None = None) -> None:
    """Load the checkpoint at ``path`` into the run's objects and position (frozen flags included),
    and into the scaler and EMA of ``config`` (after :func:`check_resume_matches`)."""
    s = run.state
    ckpt = load_checkpoint(path, s.model, s.optimizer, s.scheduler)
    if config is not None:
        check_resume_matches(ckpt, path, config)
        load_scaler_and_ema(ckpt, str(path), config.scaler, config.ema)
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


def windows(batches, k: int) -> Iterator[list]:
    """The epoch's batches in lists of ``k`` (the last one shorter when they do not divide evenly).

    Example:
        >>> [len(w) for w in windows(iter(range(7)), 3)]
        [3, 3, 1]
    """
    while window := list(itertools.islice(batches, k)):
        yield window


def record_history(run: Run, result, optimizer) -> None:
    """The step into the history: loss, hyperparameters, ``grad_norm``, a skip by the scaler."""
    run.history.record_step(result.loss, optimizer.param_groups)
    if result.grad_norm is not None:
        run.history.grad_norm.append(result.grad_norm)
    if result.skipped:
        run.history.skipped_steps.append(run.step)


def record_step(run: Run, result, window, config: FitConfig, bar) -> None:
    """Count a finished step: position, running means, progress bar, the callbacks' ``on_step_end``.

    ``window`` is the step's list of ``(inputs, targets)`` micro-batches: ``run.batch`` advances by
    their number, and the metrics are those of their concatenated outputs and targets.
    """
    run.step, run.batch = run.step + 1, run.batch + len(window)
    targets = window[0][1] if len(window) == 1 else torch.cat([t for _, t in window])
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
    for window in windows(batches, config.accumulation_steps):
        window = [(to_device(x, config.device), to_device(y, config.device)) for x, y in window]
        result = accumulate_step(
            s.model,
            s.optimizer,
            window,
            loss_fn=config.loss_fn,
            max_grad_norm=config.max_grad_norm,
            clip_grad_value=config.clip_grad_value,
            autocast_dtype=PRECISIONS[config.precision],
            scaler=config.scaler,
        )
        record_history(run, result, s.optimizer)
        if not result.finite:
            diverge(run, result.loss)
            return
        if not result.skipped:  # a skipped step changed no weight: the schedule and EMA wait
            policy.after_step()
            if config.ema is not None:
                config.ema.update_parameters(s.model)
        record_step(run, result, window, config, bar)
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
    if config.val_loader is not None and config.ema is not None:
        scores = evaluate(
            config.ema,
            config.val_loader,
            loss_fn=config.loss_fn,
            metrics=config.metrics,
            device=model_device(config.ema),
        )
        record.update({f"val_ema_{k}": v for k, v in scores.items()})
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
    """The ``tqdm`` bar over all the run's optimizer steps (``epochs * ceil(len(loader) / k)`` with
    ``k = accumulation_steps``, at most ``max_steps``)."""
    try:
        n_batches = len(loader)
    except TypeError:
        n_batches = None
    k = config.accumulation_steps
    total = None if n_batches is None else config.epochs * math.ceil(n_batches / k)
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


def run_epochs(run: Run, train_loader, config: FitConfig, policy, checkpointer) -> None:
    """The epochs of a run (from where it stands) under a progress bar, with the fit hooks."""
    state = run.state
    bar, n_batches = make_bar(train_loader, config, run.step)
    call_hooks(config.callbacks, "on_fit_start", state)
    try:
        while run.epoch < config.epochs and run.stop_reason is None:
            if config.max_steps is not None and run.step >= config.max_steps:
                run.stop_reason = "max_steps"
                break
            state.model.train()
            batches = epoch_batches(run, train_loader, config)
            train_epoch(run, batches, config, policy, checkpointer, n_batches, bar)
            end_epoch(run, config, policy, checkpointer, bar)
    finally:
        bar.close()
    run.history.stop_reason = run.stop_reason or "completed"
    call_hooks(config.callbacks, "on_fit_end", state)


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
    accumulation_steps: int = 1,
    max_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    precision: str = "32",
    scaler: torch.amp.GradScaler | None = None,
    ema: nn.Module | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return a :class:`History`.

    Each batch: ``zero_grad``, forward, ``loss = loss_fn(outputs, y)``, ``backward``,
    ``optimizer.step()``, then ``scheduler.step()`` when ``scheduler_interval="step"``. After each
    epoch: validation, the epoch record, then ``scheduler.step()`` when ``scheduler_interval="epoch"``
    (``ReduceLROnPlateau`` gets ``scheduler.step(history[monitor][-1])``).

    A non-finite loss stops training before the update: a ``RuntimeWarning`` "diverged at step k
    (loss=nan)", ``history.diverged = True``, ``history.diverged_at = k`` (0-based step index; the
    non-finite loss is the last entry of ``history.step_loss``). No checkpoint is written then.
    This holds in ``"fp16"`` too: the scaler skips steps whose *gradients* overflow, but a
    non-finite *loss* (the forward overflowed) is a divergence.

    The training-practice options (see the package docstring for their maths) change one optimizer
    step into :func:`~course_lib.training.step.accumulate_step` over ``accumulation_steps`` loader
    batches: ``zero_grad``; per micro-batch :math:`b` the forward (under ``torch.autocast`` with
    ``precision`` ``"bf16"`` / ``"fp16"``), the loss :math:`L_b` and the backward of
    :math:`\\frac{n_b}{N} L_b` (scaled by the ``GradScaler`` in fp16); ``scaler.unscale_``; clipping;
    ``optimizer.step()`` (``scaler.step`` + ``scaler.update``); then, unless the scaler skipped the
    step, ``scheduler.step()`` (``"step"`` interval) and ``ema.update_parameters(model)``.

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
        accumulation_steps: :math:`k \\ge 1` loader batches per optimizer step; each epoch's batches
            are taken in windows of :math:`k` (its last window may be shorter: it still makes one
            step, weighted by its own :math:`N`). ``max_steps``, ``checkpoint_every``, the history,
            the bar (``epochs * ceil(len(loader) / k)``) and a ``"step"`` scheduler count optimizer
            steps; the position's ``batch`` counts loader batches.
        max_grad_norm: clip the gradient's global 2-norm to this (> 0), after ``unscale_``; each
            step's norm before clipping is recorded in ``history.grad_norm``.
        clip_grad_value: clip every gradient entry into ``[-clip_grad_value, clip_grad_value]``
            (after ``max_grad_norm`` when both are given).
        precision: ``"32"`` (float32), ``"bf16"`` (autocast bfloat16) or ``"fp16"`` (autocast
            float16 with a ``GradScaler``; its skipped steps go to ``history.skipped_steps`` and do
            not step the scheduler, which would otherwise run ahead of the weights).
        scaler: the ``torch.amp.GradScaler`` for ``precision="fp16"`` (default
            ``torch.amp.GradScaler(device.type)``); with another precision a ``ValueError``.
        ema: an ``AveragedModel`` of ``model`` (``course_lib.averaging`` or
            ``torch.optim.swa_utils``), updated after every step that was not skipped; with a
            ``val_loader`` the epoch records get ``val_ema_loss`` and ``val_ema_<metric>``. Its
            state is checkpointed; it is evaluated on its own device.

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
    config = FitConfig(epochs, loss_fn, val_loader, default_metrics(metrics, loss_fn),
                       resolve_device(device), progress, max_steps, check_callbacks(callbacks),
                       accumulation_steps, max_grad_norm, clip_grad_value, precision)  # fmt: skip
    config.scaler = check_practice_args(
        model, accumulation_steps, max_grad_norm, clip_grad_value, precision, scaler, ema,
        config.device,
    )  # fmt: skip
    config.ema = ema
    interval = check_scheduler_interval(scheduler, scheduler_interval)
    monitor = check_monitor(monitor, val_loader, config.metrics)
    policy = SchedulerPolicy(scheduler, interval, monitor)
    model.to(config.device)
    names = [str(g.get("name", i)) for i, g in enumerate(optimizer.param_groups)]
    state = FitState(model, optimizer, scheduler, History(group_names=names))
    run = Run(state, loader_generators(train_loader), RunningMeans(config.metrics))
    if resume_from is not None:
        resume(run, resume_from, config.callbacks, config)
    elif seed is not None:
        seed_everything(seed)
    checkpointer = Checkpointer(checkpoint_path, checkpoint_every, config.callbacks, config)
    run_epochs(run, train_loader, config, policy, checkpointer)
    return run.history
