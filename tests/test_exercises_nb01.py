"""Notebook 01's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb01

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb01.check_divergence_threshold: 0.5,  # 2/L with L = 4
    nb01.check_optimal_step: 0.8,  # 2/(L + mu), L = 2, mu = 0.5
    nb01.check_steps_ratio: math.log(9 / 11) / math.log(999 / 1001),  # about 100
    nb01.check_batch_size_for_quarter_variance: 128,
    nb01.check_critical_point_kind: "saddle",  # eigenvalues (3, -0.5): both signs
    nb01.check_decaying_rate_exponent: -0.5,
    nb01.check_sqrt_schedule: lambda t: 0.5 / math.sqrt(t + 1),
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", [1, 2], True, float("nan")))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (
            nb01.check_divergence_threshold,
            0.25,
            "Not quite: 1/L = 0.25 is the step that zeroes the steepest direction in one step",
        ),
        (
            nb01.check_divergence_threshold,
            8.0,
            "Not quite: the curvature divides, it does not multiply. Solve |1 - lr·L| = 1 for lr.",
        ),
        (
            nb01.check_divergence_threshold,
            0.6,
            "Not quite (0.6). Solve |1 - lr·L| = 1 for lr with L = 4.",
        ),
        (
            nb01.check_optimal_step,
            1.0,
            "Not quite: 2/L is the edge of divergence, where the steep direction stops shrinking.",
        ),
        (
            nb01.check_optimal_step,
            0.5,
            "Not quite: 1/L is safe, but then the flat direction shrinks by only 1 - ℓ/L per step. "
            "Make |1 - lr·L| and |1 - lr·ℓ| equal.",
        ),
        (nb01.check_optimal_step, 2.0, "Not quite: 1/ℓ overshoots the steep direction badly"),
        (
            nb01.check_optimal_step,
            0.7,
            "Not quite (0.7). Make |1 - lr·L| equal to |1 - lr·ℓ| with ℓ = L/kappa.",
        ),
        (
            nb01.check_steps_ratio,
            10.0,
            "Not quite: sqrt(kappa) is the scaling of momentum (notebook 02). Plain GD is worse.",
        ),
        (nb01.check_steps_ratio, 50.0, "Too few: compare log((k-1)/(k+1)) for both kappas"),
        (nb01.check_steps_ratio, 1000.0, "Too many: compare log((k-1)/(k+1)) for both kappas"),
        (
            nb01.check_batch_size_for_quarter_variance,
            64,
            "Not quite: doubling B halves the variance (and divides the std by sqrt 2).",
        ),
        (
            nb01.check_batch_size_for_quarter_variance,
            512,
            "Not quite: that would quarter the standard deviation, not the variance.",
        ),
        (
            nb01.check_batch_size_for_quarter_variance,
            100,
            "Not quite (100). The variance of a mean of B samples is sigma^2 / B.",
        ),
    ],
)
def test_check_rejects_typical_mistakes_with_a_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_checks_follow_their_parameters():
    assert nb01.check_divergence_threshold(2.0 / 10.0, L=10.0)
    assert nb01.check_optimal_step(2.0 / 1.01, L=1.0, condition_number=100.0)
    assert nb01.check_batch_size_for_quarter_variance(64, batch_size=16)


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb01.check_critical_point_kind, "minimum", "One eigenvalue is negative"),
        (nb01.check_critical_point_kind, "maximum", "look at the signs of both eigenvalues"),
        (nb01.check_decaying_rate_exponent, -1.0, "gamma_t ~ 1/t gives on a strongly convex"),
        (nb01.check_decaying_rate_exponent, 0.0, "the constant rate, which stalls"),
        (nb01.check_decaying_rate_exponent, 0.5, "check the sign"),
        (nb01.check_sqrt_schedule, lambda t: 0.5 / math.sqrt(t), "t starts at 0"),
        (nb01.check_sqrt_schedule, lambda t: 0.5 / (t + 1), "lr_at(1) = 0.25, expected 0.353553"),
    ],
)
def test_new_checks_reject_typical_mistakes_with_a_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_sqrt_schedule_check_guides_an_unfinished_answer_and_reports_the_measured_exponent(capsys):
    def unfinished(t):
        raise NotImplementedError

    assert nb01.check_sqrt_schedule(unfinished) is False
    assert "Write the body of lr_at" in capsys.readouterr().out
    assert nb01.check_sqrt_schedule(lambda t: 0.5 / math.sqrt(t + 1)) is True
    assert "falls like t^-0." in capsys.readouterr().out
    assert nb01.check_critical_point_kind("minimum", eigenvalues=(2.0, 1.0)) is True
