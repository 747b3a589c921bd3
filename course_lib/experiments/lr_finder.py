"""The pure part of notebook 08's LR-finder explorer: the range test for a chosen optimizer and model on MNIST-1D.

:func:`compute_lr_finder` is the pure part (unit-tested): it builds the model (seeded) and the optimizer
from ``course_lib.optim``, runs :func:`course_lib.lr_finder.lr_find` with the exponential sweep
:math:`\\gamma_t = \\gamma_0 (\\gamma_1/\\gamma_0)^{t/(T-1)}` (:math:`\\gamma` the learning rate, as in
``docs/notation.md``), and reads the curve: fastai's suggestions (``steepest``, ``min_over_10``,
``valley``), the rate at the smoothed minimum :math:`\\gamma_{\\min}`, the steepest descent *before*
that minimum (:func:`course_lib.lr_finder.steepest_before_minimum`: a sweep that did not stop early
can have a steeper fall after a blow-up, which is no place to train), and whether the sweep stopped
on divergence. It never raises
because of a diverging sweep; the status line says what happened.

No ipywidgets or matplotlib here: ``course_lib.widgets.lr_finder.LRFinderExplorer`` is the widget,
``course_lib.plots.training.draw_lr_finder`` its figure.

    >>> r = compute_lr_finder("AdamW", "logreg", num_iter=60)
    >>> sorted(r.result.suggestions)
    ['min_over_10', 'steepest', 'valley']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from course_lib._validation import check_choice, check_int, check_number
from course_lib.data import loaders, mnist1d
from course_lib.lr_finder import LRFinderResult, lr_find, steepest_before_minimum
from course_lib.models import RECIPES, build_model
from course_lib.optim import SGD, Adagrad, Adam, AdamW, NAdam, RMSprop

__all__ = ["FINDER_MODELS", "FINDER_OPTIMIZERS", "LRFinderReading", "compute_lr_finder"]

#: Optimizer factories by display name; the rate given here is overwritten by the sweep.
FINDER_OPTIMIZERS: dict = {
    "SGD": functools.partial(SGD, lr=1e-3),
    "SGD momentum 0.9": functools.partial(SGD, lr=1e-3, momentum=0.9),
    "SGD Nesterov 0.9": functools.partial(SGD, lr=1e-3, momentum=0.9, nesterov=True),
    "Adagrad": functools.partial(Adagrad, lr=1e-3),
    "RMSprop": functools.partial(RMSprop, lr=1e-3),
    "Adam": functools.partial(Adam, lr=1e-3),
    "AdamW": functools.partial(AdamW, lr=1e-3, weight_decay=1e-2),
    "NAdam": functools.partial(NAdam, lr=1e-3),
}

#: The models of ``course_lib.models.RECIPES`` (logistic regression, MLP 100-100, CNN 64-64-64).
FINDER_MODELS: tuple[str, ...] = ("logreg", "mlp", "cnn")


@dataclass(frozen=True)
class LRFinderReading:
    """A range test and how to read it.

    Attributes:
        optimizer, model: what was swept.
        result: the :class:`course_lib.lr_finder.LRFinderResult`.
        lr_at_min: the rate at the lowest smoothed loss :math:`\\gamma_{\\min}`.
        steepest_before_min: :func:`course_lib.lr_finder.steepest_before_minimum`.
        stopped_early: the sweep stopped before ``end_lr`` (divergence).
        status: one line for the widget.
    """

    optimizer: str
    model: str
    result: LRFinderResult
    lr_at_min: float | None
    steepest_before_min: float | None
    stopped_early: bool
    status: str


def compute_lr_finder(
    optimizer: str = "AdamW",
    model: str = "mlp",
    *,
    num_iter: int = 100,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    batch_size: int = 100,
    seed: int = 0,
) -> LRFinderReading:
    """Run the LR range test for one optimizer and model on MNIST-1D and read the curve.

    Args:
        optimizer: a key of :data:`FINDER_OPTIMIZERS`.
        model: ``"logreg"``, ``"mlp"`` or ``"cnn"`` (architectures of ``RECIPES``), seeded.
        num_iter: steps of the sweep, in [10, 1000].
        start_lr, end_lr: the sweep's range, ``0 < start_lr < end_lr``.
        batch_size: training batch size.
        seed: the model's initialisation and the batch order.

    Returns:
        An :class:`LRFinderReading`.

    Example:
        >>> r = compute_lr_finder("SGD", "logreg", num_iter=50, start_lr=1e-4, end_lr=1e3)
        >>> r.stopped_early, r.status.startswith("stopped")
        (True, True)
    """
    check_choice("optimizer", optimizer, FINDER_OPTIMIZERS)
    check_choice("model", model, FINDER_MODELS)
    check_int("num_iter", num_iter, low=10, high=1000)
    check_number("start_lr", start_lr, low=0.0, low_inclusive=False)
    check_number("end_lr", end_lr, low=float(start_lr), low_inclusive=False)
    check_int("batch_size", batch_size, low=1)
    check_int("seed", seed, low=0)
    split = mnist1d()
    train, _ = loaders(split, batch_size, seed, channels=model == "cnn")
    length = "in_length" if model == "cnn" else "in_features"
    net = build_model(model, seed=seed, **RECIPES[model]["model_kwargs"], **{length: 40})
    opt = FINDER_OPTIMIZERS[optimizer](net.parameters())
    result = lr_find(
        net, opt, train, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, progress=False
    )
    lr_min: float | None = None
    before: float | None = None
    if result.smoothed:
        lr_min = float(result.lrs[int(np.argmin(result.smoothed))])
        before = steepest_before_minimum(result.lrs, result.smoothed)
    status = _finder_status(result, lr_min, before, num_iter, start_lr, end_lr)
    return LRFinderReading(optimizer, model, result, lr_min, before, result.diverged, status)


def _two_digits(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2g}"


def _finder_status(result: LRFinderResult, lr_min, before, num_iter, start_lr, end_lr) -> str:
    """The explorer's line: where the sweep stopped (or that it did not), then the suggestions."""
    s, fmt = result.suggestions, _two_digits
    picks = (
        f"minimum at {fmt(lr_min)}; suggestions: steepest {fmt(s['steepest'])}, "
        f"steepest before the minimum {fmt(before)}, minimum/10 {fmt(s['min_over_10'])}, "
        f"valley {fmt(s['valley'])}"
    )
    if not result.diverged:
        return f"no divergence up to lr {end_lr:.2g} ({num_iter} steps); " + picks
    last = result.lrs[-1] if result.lrs else start_lr
    return (
        f"stopped at step {len(result.lrs)} of {num_iter} (lr {last:.2g}): the loss diverged; "
        + picks
    )
