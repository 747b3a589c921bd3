"""Notebook 08's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests

from course_lib.exercises import nb08

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb08.check_sweep_lr: math.sqrt(1e-6 * 10.0),  # the geometric midpoint, 10 ** -2.5
    nb08.check_smoothed_loss: (0.98 * 0.02 * 2.0 + 0.02 * 1.0) / (1 - 0.98**2),  # 1.4949...
    nb08.check_onecycle_momentum: 0.85,  # base_momentum at the peak rate
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), float("inf"), object(), [1, 2]))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb08.check_sweep_lr, 5.0000005, "arithmetic midpoint"),
        (nb08.check_sweep_lr, 1e-3, "Plug t=50"),
        (nb08.check_smoothed_loss, 0.0592, "raw average"),
        (nb08.check_smoothed_loss, 1.5, "plain mean"),
        (nb08.check_smoothed_loss, 1.0, "recursion"),
        (nb08.check_onecycle_momentum, 0.95, "rate is lowest"),
        (nb08.check_onecycle_momentum, 0.9, "overwrites"),
        (nb08.check_onecycle_momentum, 0.5, "Record"),
    ],
)
def test_check_rejects_a_typical_mistake_with_a_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    assert hint in capsys.readouterr().out


def test_checks_follow_their_arguments(capsys):
    assert nb08.check_sweep_lr(1e-2, start_lr=1e-4, end_lr=1.0, num_iter=3, t=1) is True
    assert nb08.check_smoothed_loss(3.0, losses=(3.0,)) is True
    capsys.readouterr()
