"""Momentum explorer of notebook 02, after Goh's "Why Momentum Really Works" (Distill, 2017).

A thin shell: :func:`course_lib.experiments.momentum.compute_momentum` runs heavy ball or Nesterov
and evaluates the (lr, momentum) phase diagram, :func:`course_lib.plots.landscapes.draw_momentum`
draws, :class:`MomentumExplorer` holds the controls, the status line and the figure.

    >>> w = MomentumExplorer(lr=3.9, momentum=0.0, draw=False)
    >>> "diverged at step" in w.status.value
    True
"""

from __future__ import annotations

import ipywidgets as widgets

from course_lib._validation import check_number
from course_lib.experiments.momentum import MomentumResult, compute_momentum
from course_lib.plots.landscapes import draw_momentum
from course_lib.widgets._base import SLIDER_STYLE, Explorer, quadratic_sliders

__all__ = ["MomentumExplorer"]


class MomentumExplorer(Explorer):
    """Distill-style momentum explorer: lr, momentum, heavy ball / Nesterov, condition number.

    Children (in order): ``lr_slider``, ``momentum_slider``, ``method`` (ToggleButtons, value
    ``False`` for heavy ball and ``True`` for Nesterov), ``kappa_slider``, ``steps_slider``, ``status``
    (HTML) and ``figure`` (an ``Image`` with the path, the loss per step and the phase diagram with the
    current point circled). ``result`` holds the latest
    :class:`~course_lib.experiments.momentum.MomentumResult` (``None`` after a failure, whose message
    then shows in the status).

    Args:
        lr, momentum, nesterov, condition_number, steps: initial values.
        L: the quadratic's largest curvature (the lr slider spans ``(0, 4/L]``).
        draw: draw the figure (tests switch it off).

    Example:
        >>> w = MomentumExplorer(draw=False)
        >>> w.momentum_slider.value = 0.9
        >>> w.result.momentum
        0.9
    """

    def __init__(
        self,
        lr: float = 1.0,
        momentum: float = 0.5,
        nesterov: bool = False,
        condition_number: float = 100.0,
        steps: int = 100,
        *,
        L: float = 1.0,
        draw: bool = True,
    ) -> None:
        check_number("L", L, low=0.0, low_inclusive=False)
        self.L = float(L)
        common = {**SLIDER_STYLE, "layout": widgets.Layout(width="480px"), "readout_format": ".2f"}
        self.lr_slider = widgets.FloatSlider(
            value=lr, min=0.02 / L, max=4.0 / L, step=0.02 / L, description="lr γ", **common
        )
        self.momentum_slider = widgets.FloatSlider(
            value=momentum, min=0.0, max=0.99, step=0.01, description="momentum μ", **common
        )
        self.method = widgets.ToggleButtons(
            options=[("heavy ball", False), ("Nesterov", True)],
            value=bool(nesterov),
            description="method",
            style=SLIDER_STYLE["style"],
        )
        self.kappa_slider, self.steps_slider = quadratic_sliders(condition_number, steps)
        controls = [self.lr_slider, self.momentum_slider, self.method]
        self._build([*controls, self.kappa_slider, self.steps_slider], draw=draw)

    def compute(self) -> MomentumResult:
        return compute_momentum(
            self.lr_slider.value,
            self.momentum_slider.value,
            self.method.value,
            self.kappa_slider.value,
            self.steps_slider.value,
            L=self.L,
        )

    def describe(self, result: MomentumResult) -> tuple[str, bool]:
        return result.status, not result.trajectory.diverged and result.rate < 1.0

    def draw(self, result: MomentumResult):
        return draw_momentum(result)
