"""Notebook 02's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb02

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb02.check_optimal_momentum: (9 / 11) ** 2,  # kappa = 100
    nb02.check_optimal_lr: 4 / (1 + 0.1) ** 2,  # L = 1, lambda_min = 0.01
    nb02.check_terminal_step: 0.5,  # 0.1 * (1 - 0.5) / (1 - 0.9)
    nb02.check_speedup: math.log(9 / 11) / math.log(99 / 101),  # 10.03, per further factor
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", {}, False, float("inf")))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb02.check_optimal_momentum, 9 / 11, "Not quite: that is the rate sqrt(mu*)"),
        (nb02.check_optimal_momentum, 0.9, "0.9 / 0.99 are popular defaults, not the optimum"),
        (
            nb02.check_optimal_momentum,
            0.5,
            "Not quite (0.5). Use ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2",
        ),
        (nb02.check_optimal_lr, 2.0, "that is gradient descent's limit / best step"),
        (nb02.check_optimal_lr, 2 / 1.01, "that is gradient descent's limit / best step"),
        (nb02.check_optimal_lr, 1.0, "Not quite (1). Use 4/(sqrt(L) + sqrt(l))^2 with l = L/kappa"),
        (nb02.check_terminal_step, 1.0, "that ignores the dampening"),
        (nb02.check_terminal_step, 0.1, "that is a single gradient's step"),
        (nb02.check_terminal_step, 0.05, "that is a single gradient's step"),
        (
            nb02.check_terminal_step,
            0.3,
            "Not quite (0.3). Find the fixed point of b = mu b + (1 - tau) g",
        ),
        (nb02.check_speedup, 691 / 94, "7.35 is the ratio of the step counts from the start"),
        (nb02.check_speedup, 7.4, "still include the heavy ball's start-up"),
        (nb02.check_speedup, 100.0, "the gain is not kappa itself"),
        (nb02.check_speedup, (99 / 101) / (9 / 11), "compare the logarithms of the rates"),
        (nb02.check_speedup, 5.0, "Not quite (5). Steps per factor ~ 1/(-log rate)"),
    ],
)
def test_check_rejects_typical_mistakes_with_a_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_checks_follow_their_parameters():
    assert nb02.check_optimal_momentum(((10 - 1) / (10 + 1)) ** 2, condition_number=100.0)
    assert nb02.check_optimal_momentum((math.sqrt(10) - 1) ** 2 / (math.sqrt(10) + 1) ** 2, 10.0)
    assert nb02.check_terminal_step(1.0, lr=0.1, momentum=0.9, dampening=0.0)
    assert nb02.check_speedup(math.log(0.5) / math.log(0.8), condition_number=9.0)


def test_speedup_check_counts_steps_with_the_notebooks_loop(capsys):
    # notebook 02, section 5: 691 GD steps and 94 heavy-ball steps to shrink |theta| 10^6-fold
    assert nb02.check_speedup(10.0) is True  # sqrt(kappa) is within 10 % of 10.03
    assert "10.03" in capsys.readouterr().out
    assert nb02.check_speedup(691 / 94) is False
    assert "7.35 is the ratio" in capsys.readouterr().out
    assert nb02.check_speedup(8.5) is False  # neither the limit nor the count ratio
    assert "Not quite (8.5)" in capsys.readouterr().out
