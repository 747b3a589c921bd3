"""Notebook 10's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb10


def wsd_factor(step, total_steps=100, warmup_steps=10, decay_steps=20):
    """The reference solution of the coding exercise: WSD's factor with a 1-sqrt cooldown."""
    if step < warmup_steps:
        return step / warmup_steps
    decay_start = total_steps - decay_steps
    if step < decay_start:
        return 1.0
    return 1.0 - math.sqrt(min(step - decay_start, decay_steps) / decay_steps)


SOLUTIONS = {
    nb10.check_wsd_rate: 0.005,  # step 900 is half way down the cooldown of steps 800 .. 1000
    nb10.check_anytime_steps: 1150,  # 800 trunk steps + 50 + 100 + 200 cooldown steps
    nb10.check_ema_mean_age: 99,  # beta / (1 - beta)
    nb10.check_wsd_lambda: wsd_factor,
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), object(), [1, 2]))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb10.check_wsd_rate, 0.01, "0.01 is the stable rate"),
        (nb10.check_wsd_rate, 0.01 * (1 - math.sqrt(0.5)), "That is the 1-sqrt cooldown's rate"),
        (nb10.check_wsd_rate, 0.0075, "Not quite (0.0075). Find T_s = T - 0.2 T"),
        (nb10.check_anytime_steps, 1750, "That is one cosine run per budget from scratch"),
        (nb10.check_anytime_steps, 1350, "Almost: the trunk only needs to reach the last branch"),
        (nb10.check_anytime_steps, 1000, "Not quite (1000). Add the trunk up to 0.8 x 1000"),
        (nb10.check_ema_mean_age, 100, "the usual 'window' 1/(1 - beta)"),
        (nb10.check_ema_mean_age, 69, "That is the half-life"),
        (nb10.check_ema_mean_age, 50, "Not quite (50). Sum k (1 - beta) beta^k"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    out = rejects_with_hint(check, wrong, hint, capsys)
    assert out.count("\n") == 1  # one hint line


def linear_instead_of_sqrt(step):
    if step < 10:
        return step / 10
    return 1.0 if step < 80 else 1.0 - min(step - 80, 20) / 20


def cooldown_starts_late(step):
    return wsd_factor(step, decay_steps=19)


def warmup_off_by_one(step):
    return min(1.0, (step + 1) / 10) if step < 80 else wsd_factor(step)


def unfinished(step):
    raise NotImplementedError


def crashes_at_the_cooldown(step):
    if step >= 80:
        raise ZeroDivisionError("division by zero")
    return wsd_factor(step)


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (
            linear_instead_of_sqrt,
            "Step 81 (cooldown phase) is wrong: LambdaLR gives lr 0.095, WSD wants 0.0776393",
        ),
        (cooldown_starts_late, "Step 81 (cooldown phase) is wrong"),
        (warmup_off_by_one, "Step 0 (warm-up phase) is wrong: LambdaLR gives lr 0.01, WSD wants 0"),
        (unfinished, "Write the body of your function (replace `raise NotImplementedError`)"),
        (
            crashes_at_the_cooldown,
            "Your function raised ZeroDivisionError at step 80: division by zero",
        ),
        (lambda step: "one", "Your function returned 'one' at step 0: return the factor"),
    ],
    ids=["linear", "late", "warmup", "unfinished", "crash", "not-a-number"],
)
def test_the_coding_check_names_the_first_wrong_step_or_what_went_wrong(fn, hint, capsys):
    rejects_with_hint(nb10.check_wsd_lambda, fn, hint, capsys)


def test_the_coding_check_follows_its_arguments(capsys):
    def linear_wsd(step):
        if step < 5:
            return step / 5
        return 1.0 if step < 40 else 1.0 - min(step - 40, 10) / 10

    assert nb10.check_wsd_lambda(
        linear_wsd, total_steps=50, warmup_steps=5, decay_steps=10, cooldown="linear"
    )
    assert not nb10.check_wsd_lambda(linear_wsd)
    capsys.readouterr()
