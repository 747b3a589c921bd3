"""Self-checks for notebook 08 (LR range test and one-cycle).

Expected values are computed with ``course_lib.lr_finder`` and ``course_lib.schedulers``.
"""

from __future__ import annotations

import math

import torch

from course_lib.exercises._answers import read_number as _read_number
from course_lib.lr_finder import sweep_lrs
from course_lib.optim import SGD
from course_lib.schedulers import OneCycleLR

__all__ = ["check_onecycle_momentum", "check_smoothed_loss", "check_sweep_lr"]


def check_sweep_lr(
    answer, start_lr: float = 1e-6, end_lr: float = 10.0, num_iter: int = 101, t: int = 50
) -> bool:
    """Exercise 1: the rate at step ``t`` of the exponential sweep.

    :math:`\\gamma_t = \\gamma_0 (\\gamma_1/\\gamma_0)^{t/(T-1)}` (:math:`\\gamma` the learning rate, as in
    ``docs/notation.md``): halfway through, the geometric mean :math:`\\sqrt{\\gamma_0 \\gamma_1}`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = sweep_lrs(start_lr, end_lr, num_iter)[t]
    if math.isclose(value, expected, rel_tol=1e-3):
        print(f"Correct: {expected:.3g} = sqrt({start_lr:g} x {end_lr:g}), the geometric midpoint.")
        return True
    if math.isclose(value, (start_lr + end_lr) / 2, rel_tol=1e-3):
        print("That is the arithmetic midpoint: the sweep is exponential (equal steps in log lr).")
    else:
        print(
            f"Not quite ({value:g}). Plug t={t}, T={num_iter} into "
            "gamma_0 (gamma_1/gamma_0)^(t/(T-1))."
        )
    return False


def check_smoothed_loss(answer, losses=(2.0, 1.0), beta: float = 0.98) -> bool:
    """Exercise 2: the bias-corrected smoothed loss after the losses ``losses``.

    :math:`a_t = \\beta a_{t-1} + (1-\\beta) f_t` (:math:`f_t` the batch loss) from :math:`a_{-1} = 0`,
    then :math:`\\tilde f_t = a_t / (1 - \\beta^{t+1})`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    avg = 0.0
    for loss in losses:
        avg = beta * avg + (1 - beta) * loss
    expected = avg / (1 - beta ** len(losses))
    if math.isclose(value, expected, rel_tol=1e-4):
        print(
            f"Correct: {expected:.4f}, a weighted mean of {list(losses)} that favours the newer "
            f"loss by 1/beta. Without the correction it would be {avg:.4f}."
        )
        return True
    if math.isclose(value, avg, rel_tol=1e-4):
        print("That is the raw average a_t: divide by 1 - beta^(t+1) to remove the bias towards 0.")
    elif math.isclose(value, sum(losses) / len(losses), rel_tol=1e-4):
        print("That is the plain mean; the moving average weights the newer loss a little more.")
    else:
        print(f"Not quite ({value:g}). Run the two-line recursion by hand for t = 0 and 1.")
    return False


def check_onecycle_momentum(answer, max_lr: float = 0.1, total_steps: int = 100) -> bool:
    """Exercise 3: SGD's momentum at the step where one-cycle's rate peaks.

    ``OneCycleLR`` (``cycle_momentum=True``) moves momentum opposite to the rate: ``max_momentum``
    (0.95) when the rate is lowest, ``base_momentum`` (0.85) at the rate's peak.
    """
    value = _read_number(answer)
    if value is None:
        return False
    opt = SGD([torch.zeros(1, requires_grad=True)], lr=max_lr, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=max_lr, total_steps=total_steps)
    lrs, moms = [], []
    for _ in range(total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    expected = moms[max(range(total_steps), key=lrs.__getitem__)]
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: {expected:g}. Momentum is lowest where the rate is highest, so the "
            "effective step lr / (1 - momentum) does not blow up at the peak."
        )
        return True
    if math.isclose(value, max(moms), rel_tol=1e-6):
        print(f"{max(moms):g} is the momentum at the start and the end, where the rate is lowest.")
    elif math.isclose(value, 0.9, rel_tol=1e-6):
        print("0.9 is the optimizer's own momentum; OneCycleLR overwrites it every step.")
    else:
        print(f"Not quite ({value:g}). Record param_groups[0]['momentum'] at each step.")
    return False
