"""Self-checks for notebook 01 (gradient descent and SGD).

Symbols as in ``docs/notation.md``: :math:`\\gamma` the learning rate (``lr``), :math:`L` and :math:`\\ell` the
largest and smallest curvature, :math:`\\kappa = L/\\ell`. The expected values are computed from the
formulas of the notebook, not stored. How a check answers: see :mod:`course_lib.exercises`.
"""

from __future__ import annotations

import math

from course_lib.exercises._answers import read_number as _read_number
from course_lib.landscapes import gd_optimal

__all__ = [
    "check_batch_size_for_quarter_variance",
    "check_divergence_threshold",
    "check_optimal_step",
    "check_steps_ratio",
]


def _close(value: float, expected: float, rel: float) -> bool:
    return math.isclose(value, expected, rel_tol=rel)


def check_divergence_threshold(answer, L: float = 4.0) -> bool:
    """Exercise 1: the largest stable learning rate of gradient descent when the top curvature is ``L``.

    Along the eigendirection with eigenvalue :math:`L` the error is multiplied by :math:`1 - \\gamma L` per
    step, so GD converges iff :math:`|1 - \\gamma L| < 1`, i.e. :math:`\\gamma < 2/L`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 2.0 / L
    if _close(value, expected, 1e-3):
        print(f"Correct: lr < 2/L = {expected:g}; at lr = 2/L the factor 1 - lr·L is exactly -1.")
        return True
    if _close(value, 1.0 / L, 1e-3):
        print(
            f"Not quite: 1/L = {value:g} is the step that zeroes the steepest direction in one step, "
            "but larger steps still converge (they overshoot and come back). Where does "
            "|1 - lr·L| reach 1?"
        )
    elif _close(value, 2.0 * L, 1e-3) or _close(value, L / 2.0, 1e-3):
        print(
            "Not quite: the curvature divides, it does not multiply. Solve |1 - lr·L| = 1 for lr."
        )
    else:
        print(f"Not quite ({value:g}). Solve |1 - lr·L| = 1 for lr with L = {L:g}.")
    return False


def check_optimal_step(answer, L: float = 2.0, condition_number: float = 4.0) -> bool:
    """Exercise 2: the fixed step that makes GD fastest on a quadratic with curvatures :math:`[\\ell, L]`.

    The rate :math:`\\max(|1-\\gamma L|, |1-\\gamma\\ell|)` is smallest where the two factors have equal size:
    :math:`\\gamma L - 1 = 1 - \\gamma\\ell`, so :math:`\\gamma^* = 2/(L + \\ell)`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected, rate = gd_optimal(L, condition_number)
    ell = L / condition_number
    if _close(value, expected, 1e-3):
        print(
            f"Correct: 2/(L + ℓ) = {expected:g}; both eigendirections then shrink by "
            f"(kappa - 1)/(kappa + 1) = {rate:g} per step."
        )
        return True
    if _close(value, 2.0 / L, 1e-3):
        print(
            "Not quite: 2/L is the edge of divergence, where the steep direction stops shrinking."
        )
    elif _close(value, 1.0 / L, 1e-3):
        print(
            "Not quite: 1/L is safe, but then the flat direction shrinks by only 1 - ℓ/L per step. "
            "Make |1 - lr·L| and |1 - lr·ℓ| equal."
        )
    elif _close(value, 1.0 / ell, 1e-3):
        print("Not quite: 1/ℓ overshoots the steep direction badly (|1 - lr·L| > 1).")
    else:
        print(f"Not quite ({value:g}). Make |1 - lr·L| equal to |1 - lr·ℓ| with ℓ = L/kappa.")
    return False


def check_steps_ratio(answer, kappa_small: float = 10.0, kappa_large: float = 1000.0) -> bool:
    """Exercise 3: how many times more steps GD (optimal fixed step) needs at ``kappa_large``.

    To shrink the error by a fixed factor takes :math:`\\log(\\epsilon)/\\log\\rho` steps with
    :math:`\\rho = (\\kappa-1)/(\\kappa+1)`, about :math:`\\kappa/2 \\cdot \\log(1/\\epsilon)`: the ratio is
    :math:`\\log\\rho_{small} / \\log\\rho_{large}`, close to :math:`\\kappa_{large}/\\kappa_{small}`.
    Answers within 20% of the exact ratio count.
    """
    value = _read_number(answer)
    if value is None:
        return False
    _, r_small = gd_optimal(1.0, kappa_small)
    _, r_large = gd_optimal(1.0, kappa_large)
    expected = math.log(r_small) / math.log(r_large)
    if _close(value, expected, 0.2):
        print(
            f"Correct: about {expected:.0f} times more (log rho ratio {expected:.1f}); GD's step count "
            "grows linearly with kappa."
        )
        return True
    if _close(value, math.sqrt(kappa_large / kappa_small), 0.2):
        print("Not quite: sqrt(kappa) is the scaling of momentum (notebook 02). Plain GD is worse.")
    elif value < expected:
        print("Too few: compare log((k-1)/(k+1)) for both kappas; for large k it is about -2/k.")
    else:
        print("Too many: compare log((k-1)/(k+1)) for both kappas; for large k it is about -2/k.")
    return False


def check_batch_size_for_quarter_variance(answer, batch_size: int = 32) -> bool:
    """Exercise 4: the batch size whose gradient noise variance is a quarter of that at ``batch_size``.

    Averaging :math:`B` independent per-example gradients divides the variance by :math:`B`
    (:math:`\\mathbb{E}\\|g_B - g\\|^2 = \\operatorname{tr}\\Sigma / B`), so a quarter needs four times
    the batch.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 4 * batch_size
    if value == expected:
        print(
            f"Correct: {expected}. Variance ~ 1/B, so the noise's standard deviation only halves: "
            "four times the compute per step for half the noise."
        )
        return True
    if value == 2 * batch_size:
        print("Not quite: doubling B halves the variance (and divides the std by sqrt 2).")
    elif value == 16 * batch_size:
        print("Not quite: that would quarter the standard deviation, not the variance.")
    else:
        print(f"Not quite ({value:g}). The variance of a mean of B samples is sigma^2 / B.")
    return False
