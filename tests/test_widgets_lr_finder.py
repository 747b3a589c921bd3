"""Notebook 08's LR-finder explorer: reading a range test, and the widget shell."""

import ipywidgets as widgets
import numpy as np
import pytest

from course_lib import lr_finder
from course_lib.experiments import lr_finder as xl
from course_lib.lr_finder import suggest_lrs
from course_lib.plots import training as pt
from course_lib.widgets import lr_finder as wl


def test_steepest_before_minimum_ignores_a_fall_after_the_blow_up():
    lrs = [10 ** (k / 10 - 4) for k in range(60)]
    curve = [1 / (1 + 10 ** (k / 10 - 2)) + max(0, k - 30) for k in range(50)]
    curve += [curve[-1] - 1.5 * (k + 1) for k in range(10)]  # a steep fall after the blow-up
    anywhere = suggest_lrs(lrs, curve, skip_start=0, skip_end=0)["steepest"]
    assert np.log10(anywhere) > 0.5  # the plain reading lands in the fall after the blow-up
    before = lr_finder.steepest_before_minimum(lrs, curve, skip_start=0)
    assert np.isclose(np.log10(before), -2.0, atol=0.1)
    assert lr_finder.steepest_before_minimum(lrs[:2], curve[:2]) is None
    assert lr_finder.steepest_before_minimum is lr_finder.steepest_before_minimum  # one definition


def test_a_diverging_sweep_stops_early_and_says_so():
    r = xl.compute_lr_finder("SGD", "logreg", num_iter=50, start_lr=1e-4, end_lr=1e3)
    assert r.stopped_early and r.result.diverged
    assert len(r.result.lrs) < 50 and r.status.startswith("stopped at step")


def test_the_reading_marks_the_minimum_and_the_suggestions():
    r = xl.compute_lr_finder("AdamW", "logreg", num_iter=60)
    res = r.result
    assert r.lr_at_min == res.lrs[int(np.argmin(res.smoothed))]
    assert sorted(res.suggestions) == ["min_over_10", "steepest", "valley"]
    assert np.isclose(res.suggestions["min_over_10"], r.lr_at_min / 10)
    assert r.steepest_before_min <= r.lr_at_min
    assert f"valley {res.suggestions['valley']:.2g}" in r.status
    assert r.optimizer == "AdamW" and r.model == "logreg"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"optimizer": "LBFGS"}, ValueError, "optimizer"),
        ({"model": "resnet"}, ValueError, "model"),
        ({"num_iter": 5}, ValueError, "num_iter"),
        ({"start_lr": 0.0}, ValueError, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, ValueError, "end_lr"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, text):
    with pytest.raises(error, match=text):
        xl.compute_lr_finder(**kwargs)


def test_explorer_reruns_when_the_optimizer_changes():
    w = wl.LRFinderExplorer(model="logreg", num_iter=40, draw=False)
    assert w.result.optimizer == "AdamW"
    w.children[0].value = "SGD"
    assert w.result.optimizer == "SGD" and w.result.status in w.status.value
    w.model_dropdown.value = "mlp"
    assert w.result.model == "mlp"
    w.steps_slider.value = 60
    assert len(w.result.result.lrs) <= 60


def test_explorer_shows_the_figure_as_png_in_an_image_widget():
    w = wl.LRFinderExplorer(model="logreg", num_iter=40)
    assert isinstance(w.figure, widgets.Image) and w.figure.value[:4] == b"\x89PNG"
    assert not any(isinstance(c, widgets.Output) for c in w.children)


def test_explorer_never_raises_and_shows_the_error(monkeypatch):
    w = wl.LRFinderExplorer(model="logreg", num_iter=40, draw=False)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(wl, "compute_lr_finder", broken)
    w.optimizer_dropdown.value = "Adam"
    assert w.result is None and "RuntimeError: boom" in w.status.value


def test_draw_lr_finder_returns_a_figure_with_the_readings():
    import matplotlib.pyplot as plt

    fig = pt.draw_lr_finder(xl.compute_lr_finder("Adam", "logreg", num_iter=40))
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "minimum" in labels and any(label.startswith("steepest descent") for label in labels)
    plt.close(fig)
