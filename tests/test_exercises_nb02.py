"""Notebook 02's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests

from course_lib.exercises import nb02

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb02.check_optimal_momentum: (9 / 11) ** 2,  # kappa = 100
    nb02.check_optimal_lr: 4 / (1 + 0.1) ** 2,  # L = 1, lambda_min = 0.01
    nb02.check_terminal_step: 0.5,  # 0.1 * (1 - 0.5) / (1 - 0.9)
    nb02.check_speedup: math.log(9 / 11) / math.log(99 / 101),  # about 10
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", {}, False, float("inf")))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb02.check_optimal_momentum, 9 / 11, "the rate"),
        (nb02.check_optimal_momentum, 0.9, "popular defaults"),
        (nb02.check_optimal_momentum, 0.5, "Not quite (0.5)"),
        (nb02.check_optimal_lr, 2.0, "gradient descent's limit"),
        (nb02.check_optimal_lr, 2 / 1.01, "gradient descent's limit"),
        (nb02.check_optimal_lr, 1.0, "Not quite (1)"),
        (nb02.check_terminal_step, 1.0, "ignores the dampening"),
        (nb02.check_terminal_step, 0.1, "single gradient"),
        (nb02.check_terminal_step, 0.05, "single gradient"),
        (nb02.check_speedup, 100.0, "not kappa"),
        (nb02.check_speedup, (99 / 101) / (9 / 11), "logarithms"),
    ],
)
def test_check_rejects_typical_mistakes_with_a_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    assert hint in capsys.readouterr().out


def test_checks_follow_their_parameters():
    assert nb02.check_optimal_momentum(((10 - 1) / (10 + 1)) ** 2, condition_number=100.0)
    assert nb02.check_optimal_momentum((math.sqrt(10) - 1) ** 2 / (math.sqrt(10) + 1) ** 2, 10.0)
    assert nb02.check_terminal_step(1.0, lr=0.1, momentum=0.9, dampening=0.0)
    assert nb02.check_speedup(math.log(0.5) / math.log(0.8), condition_number=9.0)
