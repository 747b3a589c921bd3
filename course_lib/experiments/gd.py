"""Gradient descent on a quadratic with a chosen condition number (notebook 01's explorer, pure part).

:func:`compute_gd` runs :math:`\\theta_{t+1} = \\theta_t - \\gamma
\\nabla f(\\theta_t)` with ``course_lib.optim.SGD`` on

.. math:: f(\\theta) = \\tfrac12 (L x'^2 + \\ell y'^2), \\qquad \\ell = L / \\kappa,

and returns the trajectory together with the theory: the per-eigendirection contraction factors
:math:`|1 - \\gamma h_i|` (:math:`h_i` the Hessian's eigenvalues, :math:`L` and :math:`\\ell` the largest
and smallest), the rate :math:`\\rho = \\max(|1-\\gamma L|, |1-\\gamma\\ell|)`, the divergence
threshold :math:`2/L` and the loss predicted in closed form,
:math:`f(\\theta_t) = \\tfrac12 \\sum_i h_i (1 - \\gamma h_i)^{2t} e_{i,0}^2`. Symbols as in
``docs/notation.md``.

No ipywidgets and no matplotlib here: ``course_lib.widgets.gd.GDExplorer`` is the widget around
:func:`compute_gd` and ``course_lib.plots.landscapes.draw_gd`` its figure.

    >>> r = compute_gd(lr=2.1, condition_number=10.0, steps=200)
    >>> r.trajectory.diverged, r.status.startswith("diverged at step")
    (True, True)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from course_lib._validation import check_int, check_number
from course_lib.landscapes import (
    Landscape,
    Trajectory,
    gd_optimal,
    gd_rate,
    measured_rate,
    quadratic,
    trajectory,
)
from course_lib.optim import SGD

__all__ = ["GDResult", "compute_gd", "gd_theory_losses"]


def gd_theory_losses(
    lr: float, L: float, condition_number: float, steps: int, start=(-2.0, 1.0), angle: float = 0.0
) -> np.ndarray:
    """Closed-form loss of gradient descent on :func:`course_lib.landscapes.quadratic`.

    In the eigenbasis (the axes rotated by ``angle``) the error :math:`e_{i,t}` of coordinate :math:`i`
    obeys :math:`e_{i,t} = (1 - \\gamma h_i)^t e_{i,0}`, so

    .. math:: f(\\theta_t) = \\tfrac12 \\sum_i h_i (1 - \\gamma h_i)^{2t} e_{i,0}^2.

    Args:
        lr: :math:`\\gamma` (>= 0).
        L: largest eigenvalue (> 0).
        condition_number: :math:`\\kappa` (>= 1).
        steps: number of steps (>= 0).
        start: :math:`\\theta_0`.
        angle: rotation of the quadratic's axes (radians).

    Returns:
        ``(steps + 1,)`` array :math:`f(\\theta_0), \\dots, f(\\theta_{steps})` (may overflow to inf when
        the run diverges).

    Example:
        >>> gd_theory_losses(0.5, 1.0, 1.0, 2, start=(1.0, 0.0)).tolist()
        [0.5, 0.125, 0.03125]
    """
    check_number("lr", lr, low=0.0)
    check_number("L", L, low=0.0, low_inclusive=False)
    check_number("condition_number", condition_number, low=1.0)
    check_int("steps", steps, low=0)
    check_number("angle", angle)
    lam = np.array([L, L / condition_number], dtype=np.float64)
    c, s = math.cos(angle), math.sin(angle)
    x, y = (float(v) for v in start)
    e0 = np.array([c * x + s * y, -s * x + c * y])
    t = np.arange(steps + 1)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        factors = (1.0 - lr * lam) ** (2 * t)
        return 0.5 * (lam * factors * e0**2).sum(axis=1)


@dataclass(frozen=True)
class GDResult:
    """What :func:`compute_gd` measured and predicted.

    Attributes:
        landscape: the quadratic.
        trajectory: the iterates of ``course_lib.optim.SGD`` (stopped if it diverged).
        lr: :math:`\\gamma`.
        condition_number: :math:`\\kappa`.
        L: largest eigenvalue; ``threshold`` is :math:`2/L`.
        threshold: the largest stable step :math:`2/L`.
        factors: :math:`(1 - \\gamma L, 1 - \\gamma\\ell)`, the per-eigendirection multipliers.
        rate: :math:`\\rho = \\max_i |1 - \\gamma h_i|` (theory).
        measured: the measured per-step contraction of :math:`\\|\\theta_t - \\theta^*\\|`
            (:func:`course_lib.landscapes.measured_rate`), ``None`` for runs too short to measure.
        optimal_lr: :math:`2/(L + \\ell)`; ``optimal_rate``: :math:`(\\kappa-1)/(\\kappa+1)`.
        theory_losses: the closed-form loss per step (same length as the trajectory's losses).
        status: one line for the widget ("diverged at step k" or final loss and rates).
    """

    landscape: Landscape
    trajectory: Trajectory
    lr: float
    condition_number: float
    L: float
    threshold: float
    factors: tuple[float, float]
    rate: float
    measured: float | None
    optimal_lr: float
    optimal_rate: float
    theory_losses: np.ndarray
    status: str


def _gd_status(path: Trajectory, lr, L, steps, rate, measured, optimal) -> str:
    """The explorer's line: "diverged at step k", "not converging", or the final loss and rates."""
    top = abs(1.0 - lr * L)  # |1 - γL|, the multiplier along the steepest direction
    if path.diverged:
        return (
            f"diverged at step {path.diverged_at}: lr = {lr:.3g} > 2/L = {2 / L:.3g} "
            f"(|1 - lr·L| = {top:.3g} > 1)"
        )
    if rate > 1.0:
        return (
            f"not converging: |1 - lr·L| = {top:.4f} > 1, the loss grows every step "
            f"(lr = {lr:.3g} > 2/L = {2 / L:.3g}); not yet past the blow-up limit after {steps} steps"
        )
    shown = "n/a" if measured is None else f"{measured:.4f}"
    return (
        f"{steps} steps, final loss {path.losses[-1]:.3g}; rate max|1 - lr·h| = {rate:.4f} "
        f"(measured {shown}); 2/L = {2 / L:.3g}, best lr 2/(L+ℓ) = {optimal[0]:.3g} "
        f"gives {optimal[1]:.4f}"
    )


def compute_gd(
    lr: float,
    condition_number: float = 10.0,
    steps: int = 100,
    *,
    L: float = 1.0,
    angle: float = 0.0,
    start=(-2.0, 1.0),
) -> GDResult:
    """Run gradient descent on a quadratic of condition number :math:`\\kappa` and compare with theory.

    Never raises because of divergence: the run stops and the status says "diverged at step k".

    Args:
        lr: :math:`\\gamma` (>= 0).
        condition_number: :math:`\\kappa = L/\\ell` (>= 1).
        steps: number of steps (>= 1).
        L: largest curvature (> 0).
        angle: rotation of the valley (radians).
        start: :math:`\\theta_0`.

    Returns:
        A :class:`GDResult`.

    Example:
        >>> r = compute_gd(lr=1.0, condition_number=10.0, steps=100)
        >>> round(r.rate, 6), round(r.measured, 6), r.threshold
        (0.9, 0.9, 2.0)
    """
    check_number("lr", lr, low=0.0)
    check_number("condition_number", condition_number, low=1.0)
    check_int("steps", steps, low=1)
    check_number("L", L, low=0.0, low_inclusive=False)
    land = quadratic(condition_number=condition_number, L=L, angle=angle, start=start)
    path = trajectory(land, functools.partial(SGD, lr=float(lr)), steps=steps)
    ell = L / condition_number  # the smallest curvature
    factors = (1.0 - lr * L, 1.0 - lr * ell)
    rate = gd_rate(lr, (L, ell))
    opt_lr, opt_rate = gd_optimal(L, condition_number)
    theory = gd_theory_losses(lr, L, condition_number, len(path.losses) - 1, start, angle)
    measured = measured_rate(path)
    status = _gd_status(path, lr, L, steps, rate, measured, (opt_lr, opt_rate))
    return GDResult(
        landscape=land,
        trajectory=path,
        lr=float(lr),
        condition_number=float(condition_number),
        L=float(L),
        threshold=2.0 / L,
        factors=factors,
        rate=rate,
        measured=measured,
        optimal_lr=opt_lr,
        optimal_rate=opt_rate,
        theory_losses=theory,
        status=status,
    )
