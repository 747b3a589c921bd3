"""LR-finder explorer of notebook 08: the range test for a chosen optimizer and model on MNIST-1D.

:func:`compute_lr_finder` is the pure part (unit-tested): it builds the model (seeded) and the optimizer
from ``course_lib.optim``, runs :func:`course_lib.lr_finder.lr_find` with the exponential sweep
:math:`\\gamma_t = \\gamma_0 (\\gamma_1/\\gamma_0)^{t/(T-1)}` (:math:`\\gamma` the learning rate, as in
``docs/notation.md``), and reads the curve: fastai's suggestions (``steepest``, ``min_over_10``,
``valley``), the rate at the smoothed minimum :math:`\\gamma_{\\min}`, the steepest descent *before*
that minimum (:func:`course_lib.lr_finder.steepest_before_minimum`: a sweep that did not stop early
can have a steeper fall after a blow-up, which is no place to train), and whether the sweep stopped
on divergence. It never raises
because of a diverging sweep; the status line says what happened.

:class:`LRFinderExplorer` is the ipywidgets shell: dropdowns for the optimizer and the model, a slider
for the number of steps, a status line and the range-test plot (PNG in an ``Image``); it reruns
automatically on change.

    >>> r = compute_lr_finder("AdamW", "logreg", num_iter=60)
    >>> sorted(r.result.suggestions)
    ['min_over_10', 'steepest', 'valley']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from course_lib._validation import check_bool, check_choice, check_int, check_number
from course_lib.data import loaders, mnist1d
from course_lib.lr_finder import LRFinderResult, lr_find, steepest_before_minimum
from course_lib.models import RECIPES, build_model
from course_lib.optim import SGD, Adagrad, Adam, AdamW, NAdam, RMSprop
from course_lib.widgets._base import Explorer

# steepest_before_minimum is re-exported here: it lives in course_lib.lr_finder, beside the
# other readings of the curve.

__all__ = [
    "MODELS",
    "OPTIMIZERS",
    "LRFinderExplorer",
    "LRFinderReading",
    "compute_lr_finder",
    "draw_lr_finder",
    "steepest_before_minimum",
]

#: Optimizer factories by display name; the rate given here is overwritten by the sweep.
OPTIMIZERS: dict = {
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
MODELS: tuple[str, ...] = ("logreg", "mlp", "cnn")


@dataclass(frozen=True)
class LRFinderReading:
    """A range test and how to read it.

    Attributes:
        optimizer, model: what was swept.
        result: the :class:`course_lib.lr_finder.LRFinderResult`.
        lr_at_min: the rate at the lowest smoothed loss :math:`\\gamma_{\\min}`.
        steepest_before_min: :func:`steepest_before_minimum`.
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
        optimizer: a key of :data:`OPTIMIZERS`.
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
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("model", model, MODELS)
    check_int("num_iter", num_iter, low=10, high=1000)
    check_number("start_lr", start_lr, low=0.0, low_inclusive=False)
    check_number("end_lr", end_lr, low=float(start_lr), low_inclusive=False)
    check_int("batch_size", batch_size, low=1)
    check_int("seed", seed, low=0)
    split = mnist1d()
    train, _ = loaders(split, batch_size, seed, channels=model == "cnn")
    length = "in_length" if model == "cnn" else "in_features"
    net = build_model(model, seed=seed, **RECIPES[model]["model_kwargs"], **{length: 40})
    opt = OPTIMIZERS[optimizer](net.parameters())
    result = lr_find(
        net, opt, train, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, progress=False
    )
    if result.smoothed:
        lr_min = float(result.lrs[int(np.argmin(result.smoothed))])
        before = steepest_before_minimum(result.lrs, result.smoothed)
    else:
        lr_min = before = None
    stopped = result.diverged
    s = result.suggestions

    def fmt(v):
        return "n/a" if v is None else f"{v:.2g}"

    picks = (
        f"minimum at {fmt(lr_min)}; suggestions: steepest {fmt(s['steepest'])}, "
        f"steepest before the minimum {fmt(before)}, minimum/10 {fmt(s['min_over_10'])}, "
        f"valley {fmt(s['valley'])}"
    )
    if stopped:
        last = result.lrs[-1] if result.lrs else start_lr
        status = (
            f"stopped at step {len(result.lrs)} of {num_iter} (lr {last:.2g}): the loss diverged; "
            + picks
        )
    else:
        status = f"no divergence up to lr {end_lr:.2g} ({num_iter} steps); " + picks
    return LRFinderReading(optimizer, model, result, lr_min, before, stopped, status)


def draw_lr_finder(reading: LRFinderReading, ax=None):
    """Plot a reading: the range-test curve with its suggestions and the minimum.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    from course_lib.plots.training import plot_lr_finder

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.8))
    else:
        fig = ax.figure
    if reading.result.lrs:
        plot_lr_finder(reading.result, ax)
        if reading.lr_at_min is not None:
            ax.axvline(reading.lr_at_min, color="k", lw=1, ls=":", label="minimum")
        if reading.steepest_before_min is not None:
            ax.axvline(
                reading.steepest_before_min,
                color="tab:purple",
                lw=1,
                ls="-.",
                label="steepest < min",
            )
        ax.legend(fontsize=8)
    ax.set_title(f"{reading.optimizer} on the {reading.model} (MNIST-1D)")
    fig.tight_layout()
    return fig


class LRFinderExplorer(Explorer):
    """Pick an optimizer and a model; the range test reruns and shows its curve and suggestions.

    Children (in order, also named attributes): ``optimizer_dropdown``, ``model_dropdown``,
    ``steps_slider``, ``status`` (HTML), ``figure`` (an ``Image`` holding the PNG of the plot).
    ``result`` holds the latest :class:`LRFinderReading` (``None`` if the last computation failed;
    the status shows the error).

    The figure is rendered to PNG bytes into an ``Image`` rather than displayed inside an ``Output``
    widget, which headless runners (papermill) were measured to hang on under load.

    Args:
        optimizer, model, num_iter: initial values.
        start_lr, end_lr: the sweep's range.
        seed: model initialisation and batch order.
        draw: draw the figure (tests switch it off).

    Example:
        >>> w = LRFinderExplorer(model="logreg", num_iter=50, draw=False)
        >>> w.optimizer_dropdown.value = "SGD"
        >>> w.result.optimizer
        'SGD'
    """

    def __init__(
        self,
        optimizer: str = "AdamW",
        model: str = "mlp",
        num_iter: int = 100,
        *,
        start_lr: float = 1e-6,
        end_lr: float = 10.0,
        seed: int = 0,
        draw: bool = True,
    ) -> None:
        check_choice("optimizer", optimizer, OPTIMIZERS)
        check_choice("model", model, MODELS)
        check_int("num_iter", num_iter, low=20, high=400)
        check_number("start_lr", start_lr, low=0.0, low_inclusive=False)
        check_number("end_lr", end_lr, low=float(start_lr), low_inclusive=False)
        check_int("seed", seed, low=0)
        check_bool("draw", draw)
        self.start_lr, self.end_lr, self.seed = float(start_lr), float(end_lr), seed
        style = {"description_width": "90px"}
        self.optimizer_dropdown = widgets.Dropdown(
            options=list(OPTIMIZERS), value=optimizer, description="optimizer", style=style
        )
        self.model_dropdown = widgets.Dropdown(
            options=list(MODELS), value=model, description="model", style=style
        )
        self.steps_slider = widgets.IntSlider(
            value=num_iter,
            min=20,
            max=400,
            step=20,
            description="sweep steps",
            continuous_update=False,
            style=style,
        )
        controls = [self.optimizer_dropdown, self.model_dropdown, self.steps_slider]
        self._build(controls, draw=draw)

    def compute(self) -> LRFinderReading:
        return compute_lr_finder(
            self.optimizer_dropdown.value,
            self.model_dropdown.value,
            num_iter=self.steps_slider.value,
            start_lr=self.start_lr,
            end_lr=self.end_lr,
            seed=self.seed,
        )

    def describe(self, result: LRFinderReading) -> tuple[str, bool]:
        return result.status, not result.stopped_early

    def draw(self, result: LRFinderReading):
        return draw_lr_finder(result)
