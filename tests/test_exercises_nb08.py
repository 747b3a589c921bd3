"""Notebook 08's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests, rejects_with_hint

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
        # the arithmetic midpoint (1e-6 + 10) / 2 instead of the geometric one
        (
            nb08.check_sweep_lr,
            5.0000005,
            "That is the arithmetic midpoint: the sweep is exponential",
        ),
        (
            nb08.check_sweep_lr,
            1e-3,
            "Not quite (0.001). Plug t=50, T=101 into gamma_0 (gamma_1/gamma_0)^(t/(T-1)).",
        ),
        # the raw average a_1 = 0.98 * 0.02 * 2 + 0.02 * 1, without the bias correction
        (nb08.check_smoothed_loss, 0.0592, "That is the raw average a_t: divide by 1 - beta^(t+1)"),
        (nb08.check_smoothed_loss, 1.5, "That is the plain mean; the moving average weights"),
        (nb08.check_smoothed_loss, 1.0, "Not quite (1). Run the two-line recursion by hand"),
        (nb08.check_onecycle_momentum, 0.95, "0.95 is the momentum at the start and the end"),
        (
            nb08.check_onecycle_momentum,
            0.9,
            "0.9 is the optimizer's own momentum; OneCycleLR overwrites",
        ),
        (nb08.check_onecycle_momentum, 0.5, "Not quite (0.5). Record param_groups[0]['momentum']"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    out = rejects_with_hint(check, wrong, hint, capsys)
    assert out.count("\n") == 1  # one hint line


@pytest.mark.parametrize(
    ("check", "junk", "hint"),
    [
        (nb08.check_sweep_lr, "abc", "Answer with a number, got 'abc'."),
        (nb08.check_smoothed_loss, True, "Answer with a number, got True."),
        (nb08.check_onecycle_momentum, float("nan"), "Answer with a finite number, got nan."),
    ],
)
def test_check_says_why_an_answer_is_not_a_number(check, junk, hint, capsys):
    assert check(junk) is False
    assert capsys.readouterr().out.strip() == hint


def test_checks_follow_their_arguments(capsys):
    assert nb08.check_sweep_lr(1e-2, start_lr=1e-4, end_lr=1.0, num_iter=3, t=1) is True
    assert nb08.check_smoothed_loss(3.0, losses=(3.0,)) is True
    capsys.readouterr()
