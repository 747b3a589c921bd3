"""The figure scaffolding every plot of the course shares: draw on the given axes or on a new figure.

matplotlib is imported only when a new figure is made, so importing this module is cheap.

    >>> fig, (left, right) = figure_with_axes(None, ncols=2, figsize=(6, 3))
    >>> len(fig.axes), figure_with_axes(left)[0] is fig, axes_or_new(right) is right
    (2, True, True)
"""

from __future__ import annotations

__all__ = ["axes_or_new", "figure_with_axes"]


def axes_or_new(ax=None, figsize=(6.0, 3.5)):
    """``ax`` itself, or the ``Axes`` of a new figure of size ``figsize`` (inches) when ``None``."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def figure_with_axes(axes=None, ncols: int = 1, figsize=(6.0, 3.5)):
    """``(figure, axes)``: a new figure with ``ncols`` axes side by side, or the given axes' figure.

    Args:
        axes: ``None``, one ``Axes`` (``ncols == 1``) or a sequence of ``ncols`` of them.
        ncols: how many axes a new figure gets (>= 1).
        figsize: a new figure's size in inches.

    Returns:
        The ``Figure`` and ``axes`` (one ``Axes`` when ``ncols == 1``, else an array of them).
    """
    if axes is None:
        import matplotlib.pyplot as plt

        return plt.subplots(1, ncols, figsize=figsize)
    first = axes if ncols == 1 else axes[0]
    return first.figure, axes
