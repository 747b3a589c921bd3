"""Notebook 01's explorer and the GD theory behind it: rates, 2/L threshold, closed-form losses."""

import functools
import math

import numpy as np
import pytest
import torch

from course_lib import landscapes as ls
from course_lib.experiments import gd as xgd
from course_lib.plots import landscapes as lp
from course_lib.widgets import gd


@pytest.mark.parametrize(
    ("lr", "kappa", "L"), [(1.0, 10.0, 1.0), (1.5, 10.0, 1.0), (0.3, 30.0, 4.0), (0.45, 5.0, 4.0)]
)
def test_measured_gd_rate_matches_max_abs_one_minus_lr_lambda(lr, kappa, L):
    r = xgd.compute_gd(lr, kappa, steps=200, L=L)
    expected = max(abs(1 - lr * L), abs(1 - lr * L / kappa))
    assert math.isclose(r.rate, expected, rel_tol=1e-12)
    assert math.isclose(r.measured, expected, rel_tol=1e-6)
    assert r.factors == pytest.approx((1 - lr * L, 1 - lr * L / kappa))


@pytest.mark.parametrize("angle", [0.0, 0.7])
def test_closed_form_losses_match_the_sgd_trajectory(angle):
    r = xgd.compute_gd(1.7, 20.0, steps=80)
    direct = xgd.gd_theory_losses(1.7, 1.0, 20.0, 80)
    assert np.allclose(r.trajectory.losses, direct, rtol=1e-10, atol=0)
    q = ls.quadratic(condition_number=20.0, angle=angle, start=(1.0, -0.5))
    path = ls.trajectory(q, functools.partial(torch.optim.SGD, lr=1.2), steps=60)
    theory = xgd.gd_theory_losses(1.2, 1.0, 20.0, 60, start=(1.0, -0.5), angle=angle)
    assert np.allclose(path.losses, theory, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("L", [1.0, 4.0])
def test_two_over_L_separates_convergence_from_divergence(L):
    below = xgd.compute_gd(0.98 * 2 / L, 10.0, steps=300, L=L)
    above = xgd.compute_gd(1.02 * 2 / L, 10.0, steps=300, L=L)
    far = xgd.compute_gd(1.3 * 2 / L, 10.0, steps=300, L=L)
    assert below.threshold == pytest.approx(2 / L)
    assert not below.trajectory.diverged and below.rate < 1
    assert below.trajectory.losses[-1] < below.trajectory.losses[0]
    assert above.rate > 1 and above.trajectory.losses[-1] > above.trajectory.losses[0]
    assert far.trajectory.diverged and far.status.startswith("diverged at step")
    assert str(far.trajectory.diverged_at) in far.status


def test_a_growing_run_that_has_not_blown_up_is_reported_as_not_converging():
    r = xgd.compute_gd(2.02, 10.0, steps=50)
    assert not r.trajectory.diverged and r.rate > 1
    assert r.status.startswith("not converging")


def test_optimal_step_minimises_the_rate_and_gives_kappa_minus_one_over_kappa_plus_one():
    for kappa in (2.0, 10.0, 100.0):
        lr_star, rate_star = ls.gd_optimal(1.0, kappa)
        lrs = np.linspace(0.01, 2.0, 4001)
        rates = ls.gd_rate(lrs, (1.0, 1 / kappa))
        assert rates.min() >= rate_star - 1e-12
        assert abs(lrs[rates.argmin()] - lr_star) < 1e-3
        assert math.isclose(rate_star, (kappa - 1) / (kappa + 1))
        measured = xgd.compute_gd(lr_star, kappa, steps=120).measured
        assert math.isclose(measured, rate_star, rel_tol=1e-6)


def test_measured_rate_edge_cases():
    exact = xgd.compute_gd(1.0, 1.0, steps=10)  # lr = 1/L with kappa = 1 lands on the minimum
    assert exact.measured == 0.0 and exact.trajectory.losses[-1] == 0.0
    path = exact.trajectory
    assert ls.measured_rate(path, start=len(path.points)) is None
    with pytest.raises(TypeError, match="path must be a Trajectory"):
        ls.measured_rate(path.points)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: xgd.compute_gd(-0.1), ValueError, "lr must be a finite number >= 0, got -0.1"),
        (lambda: xgd.compute_gd(0.5, 0.5), ValueError, "condition_number must be"),
        (lambda: xgd.compute_gd(0.5, steps=0), ValueError, "steps must be an integer >= 1"),
        (lambda: xgd.compute_gd("0.5"), TypeError, "lr must be"),
        (lambda: ls.gd_rate(-1.0, (1.0,)), ValueError, "lr must be finite number"),
        (lambda: ls.gd_rate(1.0, ()), ValueError, "eigenvalues must hold"),
        (lambda: ls.gd_rate(1.0, (1.0, 0.0)), ValueError, "eigenvalues must be finite"),
        (lambda: ls.gd_rate("a", (1.0,)), TypeError, "lr must be a number"),
        (lambda: ls.gd_optimal(0.0, 10.0), ValueError, "L must be a finite number > 0"),
    ],
)
def test_bad_arguments_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_explorer_children_drive_the_result_and_never_raise():
    w = gd.GDExplorer(draw=False)
    assert w.children[:3] == (w.lr_slider, w.kappa_slider, w.steps_slider)
    assert not w.result.trajectory.diverged
    w.children[0].value = 2.3
    assert w.result.trajectory.diverged and "diverged at step" in w.status.value
    w.lr_slider.value = 1.0
    w.kappa_slider.value = 100.0
    assert w.result.condition_number == pytest.approx(100.0)
    assert w.result.rate == pytest.approx(0.99)
    w.steps_slider.value = 50
    assert len(w.result.trajectory.losses) == 51
    # a failing computation shows its message instead of raising
    w.L = -1.0
    w.update()
    assert w.result is None and "L must be" in w.status.value


def test_explorer_draws_its_figure_into_the_image():
    import matplotlib.pyplot as plt

    w = gd.GDExplorer(lr=1.5, steps=20)
    first = w.figure.value
    assert first[:4] == b"\x89PNG"
    w.lr_slider.value = 2.4
    assert w.figure.value[:4] == b"\x89PNG" and w.figure.value != first
    fig = lp.draw_gd(w.result)
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    plt.close("all")
