"""Self-checks for notebook A1 (Keras 3 on the torch backend).

The expected answers are computed here from the rules measured in the notebook (no Keras import needed):
Keras's Adam adds its epsilon before bias correction, ``PiecewiseConstantDecay`` switches one step after
each boundary, and Keras's ``ReduceLROnPlateau`` reduces when ``wait >= patience``.
"""

from __future__ import annotations

import math

import numpy as np

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_integer as _read_integer
from course_lib.exercises._answers import read_real as _read_real

__all__ = [
    "check_adam_first_step_eps",
    "check_adam_gradient_scale",
    "check_piecewise_milestones",
    "check_plateau_patience",
    "keras_piecewise_curve",
    "multistep_curve",
]


def check_adam_first_step_eps(answer, epsilon: float = 1e-7, beta2: float = 0.999) -> bool:
    """Exercise 1: torch's ``eps`` that reproduces the first step of Keras's Adam(epsilon).

    Keras: :math:`\\theta \\mathrel{-}= \\hat\\gamma_t\\, m_t / (\\sqrt{v_t} + \\hat\\varepsilon)` with
    :math:`\\hat\\gamma_t = \\gamma \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t)` (:math:`\\gamma` is ``lr``); in torch
    terms :math:`\\varepsilon_t = \\hat\\varepsilon / \\sqrt{1 - \\beta_2^t}`; at :math:`t = 1` that is
    ``1e-7 / sqrt(0.001)``, about 3.16e-6.
    """
    value = _read_real(answer)
    if value is None:
        return False
    expected = epsilon / math.sqrt(1 - beta2)
    if value > 0 and abs(value / expected - 1) < 0.02:
        print(
            f"Correct: eps = epsilon / sqrt(1 - beta2) = {expected:.3g}. At step t it is "
            f"epsilon / sqrt(1 - beta2**t), which tends to {epsilon:g} as t grows."
        )
        return True
    if math.isclose(value, epsilon, rel_tol=0.02):
        print(
            "Not quite: Keras adds epsilon to sqrt(v_t) BEFORE the bias correction. Divide "
            "numerator and denominator by sqrt(1 - beta2**t) to see torch's form."
        )
    elif math.isclose(value, 1e-8, rel_tol=0.02):
        print("Not quite: 1e-8 is torch's default, which differs from Keras's at every step.")
    elif value > 0 and abs(value / (epsilon * (1 - beta2)) - 1) < 0.02:
        print("Close, but the bias correction of v enters through its square root.")
    else:
        print(
            f"Not quite ({value:g}). Write both updates with v_hat = v / (1 - beta2**t) and compare "
            "the denominators at t = 1."
        )
    return False


def keras_piecewise_curve(boundaries, values, steps: int) -> np.ndarray:
    """Keras's ``PiecewiseConstantDecay`` rule: ``values[i]`` while ``boundaries[i-1] < t <= boundaries[i]``."""
    t = np.arange(steps)
    index = np.searchsorted(np.asarray(boundaries), t, side="left")
    return np.asarray(values, dtype=np.float64)[index]


def multistep_curve(lr: float, milestones, gamma: float, steps: int) -> np.ndarray:
    """torch's ``MultiStepLR`` values: ``lr * gamma ** #{milestones <= t}``."""
    t = np.arange(steps)
    count = np.searchsorted(np.sort(np.asarray(milestones)), t, side="right")
    return lr * gamma**count


def check_piecewise_milestones(answer, boundaries=(300, 600)) -> bool:
    """Exercise 2: MultiStepLR milestones equal to Keras's PiecewiseConstantDecay(boundaries)."""
    if _missing(answer):
        return False
    try:
        milestones = [int(m) for m in answer]
    except (TypeError, ValueError):
        print(f"Answer with a list of integers, got {answer!r}.")
        return False
    if any(m != a for m, a in zip(milestones, answer)):
        print(f"Answer with whole numbers, got {answer!r}.")
        return False
    values = [0.1 * 0.1**i for i in range(len(boundaries) + 1)]
    steps = boundaries[-1] + 100
    keras = keras_piecewise_curve(boundaries, values, steps)
    torch_like = multistep_curve(0.1, milestones, 0.1, steps)
    if len(milestones) == len(boundaries) and np.allclose(keras, torch_like, rtol=1e-12):
        print(
            f"Correct: milestones {milestones}. Keras keeps values[i] while step <= boundary, so the "
            "rate changes one step after each boundary; MultiStepLR changes it AT the milestone."
        )
        return True
    if milestones == list(boundaries):
        print(
            "Not quite: with milestones equal to the boundaries torch switches one step too early. "
            "At step 300 Keras still uses 0.1 (its test is step <= boundary)."
        )
    else:
        first = int(np.flatnonzero(~np.isclose(keras, torch_like))[0])
        print(
            f"Not quite: the two curves first differ at step {first} (Keras {keras[first]:g}, "
            f"MultiStepLR {torch_like[first]:g})."
        )
    return False


def check_plateau_patience(answer, keras_patience: int = 5) -> bool:
    """Exercise 3: torch's patience equal to Keras's ReduceLROnPlateau(patience)."""
    if _read_integer(answer) is None:
        return False
    expected = keras_patience - 1
    if answer == expected:
        print(
            f"Correct: {expected}. Keras reduces when wait >= patience, torch when "
            "num_bad_epochs > patience: torch waits one epoch more for the same number."
        )
        return True
    if answer == keras_patience:
        print(
            "Not quite: the same number waits one epoch longer in torch. Compare Keras's "
            "`wait >= patience` with torch's `num_bad_epochs > patience`."
        )
    else:
        print(f"Not quite ({answer}). Count the bad epochs each library needs before it reduces.")
    return False


def check_adam_gradient_scale(answer) -> bool:
    """Exercise 4: with Adam, scaling a gradient by c leaves the update (almost) unchanged: factor 1."""
    value = _read_real(answer)
    if value is None:
        return False
    if abs(value - 1.0) <= 0.05:
        print(
            "Correct: about 1. m scales by c and sqrt(v) by |c|, so m / sqrt(v) does not change "
            "(only epsilon breaks the tie). Use a second optimizer for a second learning rate."
        )
        return True
    if math.isclose(value, 0.01, rel_tol=0.05):
        print(
            "Not quite: that is what SGD would do. Adam divides by the root of the squared gradient."
        )
    else:
        print(
            f"Not quite ({value:g}). What happens to m_t / sqrt(v_t) when every g is multiplied by c?"
        )
    return False
