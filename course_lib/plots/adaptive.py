"""Plots of notebooks 03 and 04: optimizer races, Adam's bias correction, results over seeds.

- :func:`plot_race`: the paths of a :class:`~course_lib.experiments.adaptive.RaceResult` on the contours,
  next to :math:`f(\\theta_t) - f^*` per step (log scale).
- :func:`plot_bias_correction`: :math:`m_t, \\hat m_t`, then :math:`v_t, \\hat v_t`, then the step
  sizes with and without correction, over the first steps.
- :func:`plot_seed_spread`: one metric of a :class:`~course_lib.compare.Table` per configuration:
  every seed as a dot, the mean as a bar, an error bar of one standard deviation (or min to max),
  labelled as such.

matplotlib is imported inside the functions.

    >>> from course_lib.experiments.adaptive import bias_correction
    >>> fig = plot_bias_correction(bias_correction(steps=20))
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_lib._validation import check_choice
from course_lib.plots.figure import axes_or_new, figure_with_axes
from course_lib.plots.landscapes import plot_losses, plot_trajectories

__all__ = ["plot_bias_correction", "plot_race", "plot_seed_spread"]


def plot_race(result, *, figsize=(11.0, 4.2), markers: bool = False):
    """Paths on the contours (left) and :math:`f(\\theta_t) - f^*` per step (right) of a race.

    Args:
        result: a :class:`~course_lib.experiments.adaptive.RaceResult`.
        figsize: figure size in inches.
        markers: a dot at every iterate.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, (ax1, ax2) = figure_with_axes(None, 2, figsize)
    runs = result.labelled()
    plot_trajectories(result.landscape, runs, ax1, markers=markers, legend=False)
    plot_losses(runs, ax2, f_min=result.f_min)
    ax2.set_title(f"{result.landscape.name}: sub-optimality")
    fig.tight_layout()
    return fig


def plot_bias_correction(result, *, figsize=(12.0, 3.6)):
    """Raw vs bias-corrected moments and step sizes of a :func:`bias_correction` result.

    Left: :math:`g_t`, :math:`m_t` and :math:`\\hat m_t`. Middle: :math:`g_t^2`, :math:`v_t` and
    :math:`\\hat v_t` (log scale). Right: the step :math:`\\gamma \\hat m_t / (\\sqrt{\\hat v_t} + \\varepsilon)`
    and its uncorrected counterpart, in units of :math:`\\gamma`.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, (a1, a2, a3) = figure_with_axes(None, 3, figsize)
    t = result.t
    a1.plot(t, result.g, color="0.7", lw=1, label="$g_t$")
    a1.plot(t, result.m, label="$m_t$ (raw)")
    a1.plot(t, result.m_hat, label=r"$\hat m_t$ (corrected)")
    a1.set(xlabel="step $t$", title=f"first moment, β1={result.beta1:g}")
    a1.legend(fontsize=8)
    a2.plot(t, result.g**2, color="0.7", lw=1, label="$g_t^2$")
    a2.plot(t, result.v, label="$v_t$ (raw)")
    a2.plot(t, result.v_hat, label=r"$\hat v_t$ (corrected)")
    a2.set_yscale("log")
    a2.set(xlabel="step $t$", title=f"second moment, β2={result.beta2:g}")
    a2.legend(fontsize=8)
    a3.plot(t, result.step_uncorrected / result.lr, label="uncorrected")
    a3.plot(t, result.step_corrected / result.lr, label="corrected (Adam)")
    a3.axhline(1.0, color="0.5", lw=0.8, ls="--")
    a3.set(xlabel="step $t$", ylabel=r"step / $\gamma$", title="step size")
    a3.legend(fontsize=8)
    for ax in (a1, a2, a3):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_seed_spread(
    table,
    metric: str,
    ax=None,
    *,
    configs: Sequence[str] | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    error: str = "std",
    legend: bool = True,
):
    """One metric per configuration: a bar at the mean, an error bar, a dot per seed.

    The error bar is one sample standard deviation either side of the mean (``error="std"``) or
    spans the smallest to the largest seed (``error="minmax"``); the legend says which, and the
    default title too.

    Args:
        table: a :class:`~course_lib.compare.Table` (rows per configuration and seed).
        metric: the metric to draw.
        ax: matplotlib ``Axes``; a new figure when ``None``.
        configs: which configurations, in this order (all of them by default).
        title, ylabel: labels (the metric's name by default).
        error: ``"std"`` (mean ± 1 std) or ``"minmax"`` (min to max over the seeds).
        legend: label the bar, the error bar and the dots in a legend.

    Returns:
        The ``Axes``.

    Example:
        >>> from course_lib.compare import run_grid
        >>> t = run_grid({"a": lambda s: {"acc": 0.5 + 0.01 * s}, "b": lambda s: {"acc": 0.6}}, [0, 1])
        >>> ax = plot_seed_spread(t, "acc")
        >>> [text.get_text() for text in ax.get_legend().get_texts()]
        ['one seed', 'mean', 'error bar: ± 1 std']
    """
    check_choice("metric", metric, table.metrics)
    check_choice("error", error, ("std", "minmax"))
    configs = table.configs if configs is None else list(configs)
    for c in configs:
        check_choice("configs[]", c, table.configs)
    ax = axes_or_new(ax, figsize=(max(4.0, 1.1 * len(configs) + 1.5), 3.4))
    summary = table.summary([metric])
    error_label = "error bar: ± 1 std" if error == "std" else "error bar: min to max"
    for i, c in enumerate(configs):
        values = table.values(c, metric)
        mean = summary.mean(c, metric)
        first = i == 0
        ax.bar(i, mean, color="C0", alpha=0.35, width=0.6, label="mean" if first else None)
        if len(values) > 1:
            if error == "std":
                yerr = summary.std(c, metric)
            else:
                yerr = [[mean - summary.min(c, metric)], [summary.max(c, metric) - mean]]
            ax.errorbar(
                i,
                mean,
                yerr=yerr,
                color="C0",
                capsize=4,
                lw=1.5,
                label=error_label if first else None,
            )
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
        ax.plot(
            i + jitter, values, "o", color="C1", markersize=4, label="one seed" if first else None
        )
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels(configs, rotation=20, ha="right")
    ax.set_ylabel(ylabel or metric)
    n = len(table.seeds)
    spread = "mean ± std" if error == "std" else "mean, min to max"
    ax.set_title(title or f"{metric}: {spread} over {n} seed{'s' if n != 1 else ''}")
    ax.grid(axis="y", alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    return ax
