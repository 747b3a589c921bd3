"""Reference solutions of notebook 03's exercises: the checks accept them, and for typical mistakes they
say what went wrong (the hint text is asserted, not only the False)."""

import math

import pytest

from course_lib.exercises import nb03
from course_lib.widgets import adaptive as wa


def test_uncorrected_first_step_accepts_the_reference(capsys):
    reference = (1 - 0.9) / math.sqrt(1 - 0.999)
    assert nb03.check_uncorrected_first_step(reference)
    assert nb03.check_uncorrected_first_step(3.16)
    assert nb03.check_uncorrected_first_step(-3.162)  # the sign of g does not matter
    assert "Correct: (1-β1)/√(1-β2) = 3.162" in capsys.readouterr().out
    # The exercise's answer is what the bias-correction explorer computes.
    assert wa.bias_correction(0.9, 0.999).first_step_ratio == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (1.0, "That is the corrected step"),  # forgot to drop the correction
        (0.1, "that is m_1/g. Divide by √v_1"),  # forgot the denominator
        (10.0, "Not quite (10). Write m_1 and v_1"),  # 1/√(1-β2) with β2 = 0.99 by mistake
        (31.6, "Not quite (31.6). Write m_1 and v_1"),  # 1/√(1-β2) without (1-β1)
        ("3,16", "Answer with a number, got '3,16'"),  # unparsable text is not a crash
    ],
)
def test_uncorrected_first_step_explains_typical_mistakes(wrong, hint, capsys):
    assert nb03.check_uncorrected_first_step(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_adagrad_rate_accepts_the_reference(capsys):
    assert nb03.check_adagrad_rate(0.1 / math.sqrt(100 * 2.0**2))
    assert "Correct: G_100 = 100·4 = 400" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (0.01, "That is the step γ·g/√G"),  # multiplied by g
        (0.05, "the sum holds squared gradients, G = t·g² = 400"),  # summed g, not g²
        (0.1, "Not quite (0.1). G_t adds g² every step"),  # forgot the accumulator
    ],
)
def test_adagrad_rate_explains_typical_mistakes(wrong, hint, capsys):
    assert nb03.check_adagrad_rate(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_rotation_invariant_accepts_the_reference_in_any_spelling(capsys):
    assert nb03.check_rotation_invariant({"SGD", "Momentum"})
    assert nb03.check_rotation_invariant(["sgd", " momentum"])
    assert "Correct: SGD and momentum only add multiples of gradients" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ({"SGD"}, "one method whose losses do not change under rotation is missing"),
        ({"SGD", "Momentum", "Adam"}, "['adam'] divide every coordinate by its own √v or √G"),
        ({"Adagrad", "RMSprop"}, "['adagrad', 'rmsprop'] divide every coordinate"),
        ({"Lion"}, "Unknown names ['lion']"),
        ("SGD", "Answer with a set of names"),
        (3, "Answer with a set of names"),
    ],
)
def test_rotation_invariant_explains_wrong_sets(wrong, hint, capsys):
    assert nb03.check_rotation_invariant(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


@pytest.mark.parametrize(
    "check",
    [nb03.check_uncorrected_first_step, nb03.check_adagrad_rate, nb03.check_rotation_invariant],
)
def test_checks_ask_for_an_answer_and_never_raise(check, capsys):
    assert check(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert check(object()) is False
    assert check(float("nan")) is False


def _yogi_v(v, g, beta2):
    """The reference solution of exercise 7."""
    g2 = g * g
    return v - (1 - beta2) * math.copysign(1.0, v - g2) * g2 if v != g2 else v


@pytest.mark.parametrize(
    ("check", "answer", "praise"),
    [
        (nb03.check_preconditioned_condition_number, 50.0, "Correct: 50."),
        (nb03.check_rare_feature_rate_ratio, 10.0, "Correct: √(400/4) = 10."),
        (nb03.check_adadelta_first_step, math.sqrt(1e-6 / 0.1), "Correct: √(ε/(1-ρ)) = 0.003162"),
        (nb03.check_yogi_update, _yogi_v, "Correct: after the burst your v is"),
    ],
)
def test_new_checks_accept_the_reference_and_ask_for_an_answer(check, answer, praise, capsys):
    assert check(answer) is True
    assert praise in capsys.readouterr().out
    assert check(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    for junk in ("abc", True, float("nan")):
        assert check(junk) is False
    assert "Answer with" in capsys.readouterr().out


def _unfinished(v, g, beta2):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb03.check_preconditioned_condition_number, 1.0, "1 is the aligned case"),
        (nb03.check_preconditioned_condition_number, 7.0, "Compute diag(H) of R diag(L, ℓ) Rᵀ"),
        (nb03.check_rare_feature_rate_ratio, 100.0, "divides by the square root of G"),
        (nb03.check_rare_feature_rate_ratio, 0.1, "that is common over rare"),
        (nb03.check_adadelta_first_step, 1e-3, "√ε is the numerator"),
        (nb03.check_adadelta_first_step, 1.0, "would be a step of γ = 1"),
        (nb03.check_yogi_update, lambda v, g, b: b * v + (1 - b) * g * g, "gives Adam's v"),
        (
            nb03.check_yogi_update,
            lambda v, g, b: v + (1 - b) * g * g,
            "moves v by (1-β2)·g² towards",
        ),
        (nb03.check_yogi_update, _unfinished, "Write the body of yogi_v"),
        (nb03.check_yogi_update, lambda v, g: v, "yogi_v raised TypeError"),
    ],
)
def test_new_checks_explain_typical_mistakes(check, wrong, hint, capsys):
    assert check(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_preconditioning_exercise_matches_the_computed_condition_number():
    import numpy as np

    from course_lib.experiments import adaptive, theory

    H = theory.hessian(adaptive.race_landscape("rotated quadratic"), (0.0, 0.0))
    kappa = theory.preconditioned_condition_number(H, np.diag(np.diag(H)))
    assert nb03.check_preconditioned_condition_number(kappa)
