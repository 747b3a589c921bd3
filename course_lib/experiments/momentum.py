"""The pure part of notebook 02's momentum explorer, after Goh's "Why Momentum Really Works" (Distill, 2017).

Heavy ball in PyTorch's form (``torch.optim.SGD`` and ``course_lib.optim.SGD``), with :math:`\\gamma` lr and
:math:`\\mu` momentum:

.. math:: b_t = \\mu b_{t-1} + \\nabla f(\\theta_{t-1}), \\qquad \\theta_t = \\theta_{t-1} - \\gamma b_t,

and Nesterov's variant (``nesterov=True``): :math:`\\theta_t = \\theta_{t-1} - \\gamma (g_t + \\mu b_t)`.
Symbols as in ``docs/notation.md``.

On the quadratic :math:`\\tfrac12 (L x'^2 + \\ell y'^2)` with curvatures (Hessian eigenvalues :math:`h_i`)
:math:`L` and :math:`\\ell = L/\\kappa`, the convergence rate is the spectral radius of a 2x2 iteration
matrix per eigenvalue, maximised over the two eigenvalues (:func:`course_lib.landscapes.momentum_rate`). :func:`phase_diagram` evaluates it on a whole
(lr, momentum) grid at once (vectorised NumPy, milliseconds); :func:`compute_momentum` runs one setting and
returns the trajectory, the predicted and measured rates and the diagram. No ipywidgets or matplotlib
here: ``course_lib.widgets.momentum.MomentumExplorer`` is the widget, ``course_lib.plots.landscapes``
draws (``draw_phase_diagram``, ``draw_momentum``).

    >>> r = compute_momentum(lr=1.0, momentum=0.5, condition_number=10.0, steps=200)
    >>> abs(r.measured - r.rate) < 0.01
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from course_lib._validation import check_bool, check_int, check_number
from course_lib.landscapes import (
    Landscape,
    Trajectory,
    gd_rate,
    measured_rate,
    momentum_optimal,
    momentum_rate,
    nesterov_optimal,
    quadratic,
    trajectory,
)
from course_lib.optim import SGD

__all__ = [
    "MomentumResult",
    "PhaseDiagram",
    "compute_momentum",
    "phase_diagram",
    "stable_lr_limit",
]


@dataclass(frozen=True)
class PhaseDiagram:
    """The convergence rate over a grid of (lr, momentum) for one quadratic.

    Attributes:
        lrs: ``(n_lr,)`` values of :math:`\\gamma`.
        momentums: ``(n_momentum,)`` values of :math:`\\mu`.
        rates: ``(n_momentum, n_lr)`` spectral radii (>= 1: no convergence), rows = momentum.
        nesterov: heavy ball (False) or Nesterov (True).
        L: the largest curvature :math:`L` (Hessian eigenvalue).
        condition_number: :math:`\\kappa`.
        best: ``(lr, momentum, rate)`` of the grid point with the smallest rate.
    """

    lrs: np.ndarray
    momentums: np.ndarray
    rates: np.ndarray
    nesterov: bool
    L: float
    condition_number: float
    best: tuple[float, float, float]


@functools.lru_cache(maxsize=32)
def _phase_rates(
    L: float, kappa: float, nesterov: bool, n_lr: int, n_momentum: int, lr_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lrs = np.linspace(lr_max / n_lr, lr_max, n_lr)
    moms = np.linspace(0.0, 0.999, n_momentum)
    G, M = np.meshgrid(lrs, moms)
    rates = momentum_rate(G, M, (L, L / kappa), nesterov=nesterov)
    for a in (lrs, moms, rates):
        a.setflags(write=False)
    return lrs, moms, rates


def phase_diagram(
    condition_number: float = 100.0,
    L: float = 1.0,
    nesterov: bool = False,
    n_lr: int = 200,
    n_momentum: int = 200,
    lr_max: float | None = None,
) -> PhaseDiagram:
    """Analytic convergence rate of heavy ball / Nesterov over an (lr, momentum) grid.

    For each grid point, the rate is :math:`\\max_{h \\in \\{L, \\ell\\}} \\rho(M_h)`, :math:`\\ell = L/\\kappa`,
    the spectral radius of the per-eigendirection map (:func:`course_lib.landscapes.momentum_matrix`),
    computed in closed form from the roots of its characteristic polynomial. With :math:`0 \\le \\mu < 1`
    the heavy ball converges iff :math:`0 < \\gamma h < 2(1 + \\mu)` for every curvature :math:`h`, i.e.
    :math:`\\gamma L < 2(1 + \\mu)`, so lr up to :math:`4/L` covers its whole stable region; Nesterov
    iff :math:`\\gamma L < 2(1 + \\mu)/(1 + 2\\mu)` (see :func:`stable_lr_limit`).

    Args:
        condition_number: :math:`\\kappa` (>= 1).
        L: the largest curvature (> 0).
        nesterov: Nesterov instead of heavy ball.
        n_lr, n_momentum: grid sizes (>= 2); momentum spans ``[0, 0.999]``.
        lr_max: largest lr of the grid (> 0); ``4 / L`` when ``None``.

    Returns:
        A :class:`PhaseDiagram`.

    Example:
        >>> d = phase_diagram(100.0, n_lr=400, n_momentum=400)
        >>> lr, momentum, rate = d.best  # the closed-form optimum is (3.306, 0.669, 0.818)
        >>> abs(lr - 3.306) < 0.03, abs(momentum - 0.669) < 0.01, abs(rate - 0.818) < 0.002
        (True, True, True)
    """
    check_number("condition_number", condition_number, low=1.0)
    check_number("L", L, low=0.0, low_inclusive=False)
    check_bool("nesterov", nesterov)
    check_int("n_lr", n_lr, low=2)
    check_int("n_momentum", n_momentum, low=2)
    if lr_max is None:
        lr_max = 4.0 / L
    check_number("lr_max", lr_max, low=0.0, low_inclusive=False)
    lrs, moms, rates = _phase_rates(
        float(L), float(condition_number), nesterov, n_lr, n_momentum, float(lr_max)
    )
    i, j = np.unravel_index(np.argmin(rates), rates.shape)
    return PhaseDiagram(
        lrs=lrs,
        momentums=moms,
        rates=rates,
        nesterov=nesterov,
        L=float(L),
        condition_number=float(condition_number),
        best=(float(lrs[j]), float(moms[i]), float(rates[i, j])),
    )


def stable_lr_limit(momentum, L: float = 1.0, nesterov: bool = False):
    """The largest learning rate at which momentum still converges on a quadratic with top curvature L.

    By the Jury (Schur-Cohn) test on the characteristic polynomial of
    :func:`course_lib.landscapes.momentum_matrix`, with :math:`0 \\le \\mu < 1` and every curvature
    :math:`0 < h \\le L`:

    - heavy ball, :math:`z^2 - (1 + \\mu - \\gamma h) z + \\mu`: converges iff :math:`\\gamma L < 2(1 + \\mu)`;
    - Nesterov, :math:`z^2 - (1 + \\mu)(1 - \\gamma h) z + \\mu (1 - \\gamma h)`: iff
      :math:`\\gamma L < 2(1 + \\mu)/(1 + 2\\mu)`.

    Momentum thus widens the heavy ball's stable range from :math:`2/L` (gradient descent) up to
    :math:`4/L`, and narrows Nesterov's towards :math:`4/(3L)` as :math:`\\mu \\to 1`.

    Args:
        momentum: :math:`\\mu` in [0, 1), a number or an array.
        L: the largest curvature (> 0).
        nesterov: Nesterov's look-ahead instead of the heavy ball.

    Returns:
        The limit :math:`\\gamma_{\\max}`, same shape as ``momentum``.

    Example:
        >>> float(stable_lr_limit(0.5)), round(float(stable_lr_limit(0.5, nesterov=True)), 4)
        (3.0, 1.5)
    """
    check_number("L", L, low=0.0, low_inclusive=False)
    check_bool("nesterov", nesterov)
    mu = np.asarray(momentum, dtype=np.float64)
    if not np.all(np.isfinite(mu)) or np.any(mu < 0) or np.any(mu >= 1):
        raise ValueError(f"momentum must be finite numbers in [0, 1), got {momentum!r}")
    limit = 2.0 * (1.0 + mu) / L
    return limit / (1.0 + 2.0 * mu) if nesterov else limit


@dataclass(frozen=True)
class MomentumResult:
    """What :func:`compute_momentum` measured and predicted.

    Attributes:
        landscape: the quadratic.
        trajectory: iterates of ``course_lib.optim.SGD(lr, momentum, nesterov)``.
        gd_trajectory: plain gradient descent with the same lr, for comparison.
        lr, momentum, nesterov: the setting (``nesterov`` is False when ``momentum == 0``).
        rate: the analytic rate at this setting (>= 1: no convergence).
        measured: measured per-step contraction of :math:`\\|\\theta_t - \\theta^*\\|` over the second half
            of the run (``None`` when too short).
        gd_rate: plain GD's rate at the same lr, :math:`\\max_i |1 - \\gamma h_i|`.
        optimal: ``(lr, momentum, rate)`` optimal for the chosen method (closed form).
        phase: the :class:`PhaseDiagram` of the chosen method.
        status: one line for the widget.
    """

    landscape: Landscape
    trajectory: Trajectory
    gd_trajectory: Trajectory
    lr: float
    momentum: float
    nesterov: bool
    rate: float
    measured: float | None
    gd_rate: float
    optimal: tuple[float, float, float]
    phase: PhaseDiagram
    status: str


def _momentum_status(path: Trajectory, nesterov: bool, rate, measured, gd, optimal) -> str:
    """The explorer's line: "diverged at step k", or the final loss against plain GD and the optimum."""
    name = "Nesterov" if nesterov else "heavy ball"
    if path.diverged:
        return f"{name} diverged at step {path.diverged_at} (analytic rate {rate:.4f} > 1)"
    shown = "n/a" if measured is None else f"{measured:.4f}"
    status = (
        f"{name}: final loss {path.losses[-1]:.3g}; rate {rate:.4f} (measured {shown}); "
        f"plain GD at this lr: {gd:.4f}; best (lr, momentum) = "
        f"({optimal[0]:.3g}, {optimal[1]:.3g}) gives {optimal[2]:.4f}"
    )
    return status + (" — not converging (rate >= 1)" if rate >= 1.0 else "")


def compute_momentum(
    lr: float,
    momentum: float,
    nesterov: bool = False,
    condition_number: float = 100.0,
    steps: int = 100,
    *,
    L: float = 1.0,
    angle: float = 0.0,
    start=(-2.0, 1.0),
    grid: int = 150,
) -> MomentumResult:
    """Run heavy ball or Nesterov on a quadratic; return path, analytic and measured rates, phase diagram.

    Never raises because of divergence: the run stops and the status says "diverged at step k".
    Nesterov with ``momentum=0`` is plain gradient descent (torch refuses ``nesterov=True`` without
    momentum), so that case runs as GD.

    Args:
        lr: :math:`\\gamma` (>= 0).
        momentum: :math:`\\mu`, in [0, 1).
        nesterov: Nesterov's look-ahead instead of the heavy ball.
        condition_number: :math:`\\kappa` (>= 1).
        steps: number of steps (>= 1).
        L: largest curvature (> 0).
        angle: rotation of the valley (radians).
        start: :math:`\\theta_0`.
        grid: phase-diagram resolution per axis (>= 2).

    Returns:
        A :class:`MomentumResult`.

    Example:
        >>> lr, mom, rate = momentum_optimal(1.0, 100.0)
        >>> r = compute_momentum(lr, mom, condition_number=100.0, steps=300)
        >>> round(r.rate, 4), r.rate < r.gd_rate
        (0.8182, True)
    """
    check_number("lr", lr, low=0.0)
    check_number("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
    check_bool("nesterov", nesterov)
    check_number("condition_number", condition_number, low=1.0)
    check_int("steps", steps, low=1)
    check_number("L", L, low=0.0, low_inclusive=False)
    check_int("grid", grid, low=2)
    nesterov = bool(nesterov and momentum > 0)
    land = quadratic(condition_number=condition_number, L=L, angle=angle, start=start)
    make = functools.partial(SGD, lr=float(lr), momentum=float(momentum), nesterov=nesterov)
    path = trajectory(land, make, steps=steps)
    gd_path = trajectory(land, functools.partial(SGD, lr=float(lr)), steps=steps)
    eig = (L, L / condition_number)
    rate = momentum_rate(lr, momentum, eig, nesterov=nesterov)
    optimal = (nesterov_optimal if nesterov else momentum_optimal)(L, condition_number)
    phase = phase_diagram(condition_number, L, nesterov, n_lr=grid, n_momentum=grid)
    measured = measured_rate(path)
    status = _momentum_status(path, nesterov, rate, measured, gd_rate(lr, eig), optimal)
    return MomentumResult(
        landscape=land,
        trajectory=path,
        gd_trajectory=gd_path,
        lr=float(lr),
        momentum=float(momentum),
        nesterov=nesterov,
        rate=rate,
        measured=measured,
        gd_rate=gd_rate(lr, eig),
        optimal=optimal,
        phase=phase,
        status=status,
    )
