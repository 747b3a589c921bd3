"""course_lib.plots.interactive: every slider step holds what the widget's own computation gives.

Each figure is built on a small grid (a few slider values, a few dozen steps) and every frame is
compared, number by number, with a fresh call of the course_lib function the ipywidgets explorer
calls (compute_gd, compute_momentum, compute_schedule). The committed notebooks' figures are checked
for what the book needs: only the plotly mime type, under 300 KB, one frame per slider step, the
stated range covered, no NaN.
"""

import html
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.experiments.gd import compute_gd
from course_lib.experiments.momentum import compute_momentum
from course_lib.experiments.schedules import SCHEDULE_CATALOGUE, compute_schedule
from course_lib.landscapes import momentum_rate
from course_lib.plots import interactive as I

ROOT = Path(__file__).resolve().parents[1]
PLOTLY = "application/vnd.plotly.v1+json"
RTOL = 1e-3  # 4 significant digits are kept: relative error <= 5e-4
RED, GREEN = "#b00", "#060"


def _y(trace) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in trace.y], dtype=float)


def _status_lines(text: str) -> list[str]:
    return [html.unescape(part) for part in text.split("<br>")]


def _assert_slider_matches_frames(fig, labels):
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == labels
    assert [list(s.args[0]) for s in slider.steps] == [[f.name] for f in fig.frames]
    assert all(s.method == "animate" for s in slider.steps)


def _assert_json_is_finite(fig):
    json.dumps(fig.to_plotly_json(), allow_nan=False, default=float)  # raises on NaN or inf


def test_gd_every_slider_step_shows_compute_gd_at_that_rate():
    lrs, steps = [0.3, 1.0, 1.9, 2.2], 30
    fig = I.gd_explorer_figure(lr=1.0, lrs=lrs, steps=steps)
    _assert_slider_matches_frames(fig, ["0.3", "1", "1.9", "2.2"])
    assert fig.layout.sliders[0].active == 1
    for lr, frame in zip(lrs, fig.frames):
        ref = compute_gd(lr, 10.0, steps)
        path, loss, theory = frame.data
        assert list(frame.traces) == [1, 2, 3]
        np.testing.assert_allclose(path.x, ref.trajectory.points[:, 0], rtol=RTOL)
        np.testing.assert_allclose(path.y, ref.trajectory.points[:, 1], rtol=RTOL)
        np.testing.assert_allclose(_y(loss), ref.trajectory.losses, rtol=RTOL)
        np.testing.assert_allclose(_y(theory), ref.theory_losses, rtol=RTOL)
        assert (loss.x0, loss.dx) == (0, 1)
        shown = " ".join(_status_lines(frame.layout.annotations[0].text))
        assert shown == " ".join(ref.status.split("; "))
    np.testing.assert_allclose(fig.data[1].x, fig.frames[1].data[0].x)  # frame 1 is shown first


def test_gd_diverging_rates_are_annotated_in_red_and_stop_without_nan():
    fig = I.gd_explorer_figure(lrs=[1.0, 2.2, 2.4], steps=300)
    texts = [f.layout.annotations[0].text for f in fig.frames]
    colours = [f.layout.annotations[0].font.color for f in fig.frames]
    assert not texts[0].startswith("diverged") and colours[0] == GREEN
    for lr, text, colour, frame in zip([2.2, 2.4], texts[1:], colours[1:], fig.frames[1:]):
        ref = compute_gd(lr, 10.0, 300)
        assert ref.trajectory.diverged
        assert text.startswith(f"diverged at step {ref.trajectory.diverged_at}") and colour == RED
        assert len(frame.data[0].x) == ref.trajectory.diverged_at  # stopped where it blew up
    _assert_json_is_finite(fig)


def test_gd_default_rates_are_a_log_grid_from_0_05_to_2_4_crossing_2_over_L():
    lrs = np.array(I.DEFAULT_LRS)
    assert len(lrs) == 24 and lrs[0] == 0.05 and lrs[-1] == 2.4
    ratios = lrs[1:] / lrs[:-1]
    np.testing.assert_allclose(ratios, ratios.mean(), rtol=0.01)  # geometric, to 3 digits
    assert (lrs > 2.0).sum() == 2 and lrs[lrs < 2.0].max() > 1.7


def test_momentum_every_slider_step_shows_compute_momentum_for_both_methods():
    mus, lr, steps = [0.0, 0.5, 0.9], 1.9, 30
    fig = I.momentum_explorer_figure(lr=lr, momentum=0.9, momentums=mus, steps=steps)
    _assert_slider_matches_frames(fig, ["0", "0.5", "0.9"])
    assert fig.layout.sliders[0].active == 2
    gd = compute_momentum(lr, 0.0, False, 100.0, steps).gd_trajectory
    np.testing.assert_allclose(_y(fig.data[6]), gd.losses, rtol=RTOL)
    for mu, frame in zip(mus, fig.frames):
        hb, nag = (compute_momentum(lr, mu, n, 100.0, steps) for n in (False, True))
        hb_path, nag_path, hb_loss, nag_loss, hb_dot, nag_dot = frame.data
        for ref, path, loss, dot in (
            (hb, hb_path, hb_loss, hb_dot),
            (nag, nag_path, nag_loss, nag_dot),
        ):
            np.testing.assert_allclose(path.x, ref.trajectory.points[:, 0], rtol=RTOL)
            np.testing.assert_allclose(path.y, ref.trajectory.points[:, 1], rtol=RTOL)
            np.testing.assert_allclose(_y(loss), ref.trajectory.losses, rtol=RTOL)
            assert dot.x == (mu,) and dot.y[0] == pytest.approx(ref.rate, rel=RTOL)
    rates = momentum_rate(lr, np.linspace(0.0, 0.99, 100), (1.0, 0.01), nesterov=True)
    np.testing.assert_allclose(fig.data[8].y, rates, rtol=RTOL)


def test_momentum_diverging_nesterov_is_annotated_in_red():
    fig = I.momentum_explorer_figure(lr=1.9, momentums=[0.0, 0.9], steps=50)
    first, second = (_status_lines(f.layout.annotations[0].text) for f in fig.frames)
    ref = compute_momentum(1.9, 0.9, True, 100.0, 50)
    assert ref.trajectory.diverged
    assert second[1].startswith(f"Nesterov: diverged at step {ref.trajectory.diverged_at}")
    assert fig.frames[1].layout.annotations[0].font.color == RED
    assert not any("diverged" in line for line in first)
    _assert_json_is_finite(fig)


def test_schedule_every_slider_step_shows_compute_schedule_and_its_torch_line():
    values = [0.1, 0.3, 0.5]
    fig = I.schedule_designer_figure("one-cycle", "pct_start", 100, values=values, max_lr=0.5)
    _assert_slider_matches_frames(fig, ["0.1", "0.3", "0.5"])
    assert fig.layout.sliders[0].active == 1  # the catalogue default, 0.3
    for v, frame in zip(values, fig.frames):
        ref = compute_schedule("one-cycle", 100, max_lr=0.5, pct_start=v)
        np.testing.assert_allclose(_y(frame.data[0]), ref.values, rtol=RTOL)
        shown = " ".join(_status_lines(frame.layout.annotations[0].text))
        assert shown == f"{ref.status} {ref.torch_code}"


def test_schedule_invalid_value_is_annotated_in_red_with_no_curve():
    fig = I.schedule_designer_figure("one-cycle", "pct_start", 100, values=[0.01, 0.3])
    invalid = fig.frames[0]
    assert invalid.layout.annotations[0].text.startswith("invalid: ")
    assert "pct_start * total_steps must be &gt; 1" in invalid.layout.annotations[0].text
    assert invalid.layout.annotations[0].font.color == RED and len(invalid.data[0].y) == 0
    assert fig.frames[1].layout.annotations[0].font.color == GREEN


@pytest.mark.parametrize(
    ("schedule", "param", "expected"),
    [
        ("step", "step_size", [1, 126, 250, 375, 500]),
        ("exponential", "gamma", [0.9, 0.93, 0.96, 0.99, 1.02]),
        ("cyclic", "max_lr", [0.0001, 0.001, 0.01, 0.1, 1.0]),
        ("cyclic", "mode", ["triangular", "triangular2", "exp_range"]),
        ("one-cycle", "three_phase", [False, True]),
    ],
)
def test_slider_values_cover_each_argument_kind_end_to_end(schedule, param, expected):
    (arg,) = [p for p in SCHEDULE_CATALOGUE[schedule].params if p.name == param]
    assert I.slider_values(arg, n=5) == expected


def test_schedule_choice_argument_gets_one_frame_per_option():
    fig = I.schedule_designer_figure("cyclic", "mode", 100)
    assert [s.label for s in fig.layout.sliders[0].steps] == [
        "triangular",
        "triangular2",
        "exp_range",
    ]
    ref = compute_schedule("cyclic", 100, mode="triangular2")
    np.testing.assert_allclose(_y(fig.frames[1].data[0]), ref.values, rtol=RTOL)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: I.gd_explorer_figure(lrs=[]), ValueError, "lrs must hold 1 to 60 values, got 0"),
        (lambda: I.gd_explorer_figure(lrs=[0.1, -1.0]), ValueError, "lrs[1]"),
        (lambda: I.gd_explorer_figure(lrs=0.1), TypeError, "lrs must be a sequence"),
        (lambda: I.gd_explorer_figure(lrs=[0.1, 0.1]), ValueError, "must not repeat"),
        (lambda: I.gd_explorer_figure(lrs=list(np.linspace(0.1, 1, 61))), ValueError, "got 61"),
        (lambda: I.gd_explorer_figure(steps=0), ValueError, "steps"),
        (lambda: I.gd_explorer_figure(digits=2), ValueError, "digits"),
        (lambda: I.momentum_explorer_figure(momentums=[0.5, 1.0]), ValueError, "momentums[1]"),
        (lambda: I.momentum_explorer_figure(momentum=1.0), ValueError, "momentum"),
        (lambda: I.schedule_designer_figure("nope"), ValueError, "name"),
        (
            lambda: I.schedule_designer_figure("step", "pct_start"),
            ValueError,
            "param must be one of",
        ),
        (lambda: I.schedule_designer_figure("step", "gamma", gamma=0.5), ValueError, "values="),
        (
            lambda: I.schedule_designer_figure("step", "gamma", values=[2.0]),
            ValueError,
            "values[0]",
        ),
        (
            lambda: I.schedule_designer_figure("cyclic", "mode", values=["x"]),
            ValueError,
            "values[0]",
        ),
        (
            lambda: I.schedule_designer_figure("step", "step_size", values=[1.5]),
            TypeError,
            "values[0]",
        ),
        (lambda: I.schedule_designer_figure(steps=5), ValueError, "steps"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


# --- the committed notebooks' figures ---------------------------------------------------------------

NOTEBOOK_FIGURES = {
    "01_gradient_descent.ipynb": ("lr γ = ", 24, "2.4"),
    "02_momentum_nesterov.ipynb": ("γ = 1, momentum μ = ", 20, "0.95"),
    "05_lr_schedules.ipynb": ("one-cycle, pct_start = ", 25, "0.99"),
}


def _plotly_outputs(name: str) -> list:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return [o for c in cells for o in c.get("outputs", []) if PLOTLY in o.get("data", {})]


@pytest.mark.parametrize("name", list(NOTEBOOK_FIGURES))
def test_committed_notebook_holds_one_small_plotly_only_slider_figure(name):
    prefix, n_steps, last = NOTEBOOK_FIGURES[name]
    (output,) = _plotly_outputs(name)
    assert set(output["data"]) == {PLOTLY}, "only the plotly mime type: no plotly.js, no CDN"
    text = json.dumps(output["data"][PLOTLY], allow_nan=False)
    assert len(text) < 300_000, f"{name}: the figure's JSON is {len(text) / 1e3:.0f} KB"
    assert "<script" not in text and "cdn" not in text.lower()
    fig = output["data"][PLOTLY]
    (slider,) = fig["layout"]["sliders"]
    assert slider["currentvalue"]["prefix"] == prefix
    assert len(slider["steps"]) == len(fig["frames"]) == n_steps
    assert slider["steps"][-1]["label"] == last
    assert [s["args"][0] for s in slider["steps"]] == [[f["name"]] for f in fig["frames"]]
