"""Plots for 2-D landscapes: contours with optimizer paths, and loss per step on a log scale.

Three functions, each drawing on a matplotlib ``Axes`` (a new one when ``ax=None``) and returning it:

- :func:`plot_contours`: the level sets of :math:`f` over the landscape's bounds, its minimiser marked.
- :func:`plot_trajectories`: the contours plus the iterates :math:`\\theta_0, \\theta_1, \\dots` of one
  or several runs (``{label: Trajectory}``); a run that diverged is labelled "diverged at step k" and
  its last finite point is marked with a cross.
- :func:`plot_losses`: the sub-optimality :math:`f(\\theta_t) - f^*` against the step :math:`t` of the
  same runs, log scale by default (a linear rate of convergence is a straight line there).
- :func:`plot_loss_curves`: any per-step (or per-epoch) curves, optionally several runs per label
  (seeds) drawn as their mean with a min-max or standard-deviation band.

matplotlib is imported inside the functions, so importing this module is cheap.

    >>> import functools, torch
    >>> from course_lib.landscapes import quadratic, trajectory
    >>> q = quadratic(condition_number=10.0)
    >>> runs = {"lr=1.0": trajectory(q, functools.partial(torch.optim.SGD, lr=1.0), steps=30)}
    >>> ax = plot_trajectories(q, runs)
    >>> ax = plot_losses(runs, landscape=q)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from course_lib._validation import check_bool, check_choice, check_int, check_number
from course_lib.landscapes import Landscape, Trajectory
from course_lib.plots.figure import axes_or_new, figure_with_axes

if TYPE_CHECKING:
    from course_lib.experiments.gd import GDResult
    from course_lib.experiments.momentum import MomentumResult, PhaseDiagram

__all__ = [
    "contour_levels",
    "draw_gd",
    "draw_momentum",
    "draw_phase_diagram",
    "plot_contours",
    "plot_loss_curves",
    "plot_losses",
    "plot_trajectories",
]

#: Smallest value drawn on a log axis: exact zeros (a run that reached the minimum) are shown here.
LOG_FLOOR = 1e-16


def _check_trajectories(trajectories) -> dict[str, Trajectory]:
    if not isinstance(trajectories, Mapping):
        raise TypeError(
            f"trajectories must be a dict {{label: Trajectory}}, got {type(trajectories).__name__}"
        )
    if not trajectories:
        raise ValueError("trajectories must hold at least one {label: Trajectory} entry, got {}")
    for label, path in trajectories.items():
        if not isinstance(path, Trajectory):
            raise TypeError(
                f"trajectories[{label!r}] must be a Trajectory, got {type(path).__name__}"
            )
    return {str(k): v for k, v in trajectories.items()}


def _check_colors(colors) -> list[str] | None:
    if colors is None:
        return None
    if isinstance(colors, (str, bytes)) or not isinstance(colors, Sequence) or not colors:
        raise TypeError(
            f"colors must be a non-empty sequence of matplotlib colours, got {colors!r}"
        )
    return list(colors)


def _label(label: str, path: Trajectory) -> str:
    return f"{label} (diverged at step {path.diverged_at})" if path.diverged else label


def contour_levels(Z: np.ndarray, levels: int = 25, log: bool = False) -> np.ndarray:
    """Increasing contour levels for the values ``Z``.

    Linear landscapes get levels spaced quadratically above the minimum, so the level sets of a
    quadratic :math:`f` are evenly spaced ellipses; ``log=True`` spaces them geometrically (steep
    valleys such as Rosenbrock's).

    Args:
        Z: the grid values.
        levels: how many levels (>= 2).
        log: geometric spacing.

    Returns:
        A 1-D array of ``levels`` strictly increasing values.
    """
    check_int("levels", levels, low=2)
    z = np.asarray(Z, dtype=np.float64)
    z = z[np.isfinite(z)]
    lo, hi = float(z.min()), float(z.max())
    if hi <= lo:
        hi = lo + 1.0
    if log:
        span = hi - lo
        return lo + np.geomspace(span * 1e-4, span, levels)
    return lo + (hi - lo) * np.linspace(0.0, 1.0, levels + 1)[1:] ** 2


def plot_contours(
    landscape: Landscape,
    ax=None,
    *,
    levels: int = 25,
    n: int = 200,
    filled: bool = False,
    cmap: str = "viridis",
    title: str | None = None,
):
    """Draw the contours of ``landscape`` over its bounds and mark its minimiser :math:`\\theta^*`.

    Args:
        landscape: the function to draw.
        ax: matplotlib ``Axes``; a new figure when ``None``.
        levels: number of contour levels (>= 2); log-spaced when ``landscape.log_contours``.
        n: grid points per axis (>= 10).
        filled: ``contourf`` instead of contour lines.
        cmap: matplotlib colour map name.
        title: axes title; the landscape's name when ``None``.

    Returns:
        The ``Axes``, limited to the landscape's bounds.

    Example:
        >>> from course_lib.landscapes import rosenbrock
        >>> ax = plot_contours(rosenbrock())
    """
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be a Landscape, got {type(landscape).__name__}")
    check_int("n", n, low=10)
    check_bool("filled", filled)
    X, Y, Z = landscape.grid(n)
    lev = contour_levels(Z, levels, log=landscape.log_contours)
    ax = axes_or_new(ax, figsize=(5.0, 4.0))
    draw = ax.contourf if filled else ax.contour
    draw(X, Y, Z, levels=lev, cmap=cmap, linewidths=None if filled else 0.8, alpha=0.8)
    ax.plot(*landscape.minimum, marker="*", color="black", markersize=12, linestyle="none")
    (x0, x1), (y0, y1) = landscape.bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.set_title(landscape.name if title is None else title)
    return ax


def plot_trajectories(
    landscape: Landscape,
    trajectories: Mapping[str, Trajectory],
    ax=None,
    *,
    levels: int = 25,
    n: int = 200,
    markers: bool = True,
    legend: bool = True,
    title: str | None = None,
    colors: Sequence[str] | None = None,
):
    """Contours of ``landscape`` with the path :math:`\\theta_0 \\to \\theta_1 \\to \\dots` of each run.

    Each run is a line (with a dot per iterate when ``markers``) from a circle at :math:`\\theta_0`;
    a run that diverged ends in a cross at its last finite point and its legend entry says
    "diverged at step k". The axes keep the landscape's bounds, so far-flung iterates are clipped.

    Args:
        landscape: the function the runs minimised.
        trajectories: ``{label: Trajectory}`` (from :func:`course_lib.landscapes.trajectory`).
        ax: matplotlib ``Axes``; a new figure when ``None``.
        levels, n: contour levels and grid size, as in :func:`plot_contours`.
        markers: draw a dot at every iterate.
        legend: draw a legend.
        title: axes title; the landscape's name when ``None``.
        colors: matplotlib colours, one per run in order (cycled when shorter); the axes' colour
            cycle when ``None``. Small multiples (one run per panel) use it to keep each run's colour.

    Returns:
        The ``Axes``.

    Example:
        >>> import functools, torch
        >>> from course_lib.landscapes import quadratic, trajectory
        >>> q = quadratic(10.0)
        >>> ax = plot_trajectories(q, {"GD": trajectory(q, functools.partial(torch.optim.SGD, lr=1.5))})
    """
    runs = _check_trajectories(trajectories)
    check_bool("markers", markers)
    check_bool("legend", legend)
    palette = _check_colors(colors)
    ax = plot_contours(landscape, ax, levels=levels, n=n, title=title)
    for k, (label, path) in enumerate(runs.items()):
        pts = np.asarray(path.points)
        style = {} if palette is None else {"color": palette[k % len(palette)]}
        (line,) = ax.plot(
            pts[:, 0],
            pts[:, 1],
            marker="." if markers else None,
            markersize=4,
            linewidth=1.3,
            label=_label(label, path),
            **style,
        )
        color = line.get_color()
        ax.plot(*pts[0], marker="o", color=color, markersize=6, linestyle="none")
        if path.diverged:
            ax.plot(*pts[-1], marker="x", color=color, markersize=10, mew=2.5, linestyle="none")
    if legend:
        ax.legend(fontsize=8, loc="best")
    return ax


def plot_losses(
    trajectories: Mapping[str, Trajectory],
    ax=None,
    *,
    landscape: Landscape | None = None,
    f_min: float | None = None,
    log: bool = True,
    legend: bool = True,
    title: str | None = None,
    colors: Sequence[str] | None = None,
):
    """Sub-optimality :math:`f(\\theta_t) - f^*` against the step :math:`t` for each run.

    On the log scale a run that converges linearly, :math:`f(\\theta_t) - f^* \\approx C \\rho^{2t}`,
    is a straight line with slope :math:`2 \\log_{10} \\rho`. Values at or below zero are drawn at
    ``LOG_FLOOR``. A diverged run ends with a cross and "diverged at step k" in the legend.

    Args:
        trajectories: ``{label: Trajectory}``.
        ax: matplotlib ``Axes``; a new figure when ``None``.
        landscape: when given (and ``f_min`` is not), :math:`f^* = f(\\theta^*)` at its minimiser.
        f_min: :math:`f^*` to subtract; 0 when neither it nor ``landscape`` is given.
        log: log-scale y axis.
        legend: draw a legend.
        title: axes title.
        colors: matplotlib colours, one per run in order (cycled); the colour cycle when ``None``.

    Returns:
        The ``Axes``.

    Example:
        >>> import functools, torch
        >>> from course_lib.landscapes import quadratic, trajectory
        >>> q = quadratic(10.0)
        >>> ax = plot_losses({"GD": trajectory(q, functools.partial(torch.optim.SGD, lr=1.5))})
    """
    runs = _check_trajectories(trajectories)
    check_bool("log", log)
    check_bool("legend", legend)
    if f_min is None:
        f_min = float(landscape(landscape.minimum)) if landscape is not None else 0.0
    check_number("f_min", f_min)
    palette = _check_colors(colors)
    ax = axes_or_new(ax, figsize=(5.0, 3.5))
    for k, (label, path) in enumerate(runs.items()):
        gap = np.asarray(path.losses, dtype=np.float64) - f_min
        if log:
            gap = np.maximum(gap, LOG_FLOOR)
        steps = np.arange(len(gap))
        style = {} if palette is None else {"color": palette[k % len(palette)]}
        (line,) = ax.plot(steps, gap, linewidth=1.5, label=_label(label, path), **style)
        if path.diverged:
            ax.plot(steps[-1], gap[-1], marker="x", color=line.get_color(), markersize=10, mew=2.5)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$f(\theta_t) - f^*$")
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=8, loc="best")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_loss_curves(
    curves: Mapping[str, Sequence | np.ndarray],
    ax=None,
    *,
    x: Sequence | np.ndarray | None = None,
    log: bool = True,
    spread: str = "minmax",
    xlabel: str = "step",
    ylabel: str = "loss",
    legend: bool = True,
    title: str | None = None,
):
    """Loss curves, one per label; a 2-D entry ``(runs, points)`` is drawn as mean and a band.

    Use it for training curves over several seeds: each label's array holds one row per seed, the line
    is the mean over rows and the shaded band spans the min-max (``spread="minmax"``) or mean ± one
    standard deviation (``spread="std"``) of the rows; ``spread="none"`` draws no band.

    Args:
        curves: ``{label: values}``, values of shape ``(points,)`` or ``(runs, points)``.
        ax: matplotlib ``Axes``; a new figure when ``None``.
        x: the x values (shared by all curves); ``0, 1, ...`` when ``None``.
        log: log-scale y axis.
        spread: ``"minmax"``, ``"std"`` or ``"none"``.
        xlabel, ylabel, title: axis labels and title.
        legend: draw a legend.

    Returns:
        The ``Axes``.

    Example:
        >>> import numpy as np
        >>> ax = plot_loss_curves({"B=32": np.array([[2.0, 1.0, 0.5], [2.1, 1.2, 0.6]])}, x=[1, 2, 3])
    """
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(f"curves must be a non-empty dict {{label: values}}, got {curves!r:.60}")
    check_choice("spread", spread, ("minmax", "std", "none"))
    check_bool("log", log)
    check_bool("legend", legend)
    ax = axes_or_new(ax, figsize=(5.0, 3.5))
    for label, values in curves.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] == 0:
            raise ValueError(
                f"curves[{label!r}] must have shape (points,) or (runs, points), got {arr.shape}"
            )
        xs = np.arange(arr.shape[1]) if x is None else np.asarray(x, dtype=np.float64)
        if xs.shape != (arr.shape[1],):
            raise ValueError(
                f"x must have one value per point ({arr.shape[1]}) of curves[{label!r}], "
                f"got shape {xs.shape}"
            )
        mean = arr.mean(axis=0)
        (line,) = ax.plot(xs, mean, linewidth=1.5, label=str(label))
        if arr.shape[0] > 1 and spread != "none":
            if spread == "minmax":
                lo, hi = arr.min(axis=0), arr.max(axis=0)
            else:
                sd = arr.std(axis=0)
                lo, hi = mean - sd, mean + sd
            if log:
                lo = np.maximum(lo, LOG_FLOOR)
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=8, loc="best")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def draw_gd(result: GDResult, axes=None):
    """Draw a :class:`GDResult`: the path on the contours, and the loss per step (measured and theory).

    Args:
        result: from :func:`course_lib.experiments.gd.compute_gd`.
        axes: two matplotlib ``Axes``; a new ``(10, 4)`` figure when ``None``.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = figure_with_axes(axes, 2, figsize=(10, 4))
    label = f"GD, lr={result.lr:.3g}"
    runs = {label: result.trajectory}
    plot_trajectories(result.landscape, runs, axes[0], title=f"κ = {result.condition_number:.3g}")
    plot_losses(runs, axes[1], landscape=result.landscape, title="loss per step")
    theory = result.theory_losses
    finite = np.isfinite(theory) & (theory > 0)
    t = np.arange(len(theory))
    axes[1].plot(t[finite], theory[finite], "k--", linewidth=1, label="theory")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def draw_phase_diagram(diagram: PhaseDiagram, ax=None, *, point=None, colorbar: bool = True):
    """Colour map of the speed :math:`1 - \\rho` over (lr, momentum), log scale; divergence in grey.

    Brighter is faster. White contour lines mark rates 0.5, 0.8, 0.9, 0.95, 0.99; a cyan star the grid's
    best point, labelled with its rate in a dark box placed towards the middle of the panel (the best
    point lies in the brightest region, where cyan text alone is unreadable); a green circle ``point``.

    Args:
        diagram: from :func:`course_lib.experiments.momentum.phase_diagram`.
        ax: matplotlib ``Axes``; a new figure when ``None``.
        point: ``(lr, momentum)`` to mark (the current setting), or ``None``.
        colorbar: add a colour bar.

    Returns:
        The ``Axes``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    ax = axes_or_new(ax, figsize=(4.5, 4))
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
        result: from :func:`course_lib.experiments.momentum.compute_momentum`.
        axes: three matplotlib ``Axes``; a new ``(14, 4)`` figure when ``None``.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = figure_with_axes(axes, 3, figsize=(14, 4))
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
