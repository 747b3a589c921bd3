"""Plots for training: loss curves, per-group hyperparameters, the LR range test, group learning rates.

Every function draws on ``ax`` (a new figure when ``None``) and returns the axes. matplotlib is
imported when a function is called, not when this module is imported.
"""

from __future__ import annotations

import math

__all__ = ["plot_group_lrs", "plot_history", "plot_hparams", "plot_lr_finder"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


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
    ax = _axes(ax)
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
    ax = _axes(ax)
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
    ax = _axes(ax)
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
    ax = _axes(ax)
    names = [str(g.get("name", i)) for i, g in enumerate(groups)]
    values = [float(g[key]) if key in g else math.nan for g in groups]
    ax.barh(range(len(groups)), values)
    ax.set_yticks(range(len(groups)), names)
    ax.invert_yaxis()
    ax.set_xlabel(key)
    if log and any(v > 0 for v in values if math.isfinite(v)):
        ax.set_xscale("log")
    return ax
