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
from course_lib.widgets._base import Explorer

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
        w = widgets
        check_number("L", L, low=0.0, low_inclusive=False)
        self.L = float(L)
        style = {"description_width": "110px"}
        layout = w.Layout(width="480px")
        common = {"continuous_update": False, "style": style, "layout": layout}
        self.lr_slider = w.FloatSlider(
            value=lr,
            min=0.02 / L,
            max=4.0 / L,
            step=0.02 / L,
            description="lr γ",
            readout_format=".2f",
            **common,
        )
        self.momentum_slider = w.FloatSlider(
            value=momentum,
            min=0.0,
            max=0.99,
            step=0.01,
            description="momentum μ",
            readout_format=".2f",
            **common,
        )
        self.method = w.ToggleButtons(
            options=[("heavy ball", False), ("Nesterov", True)],
            value=bool(nesterov),
            description="method",
            style=style,
        )
        self.kappa_slider = w.FloatLogSlider(
            value=condition_number,
            base=10,
            min=0,
            max=3,
            step=0.05,
            description="condition κ",
            **common,
        )
        self.steps_slider = w.IntSlider(
            value=steps, min=10, max=300, step=10, description="steps", **common
        )
        controls = [
            self.lr_slider,
            self.momentum_slider,
            self.method,
            self.kappa_slider,
            self.steps_slider,
        ]
        self._build(controls, draw=draw)

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
