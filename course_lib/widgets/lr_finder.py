"""LR-finder explorer of notebook 08: the range test for a chosen optimizer and model on MNIST-1D.

A thin shell: :func:`course_lib.experiments.lr_finder.compute_lr_finder` runs and reads the range
test, :func:`course_lib.plots.training.draw_lr_finder` draws, :class:`LRFinderExplorer` holds the
dropdowns for the optimizer and the model, a slider for the number of steps, the status line and the
plot; it reruns on every change.
"""

from __future__ import annotations

import ipywidgets as widgets

from course_lib._validation import check_choice, check_int, check_number
from course_lib.experiments.lr_finder import (
    FINDER_MODELS,
    FINDER_OPTIMIZERS,
    LRFinderReading,
    compute_lr_finder,
)
from course_lib.plots.training import draw_lr_finder
from course_lib.widgets._base import Explorer

__all__ = ["LRFinderExplorer"]


class LRFinderExplorer(Explorer):
    """Pick an optimizer and a model; the range test reruns and shows its curve and suggestions.

    Children (in order, also named attributes): ``optimizer_dropdown``, ``model_dropdown``,
    ``steps_slider``, ``status`` (HTML), ``figure`` (an ``Image`` holding the PNG of the plot).
    ``result`` holds the latest :class:`~course_lib.experiments.lr_finder.LRFinderReading` (``None`` if the last computation failed;
    the status shows the error).

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
        check_choice("optimizer", optimizer, FINDER_OPTIMIZERS)
        check_choice("model", model, FINDER_MODELS)
        check_int("num_iter", num_iter, low=20, high=400)
        check_number("start_lr", start_lr, low=0.0, low_inclusive=False)
        check_number("end_lr", end_lr, low=float(start_lr), low_inclusive=False)
        check_int("seed", seed, low=0)
        self.start_lr, self.end_lr, self.seed = float(start_lr), float(end_lr), seed
        style = {"description_width": "90px"}
        self.optimizer_dropdown = widgets.Dropdown(
            options=list(FINDER_OPTIMIZERS), value=optimizer, description="optimizer", style=style
        )
        self.model_dropdown = widgets.Dropdown(
            options=list(FINDER_MODELS), value=model, description="model", style=style
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
