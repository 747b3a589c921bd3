"""Muon explorer: the singular values of a matrix through Newton-Schulz steps (notebook 09).

A thin shell: :func:`course_lib.experiments.muon.compute_orthogonalisation` computes,
:func:`draw_orthogonalisation` draws, :class:`MuonExplorer` holds the controls, the status line and
the figure.

    >>> w = MuonExplorer(draw=False)
    >>> w.result.singular_values.shape, "singular values in" in w.status.value
    ((6, 16), True)
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from course_lib.experiments.muon import (
    CUBIC_COEFFICIENTS,
    Orthogonalisation,
    compute_orthogonalisation,
    quintic,
    quintic_band,
)
from course_lib.optim.muon import NS_COEFFICIENTS
from course_lib.plots.figure import figure_with_axes
from course_lib.widgets._base import SLIDER_STYLE, Explorer

__all__ = ["SHAPES", "MuonExplorer", "draw_orthogonalisation"]

#: The matrix shapes of the aspect slider: about 512 entries each, from wide to tall.
SHAPES = ((8, 64), (16, 32), (24, 24), (32, 16), (64, 8))
COEFFICIENTS = (("torch's quintic", NS_COEFFICIENTS), ("cubic (1.5, −0.5, 0)", CUBIC_COEFFICIENTS))


def draw_orthogonalisation(result: Orthogonalisation, axes=None):
    """Two panels: every singular value against the step, and the map σ → p^k(σ) at step k.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = figure_with_axes(axes, 2, figsize=(10, 3.6))
    low, high = quintic_band(result.ns_coefficients)
    steps = np.arange(result.ns_steps + 1)
    for ax in axes:
        ax.axhspan(low, high, color="tab:green", alpha=0.15, lw=0, label="band after many steps")
        ax.axhline(1.0, color="k", lw=1, ls="--", label="U V^T: all 1")
    axes[0].plot(steps, result.singular_values, color="tab:blue", lw=0.8, marker=".")
    axes[0].set(
        xlabel="Newton-Schulz step k",
        ylabel="singular values of X_k",
        yscale="log",
        title=f"{result.shape[0]}×{result.shape[1]}, condition {result.condition:.3g}",
    )
    axes[0].legend(fontsize=8, loc="lower right")

    sigma = np.logspace(-5, 0, 400)
    mapped = sigma
    for _ in range(result.ns_steps):
        mapped = quintic(mapped, result.ns_coefficients)
    axes[1].plot(sigma, mapped, color="tab:orange", label=f"p applied {result.ns_steps} times")
    axes[1].plot(result.predicted[0], result.singular_values[-1], "o", ms=4, label="this matrix")
    axes[1].set(
        xscale="log",
        xlabel="singular value of X_0 = u / ‖u‖_F",
        ylabel=f"after {result.ns_steps} steps",
        title=f"distance to U V^T: {result.distance[-1]:.3f}",
    )
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


class MuonExplorer(Explorer):
    """Newton-Schulz steps, condition number, matrix shape, coefficients: the singular values.

    Children (in order): ``steps_slider`` (k in 0..10), ``condition_slider`` (log10 of the
    condition number, 0..4), ``shape_slider`` (a :data:`SHAPES` entry), ``coefficients``
    (ToggleButtons: torch's quintic or the classical cubic), ``status`` (HTML) and ``figure`` (an
    ``Image``). ``result`` holds the latest
    :class:`~course_lib.experiments.muon.Orthogonalisation` (``None`` after a failure, whose
    message then shows in the status).

    Args:
        ns_steps, log10_condition, shape, seed: initial values (``shape`` one of :data:`SHAPES`).
        draw: draw the figure (tests switch it off).

    Example:
        >>> w = MuonExplorer(draw=False)
        >>> w.steps_slider.value = 0
        >>> w.result.distance.shape  # only X_0
        (1,)
    """

    def __init__(
        self,
        ns_steps: int = 5,
        log10_condition: float = 2.0,
        shape: tuple[int, int] = (32, 16),
        *,
        seed: int = 0,
        draw: bool = True,
    ) -> None:
        self.seed = seed
        common = {**SLIDER_STYLE, "layout": widgets.Layout(width="480px")}
        self.steps_slider = widgets.IntSlider(
            value=ns_steps, min=0, max=10, description="NS steps k", **common
        )
        self.condition_slider = widgets.FloatSlider(
            value=log10_condition,
            min=0.0,
            max=4.0,
            step=0.25,
            description="log10 condition",
            **common,
        )
        self.shape_slider = widgets.SelectionSlider(
            options=[(f"{rows}×{cols}", (rows, cols)) for rows, cols in SHAPES],
            value=tuple(shape),
            description="shape",
            **common,
        )
        self.coefficients = widgets.ToggleButtons(
            options=COEFFICIENTS,
            value=NS_COEFFICIENTS,
            description="(a, b, c)",
            style=common["style"],
        )
        controls = [self.steps_slider, self.condition_slider, self.shape_slider, self.coefficients]
        self._build(controls, draw=draw)

    def compute(self) -> Orthogonalisation:
        return compute_orthogonalisation(
            self.shape_slider.value,
            self.steps_slider.value,
            10.0**self.condition_slider.value,
            self.seed,
            self.coefficients.value,
        )

    def describe(self, result: Orthogonalisation) -> tuple[str, bool]:
        """Green when every singular value is within [0.5, 1.5]: every direction takes a step of
        about the same size."""
        return result.status, 0.5 <= result.band[0] and result.band[1] <= 1.5

    def draw(self, result: Orthogonalisation):
        return draw_orthogonalisation(result)
