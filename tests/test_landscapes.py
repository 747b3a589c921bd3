"""Landscapes: closed-form facts about the test functions and the trajectory runner."""

import functools
import math
import pickle

import numpy as np
import pytest
import torch

from course_lib import landscapes as ls


@pytest.mark.parametrize("name", list(ls.LANDSCAPES))
def test_gradient_vanishes_at_the_stated_minimum(name):
    land = ls.get_landscape(name)
    assert np.allclose(land.grad(land.minimum), 0.0, atol=1e-10)
    assert float(land(land.minimum)) <= float(land(land.start))


def test_quadratic_hessian_has_eigenvalues_L_and_mu():
    q = ls.quadratic(condition_number=25.0, L=2.0, angle=0.3)
    hess = torch.autograd.functional.hessian(q.f, torch.zeros(2, dtype=torch.float64))
    eig = torch.linalg.eigvalsh(hess)
    assert torch.allclose(eig, torch.tensor([2.0 / 25.0, 2.0], dtype=torch.float64))


@pytest.mark.parametrize("kappa", [1.0, 10.0, 100.0])
def test_gd_converges_below_two_over_L_and_diverges_above(kappa):
    q = ls.quadratic(condition_number=kappa)
    below = ls.trajectory(q, functools.partial(torch.optim.SGD, lr=1.95), steps=3000)
    above = ls.trajectory(q, functools.partial(torch.optim.SGD, lr=2.05), steps=3000)
    assert not below.diverged and below.losses[-1] < below.losses[0]
    assert above.diverged and above.diverged_at is not None
    assert "diverged at step" in above.status


def test_gd_rate_on_quadratic_matches_theory():
    # With the optimal fixed step 2/(L+ℓ), the error contracts by (kappa-1)/(kappa+1) per step.
    kappa = 9.0
    q = ls.quadratic(condition_number=kappa, start=(1.0, 1.0))
    lr = 2.0 / (1.0 + 1.0 / kappa)
    path = ls.trajectory(q, functools.partial(torch.optim.SGD, lr=lr), steps=40)
    dist = np.linalg.norm(path.points, axis=1)
    measured = (dist[-1] / dist[10]) ** (1 / 30)
    assert math.isclose(measured, (kappa - 1) / (kappa + 1), rel_tol=1e-6)


def test_trajectory_records_every_step_and_steps_to():
    path = ls.trajectory(ls.rosenbrock(), functools.partial(torch.optim.Adam, lr=0.05), steps=50)
    assert path.points.shape == (51, 2) and path.losses.shape == (51,)
    assert path.steps_to(1e30) == 0 and path.steps_to(-1.0) is None


def test_landscapes_pickle_and_grid():
    for name in ls.LANDSCAPES:
        land = pickle.loads(pickle.dumps(ls.get_landscape(name)))
        X, Y, Z = land.grid(20)
        assert X.shape == Y.shape == Z.shape == (20, 20) and np.isfinite(Z).all()


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: ls.quadratic(condition_number=0.5),
            ValueError,
            "condition_number must be a finite number >= 1",
        ),
        (lambda: ls.quadratic(L=0.0), ValueError, "L must be a finite number > 0"),
        (lambda: ls.get_landscape("bowl"), ValueError, "landscape must be one of"),
        (
            lambda: ls.trajectory(ls.beale(), torch.optim.SGD, steps=-1),
            ValueError,
            "steps must be an integer >= 0",
        ),
    ],
)
def test_bad_arguments_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
