"""Reference solutions of notebook 03's exercises: the checks accept them and reject typical mistakes."""

import math

import pytest

from course_lib.exercises import nb03
from course_lib.widgets import adaptive as wa


def test_uncorrected_first_step_accepts_the_reference(capsys):
    reference = (1 - 0.9) / math.sqrt(1 - 0.999)
    assert nb03.check_uncorrected_first_step(reference)
    assert nb03.check_uncorrected_first_step(3.16)
    assert "Correct" in capsys.readouterr().out
    # The exercise's answer is what the bias-correction explorer computes.
    assert wa.bias_correction(0.9, 0.999).first_step_ratio == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("wrong", [1.0, 0.1, 10.0, 31.6])
def test_uncorrected_first_step_rejects_typical_mistakes(wrong, capsys):
    assert not nb03.check_uncorrected_first_step(wrong)
    hint = capsys.readouterr().out
    assert hint.strip() and "Correct" not in hint


def test_adagrad_rate_accepts_the_reference_and_explains_mistakes(capsys):
    assert nb03.check_adagrad_rate(0.1 / math.sqrt(100 * 2.0**2))
    assert not nb03.check_adagrad_rate(0.01)
    assert "the step" in capsys.readouterr().out
    assert not nb03.check_adagrad_rate(0.05)
    assert not nb03.check_adagrad_rate(0.1)


def test_rotation_invariant_accepts_the_reference_in_any_spelling():
    assert nb03.check_rotation_invariant({"SGD", "Momentum"})
    assert nb03.check_rotation_invariant(["sgd", " momentum"])


@pytest.mark.parametrize(
    "wrong", [{"SGD"}, {"SGD", "Momentum", "Adam"}, {"Adagrad", "RMSprop"}, {"Lion"}, "SGD", 3]
)
def test_rotation_invariant_rejects_wrong_sets(wrong):
    assert not nb03.check_rotation_invariant(wrong)


@pytest.mark.parametrize(
    "check",
    [nb03.check_uncorrected_first_step, nb03.check_adagrad_rate, nb03.check_rotation_invariant],
)
def test_checks_ask_for_an_answer_and_never_raise(check, capsys):
    assert check(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert check(object()) is False
    assert check(float("nan")) is False
