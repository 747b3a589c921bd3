r"""Lightning with course_lib's parameter groups, optimizers and schedulers (notebook A2).

This module imports Lightning; ``import course_lib.integrations`` does not (it loads this module on
first access to one of its names).

:class:`CourseLitModule` trains a classifier; its ``configure_optimizers`` builds course_lib parameter
groups, an optimizer and a scheduler, and returns Lightning's dict with ``"interval": "step"`` (or
``"epoch"``, with a ``"monitor"`` for ``ReduceLROnPlateau``). :class:`LRRecorder` records every group's
learning rate right before every optimizer step (it needs no logger, unlike Lightning's
``LearningRateMonitor``); :class:`OptunaPruning` reports each epoch's validation metric to an Optuna
trial and stops a pruned run; :func:`quiet_trainer` builds a ``Trainer`` that writes nothing (no logger, no
checkpoints, a temporary ``default_root_dir``).

    >>> import tempfile
    >>> from course_lib.integrations.common import tensor_loader
    >>> x, y = torch.randn(20, 4), torch.arange(20) % 2
    >>> module = CourseLitModule(nn.Linear(4, 2), optimizer_kwargs={"lr": 0.1})
    >>> recorder = LRRecorder()
    >>> with tempfile.TemporaryDirectory() as root:
    ...     quiet_trainer(root, 1, callbacks=[recorder]).fit(module, tensor_loader(x, y, 10, seed=0))
    >>> recorder.values.tolist()
    [[0.1], [0.1]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_lib import optim as course_optim
from course_lib._validation import check_choice, check_int
from course_lib.integrations.common import is_plateau

__all__ = ["CourseLitModule", "LRRecorder", "OptunaPruning", "quiet_trainer"]


class CourseLitModule(pl.LightningModule):
    r"""A LightningModule whose ``configure_optimizers`` uses course_lib groups and schedulers.

    ``configure_optimizers`` does, in order::

        groups    = make_groups(model)            # or model.parameters()
        optimizer = optimizer_class(groups, **optimizer_kwargs)
        scheduler = make_scheduler(optimizer, T)  # T = trainer.estimated_stepping_batches
                                                  #     ("step") or trainer.max_epochs ("epoch")
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": interval,
                                 "frequency": 1, "monitor": monitor}}  # monitor: plateau only

    With ``interval="step"`` Lightning calls ``scheduler.step()`` after every optimizer step, so
    :math:`\gamma_t` is the schedule at :math:`t` = the number of optimizer steps taken.
    The loss is the cross-entropy; each validation epoch logs ``val_loss`` and ``val_acc`` (the
    monitor of a plateau scheduler) and appends them, with the mean ``train_loss`` of the epoch,
    to ``self.history`` (sanity-check runs are not recorded).

    Args:
        model: the network, ``x -> logits``.
        optimizer_class: default ``course_lib.optim.SGD``.
        optimizer_kwargs: e.g. ``{"lr": 0.1, "momentum": 0.9}``.
        make_groups: ``model -> list of group dicts`` (e.g. a ``functools.partial`` of
            ``course_lib.param_groups.no_decay_groups``); ``None`` for one group.
        make_scheduler: ``(optimizer, T) -> scheduler`` (see :func:`make_scheduler`) or ``None``.
        interval: ``"step"`` or ``"epoch"``.
        monitor: the logged metric a ``ReduceLROnPlateau`` watches.

    Example:
        >>> from course_lib.integrations.common import make_scheduler
        >>> module = CourseLitModule(nn.Linear(40, 10), optimizer_kwargs={"lr": 0.1},
        ...                          make_scheduler=make_scheduler("cosine"))
        >>> module.interval
        'step'
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        optimizer_class: type[torch.optim.Optimizer] | None = None,
        optimizer_kwargs: Mapping | None = None,
        make_groups: Callable | None = None,
        make_scheduler: Callable | None = None,
        interval: str = "step",
        monitor: str = "val_loss",
    ):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.optimizer_class = optimizer_class or course_optim.SGD
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.make_groups = make_groups
        self.make_scheduler = make_scheduler
        self.interval = check_choice("interval", interval, ("step", "epoch"))
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name (str), got {monitor!r}")
        self.monitor = monitor
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
        self._train_sum = 0.0
        self._train_n = 0
        self._val = [0.0, 0, 0]  # loss sum, correct, count

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self._train_sum += loss.detach().item() * len(y)
        self._train_n += len(y)
        return loss

    def on_train_epoch_end(self):
        if self._train_n:
            self.history["train_loss"].append(self._train_sum / self._train_n)
        self._train_sum, self._train_n = 0.0, 0

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self._val[0] += F.cross_entropy(logits, y, reduction="sum").item()
        self._val[1] += int((logits.argmax(dim=1) == y).sum())
        self._val[2] += len(y)

    def on_validation_epoch_end(self):
        loss_sum, correct, n = self._val
        self._val = [0.0, 0, 0]
        if not n:
            return
        val_loss, val_acc = loss_sum / n, correct / n
        self.log("val_loss", val_loss, prog_bar=True)
        self.log("val_acc", val_acc, prog_bar=True)
        if not self.trainer.sanity_checking:
            self.history["val_loss"].append(val_loss)
            self.history["val_acc"].append(val_acc)

    def configure_optimizers(self):
        groups = (
            self.make_groups(self.model)
            if self.make_groups is not None
            else self.model.parameters()
        )
        optimizer = self.optimizer_class(groups, **self.optimizer_kwargs)
        if self.make_scheduler is None:
            return optimizer
        if self.interval == "step":
            total = int(self.trainer.estimated_stepping_batches)
        else:
            total = int(cast(int, self.trainer.max_epochs))  # an int once the Trainer is built
        scheduler = self.make_scheduler(optimizer, total)
        config = {"scheduler": scheduler, "interval": self.interval, "frequency": 1}
        if is_plateau(scheduler):
            if self.interval != "epoch":
                raise ValueError(
                    "interval must be 'epoch' for ReduceLROnPlateau (it watches "
                    f"{self.monitor!r}, computed once per validation epoch), got 'step'"
                )
            config["monitor"] = self.monitor
        return {"optimizer": optimizer, "lr_scheduler": config}


class LRRecorder(pl.Callback):
    """Records a hyperparameter of every group right before every optimizer step.

    Unlike Lightning's ``LearningRateMonitor`` it needs no logger and is not thinned by
    ``log_every_n_steps``: ``values[t, i]`` is the value group ``i`` used at optimizer step ``t``
    (the hook is ``on_before_optimizer_step``, so with gradient accumulation it fires once per
    optimizer step, not per batch).

    Args:
        key: the group key to record (``"lr"``, ``"momentum"``, ``"betas"``, ...).
        index: for a pair such as ``betas``, which element to record (0 for
            :math:`\\beta_1`); ignored for numbers.

    Example:
        >>> rec = LRRecorder(key="betas", index=0)
        >>> rec.values.shape
        (0, 0)
    """

    def __init__(self, key: str = "lr", index: int = 0):
        super().__init__()
        if not isinstance(key, str):
            raise TypeError(f"key must be a param-group key (str), got {key!r}")
        self.key = key
        self.index = check_int("index", index, low=0)
        self._rows: list[list[float]] = []

    def _value(self, group) -> float:
        value = group[self.key]
        if isinstance(value, (tuple, list)):
            value = value[self.index]
        return float(value)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._rows.append([self._value(g) for g in optimizer.param_groups])

    @property
    def values(self) -> np.ndarray:
        """Array of shape ``(steps, groups)``."""
        if not self._rows:
            return np.zeros((0, 0))
        return np.asarray(self._rows, dtype=np.float64)


class OptunaPruning(pl.Callback):
    """Reports a validation metric to an Optuna trial after every epoch; stops a pruned run.

    After ``trainer.fit`` check ``pruned_at`` (``None`` or the epoch) and raise
    ``optuna.TrialPruned`` from the objective (raising inside Lightning's loop is avoided).

    Args:
        trial: the ``optuna.Trial``.
        monitor: a key of ``pl_module.history`` (``"val_acc"`` or ``"val_loss"``).
    """

    def __init__(self, trial, monitor: str = "val_acc"):
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        values = pl_module.history.get(self.monitor) or []
        if not values:
            return
        epoch = len(values) - 1
        self.trial.report(float(values[-1]), step=epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.should_stop = True


def quiet_trainer(
    root_dir, max_epochs: int, callbacks: Sequence[pl.Callback] = (), **kwargs
) -> pl.Trainer:
    """A Lightning ``Trainer`` on one CPU that writes no file and prints no progress bar.

    ``logger=False`` (Lightning would create ``lightning_logs/``), ``enable_checkpointing=False``
    (it would save ``.ckpt`` files), ``default_root_dir=root_dir`` (pass a ``TemporaryDirectory``),
    no progress bar, no model summary, no sanity-check validation. ``kwargs`` override any of them.

    Args:
        root_dir: a temporary folder.
        max_epochs: epochs to train (>= 1).
        callbacks: Lightning callbacks.

    Returns:
        ``lightning.pytorch.Trainer``.
    """
    check_int("max_epochs", max_epochs, low=1)
    options: dict[str, Any] = {
        "max_epochs": max_epochs,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "default_root_dir": str(root_dir),
        "callbacks": list(callbacks),
    }
    options.update(kwargs)
    return pl.Trainer(**options)
