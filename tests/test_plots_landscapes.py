"""Landscape plots: contours, trajectories and loss curves draw what they are given."""

import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import landscapes as ls
from course_lib.plots import landscapes as lp


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _runs():
    q = ls.quadratic(condition_number=10.0)
    ok = ls.trajectory(q, functools.partial(torch.optim.SGD, lr=1.0), steps=30)
    bad = ls.trajectory(q, functools.partial(torch.optim.SGD, lr=2.5), steps=200)
    return q, {"lr=1.0": ok, "lr=2.5": bad}


def test_contour_levels_increase_and_span_the_values():
    Z = np.linspace(0.0, 9.0, 100).reshape(10, 10)
    for log in (False, True):
        lev = lp.contour_levels(Z, 12, log=log)
        assert lev.shape == (12,) and np.all(np.diff(lev) > 0)
        assert lev[0] > 0.0 and np.isclose(lev[-1], 9.0)


def test_plot_trajectories_draws_each_path_and_labels_divergence():
    q, runs = _runs()
    ax = lp.plot_trajectories(q, runs)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "lr=1.0"
    assert labels[1] == f"lr=2.5 (diverged at step {runs['lr=2.5'].diverged_at})"
    path_lines = [ln for ln in ax.get_lines() if ln.get_label() in labels]
    assert np.allclose(path_lines[0].get_xydata(), runs["lr=1.0"].points)
    # the axes keep the landscape's bounds even though the diverging run leaves them
    assert ax.get_xlim() == q.bounds[0] and ax.get_ylim() == q.bounds[1]
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1


def test_colors_fix_each_runs_colour_in_both_plots():
    import matplotlib.colors as mcolors

    q, runs = _runs()
    ax = lp.plot_trajectories(q, runs, colors=["C3", "C5"])
    paths = [ln for ln in ax.get_lines() if ln.get_label().startswith("lr=")]
    assert [mcolors.to_hex(ln.get_color()) for ln in paths] == [
        mcolors.to_hex("C3"),
        mcolors.to_hex("C5"),
    ]
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert mcolors.to_hex(crosses[0].get_color()) == mcolors.to_hex("C5")
    ax2 = lp.plot_losses(runs, colors=["red"])  # cycled when shorter
    assert {mcolors.to_hex(ln.get_color()) for ln in ax2.get_lines()} == {"#ff0000"}
    # the default is unchanged: the axes' colour cycle
    ax3 = lp.plot_losses(runs)
    assert mcolors.to_hex(ax3.get_lines()[0].get_color()) == mcolors.to_hex("C0")


def test_plot_losses_draws_suboptimality_on_a_log_axis():
    q, runs = _runs()
    ax = lp.plot_losses(runs, landscape=q)
    assert ax.get_yscale() == "log"
    line = ax.get_lines()[0]
    expected = np.maximum(runs["lr=1.0"].losses, lp.LOG_FLOOR)
    assert np.allclose(line.get_ydata(), expected)
    # f* is subtracted: the saddle's minimum value is -1/4
    s = ls.saddle()
    path = ls.trajectory(s, functools.partial(torch.optim.SGD, lr=0.1), steps=5)
    ax2 = lp.plot_losses({"gd": path}, landscape=s, log=False)
    assert np.allclose(ax2.get_lines()[0].get_ydata(), path.losses + 0.25)


def test_plot_loss_curves_draws_mean_and_band():
    _fig, ax = plt.subplots()
    runs = np.array([[4.0, 2.0, 1.0], [2.0, 1.0, 0.5]])
    lp.plot_loss_curves({"a": runs, "b": [1.0, 1.0, 1.0]}, ax=ax, x=[1, 2, 3], spread="std")
    assert np.allclose(ax.get_lines()[0].get_ydata(), runs.mean(axis=0))
    assert len(ax.collections) == 1  # one band: "b" has a single run


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda q, r: lp.plot_trajectories(q, []), TypeError, "trajectories must be a dict"),
        (lambda q, r: lp.plot_trajectories(q, {}), ValueError, "at least one"),
        (lambda q, r: lp.plot_losses({"x": 1.0}), TypeError, r"trajectories\['x'\]"),
        (lambda q, r: lp.plot_contours("quadratic"), TypeError, "landscape must be"),
        (lambda q, r: lp.plot_contours(q, n=3), ValueError, "n must be an integer >= 10"),
        (lambda q, r: lp.plot_losses(r, f_min=float("nan")), ValueError, "f_min"),
        (lambda q, r: lp.plot_loss_curves({"a": [1.0]}, spread="iqr"), ValueError, "spread"),
        (lambda q, r: lp.plot_loss_curves({"a": [1, 2]}, x=[1, 2, 3]), ValueError, "x must"),
        (lambda q, r: lp.plot_trajectories(q, r, colors="red"), TypeError, "colors must be"),
        (lambda q, r: lp.plot_losses(r, colors=[]), TypeError, "colors must be"),
    ],
)
def test_bad_arguments_raise_with_the_argument_name(call, error, match):
    q, runs = _runs()
    with pytest.raises(error, match=match):
        call(q, runs)
