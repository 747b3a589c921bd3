r"""Plot schedules, :math:`\gamma_t` against the step :math:`t`, with no model and no optimizer.

:func:`plot_schedule` draws one or several ``course_lib.schedules`` schedules (or any callables of
the step) on one ``Axes`` and marks where something happens: the milestones of step decays, the
restarts of warm-restart cosines, the boundaries of joined schedules (the end of a warm-up), the
cycle and phase ends of cyclic and one-cycle schedules (``schedule.events(n)``).
:func:`plot_schedule_grid` draws several schedules as small multiples, one labelled panel each.
Symbols as in ``docs/notation.md``: :math:`\gamma_t` the learning rate at step :math:`t`.

matplotlib is imported inside the function, so importing this module is cheap.

    >>> from course_lib.schedules import CosineWarmRestarts, StepDecay, warmup_cosine
    >>> ax = plot_schedule(
    ...     {"step": StepDecay(0.1, 30), "SGDR": CosineWarmRestarts(0.1, T_0=10, T_mult=2),
    ...      "warm-up + cosine": warmup_cosine(0.1, warmup_steps=10, total_steps=100)},
    ...     steps=100)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from course_lib._validation import check_bool, check_int
from course_lib.plots.figure import axes_or_new, figure_with_axes
from course_lib.schedules import Schedule, curve

if TYPE_CHECKING:
    from course_lib.experiments.schedules import ScheduleCurve

__all__ = ["EVENT_STYLES", "draw_schedules", "plot_schedule", "plot_schedule_grid"]

#: line style of the vertical marks, by event kind (see ``Schedule.events``)
EVENT_STYLES = {
    "milestone": ":",
    "restart": "--",
    "boundary": "-.",
    "cycle": ":",
    "phase": ":",
}


def _named(schedules, labels) -> list[tuple[str, Callable]]:
    if isinstance(schedules, Mapping):
        if labels is not None:
            raise ValueError(
                "labels must be None when schedules is a dict (its keys are the labels)"
            )
        items = [(str(k), v) for k, v in schedules.items()]
    elif callable(schedules):
        items = [(labels if isinstance(labels, str) else type(schedules).__name__, schedules)]
        labels = None
    elif isinstance(schedules, Sequence) and not isinstance(schedules, (str, bytes)):
        if labels is None:
            labels = [f"{type(s).__name__}" for s in schedules]
        elif isinstance(labels, str) or len(labels) != len(schedules):
            raise ValueError(
                f"labels must be a list with one label per schedule ({len(schedules)}), got {labels!r}"
            )
        items = [(str(lab), s) for lab, s in zip(labels, schedules)]
    else:
        raise TypeError(
            "schedules must be a schedule, a list of schedules or a dict {label: schedule}, "
            f"got {type(schedules).__name__}"
        )
    if not items:
        raise ValueError("schedules must hold at least one schedule, got none")
    for label, s in items:
        if not callable(s):
            raise TypeError(f"schedule {label!r} must be callable (step -> value), got {s!r}")
    return items


def plot_schedule(
    schedules: Callable | Sequence[Callable] | Mapping[str, Callable],
    steps: int,
    ax=None,
    labels: Sequence[str] | None = None,
    mark: bool = True,
    *,
    ylabel: str = "value",
):
    r"""Draw :math:`\gamma_t` for :math:`t = 0, \dots, \text{steps} - 1`, one line per schedule.

    Each value holds for its whole step (a step plot). With ``mark=True`` every event inside the
    range (``schedule.events(steps)``) is a vertical line in the schedule's colour, styled by kind
    (:data:`EVENT_STYLES`: milestones dotted, restarts dashed, join boundaries dash-dotted); each
    line carries ``gid="event:<kind>"``.

    Args:
        schedules: one schedule, a list of schedules, or ``{label: schedule}``; any callable of the
            step works (plain callables have no events).
        steps: number of steps to draw, an integer ``>= 1``.
        ax: the matplotlib ``Axes`` to draw on (a new figure when ``None``).
        labels: labels for a list of schedules (default: the class names).
        mark: draw the events.
        ylabel: label of the y axis.

    Returns:
        The ``Axes``.

        >>> from course_lib.schedules import Cosine
        >>> ax = plot_schedule([Cosine(0.1, 50)], steps=50, labels=["cosine"])
        >>> len(ax.get_lines())
        1
    """
    items = _named(schedules, labels)
    steps = check_int("steps", steps, low=1)
    check_bool("mark", mark)
    ax = axes_or_new(ax, figsize=(6.0, 3.5))
    t = np.arange(steps)
    for label, schedule in items:
        (line,) = ax.plot(t, curve(schedule, steps), drawstyle="steps-post", label=label)
        if mark and isinstance(schedule, Schedule):
            for x, kind in schedule.events(steps):
                ax.axvline(
                    x,
                    color=line.get_color(),
                    linestyle=EVENT_STYLES.get(kind, ":"),
                    linewidth=0.8,
                    alpha=0.6,
                    gid=f"event:{kind}",
                )
    ax.set_xlabel("step $t$")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, max(steps - 1, 1))
    if len(items) > 1 or labels is not None or isinstance(schedules, Mapping):
        ax.legend()
    return ax


def plot_schedule_grid(
    schedules: Mapping[str, Callable],
    steps: int,
    ncols: int = 4,
    *,
    notes: Mapping[str, str] | None = None,
    xlabel: str = "step $t$",
    ylabel: str = r"lr $\gamma_t$",
    panel_size: tuple[float, float] = (3.2, 2.2),
    mark: bool = True,
):
    r"""Small multiples: one panel per schedule, each titled with its name and with both axes labelled.

    Every panel is :func:`plot_schedule` of one schedule (x: ``xlabel``, y: ``ylabel``, so a panel
    read alone still says what it shows). ``notes`` adds text-only panels after the curves (e.g. a
    scheduler that has no formula in :math:`t`); panels left over are switched off.

    Args:
        schedules: ``{title: schedule}`` (schedules or any callables of the step), at least one.
        steps: number of steps drawn in every panel, an integer ``>= 1``.
        ncols: panels per row, an integer ``>= 1``.
        notes: optional ``{title: text}`` panels without a curve.
        xlabel, ylabel: the axis labels of every panel.
        panel_size: width and height of one panel in inches.
        mark: draw each schedule's events (see :func:`plot_schedule`).

    Returns:
        ``(fig, axes)``, ``axes`` a flat list of the ``Axes`` (curves first, then notes, then unused).

        >>> from course_lib.schedules import Cosine, StepDecay
        >>> fig, axes = plot_schedule_grid({"cosine": Cosine(0.1, 50), "step": StepDecay(0.1, 10)}, 50)
        >>> [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in axes[:2]]
        [('cosine', 'step $t$', 'lr $\\gamma_t$'), ('step', 'step $t$', 'lr $\\gamma_t$')]
    """
    if not isinstance(schedules, Mapping) or not schedules:
        raise TypeError(
            "schedules must be a non-empty dict {title: schedule}, "
            f"got {type(schedules).__name__}"
        )
    steps = check_int("steps", steps, low=1)
    ncols = check_int("ncols", ncols, low=1)
    notes = {} if notes is None else dict(notes)
    for title, text in notes.items():
        if not isinstance(text, str):
            raise TypeError(f"notes[{title!r}] must be a string, got {text!r}")
    import matplotlib.pyplot as plt

    n = len(schedules) + len(notes)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
        squeeze=False,
    )
    axes = list(grid.flat)
    for ax, (title, schedule) in zip(axes, schedules.items()):
        plot_schedule({title: schedule}, steps, ax=ax, mark=mark, ylabel=ylabel)
        ax.get_legend().remove()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    for ax, (title, text) in zip(axes[len(schedules) :], notes.items()):
        ax.set_title(title, fontsize=9)
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes


def _legend_below(ax) -> None:
    """Move the legend below the axes: the long labels would hide the curves and the y label."""
    ax.get_legend().remove()
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), frameon=False
    )


def draw_schedules(current: ScheduleCurve | None, overlay=(), ax=None, *, log: bool = False):
    """Draw the overlay curves and the current one (thicker) with ``plot_schedule``.

    Every curve is drawn over the current curve's steps (schedules are functions of the step, so
    an overlay made with another :math:`T` is simply evaluated further or shorter). An invalid
    current curve is left out.

    Args:
        current: the curve being designed (or ``None``).
        overlay: curves kept for comparison.
        ax: matplotlib ``Axes`` (a new ``(7, 3.8)`` figure when ``None``).
        log: logarithmic y axis (only when every drawn value is > 0).

    Returns:
        The matplotlib ``Figure``.
    """
    check_bool("log", log)
    fig, ax = figure_with_axes(ax, figsize=(7, 3.8))
    curves = [c for c in overlay if c.ok]
    if current is not None and current.ok:
        curves.append(current)
    if not curves:
        ax.text(0.5, 0.5, "nothing to draw", ha="center", va="center", transform=ax.transAxes)
        return fig
    steps = current.steps if current is not None and current.ok else curves[-1].steps
    named: dict[str, Schedule] = {}
    for c in curves:
        named.setdefault(c.label, c.schedule)
    plot_schedule(named, steps, ax=ax, ylabel="learning rate")
    if current is not None and current.ok:
        for line in ax.get_lines():
            if line.get_label() == current.label:
                line.set_linewidth(2.5)
    positive = all(float(np.min(curve(s, steps))) > 0 for s in named.values())
    if log and positive:
        ax.set_yscale("log")
    if ax.get_legend() is not None:
        _legend_below(ax)
    fig.tight_layout()
    return fig
