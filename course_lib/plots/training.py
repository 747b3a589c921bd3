"""Plots for training: loss curves, per-group hyperparameters, the LR range test, group learning rates.

Every function draws on ``ax`` (a new figure when ``None``) and returns the axes. matplotlib is
imported when a function is called, not when this module is imported.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from course_lib.plots.figure import axes_or_new, figure_with_axes

if TYPE_CHECKING:
    from course_lib.experiments.lr_finder import LRFinderReading
    from course_lib.experiments.transfer import TransferReading

__all__ = [
    "draw_lr_finder",
    "draw_transfer",
    "plot_group_lrs",
    "plot_history",
    "plot_hparams",
    "plot_lr_finder",
]


def plot_history(history, ax=None, *, metric: str = "loss", show_steps: bool = True):
    """Loss (or a metric) curves of a ``fit`` history against optimizer steps.

    Per-step training losses are drawn faintly (``show_steps``), epoch means of training and
    validation as markers at the step each epoch ended. A divergence is marked with a red line.

    Args:
        history: a ``course_lib.training.History``.
        ax: matplotlib axes, or ``None`` for a new figure.
        metric: ``"loss"`` or a metric name recorded per epoch (``"accuracy"``).
        show_steps: also draw the per-step losses (only for ``metric="loss"``).

    Example:
        >>> from course_lib.training import History
        >>> h = History(step_loss=[2.0, 1.5, 1.2, 1.0], epochs={"step": [2, 4],
        ...             "train_loss": [1.75, 1.1], "val_loss": [1.6, 1.2]})
        >>> ax = plot_history(h)
    """
    ax = axes_or_new(ax)
    if metric == "loss" and show_steps and history.step_loss:
        finite = [v if math.isfinite(v) else float("nan") for v in history.step_loss]
        ax.plot(range(1, len(finite) + 1), finite, lw=0.8, alpha=0.35, label="train (per step)")
    steps = history.epochs.get("step", [])
    for split, marker in (("train", "o"), ("val", "s")):
        values = history.epochs.get(f"{split}_{metric}")
        if values and any(v is not None for v in values):
            pts = [(s, v) for s, v in zip(steps, values) if v is not None]
            ax.plot(*zip(*pts), marker=marker, label=f"{split} (epoch mean)")
    if history.diverged:
        ax.axvline(history.diverged_at + 1, color="tab:red", ls="--", label="diverged")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(metric)
    if metric == "loss":
        positive = [v for v in history.step_loss if math.isfinite(v) and v > 0]
        if positive and max(positive) / min(positive) > 100:
            ax.set_yscale("log")
    ax.legend()
    return ax


def plot_hparams(history, key: str = "lr", ax=None, *, log: bool = False):
    """One line per parameter group: the ``lr`` (or ``momentum``, ``beta1``) each step used.

    Example:
        >>> from course_lib.training import History
        >>> h = History(group_names=["body", "head"], lr=[[0.01, 0.1], [0.005, 0.05]])
        >>> ax = plot_hparams(h, "lr", log=True)
    """
    ax = axes_or_new(ax)
    rows = getattr(history, key)
    n_groups = max((len(r) for r in rows), default=0)
    for g in range(n_groups):
        values = history.series(key, g)
        name = history.group_names[g] if g < len(history.group_names) else str(g)
        ax.plot(range(len(values)), [math.nan if v is None else v for v in values], label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(key)
    if log:
        ax.set_yscale("log")
    if n_groups:
        ax.legend(title="group")
    return ax


def plot_lr_finder(result, ax=None, *, show_raw: bool = True):
    """The LR range test: loss against learning rate (log axis), with the suggestions marked.

    The y-range is cut a little above the first loss, so the final blow-up does not flatten the
    interesting part of the curve.

    Example:
        >>> from course_lib.lr_finder import LRFinderResult
        >>> r = LRFinderResult([1e-4, 1e-3, 1e-2, 1e-1], [2.0, 1.8, 1.0, 3.0], [2.0, 1.9, 1.5, 2.0],
        ...                    {"steepest": 1e-2, "min_over_10": 1e-3}, [1.0], True, 1.5)
        >>> ax = plot_lr_finder(r)
    """
    ax = axes_or_new(ax)
    if show_raw:
        ax.plot(result.lrs, result.losses, lw=0.8, alpha=0.35, label="loss")
    ax.plot(result.lrs, result.smoothed, label="smoothed loss")
    colors = {"steepest": "tab:green", "min_over_10": "tab:orange"}
    labels = {"steepest": "steepest descent", "min_over_10": "minimum / 10"}
    for key, lr in result.suggestions.items():
        if lr is not None:
            ax.axvline(
                lr,
                color=colors.get(key, "tab:gray"),
                ls="--",
                label=f"{labels.get(key, key)}: {lr:.2g}",
            )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    if result.smoothed:
        low = min(result.smoothed)
        high = max(result.smoothed[0], low) * 1.25
        if math.isfinite(low) and math.isfinite(high) and high > low:
            ax.set_ylim(low - 0.05 * (high - low), high)
    ax.legend()
    return ax


def plot_group_lrs(optimizer_or_groups, ax=None, *, key: str = "lr", log: bool = True):
    """Horizontal bars: one hyperparameter (default ``lr``) of every parameter group, by name.

    Example:
        >>> ax = plot_group_lrs([{"params": [], "name": "body", "lr": 1e-3},
        ...                      {"params": [], "name": "head", "lr": 1e-2}])
    """
    groups = getattr(optimizer_or_groups, "param_groups", optimizer_or_groups)
    ax = axes_or_new(ax)
    names = [str(g.get("name", i)) for i, g in enumerate(groups)]
    values = [float(g[key]) if key in g else math.nan for g in groups]
    ax.barh(range(len(groups)), values)
    ax.set_yticks(range(len(groups)), names)
    ax.invert_yaxis()
    ax.set_xlabel(key)
    if log and any(v > 0 for v in values if math.isfinite(v)):
        ax.set_xscale("log")
    return ax


def draw_lr_finder(reading: LRFinderReading, ax=None):
    """Plot a reading: the range-test curve with its suggestions and the minimum.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = figure_with_axes(ax, figsize=(7, 3.8))
    if reading.result.lrs:
        plot_lr_finder(reading.result, ax)
        if reading.lr_at_min is not None:
            ax.axvline(reading.lr_at_min, color="k", lw=1, ls=":", label="minimum")
        if reading.steepest_before_min is not None:
            ax.axvline(
                reading.steepest_before_min,
                color="tab:purple",
                lw=1,
                ls="-.",
                label="steepest < min",
            )
        ax.legend(fontsize=8)
    ax.set_title(f"{reading.optimizer} on the {reading.model} (MNIST-1D)")
    fig.tight_layout()
    return fig


def draw_transfer(reading: TransferReading, axes=None):
    """Plot a reading: test accuracy per epoch, and the training loss per epoch (log axis).

    Returns:
        The matplotlib ``Figure``.
    """
    chance = math.log(10)  # the loss of a uniform guess over the 10 classes
    fig, axes = figure_with_axes(axes, 2, figsize=(9, 3.2))
    colour = "tab:red" if reading.failed else "tab:blue"
    axes[0].plot(range(len(reading.test_acc_per_epoch)), reading.test_acc_per_epoch, "o-", c=colour)
    axes[0].axhline(0.1, color="gray", lw=1, ls=":", label="chance")
    axes[0].set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1), title="target test accuracy")
    axes[0].legend(fontsize=8)
    finite = [v if math.isfinite(v) else float("nan") for v in reading.train_loss]
    axes[1].plot(range(len(finite)), finite, "o-", c=colour)
    axes[1].axhline(chance, color="gray", lw=1, ls=":", label="ln 10 (chance)")
    axes[1].set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="training loss")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"γ_b = {reading.backbone_lr:.2g}, γ_h = {reading.head_lr:.2g}", fontsize=10)
    fig.tight_layout()
    return fig
