"""Self-checks for notebook 02 (momentum and Nesterov).

The expected values are computed from the notebook's formulas, not stored.
"""

from __future__ import annotations

import math

from course_lib.exercises._answers import read_number as _read_number
from course_lib.landscapes import gd_optimal, momentum_optimal

__all__ = [
    "check_optimal_lr",
    "check_optimal_momentum",
    "check_speedup",
    "check_terminal_step",
]


def check_optimal_momentum(answer, condition_number: float = 100.0) -> bool:
    """Exercise 1: the heavy ball's optimal momentum for condition number :math:`\\kappa`.

    :math:`\\mu^* = ((\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1))^2`; answers within 0.002 count.
    """
    value = _read_number(answer)
    if value is None:
        return False
    _, expected, rate = momentum_optimal(1.0, condition_number)
    if abs(value - expected) <= 2e-3:
        print(
            f"Correct: mu* = {expected:.4f}; the rate is then sqrt(mu*) = {rate:.4f} per step "
            "in every direction."
        )
        return True
    if abs(value - rate) <= 2e-3:
        print("Not quite: that is the rate sqrt(mu*). The momentum is its square.")
    elif abs(value - 0.9) <= 1e-9 or abs(value - 0.99) <= 1e-9:
        print(
            "Not quite: 0.9 / 0.99 are popular defaults, not the optimum for this kappa. Use "
            "((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2."
        )
    else:
        print(f"Not quite ({value:g}). Use ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2.")
    return False


def check_optimal_lr(answer, L: float = 1.0, condition_number: float = 100.0) -> bool:
    """Exercise 2: the learning rate that goes with the optimal momentum: :math:`4/(\\sqrt L + \\sqrt\\ell)^2`.

    :math:`\\ell = L/\\kappa` is the smallest curvature (``docs/notation.md``). Answers within 0.5% count.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected, momentum, _ = momentum_optimal(L, condition_number)
    if math.isclose(value, expected, rel_tol=5e-3):
        print(
            f"Correct: lr* = {expected:.4f}, more than 2/L = {2 / L:g}: with momentum mu the stable "
            f"range grows to 2(1 + mu)/L = {2 * (1 + momentum) / L:.3f}."
        )
        return True
    gd_lr, _ = gd_optimal(L, condition_number)
    if math.isclose(value, 2.0 / L, rel_tol=5e-3) or math.isclose(value, gd_lr, rel_tol=5e-3):
        print(
            "Not quite: that is gradient descent's limit / best step. Momentum allows larger "
            "steps: use 4/(sqrt(L) + sqrt(l))^2 with l = L/kappa, the smallest curvature."
        )
    else:
        print(f"Not quite ({value:g}). Use 4/(sqrt(L) + sqrt(l))^2 with l = L/kappa.")
    return False


def check_terminal_step(
    answer, lr: float = 0.1, momentum: float = 0.9, dampening: float = 0.5, grad: float = 1.0
) -> bool:
    """Exercise 3: the step length that SGD with momentum reaches under a constant gradient.

    With :math:`b_t = \\mu b_{t-1} + (1-\\tau) g` the buffer tends to :math:`(1-\\tau) g / (1-\\mu)`,
    so the step :math:`\\gamma b_t` tends to :math:`\\gamma (1-\\tau) g / (1-\\mu)`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = lr * (1.0 - dampening) * grad / (1.0 - momentum)
    if math.isclose(value, expected, rel_tol=1e-3):
        print(
            f"Correct: {expected:g} = lr (1 - dampening) g / (1 - momentum): momentum multiplies the "
            f"step by 1/(1 - mu) = {1 / (1 - momentum):g}, dampening by (1 - tau) = {1 - dampening:g}."
        )
        return True
    if math.isclose(value, lr * grad / (1.0 - momentum), rel_tol=1e-3):
        print(
            "Not quite: that ignores the dampening, which scales every new gradient by (1 - tau)."
        )
    elif math.isclose(value, lr * grad, rel_tol=1e-3) or math.isclose(
        value, lr * (1 - dampening) * grad, rel_tol=1e-3
    ):
        print("Not quite: that is a single gradient's step. The buffer sums a geometric series.")
    else:
        print(f"Not quite ({value:g}). Find the fixed point of b = mu b + (1 - tau) g.")
    return False


def _steps_to_shrink(kappa: float, lr: float, momentum: float, reduction: float = 1e-6) -> int:
    """Steps of PyTorch-form momentum until |theta| shrinks by ``reduction`` (notebook 02, section 5).

    The same loop as the notebook's ``steps_to_tolerance``: curvatures (1, 1/kappa), start (-2, 1).
    """
    curv = (1.0, 1.0 / kappa)
    theta, b, t = [-2.0, 1.0], [0.0, 0.0], 0
    target = reduction * math.hypot(*theta)
    while math.hypot(*theta) > target:
        for i in range(2):
            g = curv[i] * theta[i]
            b[i] = momentum * b[i] + g
            theta[i] -= lr * b[i]
        t += 1
    return t


def check_speedup(answer, condition_number: float = 100.0) -> bool:
    """Exercise 4: how many times more steps tuned GD needs than the tuned heavy ball, per further factor.

    Once the start-up has died out, the error shrinks by the rate :math:`\\rho` per step, so each further
    factor :math:`F` costs :math:`\\log F / (-\\log\\rho)` steps and the ratio is
    :math:`\\log\\rho_{HB} / \\log\\rho_{GD}`, with :math:`\\rho_{GD} = (\\kappa-1)/(\\kappa+1)` and
    :math:`\\rho_{HB} = (\\sqrt\\kappa-1)/(\\sqrt\\kappa+1)`: about :math:`\\sqrt\\kappa` (10.03 for
    :math:`\\kappa = 100`). Answers within 10 % count. The ratio of the step counts *from the start*
    (notebook 02, section 5: 691/94 = 7.35 to shrink the error 10^6-fold) is smaller, because at the optimum
    the heavy ball's error falls like :math:`t\\rho^t`; that answer gets its own hint, computed with the
    notebook's loop.
    """
    value = _read_number(answer)
    if value is None:
        return False
    lr_gd, rho_gd = gd_optimal(1.0, condition_number)
    lr_hb, mu_hb, rho_hb = momentum_optimal(1.0, condition_number)
    expected = math.log(rho_hb) / math.log(rho_gd)
    if math.isclose(value, expected, rel_tol=0.1):
        print(
            f"Correct: log(rho_HB) / log(rho_GD) = {expected:.2f}, close to sqrt(kappa) = "
            f"{math.sqrt(condition_number):g}. Counted from the start the gain is smaller (the heavy "
            "ball's error falls like t rho^t at the optimum)."
        )
        return True
    counted = _steps_to_shrink(condition_number, lr_gd, 0.0) / _steps_to_shrink(
        condition_number, lr_hb, mu_hb
    )
    if math.isclose(value, counted, rel_tol=0.05):
        print(
            f"Not quite: {counted:.2f} is the ratio of the step counts from the start to a 10^6-fold "
            "shrink, which still include the heavy ball's start-up. For each further factor only "
            "the rates count: divide the logarithms of the two rates."
        )
    elif math.isclose(value, condition_number, rel_tol=0.2):
        print("Not quite: the gain is not kappa itself. Compare log of the two rates.")
    elif math.isclose(value, rho_gd / rho_hb, rel_tol=0.05):
        print("Not quite: compare the logarithms of the rates, not the rates themselves.")
    else:
        print(f"Not quite ({value:g}). Steps per factor ~ 1/(-log rate); divide the two.")
    return False
