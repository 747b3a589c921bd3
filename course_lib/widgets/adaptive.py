"""Explorers of notebook 03 (adaptive methods): an optimizer race and Adam's bias correction.

Thin shells on :class:`~course_lib.widgets._base.Explorer`: the compute is
``course_lib.experiments.adaptive`` (:func:`~course_lib.experiments.adaptive.race`,
:func:`~course_lib.experiments.adaptive.bias_correction`), the figures are
``course_lib.plots.adaptive``'s (``plot_race``, ``plot_bias_correction``).

    >>> w = RaceExplorer(optimizers=("SGD",), lr_scale=100.0, draw=False)
    >>> "diverged at step" in w.status.value
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from course_lib._validation import check_choice, check_int, check_number
from course_lib.experiments.adaptive import (
    RACE_LANDSCAPES,
    RACE_OPTIMIZERS,
    BiasCorrection,
    RaceResult,
    bias_correction,
    race,
)
from course_lib.plots.adaptive import plot_bias_correction, plot_race
from course_lib.widgets._base import Explorer

# bias_correction stays importable from here (the exercise tests of notebook 03 use it).
__all__ = ["BiasCorrectionExplorer", "RaceExplorer", "bias_correction"]


class RaceExplorer(Explorer):
    """Race optimizers on a 2-D landscape: paths on the contours and :math:`f(\\theta_t) - f^*` per step.

    Controls (also named attributes): ``optimizer_select`` (multi-select) beside a column of
    ``landscape_dropdown``, ``lr_scale_slider`` (a common multiplier of every optimizer's rate, log
    scale) and ``steps_slider``; then ``status`` (one line per optimizer, "diverged at step k" when it
    blew up) and ``figure``. ``result`` holds the latest
    :class:`~course_lib.experiments.adaptive.RaceResult` (``None`` if the last computation failed,
    e.g. with no optimizer selected; the status then says why instead of raising).

    Args:
        landscape: a key of ``RACE_LANDSCAPES``.
        optimizers: keys of ``RACE_OPTIMIZERS``, selected first.
        lr_scale: the initial multiplier, in [1e-3, 1e3].
        steps: the initial number of steps, in [10, 1000].
        draw: draw the figure (tests switch it off to stay fast).

    Example:
        >>> w = RaceExplorer(draw=False)
        >>> w.lr_scale_slider.value = 100.0
        >>> "diverged at step" in w.status.value
        True
    """

    def __init__(
        self,
        landscape: str = "quadratic",
        optimizers: Sequence[str] = ("SGD", "Momentum", "Adagrad", "RMSprop", "Adam"),
        lr_scale: float = 1.0,
        steps: int = 200,
        *,
        draw: bool = True,
    ) -> None:
        check_choice("landscape", landscape, RACE_LANDSCAPES)
        for name in optimizers:
            check_choice("optimizer", name, RACE_OPTIMIZERS)
        check_number("lr_scale", lr_scale, low=1e-3, high=1e3)
        check_int("steps", steps, low=10, high=1000)
        self.landscape_dropdown = widgets.Dropdown(
            options=list(RACE_LANDSCAPES), value=landscape, description="landscape"
        )
        self.optimizer_select = widgets.SelectMultiple(
            options=list(RACE_OPTIMIZERS),
            value=tuple(optimizers),
            rows=len(RACE_OPTIMIZERS),
            description="optimizers",
        )
        self.lr_scale_slider = widgets.FloatLogSlider(
            value=lr_scale,
            base=10,
            min=-3,
            max=3,
            step=0.1,
            description="rate x",
            continuous_update=False,
            readout_format=".3g",
        )
        self.steps_slider = widgets.IntSlider(
            value=steps, min=10, max=1000, step=10, description="steps", continuous_update=False
        )
        column = widgets.VBox([self.landscape_dropdown, self.lr_scale_slider, self.steps_slider])
        observed = [self.landscape_dropdown, self.optimizer_select]
        observed += [self.lr_scale_slider, self.steps_slider]
        self._build([widgets.HBox([self.optimizer_select, column])], draw=draw, observe=observed)

    def compute(self) -> RaceResult:
        names = list(self.optimizer_select.value)
        if not names:  # the shell shows this message as the status
            raise ValueError("Select at least one optimizer.")
        return race(
            self.landscape_dropdown.value,
            names,
            lr_scale=self.lr_scale_slider.value,
            steps=self.steps_slider.value,
        )

    def describe(self, result: RaceResult) -> tuple[str, bool]:
        return result.status(), not result.diverged()

    def draw(self, result: RaceResult):
        return plot_race(result)


class BiasCorrectionExplorer(Explorer):
    """Adam's raw and bias-corrected moments over the first steps, and the step sizes they give.

    Controls (also named attributes): ``beta1_slider`` and ``beta2_slider`` (choices 0.9 ... 0.9999)
    in one column, ``gradient_dropdown`` (``"constant"`` or ``"noisy"``) and ``steps_slider`` in the
    next; then ``status`` (the first step with and without correction) and ``figure``. ``result``
    holds the latest :class:`~course_lib.experiments.adaptive.BiasCorrection` (``None`` if the last
    computation failed; the status then shows the error instead of raising).

    Args:
        beta1: the initial :math:`\\beta_1`, in [0, 0.99].
        beta2: the initial :math:`\\beta_2`, one of :attr:`BETA2_CHOICES`.
        gradient: ``"constant"`` or ``"noisy"``.
        steps: the initial number of steps, in [5, 1000].
        draw: draw the figure (tests switch it off to stay fast).

    Example:
        >>> w = BiasCorrectionExplorer(draw=False)
        >>> w.beta2_slider.value = 0.99
        >>> round(w.result.first_step_ratio, 3)
        1.0
    """

    BETA2_CHOICES = (0.9, 0.99, 0.999, 0.9999)

    def __init__(
        self,
        beta1: float = 0.9,
        beta2: float = 0.999,
        gradient: str = "constant",
        steps: int = 100,
        *,
        draw: bool = True,
    ) -> None:
        check_number("beta1", beta1, low=0.0, high=0.99)
        check_choice("beta2", beta2, self.BETA2_CHOICES)
        check_choice("gradient", gradient, ("constant", "noisy"))
        check_int("steps", steps, low=5, high=1000)
        self.beta1_slider = widgets.FloatSlider(
            value=beta1, min=0.0, max=0.99, step=0.01, description="β1", continuous_update=False
        )
        self.beta2_slider = widgets.SelectionSlider(
            options=list(self.BETA2_CHOICES), value=beta2, description="β2"
        )
        self.gradient_dropdown = widgets.Dropdown(
            options=["constant", "noisy"], value=gradient, description="gradient"
        )
        self.steps_slider = widgets.IntSlider(
            value=steps, min=5, max=1000, step=5, description="steps", continuous_update=False
        )
        observed = [self.beta1_slider, self.beta2_slider, self.gradient_dropdown, self.steps_slider]
        row = widgets.HBox([widgets.VBox(observed[:2]), widgets.VBox(observed[2:])])
        self._build([row], draw=draw, observe=observed)

    def compute(self) -> BiasCorrection:
        return bias_correction(
            self.beta1_slider.value,
            self.beta2_slider.value,
            self.steps_slider.value,
            gradient=self.gradient_dropdown.value,
        )

    def describe(self, result: BiasCorrection) -> tuple[str, bool]:
        return result.status(), True

    def draw(self, result: BiasCorrection):
        return plot_bias_correction(result)
