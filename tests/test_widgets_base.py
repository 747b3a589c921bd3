"""The shared explorer shell turns every failure into a status line and draws into an Image."""

import ipywidgets as widgets
import pytest

from course_lib.widgets._base import Explorer, error_html, figure_png, status_html


class _Square(Explorer):
    """x -> x**2, failing on demand in compute or in draw."""

    def __init__(self, draw=True):
        self.slider = widgets.FloatSlider(value=1.0, min=-5.0, max=5.0)
        self.fail_in = None
        self._build([self.slider], draw=draw)

    def compute(self):
        if self.fail_in == "compute":
            raise ValueError("x must be a finite number, got nan")
        return self.slider.value**2

    def describe(self, result):
        return f"x² = {result:.2f} <ok>", result < 10

    def draw(self, result):
        import matplotlib.pyplot as plt

        if self.fail_in == "draw":
            raise RuntimeError("cannot draw")
        fig, ax = plt.subplots()
        ax.bar([0], [result])
        return fig


def test_explorer_recomputes_and_redraws_when_a_control_moves():
    w = _Square()
    first = w.figure.value
    assert w.result == 1.0 and first[:4] == b"\x89PNG"
    w.slider.value = 4.0
    assert w.result == 16.0 and w.figure.value != first
    assert "#b00" in w.status.value  # 16 >= 10 is the bad colour
    assert "&lt;ok&gt;" in w.status.value  # text is escaped, not injected as HTML


@pytest.mark.parametrize("where", ["compute", "draw"])
def test_explorer_never_raises_and_shows_the_error(where):
    w = _Square()
    w.fail_in = where
    w.slider.value = 2.0  # would raise inside a notebook's event loop without the shell
    assert "error:" in w.status.value
    if where == "compute":
        assert w.result is None and "x must be a finite number" in w.status.value
    else:
        assert w.result == 4.0 and "RuntimeError: cannot draw" in w.status.value


def test_explorer_without_drawing_leaves_the_image_empty():
    w = _Square(draw=False)
    w.slider.value = 3.0
    assert w.result == 9.0 and w.figure.value == b""


def test_helpers_render_png_and_escape_text():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    assert figure_png(fig)[:4] == b"\x89PNG"
    plt.close(fig)
    assert status_html("a < b", ok=True) == "<span style='color:#060'>a &lt; b</span>"
    assert error_html(TypeError("bad")) == "<b>error:</b> TypeError: bad"
