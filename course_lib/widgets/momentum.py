"""Momentum explorer of notebook 02, after Goh's "Why Momentum Really Works" (Distill, 2017).

Heavy ball in PyTorch's form (``torch.optim.SGD`` and ``course_lib.optim.SGD``), with :math:`\\gamma` lr and
:math:`\\mu` momentum:

.. math:: b_t = \\mu b_{t-1} + \\nabla f(\\theta_{t-1}), \\qquad \\theta_t = \\theta_{t-1} - \\gamma b_t,

and Nesterov's variant (``nesterov=True``): :math:`\\theta_t = \\theta_{t-1} - \\gamma (g_t + \\mu b_t)`.
Symbols as in ``docs/notation.md``.

On the quadratic :math:`\\tfrac12 (L x'^2 + \\ell y'^2)` with curvatures (Hessian eigenvalues :math:`h_i`)
:math:`L` and :math:`\\ell = L/\\kappa`, the convergence rate is the spectral radius of a 2x2 iteration
matrix per eigenvalue, maximised over the two eigenvalues (:func:`course_lib.landscapes.momentum_rate`). :func:`phase_diagram` evaluates it on a whole
(lr, momentum) grid at once (vectorised NumPy, milliseconds); :func:`compute_momentum` runs one setting and
returns the trajectory, the predicted and measured rates and the diagram; :class:`MomentumExplorer` is the
widget.

    >>> r = compute_momentum(lr=1.0, momentum=0.5, condition_number=10.0, steps=200)
    >>> abs(r.measured - r.rate) < 0.01
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
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
from course_lib.widgets._base import Explorer

__all__ = [
    "MomentumExplorer",
    "MomentumResult",
    "PhaseDiagram",
    "compute_momentum",
    "draw_momentum",
    "draw_phase_diagram",
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
    name = "Nesterov" if nesterov else "heavy ball"
    if path.diverged:
        status = f"{name} diverged at step {path.diverged_at} (analytic rate {rate:.4f} > 1)"
    else:
        shown = "n/a" if measured is None else f"{measured:.4f}"
        status = (
            f"{name}: final loss {path.losses[-1]:.3g}; rate {rate:.4f} (measured {shown}); "
            f"plain GD at this lr: {gd_rate(lr, eig):.4f}; best (lr, momentum) = "
            f"({optimal[0]:.3g}, {optimal[1]:.3g}) gives {optimal[2]:.4f}"
        )
        if rate >= 1.0:
            status += " — not converging (rate >= 1)"
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


def draw_phase_diagram(diagram: PhaseDiagram, ax=None, *, point=None, colorbar: bool = True):
    """Colour map of the speed :math:`1 - \\rho` over (lr, momentum), log scale; divergence in grey.

    Brighter is faster. White contour lines mark rates 0.5, 0.8, 0.9, 0.95, 0.99; a cyan star the grid's
    best point, labelled with its rate in a dark box placed towards the middle of the panel (the best
    point lies in the brightest region, where cyan text alone is unreadable); a green circle ``point``.

    Args:
        diagram: from :func:`phase_diagram`.
        ax: matplotlib ``Axes``; a new figure when ``None``.
        point: ``(lr, momentum)`` to mark (the current setting), or ``None``.
        colorbar: add a colour bar.

    Returns:
        The ``Axes``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    speed = np.ma.masked_where(diagram.rates >= 1.0, 1.0 - diagram.rates)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.8")
    top = max(float(1.0 - diagram.best[2]), 2e-3)
    mesh = ax.pcolormesh(
        diagram.lrs,
        diagram.momentums,
        speed,
        cmap=cmap,
        norm=LogNorm(vmin=1e-3, vmax=top),
        shading="auto",
    )
    ax.contour(
        diagram.lrs,
        diagram.momentums,
        diagram.rates,
        levels=[0.5, 0.8, 0.9, 0.95, 0.99],
        colors="white",
        linewidths=0.6,
    )
    best = diagram.best
    ax.plot(best[0], best[1], marker="*", color="cyan", markersize=13, linestyle="none")
    # The label sits in a dark box away from the star, on the side of the panel with more room.
    left = best[0] > 0.5 * float(diagram.lrs[-1])
    low = best[1] > 0.5
    ax.annotate(
        f"best: ρ = {best[2]:.3f}\n(lr {best[0]:.2f}, μ {best[1]:.2f})",
        (best[0], best[1]),
        xytext=(-95 if left else 25, -45 if low else 30),
        textcoords="offset points",
        color="white",
        fontsize=9,
        bbox={
            "boxstyle": "round,pad=0.3",
            "facecolor": "black",
            "alpha": 0.75,
            "edgecolor": "cyan",
        },
        arrowprops={"arrowstyle": "->", "color": "cyan", "lw": 1.2},
    )
    if point is not None:
        ax.plot(point[0], point[1], marker="o", mfc="none", mec="lime", mew=2, markersize=11)
    ax.set_xlabel("lr γ")
    ax.set_ylabel("momentum μ")
    kind = "Nesterov" if diagram.nesterov else "heavy ball"
    ax.set_title(
        f"{kind}, κ = {diagram.condition_number:.3g}: speed 1 − ρ (grey: ρ ≥ 1)", fontsize=9
    )
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="1 − ρ (log scale)")
    return ax


def draw_momentum(result: MomentumResult, axes=None):
    """Draw a :class:`MomentumResult`: path on contours, loss per step vs GD, and the phase diagram.

    Args:
        result: from :func:`compute_momentum`.
        axes: three matplotlib ``Axes``; a new ``(14, 4)`` figure when ``None``.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    from course_lib.plots.landscapes import plot_losses, plot_trajectories

    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    else:
        fig = axes[0].figure
    name = "Nesterov" if result.nesterov else "heavy ball"
    runs = {
        f"{name} (lr={result.lr:.3g}, μ={result.momentum:.2f})": result.trajectory,
        "GD, same lr": result.gd_trajectory,
    }
    plot_trajectories(result.landscape, runs, axes[0], markers=False)
    plot_losses(runs, axes[1], landscape=result.landscape, title="loss per step")
    draw_phase_diagram(result.phase, axes[2], point=(result.lr, result.momentum))
    fig.tight_layout()
    return fig


class MomentumExplorer(Explorer):
    """Distill-style momentum explorer: lr, momentum, heavy ball / Nesterov, condition number.

    Children (in order): ``lr_slider``, ``momentum_slider``, ``method`` (ToggleButtons, value
    ``False`` for heavy ball and ``True`` for Nesterov), ``kappa_slider``, ``steps_slider``, ``status``
    (HTML) and ``figure`` (an ``Image`` with the path, the loss per step and the phase diagram with the
    current point circled; an ``Image`` rather than an ``Output``, see ``GDExplorer``). ``result`` holds the latest :class:`MomentumResult` (``None`` after a failure, whose
    message then shows in the status).

    Args:
        lr, momentum, nesterov, condition_number, steps: initial values.
        L: the quadratic's largest curvature (the lr slider spans ``(0, 4/L]``).
        draw: draw the figure (tests switch it off).

    Example:
        >>> w = MomentumExplorer(draw=False)
        >>> w.momentum_slider.value = 0.9
        >>> w.result.momentum
        0.9
    """

    def __init__(
        self,
        lr: float = 1.0,
        momentum: float = 0.5,
        nesterov: bool = False,
        condition_number: float = 100.0,
        steps: int = 100,
        *,
        L: float = 1.0,
        draw: bool = True,
    ) -> None:
        w = widgets
        check_number("L", L, low=0.0, low_inclusive=False)
        self.L = float(L)
        style = {"description_width": "110px"}
        layout = w.Layout(width="480px")
        common = {"continuous_update": False, "style": style, "layout": layout}
        self.lr_slider = w.FloatSlider(
            value=lr,
            min=0.02 / L,
            max=4.0 / L,
            step=0.02 / L,
            description="lr γ",
            readout_format=".2f",
            **common,
        )
        self.momentum_slider = w.FloatSlider(
            value=momentum,
            min=0.0,
            max=0.99,
            step=0.01,
            description="momentum μ",
            readout_format=".2f",
            **common,
        )
        self.method = w.ToggleButtons(
            options=[("heavy ball", False), ("Nesterov", True)],
            value=bool(nesterov),
            description="method",
            style=style,
        )
        self.kappa_slider = w.FloatLogSlider(
            value=condition_number,
            base=10,
            min=0,
            max=3,
            step=0.05,
            description="condition κ",
            **common,
        )
        self.steps_slider = w.IntSlider(
            value=steps, min=10, max=300, step=10, description="steps", **common
        )
        controls = [
            self.lr_slider,
            self.momentum_slider,
            self.method,
            self.kappa_slider,
            self.steps_slider,
        ]
        self._build(controls, draw=draw)

    def compute(self) -> MomentumResult:
        return compute_momentum(
            self.lr_slider.value,
            self.momentum_slider.value,
            self.method.value,
            self.kappa_slider.value,
            self.steps_slider.value,
            L=self.L,
        )

    def describe(self, result: MomentumResult) -> tuple[str, bool]:
        return result.status, not result.trajectory.diverged and result.rate < 1.0

    def draw(self, result: MomentumResult):
        return draw_momentum(result)
