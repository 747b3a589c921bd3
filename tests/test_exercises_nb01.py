"""Notebook 01's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests

from course_lib.exercises import nb01

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb01.check_divergence_threshold: 0.5,  # 2/L with L = 4
    nb01.check_optimal_step: 0.8,  # 2/(L + mu), L = 2, mu = 0.5
    nb01.check_steps_ratio: math.log(9 / 11) / math.log(999 / 1001),  # about 100
    nb01.check_batch_size_for_quarter_variance: 128,
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", [1, 2], True, float("nan")))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb01.check_divergence_threshold, 0.25, "1/L"),
        (nb01.check_divergence_threshold, 8.0, "divides"),
        (nb01.check_divergence_threshold, 0.6, "Solve"),
        (nb01.check_optimal_step, 1.0, "edge of divergence"),
        (nb01.check_optimal_step, 0.5, "1/L is safe"),
        (nb01.check_optimal_step, 2.0, "1/mu overshoots"),
        (nb01.check_steps_ratio, 10.0, "sqrt(kappa)"),
        (nb01.check_steps_ratio, 50.0, "Too few"),
        (nb01.check_batch_size_for_quarter_variance, 64, "doubling"),
        (nb01.check_batch_size_for_quarter_variance, 512, "standard deviation"),
    ],
)
def test_check_rejects_typical_mistakes_with_a_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    assert hint in capsys.readouterr().out


def test_checks_follow_their_parameters():
    assert nb01.check_divergence_threshold(2.0 / 10.0, L=10.0)
    assert nb01.check_optimal_step(2.0 / 1.01, L=1.0, condition_number=100.0)
    assert nb01.check_batch_size_for_quarter_variance(64, batch_size=16)
