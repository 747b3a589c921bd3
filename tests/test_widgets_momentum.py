"""Notebook 02's explorer and the momentum theory behind it: analytic rates against measured runs."""

import functools
import math

import numpy as np
import pytest
import torch

import course_lib.optim
from course_lib import landscapes as ls
from course_lib.experiments import momentum as xm
from course_lib.plots import landscapes as lp
from course_lib.widgets import momentum as mw


def test_analytic_rate_is_the_spectral_radius_of_the_iteration_matrix():
    rng = np.random.default_rng(0)
    for _ in range(100):
        lr, mom, lam = rng.uniform(0, 4), rng.uniform(0, 1.1), rng.uniform(0.01, 1.0)
        for nesterov in (False, True):
            matrix = ls.momentum_matrix(lr, mom, lam, nesterov=nesterov)
            radius = np.abs(np.linalg.eigvals(matrix)).max()
            assert math.isclose(
                ls.momentum_rate(lr, mom, (lam,), nesterov=nesterov), radius, rel_tol=1e-7
            )


def test_rate_broadcasts_over_a_grid_and_reduces_to_gd_without_momentum():
    lrs = np.linspace(0.05, 2.5, 50)
    G, M = np.meshgrid(lrs, np.linspace(0, 0.95, 20))
    grid = ls.momentum_rate(G, M, (1.0, 0.1))
    assert grid.shape == (20, 50)
    assert np.allclose(grid[0], ls.gd_rate(lrs, (1.0, 0.1)))
    assert np.allclose(ls.momentum_rate(lrs, 0.0, (1.0, 0.1), nesterov=True), grid[0])


@pytest.mark.parametrize(
    ("lr", "momentum", "nesterov", "kappa"),
    [
        (1.0, 0.5, False, 10.0),
        (0.5, 0.9, False, 100.0),
        (2.0, 0.3, False, 30.0),
        (1.0, 0.5, True, 10.0),
        (0.5, 0.8, True, 30.0),
        (1.5, 0.2, True, 30.0),
    ],
)
def test_analytic_rate_matches_measured_trajectories_of_sgd(lr, momentum, nesterov, kappa):
    q = ls.quadratic(condition_number=kappa)
    predicted = ls.momentum_rate(lr, momentum, (1.0, 1.0 / kappa), nesterov=nesterov)
    make = functools.partial(course_lib.optim.SGD, lr=lr, momentum=momentum, nesterov=nesterov)
    path = ls.trajectory(q, make, steps=250)
    assert not path.diverged
    assert ls.measured_rate(path, start=50) == pytest.approx(predicted, rel=0.01)


def test_divergence_predicted_by_the_rate_happens():
    for nesterov in (False, True):
        rate = ls.momentum_rate(2.5, 0.1, (1.0, 0.1), nesterov=nesterov)
        assert rate > 1
        r = xm.compute_momentum(2.5, 0.1, nesterov, 10.0, steps=300)
        assert r.trajectory.diverged and "diverged at step" in r.status


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_closed_form_optima_minimise_the_phase_diagram(kappa):
    for nesterov, optimum in ((False, ls.momentum_optimal), (True, ls.nesterov_optimal)):
        lr, mom, rate = optimum(1.0, kappa)
        assert ls.momentum_rate(lr, mom, (1.0, 1 / kappa), nesterov=nesterov) == pytest.approx(
            rate, abs=1e-6
        )
        d = xm.phase_diagram(kappa, nesterov=nesterov, n_lr=300, n_momentum=300)
        assert d.rates.min() >= rate - 1e-6
        assert d.best[2] == pytest.approx(rate, abs=0.01)
    lr, mom, rate = ls.momentum_optimal(1.0, kappa)
    assert lr == pytest.approx(4 / (1 + kappa**-0.5) ** 2)
    assert rate == pytest.approx(math.sqrt(mom)) and rate < ls.gd_optimal(1.0, kappa)[1]


def test_measured_rate_at_the_optimum_matches_sqrt_momentum():
    lr, mom, rate = ls.momentum_optimal(1.0, 100.0)
    path = ls.trajectory(
        ls.quadratic(100.0), functools.partial(course_lib.optim.SGD, lr=lr, momentum=mom), 600
    )
    # a double root: the error is ~ t * rate^t, so the measured rate converges slowly from above
    assert rate < ls.measured_rate(path, start=200) < rate * 1.005


def test_heavy_ball_stability_region_is_lr_L_below_two_times_one_plus_momentum():
    d = xm.phase_diagram(10.0, n_lr=120, n_momentum=120)
    G, M = np.meshgrid(d.lrs, d.momentums)
    margin = np.abs(G * 1.0 - 2 * (1 + M)) > 0.05
    assert np.array_equal((d.rates < 1)[margin], (G < 2 * (1 + M))[margin])


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize(("kappa", "L"), [(10.0, 1.0), (100.0, 1.0), (30.0, 2.5)])
def test_stable_lr_limit_separates_converging_from_diverging_grid_points(nesterov, kappa, L):
    d = xm.phase_diagram(kappa, L=L, nesterov=nesterov, n_lr=150, n_momentum=150)
    G, M = np.meshgrid(d.lrs, d.momentums)
    limit = xm.stable_lr_limit(M, L=L, nesterov=nesterov)
    clear = np.abs(G / limit - 1) > 0.01
    assert clear.mean() > 0.95
    assert np.array_equal((d.rates < 1)[clear], (G < limit)[clear])
    # just inside the limit the rate is below 1, just outside above
    for mu in (0.0, 0.3, 0.9):
        edge = float(xm.stable_lr_limit(mu, L=L, nesterov=nesterov))
        eig = (L, L / kappa)
        assert ls.momentum_rate(0.999 * edge, mu, eig, nesterov=nesterov) < 1
        assert ls.momentum_rate(1.001 * edge, mu, eig, nesterov=nesterov) > 1


def test_stable_lr_limit_values_and_bad_input():
    assert xm.stable_lr_limit(0.0) == 2.0 and xm.stable_lr_limit(0.0, nesterov=True) == 2.0
    assert xm.stable_lr_limit(0.5, L=2.0) == pytest.approx(1.5)
    assert xm.stable_lr_limit(0.5, nesterov=True) == pytest.approx(1.5)
    assert xm.stable_lr_limit(np.array([0.0, 0.999])).shape == (2,)
    with pytest.raises(ValueError, match=r"momentum must be finite numbers in \[0, 1\)"):
        xm.stable_lr_limit(1.0)
    with pytest.raises(ValueError, match="L must be"):
        xm.stable_lr_limit(0.5, L=0.0)


def test_best_point_label_is_boxed_and_inside_the_panel():
    import matplotlib.pyplot as plt

    for nesterov in (False, True):
        d = xm.phase_diagram(100.0, nesterov=nesterov, n_lr=60, n_momentum=60)
        fig, ax = plt.subplots()
        lp.draw_phase_diagram(d, ax, colorbar=False)
        fig.canvas.draw()
        (label,) = [t for t in ax.texts if t.get_text().startswith("best")]
        assert f"{d.best[2]:.3f}" in label.get_text()
        assert label.get_bbox_patch() is not None  # a dark box behind white text
        box = label.get_window_extent(fig.canvas.get_renderer())
        assert ax.get_window_extent().contains(box.x0, box.y0)
        assert ax.get_window_extent().contains(box.x1, box.y1)
        plt.close(fig)


def test_pytorch_nesterov_iterates_are_the_look_ahead_points_of_sutskevers_form():
    q = ls.quadratic(30.0, angle=0.4)
    lr, mom = 0.8, 0.7
    path = ls.trajectory(
        q, functools.partial(torch.optim.SGD, lr=lr, momentum=mom, nesterov=True), 50
    )
    theta, v = np.array(q.start), np.zeros(2)
    lookahead = [theta.copy()]
    for _ in range(50):
        v = mom * v - lr * q.grad(theta + mom * v)
        theta = theta + v
        lookahead.append(theta + mom * v)
    assert np.allclose(path.points, np.array(lookahead), rtol=0, atol=1e-12)


def test_compute_momentum_handles_nesterov_without_momentum_and_bad_input():
    r = xm.compute_momentum(1.0, 0.0, True, 10.0, steps=20)
    assert not r.nesterov and r.rate == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"momentum must be a finite number in \[0, 1\), got 1.0"):
        xm.compute_momentum(1.0, 1.0)
    with pytest.raises(ValueError, match="n_lr must be an integer >= 2"):
        xm.phase_diagram(n_lr=1)
    with pytest.raises(ValueError, match="momentum must be finite number"):
        ls.momentum_rate(1.0, -0.5, (1.0,))
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        ls.momentum_rate(1.0, 0.5, (1.0,), nesterov="yes")


def test_explorer_controls_drive_the_result_and_never_raise():
    w = mw.MomentumExplorer(draw=False)
    assert w.children[:5] == (
        w.lr_slider,
        w.momentum_slider,
        w.method,
        w.kappa_slider,
        w.steps_slider,
    )
    w.children[2].value = True
    assert w.result.nesterov
    w.method.value = False
    lr, mom, rate = ls.momentum_optimal(1.0, 100.0)
    w.lr_slider.value = 3.3  # the slider's grid point next to lr* = 3.306
    w.momentum_slider.value = 0.67  # next to momentum* = 0.669
    assert abs(lr - 3.3) < 0.01 and abs(mom - 0.67) < 0.005
    assert w.result.rate == pytest.approx(ls.momentum_rate(3.3, 0.67, (1.0, 0.01)))
    assert w.result.rate == pytest.approx(rate, abs=0.01) and w.result.rate < w.result.gd_rate
    w.lr_slider.value = 3.9
    w.momentum_slider.value = 0.5
    assert w.result.trajectory.diverged and "diverged at step" in w.status.value
    w.L = 0.0
    w.update()
    assert w.result is None and "L must be" in w.status.value


def test_explorer_draws_three_panels():
    import matplotlib.pyplot as plt

    r = xm.compute_momentum(0.5, 0.9, True, 100.0, steps=30, grid=40)
    fig = lp.draw_momentum(r)
    assert len(fig.axes) == 4  # three panels and the colour bar
    plt.close(fig)
    w = mw.MomentumExplorer(steps=20)
    assert w.result is not None and w.figure.value[:4] == b"\x89PNG"
    plt.close("all")
