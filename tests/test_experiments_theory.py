"""course_lib.experiments.theory: convexity, saddles, SGD's rates, preconditioning, AdaGrad, Yogi."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from course_lib import landscapes
from course_lib.experiments import theory as th
from course_lib.experiments.adaptive import RACE_LANDSCAPES


def test_chord_gap_is_nonpositive_on_a_convex_quadratic_and_positive_across_two_minima():
    q = landscapes.quadratic(50.0, angle=0.3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.uniform(-2, 2, 2), rng.uniform(-2, 2, 2)
        assert th.chord_gap(q, a, b) <= 1e-12
    well = th.tilted_double_well()
    lo, _, hi = well.info["critical_x"]
    assert th.chord_gap(well, (lo, 0.0), (hi, 0.0)) > 0.9


def test_critical_points_of_the_double_well_and_the_saddle_are_classified_by_eigenvalue_signs():
    well = th.tilted_double_well(0.3)
    kinds = []
    for x in well.info["critical_x"]:
        c = th.critical_point(well, (x + 0.05, 0.2))
        assert np.linalg.norm(well.grad(c)) < 1e-12
        kinds.append(th.classify(np.linalg.eigvalsh(th.hessian(well, c))))
    assert kinds == ["minimum", "saddle", "minimum"]
    s = landscapes.saddle()
    np.testing.assert_allclose(np.linalg.eigvalsh(th.hessian(s, (0.0, 0.0))), [-1.0, 1.0])
    assert th.classify([-1.0, -2.0]) == "maximum" and th.classify([0.0, 1.0]) == "degenerate"


def test_descend_matches_course_sgd_row_by_row_with_one_rate_per_row():
    s = landscapes.saddle()
    starts = [(1.5, 1e-3), (1.0, -0.5)]
    points, losses = th.descend(s, starts, [0.1, 0.05], steps=30)
    for k, (start, lr) in enumerate(zip(starts, [0.1, 0.05])):
        path = landscapes.trajectory(
            s, functools.partial(torch.optim.SGD, lr=lr), steps=30, start=start
        )
        np.testing.assert_allclose(points[:, k], path.points, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(losses[:, k], path.losses, rtol=1e-12, atol=1e-15)


def test_gd_on_the_saddles_stable_manifold_stalls_and_a_perturbation_escapes():
    _, losses = th.descend(landscapes.saddle(), [(1.5, 0.0), (1.5, 1e-6)], 0.1, steps=300)
    assert abs(losses[-1, 0]) < 1e-20  # converged to the saddle, f = 0
    assert losses[-1, 1] == pytest.approx(-0.25)


def test_least_squares_noise_floor_and_decaying_rates():
    p = th.least_squares(n=200, d=3, seed=1)
    const = th.sgd_least_squares(p, "constant", 0.05, 4000, chains=50, seed=2)
    sqrt = th.sgd_least_squares(p, "sqrt", 0.5, 4000, chains=50, seed=2)
    assert abs(const.slope(500)) < 0.15
    assert abs(sqrt.slope(100) + 0.5) < 0.15
    assert sqrt.excess[-1] < const.excess[-1] / 3
    assert 0.5 < const.excess[-1] / p.noise_floor(0.05) < 2.0


def test_schedules_and_slope_reject_bad_input():
    np.testing.assert_allclose(th.schedule_lr("inverse", 1.0, [0, 2], ell=1.0), [1.0, 0.5])
    with pytest.raises(ValueError, match="schedule must be one of"):
        th.schedule_lr("cosine", 1.0, 0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        th.schedule_lr("sqrt", 0.0, 0)
    with pytest.raises(ValueError, match="at least 2 positive values"):
        th.loglog_slope([1, 2], [1.0, 1.0], t_min=5)


def test_newton_solves_any_quadratic_in_one_step_the_diagonal_only_the_aligned_one():
    aligned = RACE_LANDSCAPES["quadratic"]()
    rotated = RACE_LANDSCAPES["rotated quadratic"]()
    for land in (aligned, rotated):
        assert th.preconditioned_descent(land, "newton", 1.0, 3).steps_to(1e-20) == 1
    assert th.preconditioned_descent(aligned, "diagonal", 1.0, 3).steps_to(1e-20) == 1
    diag = th.preconditioned_descent(rotated, "diagonal", 1.0, 40)
    gd = th.preconditioned_descent(rotated, "identity", 2.0 / (1.0 + 1.0 / 50.0), 40)
    np.testing.assert_allclose(diag.losses, gd.losses, rtol=1e-10)
    H = th.hessian(rotated, (0.0, 0.0))
    assert th.preconditioned_condition_number(H, np.diag(np.diag(H))) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="positive definite"):
        th.preconditioned_condition_number(H, -np.eye(2))
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        th.preconditioned_descent(aligned, "adam", 1.0, 3)


def test_evaluations_to_counts_closure_calls_and_plain_steps():
    q = landscapes.quadratic(1.0, start=(1.0, 0.0))
    # GD with lr = 1 on f = x^2/2: theta_1 = 0, so the second evaluation is at the minimum
    assert th.evaluations_to(q, functools.partial(torch.optim.SGD, lr=1.0), 1e-12) == 2
    assert th.evaluations_to(q, functools.partial(torch.optim.SGD, lr=1e-3), 1e-12, 50) is None
    lbfgs = functools.partial(torch.optim.LBFGS, line_search_fn="strong_wolfe")
    n = th.evaluations_to(landscapes.rosenbrock(), lbfgs, 1e-8, 500, closure=True)
    assert n is not None and n < 200


def test_adagrad_beats_sgd_on_rare_features_at_tuned_rates():
    table, best = th.tune_sparse([0.03, 0.1, 0.3, 1.0], [100], [0, 1, 2], steps=1500)
    assert set(best) == {"SGD", "AdaGrad"}
    ada, sgd = table.values("AdaGrad", "rare_error"), table.values("SGD", "rare_error")
    assert (ada < sgd).all()
    with pytest.raises(ValueError, match="disjoint"):
        th.tune_sparse([0.1], [0], [0, 1])
    run = th.sparse_regression("SGD", [100.0], [0], steps=200)
    assert run.excess[0, 0] == np.inf  # blew up, reported, not raised


def test_second_moments_adam_follows_the_gap_yogi_moves_by_at_most_one_minus_beta2_g2():
    g = np.r_[np.ones(50), np.full(5, 10.0), np.full(200, 0.1)]
    adam, yogi = th.second_moments(g, beta2=0.99)
    v_prev = np.r_[0.0, yogi[:-1]]
    assert np.all(np.abs(yogi - v_prev) <= 0.01 * g**2 * (1 + 1e-12))
    a_prev = np.r_[0.0, adam[:-1]]
    np.testing.assert_allclose(adam - a_prev, 0.01 * (g**2 - a_prev), rtol=1e-12, atol=1e-15)
    assert yogi[-1] > 5 * adam[-1]  # after the burst Yogi's v stays high much longer


def test_descend_with_rosenbrocks_closed_form_gradient_equals_the_autograd_run():
    rosen = landscapes.rosenbrock()
    starts, rates = [rosen.start, (0.5, -0.5)], [1e-3, 2e-3]
    auto = th.descend(rosen, starts, rates, steps=200)
    closed = th.descend(rosen, starts, rates, steps=200, gradient=th.rosenbrock_gradient)
    for a, b in zip(auto, closed):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
