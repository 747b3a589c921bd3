"""The Muon explorer's compute: Newton-Schulz on the singular values of a matrix, measured."""

import math

import numpy as np
import pytest
import torch

from course_lib.experiments import muon as xmuon
from course_lib.optim.muon import NS_COEFFICIENTS, newton_schulz


@pytest.mark.parametrize("shape", [(32, 16), (16, 32), (24, 24), (64, 8), (8, 64)])
@pytest.mark.parametrize("condition", [1.0, 10.0, 100.0])
def test_after_five_steps_of_torchs_coefficients_the_singular_values_lie_in_the_band(
    shape, condition
):
    """Measured band over 5 seeds: [0.675, 1.142] (bfloat16); the quintic's own band without
    rounding is [0.682, 1.134]. Near 1, not 1: U V^T itself is never reached."""
    low, high = xmuon.quintic_band()
    assert low == pytest.approx(0.682, abs=1e-3) and high == pytest.approx(1.134, abs=1e-3)
    for seed in range(5):
        r = xmuon.compute_orthogonalisation(shape, ns_steps=5, condition=condition, seed=seed)
        last = r.singular_values[-1]
        assert low - 0.02 < last.min() and last.max() < high + 0.02
        assert r.band == (last.min(), last.max())
        if min(shape) > 1 and condition > 1:
            assert np.abs(last - r.target).max() > 0.05  # not exactly 1
        assert r.distance[-1] < 0.35 and r.distance[-1] < r.distance[0]


def test_a_condition_number_of_ten_thousand_needs_more_than_five_steps():
    five = xmuon.compute_orthogonalisation((24, 24), ns_steps=5, condition=1e4)
    ten = xmuon.compute_orthogonalisation((24, 24), ns_steps=10, condition=1e4)
    assert five.band[0] < 0.3  # the smallest σ/‖u‖_F ≈ 2e-5 has grown only by about a^5 = 490
    assert ten.band[0] > 0.65


def test_each_row_is_what_muon_applies_with_that_many_steps_and_the_quintic_predicts_it():
    r = xmuon.compute_orthogonalisation((12, 7), ns_steps=6, condition=30.0, seed=2)
    u = xmuon.random_matrix((12, 7), 30.0, seed=2)
    assert r.singular_values.shape == r.predicted.shape == (7, 7) and r.distance.shape == (7,)
    for k in range(7):
        x = newton_schulz(u, NS_COEFFICIENTS, k).double()
        assert np.array_equal(r.singular_values[k], torch.linalg.svdvals(x).numpy())
        assert np.allclose(np.sort(r.predicted[k]), np.sort(r.singular_values[k]), atol=0.03)
    assert np.allclose(r.predicted[0], r.initial / np.linalg.norm(r.initial))
    assert np.array_equal(r.target, np.ones(7))


def test_the_random_matrix_has_the_condition_number_asked_for():
    for shape, condition in [((6, 4), 100.0), ((4, 6), 7.0), ((5, 5), 1.0)]:
        s = torch.linalg.svdvals(xmuon.random_matrix(shape, condition, seed=1))
        assert s.max().item() == pytest.approx(1.0)
        assert (s.max() / s.min()).item() == pytest.approx(condition)


def test_small_singular_values_grow_by_a_per_step_with_the_quintic_and_by_1_5_with_the_cubic():
    assert xmuon.quintic(1e-4) / 1e-4 == pytest.approx(3.4445, rel=1e-6)
    assert xmuon.quintic(1e-4, xmuon.CUBIC_COEFFICIENTS) / 1e-4 == pytest.approx(1.5, rel=1e-6)
    assert xmuon.quintic_band(xmuon.CUBIC_COEFFICIENTS) == (1.0, 1.0)
    cubic = xmuon.compute_orthogonalisation(ns_steps=5, ns_coefficients=xmuon.CUBIC_COEFFICIENTS)
    quintic = xmuon.compute_orthogonalisation(ns_steps=5)
    assert cubic.band[0] < 0.1 < 0.65 < quintic.band[0]  # the quintic lifts small σ much faster
    assert max(abs(x - 1) for x in xmuon.quintic_band()) > 0.1  # at a price: it stays off 1


def test_zero_steps_is_the_normalised_matrix_and_a_row_vector_has_one_singular_value():
    r = xmuon.compute_orthogonalisation((16, 8), ns_steps=0, condition=10.0)
    assert r.singular_values.shape == (1, 8)
    assert np.allclose(r.singular_values[0], r.initial / np.linalg.norm(r.initial), atol=0.01)
    assert "after 0 steps" in r.status and math.isfinite(r.distance[0])
    row = xmuon.compute_orthogonalisation((1, 7), ns_steps=5)
    assert row.singular_values.shape == (6, 1) and "after 5 steps" in row.status


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"shape": (4, 0)}, ValueError, r"^shape\[1\] must be an integer >= 1, got 0$"),
        ({"shape": (4, 4, 4)}, ValueError, r"^shape must be two integers >= 1"),
        ({"shape": (4.0, 4)}, TypeError, r"^shape\[0\] must be an integer >= 1"),
        ({"ns_steps": -1}, ValueError, r"^ns_steps must be an integer in \[0, 99\], got -1$"),
        ({"ns_steps": 100}, ValueError, r"^ns_steps must be an integer in \[0, 99\]"),
        ({"condition": 0.5}, ValueError, r"^condition must be a finite number >= 1, got 0\.5$"),
        ({"condition": math.inf}, ValueError, r"^condition must be a finite number >= 1"),
        ({"seed": -1}, ValueError, r"^seed must be an integer >= 0, got -1$"),
        ({"ns_coefficients": (1.0, 2.0)}, TypeError, r"^ns_coefficients must be a tuple of three"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        xmuon.compute_orthogonalisation(**kwargs)
