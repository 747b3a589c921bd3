"""Backbone-rate / head-rate explorer of notebook 07: a short differential fine-tune on the target task.

A thin shell: :func:`course_lib.experiments.transfer.compute_transfer` fine-tunes and judges the run
(diverged, failed or fine), :func:`course_lib.plots.training.draw_transfer` draws,
:class:`TransferExplorer` holds two log-scale sliders (:math:`\\gamma_b`, :math:`\\gamma_h`), an epochs
slider, the status line and the test-accuracy curve.
"""

from __future__ import annotations

import ipywidgets as widgets

from course_lib._validation import check_int, check_number
from course_lib.experiments.transfer import TransferReading, compute_transfer
from course_lib.plots.training import draw_transfer
from course_lib.widgets._base import Explorer

__all__ = ["TransferExplorer"]


class TransferExplorer(Explorer):
    """Two log-scale sliders (backbone rate, head rate) and an epochs slider; reruns a short fine-tune.

    Children (in order, also named attributes): ``backbone_lr_slider``, ``head_lr_slider``,
    ``epochs_slider``, ``status`` (HTML), ``figure`` (an ``Image`` holding the PNG of the plot).
    ``result`` holds the latest :class:`~course_lib.experiments.transfer.TransferReading` (``None`` if the last computation raised;
    the status then shows the error instead).

    Args:
        backbone_lr, head_lr: initial rates, in [1e-5, 10].
        epochs: initial epochs, in [1, 30].
        seed: the run's seed.
        draw: draw the figure (tests switch it off).

    Example:
        >>> w = TransferExplorer(epochs=2, draw=False)
        >>> w.head_lr_slider.value = 3e-2
        >>> round(w.result.head_lr, 3)
        0.03
    """

    def __init__(
        self,
        backbone_lr: float = 1e-3,
        head_lr: float = 1e-2,
        epochs: int = 10,
        *,
        seed: int = 0,
        draw: bool = True,
    ) -> None:
        check_number("backbone_lr", backbone_lr, low=1e-5, high=10.0)
        check_number("head_lr", head_lr, low=1e-5, high=10.0)
        check_int("epochs", epochs, low=1, high=30)
        check_int("seed", seed, low=0)
        self.seed = seed
        style = {"description_width": "100px"}
        common = {"base": 10, "min": -5, "max": 1, "step": 0.25, "continuous_update": False}
        self.backbone_lr_slider = widgets.FloatLogSlider(
            value=backbone_lr,
            description="backbone lr",
            readout_format=".1e",
            style=style,
            **common,
        )
        self.head_lr_slider = widgets.FloatLogSlider(
            value=head_lr, description="head lr", readout_format=".1e", style=style, **common
        )
        self.epochs_slider = widgets.IntSlider(
            value=epochs, min=1, max=30, description="epochs", continuous_update=False, style=style
        )
        controls = [self.backbone_lr_slider, self.head_lr_slider, self.epochs_slider]
        self._build(controls, draw=draw)

    def compute(self) -> TransferReading:
        return compute_transfer(
            self.backbone_lr_slider.value,
            self.head_lr_slider.value,
            epochs=self.epochs_slider.value,
            seed=self.seed,
        )

    def describe(self, result: TransferReading) -> tuple[str, bool]:
        return result.status, not result.failed

    def draw(self, result: TransferReading):
        return draw_transfer(result)
