"""Schedule designer of notebook 05: pick a learning-rate schedule, move its arguments, compare curves.

A thin shell on :class:`~course_lib.widgets._base.Explorer`, driven by the one table
:data:`course_lib.experiments.schedules.SCHEDULE_CATALOGUE`: the dropdown lists its entries, the
argument controls are made from each entry's ranges and defaults, the curve and the torch line come
from :func:`~course_lib.experiments.schedules.compute_schedule`, the figure from
:func:`course_lib.plots.schedules.draw_schedules`.

    >>> w = ScheduleDesigner("step", draw=False)
    >>> w.sliders["step_size"].value = 10
    >>> w.code.value
    '<code>optimizer built with lr=0.1; StepLR(optimizer, step_size=10, gamma=0.1)</code>'
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets

from course_lib._validation import check_choice, check_int
from course_lib.experiments.schedules import (
    SCHEDULE_CATALOGUE,
    Param,
    ScheduleCurve,
    compute_schedule,
)
from course_lib.plots.schedules import draw_schedules
from course_lib.widgets._base import Explorer, status_html

__all__ = ["ScheduleDesigner", "control_for"]

_STYLE = {"description_width": "120px"}


def control_for(p: Param) -> widgets.Widget:
    """The control of one catalogue argument: a checkbox, a dropdown, or a (log) slider on its range.

    Example:
        >>> control_for(Param("lr", "log", 0.1, 1e-4, 1.0, 0.1)).min
        -4.0
    """
    common = {"description": p.name, "style": _STYLE, "layout": widgets.Layout(width="460px")}
    if p.kind == "bool":
        return widgets.Checkbox(value=p.default, indent=True, **common)
    if p.kind == "choice":
        return widgets.Dropdown(options=list(p.choices), value=p.default, **common)
    slider = {"step": p.step, "continuous_update": False, **common}
    low, high = float(p.low or 0.0), float(p.high or 0.0)
    if p.kind == "int":
        return widgets.IntSlider(value=p.default, min=p.low, max=p.high, **slider)
    if p.kind == "log":
        bounds = {"min": math.log10(low), "max": math.log10(high)}
        return widgets.FloatLogSlider(
            value=p.default, base=10, readout_format=".3g", **bounds, **slider
        )
    return widgets.FloatSlider(value=p.default, min=low, max=high, readout_format=".3g", **slider)


class ScheduleDesigner(Explorer):
    """Pick a schedule, move its arguments, add curves to an overlay and compare them.

    Children (in order): ``schedule_dropdown``, ``steps_slider`` (:math:`T`), ``description``
    (HTML: one line about the schedule), ``params_box`` (one control per argument of the chosen
    schedule, also in the dict ``sliders`` by argument name), ``log_checkbox``, a row with
    ``add_button`` ("add to overlay") and ``clear_button``, ``status`` (HTML), ``code`` (HTML: the
    torch line that gives the same rates), ``figure`` (an ``Image`` holding the PNG of the figure).
    ``result`` is the latest :class:`~course_lib.experiments.schedules.ScheduleCurve` and ``overlay``
    the kept curves. Nothing here raises on a control's value: invalid combinations, and drawing
    errors, show their message in ``status``.

    Args:
        schedule: the schedule shown first (a key of ``SCHEDULE_CATALOGUE``).
        steps: the initial :math:`T`, in [10, 1000].
        draw: draw the figure (tests switch it off to stay fast).

    Example:
        >>> w = ScheduleDesigner(draw=False)
        >>> w.schedule_dropdown.value = "one-cycle"
        >>> w.sliders["pct_start"].value = 0.005
        >>> w.result.ok, w.status.value.startswith("<span style='color:#b00'>invalid")
        (False, True)
    """

    def __init__(self, schedule: str = "cosine", steps: int = 100, *, draw: bool = True) -> None:
        check_choice("schedule", schedule, SCHEDULE_CATALOGUE)
        steps = check_int("steps", steps, low=10, high=1000)
        layout = {"style": _STYLE, "layout": widgets.Layout(width="460px")}
        self.schedule_dropdown = widgets.Dropdown(
            options=[(f"{k} ({v.torch_name})", k) for k, v in SCHEDULE_CATALOGUE.items()],
            value=schedule,
            description="schedule",
            **layout,
        )
        self.steps_slider = widgets.IntSlider(
            value=steps, min=10, max=1000, step=10, description="steps T",
            continuous_update=False, **layout,
        )  # fmt: skip
        self.description = widgets.HTML()
        self.params_box = widgets.VBox()
        self.log_checkbox = widgets.Checkbox(value=False, description="log y axis", indent=True)
        self.add_button = widgets.Button(description="add to overlay", button_style="info")
        self.clear_button = widgets.Button(description="clear overlay")
        self.code = widgets.HTML()
        self.sliders: dict[str, widgets.Widget] = {}
        self.overlay: list[ScheduleCurve] = []
        self._make_controls()
        self.schedule_dropdown.observe(self._on_schedule, names="value")
        self.add_button.on_click(self._on_add)
        self.clear_button.on_click(self._on_clear)
        controls = [self.schedule_dropdown, self.steps_slider, self.description, self.params_box]
        buttons = widgets.HBox([self.add_button, self.clear_button])
        self._build(
            controls,
            draw=draw,
            extra=[self.log_checkbox, buttons],
            footer=[self.code],
            observe=[self.steps_slider, self.log_checkbox],
        )

    def _make_controls(self) -> None:
        """One control per argument of the chosen schedule, each one observed."""
        spec = SCHEDULE_CATALOGUE[self.schedule_dropdown.value]
        self.sliders = {p.name: control_for(p) for p in spec.params}
        for control in self.sliders.values():
            control.observe(self._on_change, names="value")
        self.params_box.children = tuple(self.sliders.values())
        self.description.value = f"<i>{html.escape(spec.description)}</i>"

    def _on_schedule(self, change) -> None:
        self._make_controls()
        self.update()

    def _on_add(self, button=None) -> None:
        if self.result is None or not self.result.ok:
            self.status.value = status_html("cannot add an invalid schedule to the overlay", False)
            return
        if all(c.label != self.result.label for c in self.overlay):
            self.overlay.append(self.result)
        self.update()

    def _on_clear(self, button=None) -> None:
        self.overlay = []
        self.update()

    def params(self) -> dict:
        """The current value of every argument control."""
        return {name: control.value for name, control in self.sliders.items()}

    def compute(self) -> ScheduleCurve:
        return compute_schedule(
            self.schedule_dropdown.value, self.steps_slider.value, **self.params()
        )

    def describe(self, result: ScheduleCurve) -> tuple[str, bool]:
        kept = f" ({len(self.overlay)} in overlay)" if self.overlay else ""
        return result.status + kept, result.ok

    def draw(self, result: ScheduleCurve):
        return draw_schedules(result, self.overlay, log=self.log_checkbox.value)

    def update(self) -> None:
        """Recompute, redraw (see :meth:`Explorer.update`) and show the torch line of a valid curve."""
        super().update()
        curve = self.result
        if curve is None or not curve.ok:
            self.code.value = ""
            return
        self.code.value = f"<code>{html.escape(curve.torch_code, quote=False)}</code>"
