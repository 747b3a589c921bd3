"""What ``fit`` records: :class:`History` (per step and per epoch) and :class:`FitState` (callbacks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from course_lib._validation import check_choice
from course_lib.training.step import to_float

__all__ = ["FitState", "History"]


@dataclass(repr=False)
class History:
    """What happened during ``fit``: per-step losses and hyperparameters, per-epoch losses and metrics.

    Per optimizer step ``k`` (0-based): ``step_loss[k]`` is the batch loss and ``lr[k][g]`` the learning
    rate group ``g`` used for that step (``momentum[k][g]``, ``beta1[k][g]`` likewise when some group
    has ``momentum`` / ``betas``; ``None`` for groups without). Per epoch, ``epochs`` maps a key to one
    value per epoch: ``"epoch"``, ``"step"`` (optimizer steps done at its end), ``"complete"`` (False
    for the last epoch when training stopped inside it), ``"train_loss"`` and ``"train_<metric>"``
    (averages over the epoch's batches, weighted by batch size), ``"val_loss"``, ``"val_<metric>"``.

    ``grad_norm[k]`` is the total 2-norm of step ``k``'s gradient before clipping (recorded when
    ``fit`` clips with ``max_grad_norm``; empty otherwise). ``skipped_steps`` lists the steps whose
    ``optimizer.step()`` a ``GradScaler`` skipped (inf/nan gradients in float16): they count as steps
    (their loss was computed and is in ``step_loss``) but changed no weight.

    Everything is plain lists, dicts, floats and ints, so a checkpoint stores it under
    ``torch.load(weights_only=True)``.

    Example:
        >>> h = History(group_names=["all"])
        >>> h.steps, h.diverged
        (0, False)
    """

    group_names: list[str] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[list[float]] = field(default_factory=list)
    momentum: list[list[float | None]] = field(default_factory=list)
    beta1: list[list[float | None]] = field(default_factory=list)
    epochs: dict[str, list] = field(default_factory=dict)
    diverged: bool = False
    diverged_at: int | None = None
    stop_reason: str | None = None
    grad_norm: list[float] = field(default_factory=list)
    skipped_steps: list[int] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Number of recorded steps (a diverged step included)."""
        return len(self.step_loss)

    @property
    def num_epochs(self) -> int:
        """Number of epoch records."""
        return len(self.epochs.get("epoch", []))

    @property
    def train_loss(self) -> list[float]:
        """Training loss per epoch."""
        return self.epochs.get("train_loss", [])

    @property
    def val_loss(self) -> list[float]:
        """Validation loss per epoch (empty without a validation loader)."""
        return self.epochs.get("val_loss", [])

    def __getitem__(self, key: str) -> list:
        """``history["val_accuracy"]``: the per-epoch list of that key."""
        return self.epochs[key]

    def series(self, key: str = "lr", group: int = 0) -> list[float | None]:
        """One group's per-step values of ``"lr"``, ``"momentum"`` or ``"beta1"``."""
        check_choice("key", key, ("lr", "momentum", "beta1"))
        rows = getattr(self, key)
        return [row[group] if group < len(row) else None for row in rows]

    def record_step(self, loss: float, param_groups) -> None:
        """Append one step: its loss and every group's hyperparameters as the step used them."""
        self.step_loss.append(loss)
        self.lr.append([to_float(g["lr"]) for g in param_groups])
        if any("momentum" in g for g in param_groups):
            self.momentum.append(
                [to_float(g["momentum"]) if "momentum" in g else None for g in param_groups]
            )
        if any("betas" in g for g in param_groups):
            self.beta1.append(
                [to_float(g["betas"][0]) if "betas" in g else None for g in param_groups]
            )

    def record_epoch(self, record: Mapping) -> None:
        """Append one epoch's record (every key gets a value; missing ones are ``None``)."""
        n = self.num_epochs
        for key in record:
            self.epochs.setdefault(key, [None] * n)
        for key, values in self.epochs.items():
            values.append(record.get(key))

    def to_dict(self) -> dict:
        """Plain copy (lists, dicts, numbers, strings) for checkpoints and JSON."""
        return {
            "group_names": list(self.group_names),
            "step_loss": list(self.step_loss),
            "lr": [list(r) for r in self.lr],
            "momentum": [list(r) for r in self.momentum],
            "beta1": [list(r) for r in self.beta1],
            "epochs": {k: list(v) for k, v in self.epochs.items()},
            "diverged": self.diverged,
            "diverged_at": self.diverged_at,
            "stop_reason": self.stop_reason,
            "grad_norm": list(self.grad_norm),
            "skipped_steps": list(self.skipped_steps),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> History:
        """Inverse of :meth:`to_dict` (a dict without ``grad_norm`` / ``skipped_steps``, from before
        they existed, loads with them empty)."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d}).copy()

    def copy(self) -> History:
        """A deep copy of the lists."""
        return History(**{**self.to_dict()})

    def __repr__(self) -> str:
        parts = [f"{self.num_epochs} epochs", f"{self.steps} steps"]
        for key in ("train_loss", "val_loss"):
            if self.epochs.get(key):
                parts.append(f"{key}={self.epochs[key][-1]:.4g}")
        if self.diverged:
            parts.append(f"diverged at step {self.diverged_at}")
        return f"History({', '.join(parts)})"


@dataclass
class FitState:
    """What callbacks see: the objects being trained and the position. Set ``stop = True`` to stop.

    A callback is any object with some of these methods, each called with this state:
    ``on_fit_start``, ``on_epoch_start`` (before the epoch's batches are drawn), ``on_step_end``
    (after ``optimizer.step()`` and a per-step ``scheduler.step()``), ``on_epoch_end`` (after
    validation and a per-epoch ``scheduler.step()``), ``on_fit_end``. A callback with
    ``state_dict()`` / ``load_state_dict()`` has its state saved in checkpoints (plain values only).
    ``epoch`` is the 0-based current epoch, except in ``on_epoch_end`` where it already counts the
    finished epoch (it is the number of completed epochs); ``step`` counts optimizer steps done.
    When a run resumes in the middle of an epoch, ``on_epoch_start`` is not called again for it.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    history: History
    epoch: int = 0
    step: int = 0
    batch: int = 0
    loss: float | None = None
    stop: bool = False
