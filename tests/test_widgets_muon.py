"""The Muon explorer: its controls drive the result, every slider value works, nothing raises."""

import itertools

import matplotlib.pyplot as plt
import pytest

from course_lib.experiments import muon as xmuon
from course_lib.widgets import muon as wmuon


def test_controls_drive_the_result():
    w = wmuon.MuonExplorer(draw=False)
    assert w.children[:4] == (w.steps_slider, w.condition_slider, w.shape_slider, w.coefficients)
    assert w.result.shape == (32, 16) and w.result.ns_steps == 5
    assert w.result.condition == pytest.approx(100.0)
    w.steps_slider.value = 8
    assert w.result.singular_values.shape == (9, 16)
    w.shape_slider.value = (8, 64)
    assert w.result.shape == (8, 64) and w.result.singular_values.shape == (9, 8)
    w.condition_slider.value = 0.0
    assert w.result.initial.max() / w.result.initial.min() == pytest.approx(1.0)
    w.coefficients.value = xmuon.CUBIC_COEFFICIENTS
    assert w.result.ns_coefficients == xmuon.CUBIC_COEFFICIENTS


def test_the_status_is_green_once_the_singular_values_are_near_one():
    w = wmuon.MuonExplorer(draw=False)
    assert "#060" in w.status.value and "after 5 steps: singular values in [0.6" in w.status.value
    w.steps_slider.value = 1  # after one step the smallest σ is still far below 1
    assert "#b00" in w.status.value


def test_every_slider_value_gives_a_result_and_never_raises():
    w = wmuon.MuonExplorer(draw=False)
    conditions = [w.condition_slider.min, 2.0, w.condition_slider.max]
    for steps, condition, shape in itertools.product(
        [0, 1, 10], conditions, [value for _, value in w.shape_slider.options]
    ):
        w.steps_slider.value, w.condition_slider.value, w.shape_slider.value = (
            steps,
            condition,
            shape,
        )
        assert w.result is not None, w.status.value
    w.seed = -1  # a bad value set by hand becomes the status line
    w.update()
    assert w.result is None and "seed must be an integer &gt;= 0" in w.status.value


def test_the_explorer_draws_two_panels_at_the_ends_of_every_slider():
    w = wmuon.MuonExplorer()
    assert w.figure.value[:4] == b"\x89PNG"
    for steps, condition, shape in [(0, 0.0, (8, 64)), (10, 4.0, (64, 8))]:
        before = w.figure.value
        w.steps_slider.value, w.condition_slider.value, w.shape_slider.value = (
            steps,
            condition,
            shape,
        )
        assert "error" not in w.status.value and w.figure.value != before
    fig = wmuon.draw_orthogonalisation(xmuon.compute_orthogonalisation(ns_steps=0))
    assert len(fig.axes) == 2
    plt.close("all")
