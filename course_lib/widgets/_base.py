"""What every explorer of the course shares: controls, a status line, a figure, and never raising.

An explorer subclasses :class:`Explorer` and supplies three methods: :meth:`Explorer.compute` (read the
controls, call the module's pure ``compute_*`` function, return its result), :meth:`Explorer.describe`
(the status text of a result and whether it is a good one) and :meth:`Explorer.draw` (a matplotlib
figure of a result). :meth:`Explorer.update` runs them in that order whenever a control changes; an
exception in any of them becomes the status line ("error: ...") instead of reaching the notebook.

The figure is rendered to PNG bytes and shown in an ``ipywidgets.Image`` rather than drawn into an
``ipywidgets.Output``: headless runners (papermill/nbclient) mimic ``Output`` widgets by echoing every
captured output back to the kernel, which was measured to hang a papermill run under load when a large
figure is captured; setting an ``Image``'s value is a plain state update.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets

from course_lib._validation import check_bool

__all__ = [
    "SLIDER_STYLE",
    "Explorer",
    "error_html",
    "figure_png",
    "quadratic_sliders",
    "status_html",
]


#: Keyword arguments every slider of the quadratic explorers (notebooks 01 and 02) shares.
SLIDER_STYLE = {"continuous_update": False, "style": {"description_width": "110px"}}


def quadratic_sliders(
    condition_number: float, steps: int
) -> tuple[widgets.FloatLogSlider, widgets.IntSlider]:
    """The condition-number slider (:math:`\\kappa` in [1, 1000], log scale) and the steps slider.

    Example:
        >>> kappa, steps = quadratic_sliders(10.0, 100)
        >>> kappa.value, steps.max
        (10.0, 300)
    """
    common = {**SLIDER_STYLE, "layout": widgets.Layout(width="480px")}
    kappa = widgets.FloatLogSlider(
        value=condition_number,
        base=10,
        min=0,
        max=3,
        step=0.05,
        description="condition κ",
        **common,
    )
    steps_slider = widgets.IntSlider(
        value=steps, min=10, max=300, step=10, description="steps", **common
    )
    return kappa, steps_slider


def figure_png(fig, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image``).

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> figure_png(fig)[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def status_html(text: str, ok: bool) -> str:
    """A status in green (``ok``) or red, HTML-escaped; each newline of ``text`` starts a new line.

    Example:
        >>> status_html("diverged at step 3", ok=False)
        "<span style='color:#b00'>diverged at step 3</span>"
        >>> status_html("SGD: f < 1\\nAdam: f < 2", ok=True)
        "<span style='color:#060'>SGD: f &lt; 1<br>Adam: f &lt; 2</span>"
    """
    colour = "#060" if ok else "#b00"
    lines = "<br>".join(html.escape(line) for line in text.split("\n"))
    return f"<span style='color:{colour}'>{lines}</span>"


def error_html(exc: BaseException) -> str:
    """The status line that replaces an exception: its type and message, HTML-escaped.

    Example:
        >>> error_html(ValueError("lr must be a finite number >= 0, got -1"))
        '<b>error:</b> ValueError: lr must be a finite number &gt;= 0, got -1'
    """
    return f"<b>error:</b> {type(exc).__name__}: {html.escape(str(exc))}"


class Explorer(widgets.VBox):
    """A column of controls, a status line (``status``, HTML) and a figure (``figure``, an ``Image``).

    ``result`` holds the latest result of :meth:`compute` (``None`` after a failure, whose message is
    then the status). Subclasses build their controls, then call :meth:`_build` with them.
    """

    result = None

    def _build(self, controls, *, draw: bool = True, extra=(), footer=(), observe=None) -> None:
        """Lay out ``controls`` (then ``extra`` widgets), the status and the figure; compute once.

        Args:
            controls: the widgets shown first; each one's ``value`` triggers :meth:`update`.
            draw: render the figure (tests switch it off to stay fast).
            extra: widgets shown between the controls and the status, not observed.
            footer: widgets shown between the status and the figure, not observed.
            observe: the widgets to observe instead of ``controls`` (e.g. when ``controls`` are
                boxes that lay the real controls out).
        """
        self._draw = check_bool("draw", draw)
        self.status = widgets.HTML()
        self.figure = widgets.Image(format="png")
        super().__init__(children=[*controls, *extra, self.status, *footer, self.figure])
        for control in controls if observe is None else observe:
            control.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, change) -> None:
        self.update()

    def compute(self):
        """Read the controls and return the result of the module's pure compute function."""
        raise NotImplementedError

    def describe(self, result) -> tuple[str, bool]:
        """The status text of ``result`` and whether it is a good outcome (green) or not (red)."""
        raise NotImplementedError

    def draw(self, result):
        """A matplotlib figure of ``result``."""
        raise NotImplementedError

    def update(self) -> None:
        """Recompute with the current controls, set ``result`` and ``status``, redraw; never raise."""
        try:
            self.result = self.compute()
            text, ok = self.describe(self.result)
        except Exception as exc:  # a widget never raises: show the message instead
            self.result = None
            self.status.value = error_html(exc)
            return
        self.status.value = status_html(text, ok)
        if self._draw:
            self.render()

    def render(self) -> None:
        """Draw :attr:`result` into the figure; a drawing failure goes to the status line."""
        import matplotlib.pyplot as plt

        try:
            fig = self.draw(self.result)
        except Exception as exc:  # e.g. a value matplotlib cannot place on a log axis
            self.status.value += "<br>" + error_html(exc)
            return
        try:
            self.figure.value = figure_png(fig)
        finally:
            plt.close(fig)
