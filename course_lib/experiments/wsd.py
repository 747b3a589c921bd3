r"""The experiments of notebook 10 (modern schedules and weight averaging) on MNIST-1D.

Every run trains a classifier with AdamW on minibatches in a fixed order (:func:`batch_order`) and
writes the learning rate of step :math:`t` into the optimizer's groups before the update, from a
pure schedule of ``course_lib.schedules`` (:math:`\gamma_t = \text{schedule}(t)`, what a scheduler
does). Because the order of the batches and the rate are functions of the step only, a run can be
*branched*: copy the model and the optimizer state at step :math:`s`, continue the copy with another
schedule, and the copy is the run that schedule would have given from the start (bit for bit, when
both schedules agree before :math:`s`). That is what makes warmup-stable-decay (WSD) useful: its
stable phase :math:`\gamma_t = \gamma` does not depend on the run's length :math:`T`, so one long
stable run (the *trunk*) gives a finished model for any budget :math:`B` by branching a cooldown off
it at :math:`T_s = B - T_d` (Hägele et al., 2024).

- :func:`schedule_run`: one run of a named schedule (``"cosine"`` or ``"wsd"``) from scratch; the
  function that tuning sweeps call as ``run(lr, seed)``.
- :func:`wsd_study`: one trunk per seed with every cooldown branched off it (lengths, shapes, smaller
  budgets), the trunk's own end at a constant rate, and two averages of the trunk's last weights
  instead of a cooldown: the exponential moving average (EMA)
  :math:`\bar\theta_t = \beta\bar\theta_{t-1} + (1-\beta)\theta_t` and the equal-weight average of
  stochastic weight averaging (SWA), :math:`\bar\theta_n = \frac1n\sum_{k=1}^n \theta_{t_k}`.
- :func:`cosine_budgets`: cosine runs from scratch, one per budget (what WSD's branches replace).
- :func:`bn_swa_study`: SWA of a network with batch norm, whose running statistics the average does
  not know: evaluated as averaged, and after ``update_bn`` recomputes them on the training data.

Symbols as in ``docs/notation.md``: :math:`\gamma` the peak rate (``lr``), :math:`T` the steps of a
run, :math:`T_w` warm-up steps, :math:`T_d` cooldown steps, :math:`\lambda` AdamW's weight decay.

    >>> w = Workload(total_steps=40, warmup_steps=4, hidden_sizes=(16,))
    >>> d = make_data()
    >>> m = schedule_run(w, d, "wsd", lr=1e-2, seed=0)
    >>> sorted(m)
    ['test_acc', 'test_loss', 'train_loss', 'val_acc', 'val_loss']
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from torch import nn

from course_lib import compare, models, schedules
from course_lib._validation import check_choice, check_int, check_number, check_sizes
from course_lib.averaging import AveragedModel, get_ema_multi_avg_fn, update_bn
from course_lib.data import Split, mnist1d
from course_lib.optim import AdamW
from course_lib.training import correct, evaluate, train_step

__all__ = [
    "SCHEDULES",
    "BatchNormMLP",
    "BnSwaStudy",
    "Data",
    "Run",
    "WSDStudy",
    "Workload",
    "batch_order",
    "bn_swa_study",
    "cosine_budgets",
    "final_metrics",
    "make_data",
    "make_schedule",
    "schedule_run",
    "smoothed",
    "start_run",
    "table_of",
    "wsd_study",
]

#: The schedules :func:`make_schedule` builds by name.
SCHEDULES = ("cosine", "wsd", "constant")


@dataclass(frozen=True)
class Workload:
    """The training setting every run of the notebook shares.

    Args:
        total_steps: :math:`T`, the steps of the longest run (>= 10).
        warmup_steps: :math:`T_w`, the linear warm-up of every schedule (>= 0, below ``total_steps / 4``).
        batch_size: examples per step.
        hidden_sizes: hidden units of the MLP (the paper's MLP: ``(100, 100)``).
        weight_decay: AdamW's decoupled :math:`\\lambda`.
    """

    total_steps: int = 1000
    warmup_steps: int = 50
    batch_size: int = 100
    hidden_sizes: tuple[int, ...] = (100, 100)
    weight_decay: float = 0.01

    def __post_init__(self):
        check_int("total_steps", self.total_steps, low=10)
        check_int("warmup_steps", self.warmup_steps, low=0, high=self.total_steps // 4)
        check_int("batch_size", self.batch_size, low=1)
        object.__setattr__(self, "hidden_sizes", check_sizes("hidden_sizes", self.hidden_sizes))
        check_number("weight_decay", self.weight_decay, low=0.0)

    def budget(self, fraction: float) -> int:
        """The number of steps of a budget given as a fraction of :math:`T` (rounded, >= 1)."""
        check_number("fraction", fraction, low=0.0, high=1.0, low_inclusive=False)
        return max(1, round(fraction * self.total_steps))


@dataclass(frozen=True)
class Data:
    """Fit, validation and test tensors (the validation split is carved out of the training set)."""

    x_fit: torch.Tensor
    y_fit: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def make_data(split: Split | None = None, val_fraction: float = 0.2, seed: int = 0) -> Data:
    """MNIST-1D (or ``split``) with ``val_fraction`` of the training set held out for tuning."""
    fit, (x_val, y_val) = compare.holdout(split or mnist1d(), val_fraction, seed)
    return Data(fit.x_train, fit.y_train, x_val, y_val, fit.x_test, fit.y_test)


def batch_order(n: int, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """The example indices of every step, ``(steps, batch_size)``: shuffled epochs back to back.

    A function of ``seed`` only, so two runs with the same seed see the same batch at the same step.

        >>> batch_order(10, 3, 4, seed=0).shape
        torch.Size([3, 4])
    """
    check_int("n", n, low=1)
    check_int("steps", steps, low=1)
    check_int("batch_size", batch_size, low=1, high=n)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    perms = [torch.randperm(n, generator=g)[: per_epoch * batch_size] for _ in range(epochs)]
    return torch.cat(perms)[: steps * batch_size].view(steps, batch_size)


class BatchNormMLP(nn.Module):
    """The MLP with batch norm: blocks ``Linear -> BatchNorm1d -> ReLU``, then a linear head.

    Batch norm keeps running estimates of each unit's mean and variance (buffers, not parameters)
    for evaluation; an average of the weights does not average them, which is why SWA needs
    ``update_bn``.

        >>> BatchNormMLP(hidden_sizes=(8,), seed=0)(torch.zeros(3, 40)).shape
        torch.Size([3, 10])
    """

    def __init__(
        self,
        in_features: int = 40,
        num_classes: int = 10,
        hidden_sizes: Sequence[int] = (100, 100),
        *,
        seed: int | None = None,
    ):
        super().__init__()
        sizes = check_sizes("hidden_sizes", hidden_sizes)
        widths = (check_int("in_features", in_features, low=1), *sizes)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(check_int("seed", seed, low=0))
            layers: list[nn.Module] = []
            for a, b in itertools.pairwise(widths):
                layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Linear(widths[-1], check_int("num_classes", num_classes, low=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.flatten(1)))


def make_schedule(
    name: str,
    lr: float,
    total_steps: int,
    warmup_steps: int,
    *,
    decay_fraction: float = 0.2,
    cooldown: str = "linear",
) -> Callable[[int], float]:
    """The rate of every step: ``"cosine"`` (warm-up then cosine to 0 at ``total_steps``),
    ``"wsd"`` (warm-up, hold ``lr``, cool down over the last ``decay_fraction``) or ``"constant"``
    (warm-up, then ``lr`` for ever: WSD's stable phase, the trunk).

        >>> s = make_schedule("wsd", 0.1, 100, 10)
        >>> [round(s(t), 3) for t in (5, 50, 80, 90, 99)]
        [0.05, 0.1, 0.1, 0.05, 0.005]
    """
    check_choice("name", name, SCHEDULES)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    if name == "cosine":
        if warmup_steps == 0:
            return schedules.Cosine(lr, total_steps)
        return schedules.warmup_cosine(lr, warmup_steps, total_steps)
    if name == "wsd":
        return schedules.wsd(lr, total_steps, warmup_steps, decay_fraction, cooldown)
    if warmup_steps == 0:
        return schedules.Constant(lr)
    return schedules.warmup_then(schedules.Constant(lr), warmup_steps)


@dataclass
class Run:
    """A run in progress: the model, its optimizer, the batch order and the step reached.

    :meth:`advance` trains up to a step with a schedule; :meth:`branch` copies the model and the
    optimizer state so the copy can continue differently while this run goes on.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    order: torch.Tensor
    step: int = 0
    losses: list[float] = field(default_factory=list)

    def advance(self, data: Data, schedule: Callable, stop: int, on_step=None) -> Run:
        """Steps ``self.step .. stop - 1`` with :math:`\\gamma_t` = ``schedule(t)``; the batch losses
        are appended to :attr:`losses`; ``on_step(run)`` is called after every update."""
        check_int("stop", stop, low=self.step, high=len(self.order))
        self.model.train()
        for t in range(self.step, stop):
            for group in self.optimizer.param_groups:
                group["lr"] = float(schedule(t))
            idx = self.order[t]
            self.losses.append(
                train_step(self.model, self.optimizer, data.x_fit[idx], data.y_fit[idx]).loss
            )
            self.step = t + 1
            if on_step is not None:
                on_step(self)
        return self

    def branch(self) -> Run:
        """An independent copy: the model's weights and buffers, the optimizer's state and groups."""
        model = copy.deepcopy(self.model)
        new_optimizer = cast(Callable[..., torch.optim.Optimizer], type(self.optimizer))
        optimizer = new_optimizer(model.parameters())
        optimizer.load_state_dict(copy.deepcopy(self.optimizer.state_dict()))
        return Run(model, optimizer, self.order, self.step, list(self.losses))


def start_run(workload: Workload, data: Data, seed: int, *, batch_norm: bool = False) -> Run:
    """A fresh run: the MLP (or :class:`BatchNormMLP`) initialised from ``seed``, AdamW, the order."""
    kind = BatchNormMLP if batch_norm else models.MLP
    model = kind(hidden_sizes=workload.hidden_sizes, seed=seed)
    optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=workload.weight_decay)
    order = batch_order(len(data.y_fit), workload.total_steps, workload.batch_size, seed)
    return Run(model, optimizer, order)


def final_metrics(model: nn.Module, data: Data) -> dict[str, float]:
    """Loss and accuracy on the fit, validation and test sets, in eval mode (``train_acc`` left out)."""
    out = {}
    for label, x, y in [
        ("train", data.x_fit, data.y_fit),
        ("val", data.x_val, data.y_val),
        ("test", data.x_test, data.y_test),
    ]:
        scores = evaluate(model, [(x, y)], metrics={"acc": correct})
        out[f"{label}_loss"] = scores["loss"] if math.isfinite(scores["loss"]) else math.nan
        if label != "train":
            out[f"{label}_acc"] = scores["acc"]
    return out


def schedule_run(
    workload: Workload,
    data: Data,
    name: str,
    lr: float,
    seed: int,
    *,
    total_steps: int | None = None,
    decay_fraction: float = 0.2,
    cooldown: str = "linear",
) -> dict[str, float]:
    """Train one run of schedule ``name`` from scratch for ``total_steps`` (default :math:`T`).

    Returns :func:`final_metrics` of the last weights; ``run(lr, seed)`` for a tuning sweep.
    """
    steps = workload.total_steps if total_steps is None else total_steps
    check_int("total_steps", steps, low=1, high=workload.total_steps)
    schedule = make_schedule(
        name, lr, steps, workload.warmup_steps, decay_fraction=decay_fraction, cooldown=cooldown
    )
    run = start_run(workload, data, seed).advance(data, schedule, steps)
    return final_metrics(run.model, data)


def cosine_budgets(
    workload: Workload, data: Data, lr: float, seed: int, budgets: Sequence[float]
) -> dict[str, dict[str, float]]:
    """One cosine run from scratch per budget (fractions of :math:`T`): ``{"cosine @ 0.25": ...}``."""
    return {
        f"cosine @ {b:g}": schedule_run(
            workload, data, "cosine", lr, seed, total_steps=workload.budget(b)
        )
        for b in budgets
    }


@dataclass(frozen=True)
class WSDStudy:
    """What one trunk gave (see :func:`wsd_study`).

    Attributes:
        seed, lr: the run's seed and peak rate.
        metrics: configuration -> :func:`final_metrics`, plus ``decay_start`` and, for cooldowns,
            ``train_loss_at_decay`` (the fit-set loss when the branch left the trunk).
        losses: configuration -> the batch losses of every step of that run (the trunk's before
            the branch point), for loss curves.
        steps: configuration -> the number of steps of that run.
        trained: the steps this study trained in all (trunk plus branches).
    """

    seed: int
    lr: float
    metrics: dict
    losses: dict
    steps: dict
    trained: int


def _branch_plan(
    workload: Workload, lr, fractions, shapes, budgets
) -> dict[str, schedules.WarmupStableDecay]:
    """Name -> WSD schedule of every cooldown the study branches off the trunk."""
    T, w = workload.total_steps, workload.warmup_steps
    plan = {}
    for f in fractions:
        plan[f"WSD {f:.0%} linear"] = schedules.wsd(lr, T, w, f, "linear")
    for shape in shapes:
        plan[f"WSD 20% {shape}"] = schedules.wsd(lr, T, w, 0.2, shape)
    for b in budgets:
        if b != 1.0:
            plan[f"WSD @ {b:g}"] = schedules.wsd(lr, workload.budget(b), w, 0.2, "linear")
    return plan


def _cool_down(run: Run, data: Data, schedule) -> tuple[dict, list[float], int]:
    """Branch ``run`` at its step and cool it down to the schedule's end; its metrics and losses."""
    at_decay = final_metrics(run.model, data)["train_loss"]
    branch = run.branch().advance(data, schedule, schedule.total_steps)
    metrics = {**final_metrics(branch.model, data), "train_loss_at_decay": at_decay}
    metrics["decay_start"] = float(schedule.decay_start)
    return metrics, branch.losses, schedule.total_steps - schedule.decay_start


class _Averaging:
    """EMA and SWA of a run's weights, fed after every step past ``start`` (``course_lib.averaging``, equal to torch's ``swa_utils``)."""

    def __init__(self, model: nn.Module, start: int, ema_decay: float):
        self.start = start
        self.models = {
            "EMA": AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay)),
            "SWA": AveragedModel(model),
        }

    def __call__(self, run: Run) -> None:
        if run.step > self.start:
            for averaged in self.models.values():
                averaged.update_parameters(run.model)


def wsd_study(
    workload: Workload,
    data: Data,
    lr: float,
    seed: int,
    *,
    fractions: Sequence[float] = (0.1, 0.2, 0.5),
    shapes: Sequence[str] = ("cosine", "1-sqrt"),
    budgets: Sequence[float] = (0.25, 0.5, 1.0),
    average_fraction: float = 0.2,
    ema_decay: float = 0.99,
) -> WSDStudy:
    """One trunk at the constant rate ``lr`` (after the warm-up) and everything branched off it.

    Cooldowns: for budget :math:`T`, linear ones over each of ``fractions`` of the run and 20 % ones
    of each extra shape in ``shapes``; for each smaller budget :math:`B` (fractions of :math:`T`), a
    20 % linear one (``"WSD @ 0.25"``). Each leaves the trunk at its :math:`T_s = B - T_d`. The trunk
    itself runs on to :math:`T` (``"constant"``); over its last ``average_fraction`` of the steps it
    feeds an EMA (decay :math:`\\beta` = ``ema_decay``) and an SWA average, updated after every step
    (``"EMA"``, ``"SWA"``).
    """
    check_number(
        "average_fraction",
        average_fraction,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    check_number(
        "ema_decay", ema_decay, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    T = workload.total_steps
    trunk_schedule = make_schedule("constant", lr, T, workload.warmup_steps)
    plan = _branch_plan(workload, lr, fractions, shapes, budgets)
    run = start_run(workload, data, seed)
    averaging = _Averaging(run.model, T - workload.budget(average_fraction), ema_decay)
    metrics, losses, steps, trained = {}, {}, {}, 0
    for name, sched in sorted(plan.items(), key=lambda item: item[1].decay_start):
        run.advance(data, trunk_schedule, sched.decay_start, on_step=averaging)
        metrics[name], losses[name], extra = _cool_down(run, data, sched)
        steps[name], trained = sched.total_steps, trained + extra
    run.advance(data, trunk_schedule, T, on_step=averaging)
    metrics["constant"], losses["constant"] = final_metrics(run.model, data), run.losses
    steps["constant"] = T
    for name, averaged in averaging.models.items():
        metrics[name], steps[name] = final_metrics(averaged.module, data), T
    return WSDStudy(seed, float(lr), metrics, losses, steps, trained + T)


@dataclass(frozen=True)
class BnSwaStudy:
    """SWA of :class:`BatchNormMLP` (see :func:`bn_swa_study`): configuration -> metrics, and the
    averaged network after ``update_bn`` (``swa_model``)."""

    seed: int
    lr: float
    metrics: dict
    swa_model: nn.Module


def bn_swa_study(
    workload: Workload, data: Data, lr: float, seed: int, *, average_fraction: float = 0.2
) -> BnSwaStudy:
    """A batch-norm MLP at the constant rate; SWA over its last ``average_fraction`` of the steps.

    ``AveragedModel`` averages the parameters only and copies the buffers from the model at every
    update (``use_buffers=False``, torch's default), so the average carries the batch-norm
    statistics of the *last* weights, not its own, until ``update_bn`` recomputes them with one
    pass over the fit set. Configurations: ``"last weights"``, ``"SWA, last weights' stats"``,
    ``"SWA + update_bn"`` and ``"SWA, use_buffers=True"`` (the running statistics averaged like
    the weights).
    """
    T = workload.total_steps
    schedule = make_schedule("constant", lr, T, workload.warmup_steps)
    run = start_run(workload, data, seed, batch_norm=True)
    swa = AveragedModel(run.model)
    with_buffers = AveragedModel(run.model, use_buffers=True)
    run.advance(data, schedule, T - workload.budget(average_fraction))

    def average(r: Run) -> None:
        swa.update_parameters(r.model)
        with_buffers.update_parameters(r.model)

    run.advance(data, schedule, T, on_step=average)
    metrics = {"last weights": final_metrics(run.model, data)}
    metrics["SWA, last weights' stats"] = final_metrics(swa.module, data)
    fit_batches = zip(data.x_fit.split(workload.batch_size), data.y_fit.split(workload.batch_size))
    update_bn(fit_batches, swa)  # one pass over the fit set in order
    metrics["SWA + update_bn"] = final_metrics(swa.module, data)
    metrics["SWA, use_buffers=True"] = final_metrics(with_buffers.module, data)
    return BnSwaStudy(seed, float(lr), metrics, swa.module)


def table_of(studies: Sequence, configs: Sequence[str] | None = None) -> compare.Table:
    """A :class:`~course_lib.compare.Table` of studies' metrics: one row per (configuration, seed)."""
    rows = []
    for study in studies:
        for name, metrics in study.metrics.items():
            if configs is None or name in configs:
                rows.append({"config": name, "seed": study.seed, **metrics})
    return compare.Table.from_rows(rows)


def smoothed(losses: Sequence[float], window: int = 20) -> np.ndarray:
    """The running mean of the last ``window`` batch losses (shorter at the start), for curves."""
    check_int("window", window, low=1)
    x = np.asarray(losses, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)
