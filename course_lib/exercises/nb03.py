"""Self-checks for notebook 03 (adaptive methods)."""

from __future__ import annotations

import math

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number

__all__ = ["check_adagrad_rate", "check_rotation_invariant", "check_uncorrected_first_step"]


def check_uncorrected_first_step(answer) -> bool:
    """Exercise 1: Adam's first step without bias correction, in units of γ (β1=0.9, β2=0.999).

    The reference: m_1 = (1-β1) g and v_1 = (1-β2) g², so m_1/√v_1 = (1-β1)/√(1-β2) = 0.1/√0.001
    ≈ 3.162 (up to the sign of g and ε).
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 0.1 / math.sqrt(0.001)
    if math.isclose(abs(value), expected, rel_tol=0.01):
        print(
            f"Correct: (1-β1)/√(1-β2) = {expected:.3f}. Without the correction Adam's first steps "
            "are about three times larger than γ; with it they are about γ."
        )
        return True
    if math.isclose(value, 1.0, rel_tol=0.01):
        print("That is the corrected step (m̂/√v̂ = 1 for a constant gradient). Drop the 1/(1-β^t).")
    elif math.isclose(value, 0.1, rel_tol=0.01):
        print("Not quite: that is m_1/g. Divide by √v_1 = √(1-β2)·|g| as well.")
    else:
        print(f"Not quite ({value:g}). Write m_1 and v_1 for a constant gradient g, then m_1/√v_1.")
    return False


def check_adagrad_rate(answer) -> bool:
    """Exercise 2: AdaGrad's effective rate γ/√G_t after t=100 steps of g=2, γ=0.1 (ε=0, G_0=0).

    The reference: G_100 = 100·2² = 400, so γ/√G = 0.1/20 = 0.005.
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, 0.005, rel_tol=0.01):
        print("Correct: G_100 = 100·4 = 400, so the rate is 0.1/20 = 0.005 (and the step 0.01).")
        return True
    if math.isclose(value, 0.01, rel_tol=0.01):
        print("That is the step γ·g/√G. The question asks for the rate γ/√G (without g).")
    elif math.isclose(value, 0.05, rel_tol=0.01):
        print("Not quite: the sum holds squared gradients, G = t·g² = 400, not t·g.")
    else:
        print(f"Not quite ({value:g}). G_t adds g² every step; the rate is γ/√G_t.")
    return False


_ADAPTIVE = {"adagrad", "rmsprop", "adam", "amsgrad", "nadam"}
_INVARIANT = {"sgd", "momentum"}


def check_rotation_invariant(answer) -> bool:
    """Exercise 3: which race optimizers give the same losses when the problem is rotated?

    The reference: {"SGD", "Momentum"}. Their updates are linear in the gradient, so they commute
    with a rotation; the adaptive ones divide coordinate by coordinate and do not.
    """
    if _missing(answer):
        return False
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        print(f"Answer with a set of names such as {{'SGD', 'Adam'}}, got {answer!r}.")
        return False
    given = {str(a).strip().lower() for a in answer}
    unknown = given - _ADAPTIVE - _INVARIANT
    if unknown:
        print(
            f"Unknown names {sorted(unknown)}; choose among SGD, Momentum, Adagrad, RMSprop, Adam."
        )
        return False
    if given == _INVARIANT:
        print(
            "Correct: SGD and momentum only add multiples of gradients, so rotating the problem "
            "rotates their path. The adaptive methods rescale each coordinate separately: their "
            "per-coordinate rates belong to the axes, not to the problem."
        )
        return True
    wrong = sorted(given & _ADAPTIVE)
    if wrong:
        print(
            f"Not quite: {wrong} divide every coordinate by its own √v or √G, which depends on "
            "the axes. Compare their loss curves on 'quadratic' and 'rotated quadratic'."
        )
    else:
        print("Not quite: one method whose losses do not change under rotation is missing.")
    return False
