"""Learning-rate explorer of notebook 01: gradient descent on a quadratic with a chosen condition number.

A thin shell: :func:`course_lib.experiments.gd.compute_gd` computes (the path, the rates and the
closed-form loss), :func:`course_lib.plots.landscapes.draw_gd` draws, :class:`GDExplorer` holds the
sliders for :math:`\\gamma`, :math:`\\kappa` and the number of steps, a status line ("diverged at step
k" or the final loss) and the figure.

    >>> w = GDExplorer(lr=2.4, draw=False)
    >>> w.result.trajectory.diverged, "diverged at step" in w.status.value
    (True, True)
"""

from __future__ import annotations

import ipywidgets as widgets

from course_lib._validation import check_number
from course_lib.experiments.gd import GDResult, compute_gd
from course_lib.plots.landscapes import draw_gd
from course_lib.widgets._base import SLIDER_STYLE, Explorer, quadratic_sliders

__all__ = ["GDExplorer"]


class GDExplorer(Explorer):
    """Sliders for lr, condition number and steps; the path, the loss per step and a status line.

    Children (in order): ``lr_slider``, ``kappa_slider``, ``steps_slider``, ``status`` (HTML),
    ``figure`` (an ``Image`` holding the PNG of the figure). ``result`` holds the latest :class:`GDResult`
    (``None`` if the last computation failed; the status then shows the error instead of raising).

    Args:
        lr: initial :math:`\\gamma`.
        condition_number: initial :math:`\\kappa`.
        steps: initial number of steps.
        L: the quadratic's largest curvature (the lr slider spans ``(0, 2.5/L]``).
        draw: draw the figure (tests switch it off to stay fast).

    Example:
        >>> w = GDExplorer(draw=False)
        >>> w.lr_slider.value = 2.2
        >>> w.result.trajectory.diverged
        True
    """

    def __init__(
        self,
        lr: float = 1.0,
        condition_number: float = 10.0,
        steps: int = 100,
        *,
        L: float = 1.0,
        draw: bool = True,
    ) -> None:
        check_number("L", L, low=0.0, low_inclusive=False)
        self.L = float(L)
        self.lr_slider = widgets.FloatSlider(
            value=lr,
            min=0.01 / L,
            max=2.5 / L,
            step=0.01 / L,
            description="lr γ",
            readout_format=".3f",
            layout=widgets.Layout(width="480px"),
            **SLIDER_STYLE,
        )
        self.kappa_slider, self.steps_slider = quadratic_sliders(condition_number, steps)
        self._build([self.lr_slider, self.kappa_slider, self.steps_slider], draw=draw)

    def compute(self) -> GDResult:
        return compute_gd(
            self.lr_slider.value, self.kappa_slider.value, self.steps_slider.value, L=self.L
        )

    def describe(self, result: GDResult) -> tuple[str, bool]:
        return result.status, not result.trajectory.diverged

    def draw(self, result: GDResult):
        return draw_gd(result)
