r"""Explorers that work without a kernel: Plotly figures whose slider steps were computed in advance.

The ipywidgets explorers of notebooks 01, 02 and 05 recompute on every move of a slider, so a static
page (the book, ``make book``) shows them frozen. Where the parameter space is small, the figures here
compute every slider value in advance with the same ``course_lib`` function the widget calls and
store one Plotly *frame* per value; the page's plotly.js swaps frames as the reader moves the slider.

- :func:`gd_explorer_figure` (notebook 01): gradient descent on :math:`f(\theta) = \tfrac12 (L x^2 +
  \ell y^2)`, :math:`\ell = L/\kappa`, one frame per learning rate :math:`\gamma`, from
  :func:`course_lib.experiments.gd.compute_gd`: the path, the loss per step and the closed-form loss
  :math:`f(\theta_t) = \tfrac12 \sum_i h_i (1 - \gamma h_i)^{2t} e_{i,0}^2`.
- :func:`momentum_explorer_figure` (notebook 02): heavy ball and Nesterov at a fixed :math:`\gamma`,
  one frame per momentum :math:`\mu`, from :func:`course_lib.experiments.momentum.compute_momentum`:
  both paths, their losses against plain gradient descent, and the analytic rate :math:`\rho(\mu)`.
- :func:`schedule_designer_figure` (notebook 05): one argument of a schedule of
  :data:`~course_lib.experiments.schedules.SCHEDULE_CATALOGUE`, one frame per value, from
  :func:`~course_lib.experiments.schedules.compute_schedule`: the curve :math:`\gamma_t` and the torch
  line that gives the same rates.

Every frame carries the status line the widget shows, as the figure's one annotation: a run that
diverges stops at the step where it blew up (never a NaN) and its annotation says "diverged at step
k", in red; an invalid schedule shows "invalid: ..." and no curve. Numbers are rounded to ``digits``
significant digits and stored as plain lists, which keeps each figure's JSON in the tens of kilobytes.

Show a figure in a notebook with ``fig.show(renderer="plotly_mimetype")``: the output then holds only
the ``application/vnd.plotly.v1+json`` data, which JupyterLab draws with its plotly extension and the
book with its local copy of plotly.js (no network either way).

    >>> fig = gd_explorer_figure(lrs=[0.5, 2.2], steps=100)
    >>> len(fig.frames), [s.label for s in fig.layout.sliders[0].steps]
    (2, ['0.5', '2.2'])
    >>> fig.frames[1].layout.annotations[0].text.startswith("diverged at step")
    True
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from course_lib._validation import check_choice, check_int, check_number
from course_lib.experiments.gd import compute_gd
from course_lib.experiments.momentum import compute_momentum
from course_lib.experiments.schedules import SCHEDULE_CATALOGUE, Param, compute_schedule
from course_lib.landscapes import Landscape, Trajectory, momentum_rate

__all__ = [
    "DEFAULT_LRS",
    "DEFAULT_MOMENTUMS",
    "MAX_FRAMES",
    "gd_explorer_figure",
    "momentum_explorer_figure",
    "schedule_designer_figure",
    "slider_values",
]

#: The learning rates of :func:`gd_explorer_figure` (times :math:`1/L`): 24 on a log grid from 0.05 to
#: 2.4, so the last two lie past the divergence threshold :math:`2/L`.
DEFAULT_LRS = tuple(float(f"{v:.3g}") for v in np.geomspace(0.05, 2.4, 24))
#: The momentums of :func:`momentum_explorer_figure`: 0 to 0.95 in steps of 0.05.
DEFAULT_MOMENTUMS = tuple(round(0.05 * k, 2) for k in range(20))
#: The most slider values one figure accepts (its JSON grows with every frame).
MAX_FRAMES = 60
_OK, _BAD = "#060", "#b00"  # the widgets' status colours
_COLOURS = {"gd": "#7f7f7f", "heavy ball": "#1f77b4", "Nesterov": "#d62728"}
_ANIMATE = {
    "mode": "immediate",
    "frame": {"duration": 0, "redraw": True},
    "transition": {"duration": 0},
}


def _round(values, digits: int) -> list[float]:
    """``values`` as a list of floats with ``digits`` significant digits (finite values only)."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).ravel()]


def _check_values(name: str, values, **bounds) -> list:
    """A non-empty sequence of at most :data:`MAX_FRAMES` distinct numbers within ``bounds``.

    ``bounds`` are :func:`course_lib._validation.check_number`'s (``low``, ``high``, ...).
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    if not 1 <= len(values) <= MAX_FRAMES:
        raise ValueError(f"{name} must hold 1 to {MAX_FRAMES} values, got {len(values)}")
    for k, v in enumerate(values):
        check_number(f"{name}[{k}]", v, **bounds)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a value, got {list(values)}")
    return list(values)


def _lines(lines: Sequence[str], width: int = 110) -> str:
    """Lines of plain text as one annotation text: wrapped at ``width``, HTML-escaped, ``<br>``-joined."""
    wrapped = [
        part for line in lines for part in textwrap.wrap(line, width, break_on_hyphens=False)
    ]
    return "<br>".join(html.escape(part, quote=False) for part in wrapped)


def _status_annotation(text: str, ok: bool) -> dict:
    """The frame's one annotation: the widget's status line above the panels, green or red."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.0,
        "y": 1.02,
        "xanchor": "left",
        "yanchor": "bottom",
        "align": "left",
        "showarrow": False,
        "font": {"size": 12, "color": _OK if ok else _BAD},
    }


def _finish(fig: go.Figure, frames: list[go.Frame], labels: list[str], prefix: str, active: int):
    """Add the frames, a slider with one step per frame, and show frame ``active`` first."""
    fig.frames = frames
    for index, update in zip(frames[active].traces, frames[active].data):
        fig.data[index].update({k: v for k, v in update.to_plotly_json().items() if k != "type"})
    fig.update_layout(annotations=frames[active].layout.annotations)
    steps = [
        {"method": "animate", "label": label, "args": [[frame.name], _ANIMATE]}
        for frame, label in zip(frames, labels)
    ]
    slider = {
        "active": active,
        "steps": steps,
        "currentvalue": {"prefix": prefix},
        "pad": {"t": 40},
    }
    fig.update_layout(sliders=[slider])
    return fig


def _contours(land: Landscape, digits: int, xaxis: str = "x", yaxis: str = "y") -> go.Contour:
    """The loss surface over the landscape's bounds (41 x 41 points), a static trace."""
    X, Y, Z = land.grid(41)
    return go.Contour(
        x=_round(X[0], digits),
        y=_round(Y[:, 0], digits),
        z=[_round(row, 3) for row in Z],
        colorscale="Greys",
        reversescale=True,
        showscale=False,
        contours={"coloring": "lines"},
        ncontours=15,
        hoverinfo="skip",
        xaxis=xaxis,
        yaxis=yaxis,
    )


def _path(path: Trajectory, digits: int) -> dict:
    """x and y of a path's finite iterates."""
    return {"x": _round(path.points[:, 0], digits), "y": _round(path.points[:, 1], digits)}


def _losses(losses, digits: int) -> dict:
    """The loss at steps 0, 1, ... (``x0``/``dx``, no x list); a gap where a log axis cannot go."""
    losses = np.asarray(losses, dtype=np.float64)
    shown = [
        v if v > 0 else None for v in _round(np.where(np.isfinite(losses), losses, 0.0), digits)
    ]
    return {"x0": 0, "dx": 1, "y": shown}


def _base_layout(fig: go.Figure, land: Landscape, loss_range, loss_domain) -> None:
    """Axes shared by the two quadratic explorers: the path panel (equal scale) and a log loss axis."""
    (x0, x1), (y0, y1) = land.bounds
    fig.update_layout(
        height=480,
        margin={"t": 90, "l": 60, "r": 20, "b": 40},
        legend={"orientation": "h", "x": 1.0, "y": 1.02, "xanchor": "right", "yanchor": "bottom"},
        xaxis={"domain": [0.0, 0.3], "range": [x0, x1], "title": {"text": "x"}},
        yaxis={"range": [y0, y1], "title": {"text": "y"}, "scaleanchor": "x"},
        xaxis2={"domain": list(loss_domain), "title": {"text": "step t"}, "anchor": "y2"},
        yaxis2={"type": "log", "range": list(loss_range), "anchor": "x2"},
    )
    fig.update_layout(yaxis2_title={"text": "loss f(θ_t)", "standoff": 2})


def _log_range(frames_losses, floor: float = -20.0, ceiling: float = 15.0) -> tuple[float, float]:
    """A fixed log10 range that holds every frame's losses (clipped to [floor, ceiling] decades)."""
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in frames_losses])
    values = values[np.isfinite(values) & (values > 0)]
    low, high = math.log10(values.min()), math.log10(values.max())
    return max(floor, math.floor(low)), min(ceiling, math.ceil(high) + 0.3)


def _nearest(values: Sequence[float], target: float) -> int:
    """Index of the value closest to ``target`` (the slider step shown first)."""
    return int(np.argmin(np.abs(np.asarray(values, dtype=np.float64) - target)))


def _gd_frame(k: int, result, digits: int) -> go.Frame:
    """One learning rate: the path, the measured loss and the closed-form loss, and the status."""
    status = _lines(result.status.split("; "))
    theory = result.theory_losses[: len(result.trajectory.losses)]
    data = [
        go.Scatter(**_path(result.trajectory, digits)),
        go.Scatter(**_losses(result.trajectory.losses, digits)),
        go.Scatter(**_losses(theory, digits)),
    ]
    annotation = _status_annotation(status, not result.trajectory.diverged and result.rate < 1.0)
    return go.Frame(name=str(k), data=data, traces=[1, 2, 3], layout={"annotations": [annotation]})


def gd_explorer_figure(
    lr: float = 1.0,
    condition_number: float = 10.0,
    steps: int = 100,
    *,
    lrs: Sequence[float] | None = None,
    L: float = 1.0,
    digits: int = 4,
) -> go.Figure:
    r"""Notebook 01's explorer without a kernel: one slider step per learning rate.

    Each step holds :func:`course_lib.experiments.gd.compute_gd` at that :math:`\gamma`: gradient
    descent :math:`\theta_{t+1} = \theta_t - \gamma \nabla f(\theta_t)` on
    :math:`f(\theta) = \tfrac12 (L x^2 + \ell y^2)`, :math:`\ell = L/\kappa`, from
    :math:`\theta_0 = (-2, 1)`: the path on the contours (left), the loss per step and the closed form
    :math:`\tfrac12 \sum_i h_i (1 - \gamma h_i)^{2t} e_{i,0}^2` (right, dashed), and the widget's
    status line. Past :math:`\gamma = 2/L` the factor :math:`|1 - \gamma L|` exceeds 1: the run stops
    where it blew up and the status says "diverged at step k".

    Args:
        lr: the rate shown first (the nearest slider value).
        condition_number: :math:`\kappa` (>= 1).
        steps: number of steps (1 to 300, the widget's range).
        lrs: the slider's rates (at most :data:`MAX_FRAMES`, each >= 0); ``None``:
            :data:`DEFAULT_LRS` divided by ``L``.
        L: the largest curvature (> 0).
        digits: significant digits kept (3 to 8).

    Returns:
        A ``plotly.graph_objects.Figure`` with one frame per rate.

    Example:
        >>> fig = gd_explorer_figure(lrs=[0.1, 1.0], steps=10)
        >>> fig.layout.sliders[0].active, fig.data[2].y[:3]
        (1, (2.05, 0.0405, 0.03281))
    """
    check_number("lr", lr, low=0.0)
    check_int("steps", steps, low=1, high=300)
    check_number("L", L, low=0.0, low_inclusive=False)
    digits = check_int("digits", digits, low=3, high=8)
    rates = [v / L for v in DEFAULT_LRS] if lrs is None else _check_values("lrs", lrs, low=0.0)
    results = [compute_gd(rate, condition_number, steps, L=L) for rate in rates]
    land = results[0].landscape
    fig = go.Figure(
        [
            _contours(land, digits),
            go.Scatter(name="path θ_t", mode="lines+markers", marker={"size": 4}),
            go.Scatter(name="loss (measured)", mode="lines", xaxis="x2", yaxis="y2"),
            go.Scatter(name="closed form", mode="lines", line={"dash": "dash", "color": "black"},
                       xaxis="x2", yaxis="y2"),
        ]
    )  # fmt: skip
    frames = [_gd_frame(k, r, digits) for k, r in enumerate(results)]
    loss_range = _log_range([r.trajectory.losses for r in results])
    _base_layout(fig, land, loss_range, (0.45, 1.0))
    labels = [f"{v:.3g}" for v in rates]
    return _finish(fig, frames, labels, "lr γ = ", _nearest(rates, lr))


def _method_line(name: str, result) -> str:
    """The widget's status of one method, shortened to its verdict and its rate."""
    if result.trajectory.diverged:
        return (
            f"{name}: diverged at step {result.trajectory.diverged_at} (rate {result.rate:.4f} > 1)"
        )
    return f"{name}: final loss {result.trajectory.losses[-1]:.3g}, rate {result.rate:.4f}"


def _momentum_frame(k: int, heavy, nesterov, digits: int) -> go.Frame:
    """One momentum: both paths, both losses, both points on the rate curves, and the status."""
    data = [
        go.Scatter(**_path(heavy.trajectory, digits)),
        go.Scatter(**_path(nesterov.trajectory, digits)),
        go.Scatter(**_losses(heavy.trajectory.losses, digits)),
        go.Scatter(**_losses(nesterov.trajectory.losses, digits)),
        go.Scatter(x=[heavy.momentum], y=_round([heavy.rate], digits)),
        go.Scatter(x=[nesterov.momentum], y=_round([nesterov.rate], digits)),
    ]
    lines = [_method_line("heavy ball", heavy), _method_line("Nesterov", nesterov)]
    ok = all(not r.trajectory.diverged and r.rate < 1.0 for r in (heavy, nesterov))
    annotation = _status_annotation(_lines(lines), ok)
    return go.Frame(
        name=str(k), data=data, traces=[1, 2, 4, 5, 9, 10], layout={"annotations": [annotation]}
    )


def _line(name: str, colour: str, panel: int, **kwargs) -> go.Scatter:
    """A line of one method (``colour``) in panel 1 (paths), 2 (losses) or 3 (rates)."""
    axes = {"xaxis": f"x{panel}", "yaxis": f"y{panel}"} if panel > 1 else {}
    style = {"mode": "lines", "line": {"color": colour}, "showlegend": panel == 1}
    return go.Scatter(name=name, **axes, **{**style, **kwargs})


def _momentum_traces(first, lr: float, condition_number: float, L: float, digits: int) -> list:
    r"""Traces 0-10: contours; heavy ball, Nesterov, GD paths; their losses; ρ(μ) twice; 2 markers.

    Plain gradient descent (``first.gd_trajectory``) and the rate curves
    :math:`\rho(\mu)` at this :math:`\gamma` (:func:`course_lib.landscapes.momentum_rate`, 100 values
    of :math:`\mu` in [0, 0.99]) are the same in every frame; the frames fill the others.
    """
    mus = np.linspace(0.0, 0.99, 100)
    eig = (L, L / condition_number)
    hb, nag, gd = _COLOURS["heavy ball"], _COLOURS["Nesterov"], _COLOURS["gd"]
    marked = {"mode": "lines+markers", "marker": {"size": 3}}
    traces = [_contours(first.landscape, digits), _line("heavy ball", hb, 1, **marked)]
    traces += [
        _line("Nesterov", nag, 1, **marked),
        _line("plain GD", gd, 1, **_path(first.gd_trajectory, digits)),
    ]
    traces += [_line("heavy ball", hb, 2), _line("Nesterov", nag, 2)]
    traces.append(_line("plain GD", gd, 2, **_losses(first.gd_trajectory.losses, digits)))
    for name, nesterov in (("heavy ball", False), ("Nesterov", True)):
        rates = momentum_rate(lr, mus, eig, nesterov=nesterov)
        curve = {"x": _round(mus, 3), "y": _round(rates, digits)}
        traces.append(_line(f"rate ρ, {name}", _COLOURS[name], 3, **curve))
    for name in ("heavy ball", "Nesterov"):
        dot = {"size": 10, "color": _COLOURS[name], "line": {"color": "black", "width": 1}}
        traces.append(_line(f"μ now, {name}", _COLOURS[name], 3, mode="markers", marker=dot))
    return traces


def _rate_axes(fig: go.Figure, lr: float, rates: list[float]) -> None:
    r"""Panel 3: :math:`\rho` against :math:`\mu`, a dotted line at :math:`\rho = 1` (no convergence)."""
    top, low = min(1.2, max(rates) + 0.02), max(0.0, min(rates) - 0.05)
    one = {"type": "line", "xref": "x3", "yref": "y3", "x0": 0, "x1": 1, "y0": 1, "y1": 1}
    fig.update_layout(
        xaxis3={"domain": [0.72, 1.0], "range": [0.0, 1.0], "anchor": "y3"},
        yaxis3={"range": [low, top], "anchor": "x3"},
        xaxis3_title_text="momentum μ",
        yaxis3_title_text=f"rate ρ at γ = {lr:.3g}",
        shapes=[{**one, "line": {"dash": "dot", "color": "black", "width": 1}}],
    )


def momentum_explorer_figure(
    lr: float = 1.0,
    momentum: float = 0.5,
    condition_number: float = 100.0,
    steps: int = 100,
    *,
    momentums: Sequence[float] | None = None,
    L: float = 1.0,
    digits: int = 4,
) -> go.Figure:
    r"""Notebook 02's explorer without a kernel: one slider step per momentum, at a fixed rate.

    Each step holds :func:`course_lib.experiments.momentum.compute_momentum` at that :math:`\mu` for
    the heavy ball, :math:`b_t = \mu b_{t-1} + \nabla f(\theta_{t-1})`,
    :math:`\theta_t = \theta_{t-1} - \gamma b_t`, and for Nesterov,
    :math:`\theta_t = \theta_{t-1} - \gamma (g_t + \mu b_t)`, on
    :math:`\tfrac12 (L x^2 + \ell y^2)`: both paths (left), their losses against plain gradient
    descent at the same :math:`\gamma` (middle), and the analytic rate :math:`\rho(\mu)` of both
    methods (right, the explorer's phase diagram cut at this :math:`\gamma`) with the current
    :math:`\mu` marked. A run whose rate exceeds 1 stops where it blew up ("diverged at step k").

    Args:
        lr: :math:`\gamma` (>= 0), fixed for every step.
        momentum: the :math:`\mu` shown first (the nearest slider value).
        condition_number: :math:`\kappa` (>= 1).
        steps: number of steps (1 to 300, the widget's range).
        momentums: the slider's :math:`\mu` (at most :data:`MAX_FRAMES`, each in [0, 1));
            ``None``: :data:`DEFAULT_MOMENTUMS`.
        L: the largest curvature (> 0).
        digits: significant digits kept (3 to 8).

    Returns:
        A ``plotly.graph_objects.Figure`` with one frame per momentum.

    Example:
        >>> fig = momentum_explorer_figure(lr=1.9, momentums=[0.0, 0.9], steps=50)
        >>> print(fig.frames[1].layout.annotations[0].text.split("<br>")[1].split(" (")[0])
        Nesterov: diverged at step 18
    """
    check_number("lr", lr, low=0.0)
    check_number("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
    check_int("steps", steps, low=1, high=300)
    check_number("L", L, low=0.0, low_inclusive=False)
    digits = check_int("digits", digits, low=3, high=8)
    mus = list(DEFAULT_MOMENTUMS) if momentums is None else momentums
    mus = _check_values("momentums", mus, low=0.0, high=1.0, high_inclusive=False)
    runs = [
        [compute_momentum(lr, mu, nesterov, condition_number, steps, L=L) for mu in mus]
        for nesterov in (False, True)
    ]
    fig = go.Figure(_momentum_traces(runs[0][0], lr, condition_number, L, digits))
    frames = [_momentum_frame(k, h, n, digits) for k, (h, n) in enumerate(zip(*runs))]
    every = runs[0] + runs[1]
    _base_layout(
        fig, runs[0][0].landscape, _log_range([r.trajectory.losses for r in every]), (0.37, 0.63)
    )
    _rate_axes(fig, lr, [r.rate for r in every])
    labels = [f"{mu:.3g}" for mu in mus]
    return _finish(fig, frames, labels, f"γ = {lr:.3g}, momentum μ = ", _nearest(mus, momentum))


def slider_values(param: Param, n: int = 25) -> list:
    """The values of a catalogue argument that :func:`schedule_designer_figure` offers by default.

    ``n`` points over the argument's range: evenly spaced and rounded to its step (``"float"``,
    ``"int"``), geometrically spaced with 3 significant digits (``"log"``), every option (``"choice"``,
    ``"bool"``). Repeats after rounding are dropped.

    Example:
        >>> slider_values(SCHEDULE_CATALOGUE["step"].params[1], n=5)
        [1, 126, 250, 375, 500]
        >>> slider_values(SCHEDULE_CATALOGUE["one-cycle"].params[1], n=3)
        [0.01, 0.5, 0.99]
    """
    check_int("n", n, low=2, high=MAX_FRAMES)
    if param.kind in ("bool", "choice"):
        return list(param.extremes())
    low, high = float(param.low or 0.0), float(param.high or 0.0)
    if param.kind == "log":
        raw = [float(f"{v:.3g}") for v in np.geomspace(low, high, n)]
    elif param.kind == "int":
        raw = [round(float(v)) for v in np.linspace(low, high, n)]
    else:
        step = float(param.step or 0.01)
        raw = [round(round(v / step) * step, 10) for v in np.linspace(low, high, n)]
    return list(dict.fromkeys(raw))


def _schedule_values(spec, param: str, values) -> tuple[Param, list]:
    """The catalogue argument named ``param`` and the checked slider values for it."""
    names = [p.name for p in spec.params]
    if param not in names:
        raise ValueError(
            f"param must be one of the arguments of {spec.name!r}, {names}; got {param!r}"
        )
    arg = spec.params[names.index(param)]
    if values is None:
        return arg, slider_values(arg)
    if arg.kind in ("bool", "choice"):
        for k, v in enumerate(values):
            if v not in arg.extremes():
                raise ValueError(f"values[{k}] must be one of {list(arg.extremes())}, got {v!r}")
        return arg, list(values)
    checked = _check_values("values", values, low=arg.low, high=arg.high)
    if arg.kind == "int":
        checked = [check_int(f"values[{k}]", v) for k, v in enumerate(checked)]
    return arg, checked


def _schedule_frame(k: int, curve, digits: int) -> go.Frame:
    """One argument value: the curve (empty when invalid), the status and the torch line."""
    lines = [curve.status, curve.torch_code] if curve.ok else [curve.status]
    data = [go.Scatter(x0=0, dx=1, y=_round(curve.values, digits))]  # t = 0, 1, ..., T-1
    annotation = _status_annotation(_lines(lines), curve.ok)
    return go.Frame(name=str(k), data=data, traces=[0], layout={"annotations": [annotation]})


def schedule_designer_figure(
    name: str = "one-cycle",
    param: str = "pct_start",
    steps: int = 200,
    *,
    values: Sequence | None = None,
    digits: int = 4,
    **params,
) -> go.Figure:
    r"""Notebook 05's designer without a kernel: one slider step per value of one schedule argument.

    Each step holds :func:`course_lib.experiments.schedules.compute_schedule` for the schedule
    ``name`` with ``param`` at that value and every other argument at ``params`` or its catalogue
    default: the learning rate :math:`\gamma_t` for :math:`t = 0, \dots, T-1`, the status line
    (start, peak, final and mean rate :math:`\frac1T \sum_t \gamma_t`) and the line of torch that
    gives the same rates. A value the schedule rejects shows "invalid: ..." and no curve.

    Args:
        name: a key of :data:`~course_lib.experiments.schedules.SCHEDULE_CATALOGUE`.
        param: the argument the slider moves (one of that schedule's arguments).
        steps: :math:`T` (10 to 1000, the designer's range).
        values: the slider's values (at most :data:`MAX_FRAMES`, inside the argument's range);
            ``None``: :func:`slider_values` of the argument.
        digits: significant digits kept (3 to 8).
        **params: fixed values of the other arguments.

    Returns:
        A ``plotly.graph_objects.Figure`` with one frame per value; the catalogue default (or the
        value nearest to it) is shown first.

    Example:
        >>> fig = schedule_designer_figure("one-cycle", "pct_start", 100, values=[0.01, 0.3])
        >>> [f.layout.annotations[0].text[:8] for f in fig.frames]
        ['invalid:', '100 step']
    """
    check_choice("name", name, SCHEDULE_CATALOGUE)
    spec = SCHEDULE_CATALOGUE[name]
    steps = check_int("steps", steps, low=10, high=1000)
    digits = check_int("digits", digits, low=3, high=8)
    if param in params:
        raise ValueError(
            f"{param!r} is the slider's argument: give its values as values=, not {param}="
        )
    arg, chosen = _schedule_values(spec, param, values)
    curves = [compute_schedule(name, steps, **params, **{param: v}) for v in chosen]
    fig = go.Figure([go.Scatter(name="γ_t", mode="lines", line={"color": "#1f77b4"})])
    frames = [_schedule_frame(k, c, digits) for k, c in enumerate(curves)]
    peaks = [float(c.values.max()) for c in curves if c.ok] or [1.0]
    floors = [float(c.values.min()) for c in curves if c.ok] or [0.0]
    fig.update_layout(
        height=420,
        margin={"t": 90, "l": 70, "r": 20, "b": 40},
        xaxis={"range": [0, steps - 1], "title": {"text": "step t"}},
        yaxis={
            "range": [min(0.0, min(floors)), 1.05 * max(peaks)],
            "title": {"text": "learning rate γ_t"},
        },
    )
    labels = [str(v) if isinstance(v, (str, bool)) else f"{v:.3g}" for v in chosen]
    return _finish(fig, frames, labels, f"{name}, {param} = ", _first_shown(arg, chosen))


def _first_shown(arg: Param, chosen: list) -> int:
    """Index of the catalogue default among ``chosen``, else of the nearest number (else 0)."""
    if arg.default in chosen:
        return chosen.index(arg.default)
    if arg.kind in ("bool", "choice"):
        return 0
    return _nearest(chosen, float(arg.default))  # type: ignore[arg-type]
