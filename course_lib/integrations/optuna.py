r"""Tuning with Optuna: one MNIST-1D training run per trial, pruned epoch by epoch (notebook A2).

This module imports Optuna; ``import course_lib.integrations`` does not (it loads this module on first
access to one of its names). The training run is a plain loop on ``course_lib.training``'s
``train_step`` and ``evaluate``: every trial pays for no framework.

:class:`MNIST1DObjective` is an objective ``trial -> validation accuracy`` that tunes the learning rate
:math:`\gamma` (log scale), the schedule (constant / cosine / one-cycle) and the weight decay
:math:`\lambda` (log scale) of an MLP on MNIST-1D, reports every epoch for pruning
(:func:`report_to_trial`), and never looks at the test set. :func:`train_mnist1d` trains one
configuration (used by the objective and to re-train the best one on several seeds).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import optuna
import torch
from torch import nn

from course_lib import models, param_groups
from course_lib import optim as course_optim
from course_lib._validation import check_choice, check_int, check_number, check_range_pair
from course_lib.integrations.common import make_scheduler, tensor_loader
from course_lib.training import correct, evaluate, train_step

__all__ = [
    "MNIST1D_OPTIMIZERS",
    "MNIST1D_SCHEDULES",
    "MNIST1DObjective",
    "TrainResult",
    "report_to_trial",
    "train_mnist1d",
]

#: The optimizers :func:`train_mnist1d` knows (the rate and the decay are tuned, the rest is fixed).
MNIST1D_OPTIMIZERS = ("adamw", "sgd")
#: The schedules :func:`train_mnist1d` knows (each stepped after every batch).
MNIST1D_SCHEDULES = ("constant", "cosine", "onecycle", "warmup_cosine")


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_mnist1d` returns: final metrics, per-epoch history, per-step learning rates.

    ``lrs[t, i]`` is the learning rate of group ``i`` at optimizer step ``t`` (read before the step).
    """

    val_acc: float
    val_loss: float
    test_acc: float | None
    history: dict = field(repr=False)
    lrs: np.ndarray = field(repr=False)
    pruned_at: int | None = None


def train_mnist1d(
    lr: float,
    schedule: str,
    weight_decay: float,
    *,
    split,
    val: tuple,
    epochs: int,
    seed: int = 0,
    optimizer: str = "adamw",
    batch_size: int = 100,
    hidden_sizes: Sequence[int] = (100, 100),
    report: Callable[[int, dict[str, float]], bool] | None = None,
    evaluate_test: bool = False,
) -> TrainResult:
    r"""Train the course's MLP on MNIST-1D: no-decay groups and a schedule stepped after every batch.

    Model ``course_lib.models.MLP(hidden_sizes, seed=seed)``; groups
    ``course_lib.param_groups.no_decay_groups(model, \lambda)`` (weights decay by :math:`\lambda`,
    biases do not); optimizer ``course_lib.optim.AdamW(lr=\gamma)`` (the course's MLP recipe in
    ``course_lib.models.RECIPES["mlp"]``) or ``SGD(lr=\gamma, momentum=0.9)``; the schedule
    ``make_scheduler(schedule)`` over all :math:`T` optimizer steps. Each batch is one
    ``course_lib.training.train_step`` then ``scheduler.step()``; after each epoch
    ``course_lib.training.evaluate`` on ``val``. This is the run Lightning's ``Trainer`` makes of
    ``CourseLitModule`` with ``interval="step"``, step for step (the tests compare them), without
    Lightning's overhead in every Optuna trial. Seeded: weights and batch order depend only on
    ``seed``. Nothing is written to disk.

    Args:
        lr: :math:`\gamma > 0` (the peak for one-cycle, the start for cosine).
        schedule: one of :data:`MNIST1D_SCHEDULES`.
        weight_decay: :math:`\lambda \ge 0`.
        split: a ``course_lib.data.Split`` (its training part is trained on).
        val: ``(x_val, y_val)``, validated after every epoch.
        epochs: number of epochs (>= 1).
        seed: seed of the weights and of the batch order.
        optimizer: one of :data:`MNIST1D_OPTIMIZERS`.
        batch_size: training batch size.
        hidden_sizes: the MLP's hidden layers.
        report: ``report(epoch, {"train_loss", "val_loss", "val_acc"})`` after every epoch
            (0-based); returning ``True`` stops the run there (``pruned_at = epoch``).
        evaluate_test: also compute the test accuracy (for the final report only, never for tuning).

    Returns:
        :class:`TrainResult` with the last epoch's ``val_acc`` and ``val_loss``.
    """
    _check_run(lr, schedule, weight_decay, epochs, seed, optimizer, batch_size)
    model = models.MLP(split.num_features, split.num_classes, hidden_sizes, seed=seed)
    train = tensor_loader(split.x_train, split.y_train, batch_size, seed)
    opt = _optimizer(model, lr, weight_decay, optimizer)
    build = make_scheduler(schedule)
    scheduler = build(opt, epochs * len(train)) if build is not None else None
    run = _Run(model, opt, scheduler)
    pruned_at = run.fit(train, tensor_loader(val[0], val[1]), epochs, report)
    test_acc = _test_accuracy(model, split) if evaluate_test else None
    history = run.history
    return TrainResult(
        history["val_acc"][-1], history["val_loss"][-1], test_acc, history, run.lrs(), pruned_at
    )


def _check_run(lr, schedule, weight_decay, epochs, seed, optimizer, batch_size) -> None:
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_choice("schedule", schedule, MNIST1D_SCHEDULES)
    check_number("weight_decay", weight_decay, low=0.0)
    check_int("epochs", epochs, low=1)
    check_int("seed", seed, low=0)
    check_choice("optimizer", optimizer, MNIST1D_OPTIMIZERS)
    check_int("batch_size", batch_size, low=1)


def _optimizer(model, lr: float, weight_decay: float, name: str) -> torch.optim.Optimizer:
    """AdamW (the MLP recipe) or SGD with momentum 0.9 over no-decay groups of ``model``."""
    groups = param_groups.no_decay_groups(model, weight_decay=weight_decay)
    if name == "adamw":
        return course_optim.AdamW(groups, lr=lr)
    return course_optim.SGD(groups, lr=lr, momentum=0.9)


class _Run:
    """The loop of :func:`train_mnist1d`: ``train_step`` per batch, ``evaluate`` per epoch."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
        self.rows: list[list[float]] = []  # each group's lr at each optimizer step

    def fit(self, train, val, epochs: int, report) -> int | None:
        """Train ``epochs`` epochs; the epoch at which ``report`` stopped the run, or ``None``."""
        for epoch in range(epochs):
            self.history["train_loss"].append(self.train_epoch(train))
            metrics = evaluate(self.model, val, metrics={"acc": correct})
            self.history["val_loss"].append(metrics["loss"])
            self.history["val_acc"].append(metrics["acc"])
            if report is not None and report(epoch, {k: v[-1] for k, v in self.history.items()}):
                return epoch
        return None

    def train_epoch(self, train) -> float:
        """One pass over ``train``; the mean training loss (batch losses weighted by batch size)."""
        self.model.train()
        total, n = 0.0, 0
        # exactly len(train) batches, as Lightning takes them: asking a seeded RandomSampler for one
        # more (a for loop does) draws an empty extra permutation when the batches fill the data
        # exactly, and every later epoch's order would change
        for x, y in itertools.islice(train, len(train)):
            self.rows.append([float(g["lr"]) for g in self.optimizer.param_groups])
            step = train_step(self.model, self.optimizer, x, y, check_finite=False)
            if self.scheduler is not None:
                self.scheduler.step()
            total += step.loss * len(y)
            n += len(y)
        return total / n

    def lrs(self) -> np.ndarray:
        """``lrs[t, i]``: the learning rate of group ``i`` at optimizer step ``t``."""
        return np.asarray(self.rows, dtype=np.float64)


def _test_accuracy(model: nn.Module, split) -> float:
    """Accuracy on ``split``'s test part, in one batch: the exact count of correct predictions / n."""
    test = [(split.x_test, split.y_test)]
    return evaluate(model, test, loss_fn=None, metrics={"acc": correct})["acc"]


@dataclass(frozen=True)
class MNIST1DObjective:
    r"""Optuna objective: validation accuracy of the course's MLP on MNIST-1D for a trial's choices.

    The search space (each trial draws one point):

    .. math:: \gamma \sim \mathrm{LogUniform}[\gamma_{lo}, \gamma_{hi}], \quad
              \text{schedule} \in \{\text{constant}, \text{cosine}, \text{onecycle}\}, \quad
              \lambda \sim \mathrm{LogUniform}[\lambda_{lo}, \lambda_{hi}]

    Each trial runs :func:`train_mnist1d` and returns the validation accuracy after the last epoch.
    The accuracy after every epoch is reported to the trial, so a pruner may stop a poor trial early
    (``optuna.TrialPruned`` is raised). The test set is never used. A run whose loss became NaN
    counts as accuracy 0 (a bad result, not an error).

    Args:
        split: the training data (a ``Split``; only its training part is used).
        val: ``(x_val, y_val)``, e.g. from ``course_lib.compare.holdout``.
        epochs: epochs per trial.
        seed: the seed of every trial (same weights and batch order: trials differ only by
            their hyperparameters).
        optimizer: ``"adamw"`` (default, the course's MLP recipe) or ``"sgd"``.
        lr_range, weight_decay_range: the log-uniform ranges.
        schedules: the schedule choices.
        batch_size: training batch size.

    Example:
        >>> import optuna
        >>> from course_lib import data, compare
        >>> fit_split, val = compare.holdout(data.subset(data.mnist1d(), 200), 0.25)
        >>> objective = MNIST1DObjective(fit_split, val, epochs=1)
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study(direction="maximize",
        ...                             sampler=optuna.samplers.TPESampler(seed=0))
        >>> study.optimize(objective, n_trials=1)
        >>> sorted(study.best_params)
        ['lr', 'schedule', 'weight_decay']
    """

    split: object = field(repr=False)
    val: tuple = field(repr=False)
    epochs: int = 8
    seed: int = 0
    optimizer: str = "adamw"
    lr_range: tuple[float, float] = (1e-4, 1e-1)
    weight_decay_range: tuple[float, float] = (1e-5, 1e-1)
    schedules: tuple[str, ...] = ("constant", "cosine", "onecycle")
    batch_size: int = 100

    def __post_init__(self):
        check_int("epochs", self.epochs, low=1)
        check_int("seed", self.seed, low=0)
        check_choice("optimizer", self.optimizer, MNIST1D_OPTIMIZERS)
        check_int("batch_size", self.batch_size, low=1)
        for name in ("lr_range", "weight_decay_range"):
            object.__setattr__(self, name, check_range_pair(name, getattr(self, name)))
        if isinstance(self.schedules, str) or not self.schedules:
            raise ValueError(
                f"schedules must be a non-empty sequence of names, got {self.schedules!r}"
            )
        for s in self.schedules:
            check_choice("schedules", s, MNIST1D_SCHEDULES)
        object.__setattr__(self, "schedules", tuple(self.schedules))

    def __call__(self, trial) -> float:
        lr = trial.suggest_float("lr", *self.lr_range, log=True)
        schedule = trial.suggest_categorical("schedule", list(self.schedules))
        weight_decay = trial.suggest_float("weight_decay", *self.weight_decay_range, log=True)
        result = train_mnist1d(
            lr,
            schedule,
            weight_decay,
            split=self.split,
            val=self.val,
            epochs=self.epochs,
            seed=self.seed,
            optimizer=self.optimizer,
            batch_size=self.batch_size,
            report=functools.partial(report_to_trial, trial),
        )
        if result.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {result.pruned_at}")
        if not math.isfinite(result.val_loss):
            return 0.0
        return result.val_acc


def report_to_trial(trial, epoch: int, metrics: dict[str, float], monitor: str = "val_acc") -> bool:
    """Report ``metrics[monitor]`` of ``epoch`` to an Optuna trial; whether the trial should stop.

    Bound to a trial with ``functools.partial``, it is the ``report`` of :func:`train_mnist1d`.
    """
    trial.report(float(metrics[monitor]), step=epoch)
    return bool(trial.should_prune())
