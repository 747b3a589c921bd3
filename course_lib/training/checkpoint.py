"""Checkpoint files: written atomically, read weights-only, checked against the model they load into."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

import torch
from torch import nn

__all__ = [
    "CHECKPOINT_FORMAT",
    "atomic_save",
    "check_format",
    "load_checkpoint",
    "load_scaler_and_ema",
    "save_checkpoint",
]

#: Written into every checkpoint; a file without it is not one of ours. Format 2 (issue 13) adds the
#: ``GradScaler`` and EMA states and counts ``batch`` (loader batches) apart from ``step`` (optimizer
#: steps, fewer with gradient accumulation); a format-1 file is refused with a message saying so.
CHECKPOINT_FORMAT = "course_lib.training/2"


def atomic_save(obj, path) -> None:
    """``torch.save`` that never leaves a half-written file at ``path``.

    Writes a temporary file in the same folder, flushes it to disk (``fsync``), then renames it over
    ``path`` with ``os.replace`` (atomic on POSIX and Windows). If anything fails the temporary file
    is removed and ``path`` keeps its previous content.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_checkpoint(
    path, model: nn.Module, optimizer=None, scheduler=None, *, scaler=None, ema=None, **extra
) -> None:
    """Save model, optimizer, scheduler, ``GradScaler`` and EMA ``state_dict``\\ s (plus plain
    ``extra`` values) atomically; ``None`` ones are saved as ``None``.

    Example:
        >>> import tempfile, os
        >>> model = nn.Linear(2, 1)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_checkpoint(os.path.join(d, "ckpt.pt"), model)
        ...     _ = load_checkpoint(os.path.join(d, "ckpt.pt"), model)
    """
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "optimizer_class": None if optimizer is None else type(optimizer).__name__,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scheduler_class": None if scheduler is None else type(scheduler).__name__,
        "scaler": None if scaler is None else scaler.state_dict(),
        "ema": None if ema is None else ema.state_dict(),
        **extra,
    }
    atomic_save(ckpt, path)


def _check_model_state(model: nn.Module, state: Mapping, source: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state
        and isinstance(state[k], torch.Tensor)
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys (in the model, not in the checkpoint): {missing}")
    if unexpected:
        problems.append(f"unexpected keys (in the checkpoint, not in the model): {unexpected}")
    if shapes:
        problems.append(f"shape mismatch: {'; '.join(shapes)}")
    if problems:
        raise ValueError(
            f"checkpoint {source} does not match this model ({type(model).__name__}): "
            + " | ".join(problems)
        )


def check_format(ckpt, source: str) -> None:
    """A ``ValueError`` unless ``ckpt`` is a dict written in :data:`CHECKPOINT_FORMAT`."""
    found = ckpt.get("format") if isinstance(ckpt, dict) else None
    if isinstance(found, str) and found.startswith("course_lib.training/"):
        if found != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{source!r} is a course_lib checkpoint of format {found!r}, but this version "
                f"reads {CHECKPOINT_FORMAT!r} only; rerun the training that wrote it"
            )
        return
    raise ValueError(f"{source!r} is not a course_lib checkpoint (format {CHECKPOINT_FORMAT})")


def load_scaler_and_ema(ckpt: Mapping, source: str, scaler, ema) -> None:
    """Load the ``GradScaler`` and EMA states of ``ckpt`` into ``scaler`` / ``ema`` (when given)."""
    if scaler is not None:
        if ckpt.get("scaler") is None:
            raise ValueError(f"checkpoint {source!r} has no scaler state to load")
        try:
            scaler.load_state_dict(ckpt["scaler"])
        except (RuntimeError, KeyError) as err:
            raise ValueError(
                f"checkpoint {source!r}: the scaler state does not load ({err})"
            ) from err
    if ema is not None:
        if ckpt.get("ema") is None:
            raise ValueError(f"checkpoint {source!r} has no ema state to load")
        _check_model_state(ema, ckpt["ema"], f"{source!r} (its ema)")
        ema.load_state_dict(ckpt["ema"])


def load_checkpoint(
    path, model: nn.Module, optimizer=None, scheduler=None, *, scaler=None, ema=None
) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` / ``fit`` into the given objects.

    Reads with ``torch.load(weights_only=True)`` (no arbitrary unpickling) onto the CPU; the model's
    tensors are copied into its own (on its device). A checkpoint from another model raises a
    ``ValueError`` naming the missing/unexpected keys and shape mismatches; an optimizer or scheduler of
    another class or with other groups raises one too, and so does an ``ema`` (an ``AveragedModel``)
    of another model. A ``scaler`` or ``ema`` given for a checkpoint without that state is an error;
    one not given is not loaded (``fit`` checks that both sides agree).

    Returns:
        The whole checkpoint dict (position, history, RNG states, ...).
    """
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"no checkpoint at {source!r}")
    try:
        ckpt = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{source!r} could not be read as a weights-only checkpoint: {err}"
        ) from err
    check_format(ckpt, source)
    _check_model_state(model, ckpt["model"], repr(source))
    model.load_state_dict(ckpt["model"])
    for kind, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        saved = ckpt.get(kind)
        if saved is None:
            raise ValueError(f"checkpoint {source!r} has no {kind} state to load")
        if ckpt[f"{kind}_class"] != type(obj).__name__:
            raise ValueError(
                f"checkpoint {source!r} holds a {ckpt[f'{kind}_class']} {kind} state, "
                f"but a {type(obj).__name__} was given"
            )
        try:
            obj.load_state_dict(saved)
        except (ValueError, KeyError, RuntimeError) as err:
            raise ValueError(
                f"checkpoint {source!r}: the {kind} does not match ({err}); build it with the same "
                "parameter groups, in the same order, as the run that wrote the checkpoint"
            ) from err
    load_scaler_and_ema(ckpt, source, scaler, ema)
    return ckpt
