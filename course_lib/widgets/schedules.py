r"""Schedule designer of notebook 05: pick a learning-rate schedule, move its arguments, compare curves.

The pure part, unit-tested:

- :data:`SCHEDULES`: every schedule the designer offers, as a :class:`ScheduleSpec` (its arguments
  with their ranges, the ``course_lib.schedules`` schedule they build, and the torch scheduler that
  gives the same learning rates).
- :func:`compute_schedule`: the curve :math:`\gamma_t` for :math:`t = 0, \dots, T-1` as arrays, with a
  status line. It never raises on argument values: an invalid combination (milestones out of order,
  a one-cycle warm-up shorter than one step, a warm-up longer than the run) gives ``ok=False`` and
  the validation message as the status.
- :func:`make_torch_scheduler`: torch's own scheduler for the same arguments (to check the curve
  against ``torch.optim.lr_scheduler``).

:class:`ScheduleDesigner` is the ipywidgets shell: a dropdown of schedules, one control per
argument, "add to overlay" to keep a curve for comparison, and the figure
(``course_lib.plots.plot_schedule``).

Symbols as in ``docs/notation.md`` and ``course_lib.schedules``: :math:`t` the step, :math:`T` the
number of steps, :math:`\gamma_t` the learning rate at step :math:`t`, :math:`\gamma` the base (peak)
learning rate, :math:`\gamma_{\min}` the final one (torch's ``eta_min``).

    >>> r = compute_schedule("one-cycle", steps=100, max_lr=0.1)
    >>> r.ok, round(float(r.values.max()), 6), int(r.values.argmax())
    (True, 0.1, 29)
    >>> compute_schedule("multistep", steps=100, milestone_1=60, milestone_2=40).ok
    False
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch

from course_lib import schedules as S
from course_lib._validation import check_bool, check_choice, check_int
from course_lib.widgets.gd import figure_png

__all__ = [
    "SCHEDULES",
    "Param",
    "ScheduleCurve",
    "ScheduleDesigner",
    "ScheduleSpec",
    "compute_schedule",
    "draw_schedules",
    "make_torch_scheduler",
]

_KINDS = ("float", "log", "int", "choice", "bool")


@dataclass(frozen=True)
class Param:
    """One argument of a schedule and the control that sets it.

    Attributes:
        name: the argument's name (torch's name where torch has the argument).
        kind: ``"float"`` (linear slider), ``"log"`` (log slider), ``"int"``, ``"choice"``, ``"bool"``.
        default: the starting value.
        low, high: the slider's range (for ``"log"``: the values, not their exponents).
        step: the slider's step (for ``"log"``: in powers of ten).
        choices: the options of a ``"choice"``.
    """

    name: str
    kind: str
    default: object
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = ()

    def __post_init__(self):
        check_choice("kind", self.kind, _KINDS)

    def extremes(self) -> tuple:
        """The values at the ends of the control (every option for a choice), for tests."""
        if self.kind == "bool":
            return (False, True)
        if self.kind == "choice":
            return tuple(self.choices)
        return (self.low, self.high)


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule of the designer: its arguments, how to build it, its torch equivalent.

    Attributes:
        name: the designer's name (dropdown value).
        torch_name: torch's scheduler class that gives these values (``"LambdaLR"`` when torch has
            no dedicated class).
        params: the arguments, in display order.
        build: ``build(steps, **params) -> Schedule`` (a module-level function).
        base_param: the argument that is the optimizer's ``lr`` for torch's scheduler (``None`` when
            torch's scheduler sets the rates itself, as CyclicLR and OneCycleLR do).
        description: one line shown under the dropdown.
    """

    name: str
    torch_name: str
    params: tuple[Param, ...]
    build: Callable
    base_param: str | None
    description: str

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}


# --------------------------------------------------------------------------------------------------
# builders: (steps, **arguments) -> Schedule
# --------------------------------------------------------------------------------------------------


def _build_constant(steps, lr):
    return S.Constant(lr)


def _build_step(steps, lr, step_size, gamma):
    return S.StepDecay(lr, step_size, gamma)


def _build_multistep(steps, lr, milestone_1, milestone_2, gamma):
    return S.MultiStepDecay(lr, (milestone_1, milestone_2), gamma)


def _build_exponential(steps, lr, gamma):
    return S.Exponential(lr, gamma)


def _build_linear(steps, lr, start_factor, end_factor, total_iters):
    return S.Scaled(S.Linear(start_factor, end_factor, total_iters), lr)


def _build_polynomial(steps, lr, total_iters, power):
    return S.Polynomial(lr, total_iters, power)


def _build_cosine(steps, lr, T_max, eta_min):
    # torch's CosineAnnealingLR keeps following the cosine past T_max (it climbs back up)
    return S.Cosine(lr, T_max, eta_min, periodic=True)


def _build_warm_restarts(steps, lr, T_0, T_mult, eta_min):
    return S.CosineWarmRestarts(lr, T_0, T_mult, eta_min)


def _build_cyclic(steps, base_lr, max_lr, step_size_up, mode, gamma):
    return S.Cyclic(base_lr, max_lr, step_size_up, mode=mode, gamma=gamma)


def _build_one_cycle(
    steps, max_lr, pct_start, div_factor, final_div_factor, anneal_strategy, three_phase
):
    return S.one_cycle(
        max_lr, steps, pct_start, anneal_strategy, div_factor, final_div_factor, three_phase
    )


def _build_warmup_cosine(steps, lr, warmup_steps, eta_min):
    return S.warmup_cosine(lr, warmup_steps, steps, final=eta_min)


def _build_inverse_sqrt(steps, lr, warmup_steps):
    return S.InverseSqrt(lr, warmup_steps)


def _build_invscaling(steps, eta0, power_t):
    return S.InvScaling(eta0, power_t)


_LR = Param("lr", "log", 0.1, 1e-4, 1.0, 0.1)
_ETA_MIN = Param("eta_min", "float", 0.0, 0.0, 0.1, 0.001)
_SPECS = [
    ScheduleSpec(
        "constant",
        "(no scheduler)",
        (_LR,),
        _build_constant,
        "lr",
        "the optimizer's lr at every step: no scheduler needed",
    ),
    ScheduleSpec(
        "step",
        "StepLR",
        (
            _LR,
            Param("step_size", "int", 30, 1, 500, 1),
            Param("gamma", "float", 0.1, 0.05, 1, 0.05),
        ),
        _build_step,
        "lr",
        "multiply by gamma every step_size steps",
    ),
    ScheduleSpec(
        "multistep",
        "MultiStepLR",
        (
            _LR,
            Param("milestone_1", "int", 50, 0, 1000, 1),
            Param("milestone_2", "int", 75, 0, 1000, 1),
            Param("gamma", "float", 0.1, 0.05, 1, 0.05),
        ),
        _build_multistep,
        "lr",
        "multiply by gamma at each milestone (they must increase)",
    ),
    ScheduleSpec(
        "exponential",
        "ExponentialLR",
        (_LR, Param("gamma", "float", 0.97, 0.9, 1.02, 0.001)),
        _build_exponential,
        "lr",
        "multiply by gamma every step (gamma > 1 grows, as in the LR range test)",
    ),
    ScheduleSpec(
        "linear",
        "LinearLR",
        (
            _LR,
            Param("start_factor", "float", 0.1, 0.01, 1.0, 0.01),
            Param("end_factor", "float", 1.0, 0.0, 1.0, 0.01),
            Param("total_iters", "int", 20, 1, 1000, 1),
        ),
        _build_linear,
        "lr",
        "a straight line from start_factor*lr to end_factor*lr over total_iters steps (warm-up)",
    ),
    ScheduleSpec(
        "polynomial",
        "PolynomialLR",
        (
            _LR,
            Param("total_iters", "int", 100, 1, 1000, 1),
            Param("power", "float", 1.0, 0.0, 4.0, 0.1),
        ),
        _build_polynomial,
        "lr",
        "decay to 0 as (1 - t/total_iters)^power, then hold 0",
    ),
    ScheduleSpec(
        "cosine",
        "CosineAnnealingLR",
        (_LR, Param("T_max", "int", 100, 1, 1000, 1), _ETA_MIN),
        _build_cosine,
        "lr",
        "half a cosine from lr to eta_min over T_max steps (torch's climbs back up after T_max)",
    ),
    ScheduleSpec(
        "warm restarts",
        "CosineAnnealingWarmRestarts",
        (
            _LR,
            Param("T_0", "int", 20, 1, 500, 1),
            Param("T_mult", "int", 2, 1, 4, 1),
            _ETA_MIN,
        ),
        _build_warm_restarts,
        "lr",
        "SGDR: cosine cycles that restart at lr, each T_mult times longer",
    ),
    ScheduleSpec(
        "cyclic",
        "CyclicLR",
        (
            Param("base_lr", "log", 1e-3, 1e-4, 1.0, 0.1),
            Param("max_lr", "log", 0.1, 1e-4, 1.0, 0.1),
            Param("step_size_up", "int", 20, 1, 500, 1),
            Param(
                "mode", "choice", "triangular", choices=("triangular", "triangular2", "exp_range")
            ),
            Param("gamma", "float", 0.99, 0.9, 1.0, 0.001),
        ),
        _build_cyclic,
        None,
        "triangles between base_lr and max_lr (gamma is used by exp_range only)",
    ),
    ScheduleSpec(
        "one-cycle",
        "OneCycleLR",
        (
            Param("max_lr", "log", 0.1, 1e-4, 1.0, 0.1),
            Param("pct_start", "float", 0.3, 0.01, 0.99, 0.01),
            Param("div_factor", "log", 25.0, 1.0, 1e3, 0.1),
            Param("final_div_factor", "log", 1e4, 1.0, 1e5, 0.1),
            Param("anneal_strategy", "choice", "cos", choices=("cos", "linear")),
            Param("three_phase", "bool", False),
        ),
        _build_one_cycle,
        None,
        "up from max_lr/div_factor to max_lr over pct_start of the run, then far down",
    ),
    ScheduleSpec(
        "warmup + cosine",
        "LambdaLR",
        (_LR, Param("warmup_steps", "int", 10, 1, 1000, 1), _ETA_MIN),
        _build_warmup_cosine,
        "lr",
        "linear warm-up from 0 over warmup_steps, then cosine to eta_min at the last step",
    ),
    ScheduleSpec(
        "inverse sqrt",
        "LambdaLR",
        (_LR, Param("warmup_steps", "int", 10, 0, 1000, 1)),
        _build_inverse_sqrt,
        "lr",
        "linear warm-up, then lr*sqrt(W/t) (the Transformer schedule; needs warmup_steps >= 1)",
    ),
    ScheduleSpec(
        "invscaling",
        "LambdaLR",
        (Param("eta0", "log", 0.1, 1e-4, 1.0, 0.1), Param("power_t", "float", 0.5, 0.0, 2.0, 0.05)),
        _build_invscaling,
        "eta0",
        "scikit-learn's learning_rate='invscaling': eta0 / (t+1)^power_t",
    ),
]

#: The designer's schedules by name, in dropdown order.
SCHEDULES: dict[str, ScheduleSpec] = {spec.name: spec for spec in _SPECS}


def _resolve_params(name: str, params: Mapping) -> tuple[ScheduleSpec, dict]:
    """The spec and the full argument dict (defaults filled in); unknown names raise."""
    check_choice("name", name, SCHEDULES)
    spec = SCHEDULES[name]
    known = spec.defaults()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {unknown} for schedule {name!r}; its arguments are {list(known)}"
        )
    return spec, {**known, **params}


def _fmt(value) -> str:
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}"


def _label(name: str, params: Mapping) -> str:
    return f"{name}(" + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()) + ")"


def _torch_code(spec: ScheduleSpec, steps: int, params: Mapping) -> str:
    """One line of torch that gives the same learning rates (optimizer built with the base lr)."""
    p = dict(params)
    base = f"optimizer built with lr={_fmt(p[spec.base_param])}; " if spec.base_param else ""
    args = {
        "StepLR": ("step_size", "gamma"),
        "ExponentialLR": ("gamma",),
        "LinearLR": ("start_factor", "end_factor", "total_iters"),
        "PolynomialLR": ("total_iters", "power"),
        "CosineAnnealingLR": ("T_max", "eta_min"),
        "CosineAnnealingWarmRestarts": ("T_0", "T_mult", "eta_min"),
        "CyclicLR": ("base_lr", "max_lr", "step_size_up", "mode", "gamma"),
    }
    t = spec.torch_name
    if t == "(no scheduler)":
        return f"{base}no scheduler"
    if t == "MultiStepLR":
        inner = f"milestones=[{p['milestone_1']}, {p['milestone_2']}], gamma={_fmt(p['gamma'])}"
    elif t == "OneCycleLR":
        inner = (
            f"max_lr={_fmt(p['max_lr'])}, total_steps={steps}, pct_start={_fmt(p['pct_start'])}, "
            f"anneal_strategy={p['anneal_strategy']!r}, div_factor={_fmt(p['div_factor'])}, "
            f"final_div_factor={_fmt(p['final_div_factor'])}, three_phase={p['three_phase']}, "
            "cycle_momentum=False"
        )
    elif t == "LambdaLR":
        inner = "lr_lambda=lambda t: schedule(t) / lr  # schedule = this curve"
    else:
        parts = [f"{k}={p[k]!r}" if isinstance(p[k], str) else f"{k}={_fmt(p[k])}" for k in args[t]]
        if t == "CyclicLR":
            parts.append("cycle_momentum=False")
        inner = ", ".join(parts)
    return f"{base}{t}(optimizer, {inner})"


@dataclass(frozen=True)
class ScheduleCurve:
    """What :func:`compute_schedule` returns: the curve, its marks, and a status line.

    Attributes:
        name: the schedule's name in :data:`SCHEDULES`.
        params: every argument, defaults filled in.
        steps: :math:`T`, the number of steps drawn.
        schedule: the ``course_lib.schedules`` schedule (``None`` when the arguments are invalid).
        t: the steps ``0 .. T-1`` (empty when invalid).
        values: :math:`\\gamma_t` at those steps (empty when invalid).
        events: ``(step, kind)`` marks inside the range (milestones, restarts, phase ends).
        ok: the arguments are valid and every value is finite.
        status: one line: the summary of the curve, or why it cannot be drawn.
        torch_code: a line of torch that gives the same rates.
        label: ``name(arg=value, ...)``, for legends.
    """

    name: str
    params: dict
    steps: int
    schedule: S.Schedule | None
    t: np.ndarray
    values: np.ndarray
    events: tuple = ()
    ok: bool = True
    status: str = ""
    torch_code: str = ""
    label: str = ""


def compute_schedule(name: str, steps: int = 100, **params) -> ScheduleCurve:
    """The curve of one of the designer's schedules over ``steps`` steps; never raises on values.

    Any argument left out takes its default (:data:`SCHEDULES` lists them). Argument values that
    the schedule rejects, or a curve that is not finite, give ``ok=False`` and the reason in
    ``status`` (the arrays are then empty).

    Args:
        name: a key of :data:`SCHEDULES` (an unknown name raises ``ValueError``).
        steps: :math:`T` (an integer >= 1; other values give ``ok=False``).
        **params: the schedule's arguments (unknown argument names raise ``ValueError``).

    Returns:
        A :class:`ScheduleCurve`. Its status reports the first and last value, the peak and where it
        is, and the mean rate :math:`\\frac1T\\sum_t \\gamma_t` (for a fixed number of steps, how far
        the schedule lets the weights travel, roughly).

    Example:
        >>> r = compute_schedule("step", steps=90, lr=0.1, step_size=30, gamma=0.1)
        >>> [round(float(v), 4) for v in r.values[[0, 30, 60]]], r.events
        ([0.1, 0.01, 0.001], ((30.0, 'milestone'), (60.0, 'milestone')))
    """
    spec, full = _resolve_params(name, params)
    empty = np.zeros(0)

    def invalid(message: str, schedule=None) -> ScheduleCurve:
        return ScheduleCurve(
            name,
            full,
            steps if isinstance(steps, int) else 0,
            schedule,
            empty,
            empty,
            (),
            False,
            f"invalid: {message}",
            "",
            _label(name, full),
        )

    try:
        steps = check_int("steps", steps, low=1)
        schedule = spec.build(steps, **full)
        values = S.curve(schedule, steps)
        events = tuple(schedule.events(steps))
    except (ValueError, TypeError, OverflowError, ZeroDivisionError) as err:
        return invalid(str(err))
    if not np.all(np.isfinite(values)):
        k = int(np.argmin(np.isfinite(values)))
        return invalid(f"the value at step {k} is not finite ({values[k]})", schedule)
    peak = int(np.argmax(values))
    status = (
        f"{steps} steps: start {values[0]:.3g}, peak {values[peak]:.3g} at step {peak}, "
        f"final {values[-1]:.3g}, mean {values.mean():.3g}"
    )
    negative = np.flatnonzero(values < 0)
    if negative.size:
        status += f"; NEGATIVE learning rate from step {int(negative[0])}"
    return ScheduleCurve(
        name,
        full,
        steps,
        schedule,
        np.arange(steps),
        values,
        events,
        True,
        status,
        _torch_code(spec, steps, full),
        _label(name, full),
    )


def _lambda_factor(schedule: Callable, base: float, t: int) -> float:
    return schedule(t) / base


def make_torch_scheduler(name: str, optimizer: torch.optim.Optimizer, steps: int = 100, **params):
    """torch's own scheduler that gives the same learning rates as :func:`compute_schedule`.

    Sets every group's ``lr`` to the schedule's base value first (``lr``/``eta0``), then builds
    the ``torch.optim.lr_scheduler`` class of :attr:`ScheduleSpec.torch_name`; schedules without a
    dedicated class become a ``LambdaLR`` with the factor :math:`s(t) = \\gamma_t/\\gamma`. ``"constant"``
    returns ``None`` (no scheduler). Invalid arguments raise here (this is not a widget).

    Example:
        >>> w = torch.zeros(1, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=1.0)
        >>> type(make_torch_scheduler("cosine", opt, 50, lr=0.1, T_max=50)).__name__
        'CosineAnnealingLR'
    """
    import functools

    from torch.optim import lr_scheduler as L

    spec, p = _resolve_params(name, params)
    steps = check_int("steps", steps, low=1)
    schedule = spec.build(steps, **p)  # validates the arguments
    if spec.base_param is not None:
        for group in optimizer.param_groups:
            group["lr"] = float(p[spec.base_param])
    t = spec.torch_name
    if t == "(no scheduler)":
        return None
    if t == "StepLR":
        return L.StepLR(optimizer, p["step_size"], p["gamma"])
    if t == "MultiStepLR":
        return L.MultiStepLR(optimizer, [p["milestone_1"], p["milestone_2"]], p["gamma"])
    if t == "ExponentialLR":
        return L.ExponentialLR(optimizer, p["gamma"])
    if t == "LinearLR":
        return L.LinearLR(optimizer, p["start_factor"], p["end_factor"], p["total_iters"])
    if t == "PolynomialLR":
        return L.PolynomialLR(optimizer, p["total_iters"], p["power"])
    if t == "CosineAnnealingLR":
        return L.CosineAnnealingLR(optimizer, p["T_max"], p["eta_min"])
    if t == "CosineAnnealingWarmRestarts":
        return L.CosineAnnealingWarmRestarts(optimizer, p["T_0"], p["T_mult"], p["eta_min"])
    if t == "CyclicLR":
        return L.CyclicLR(
            optimizer,
            p["base_lr"],
            p["max_lr"],
            p["step_size_up"],
            mode=p["mode"],
            gamma=p["gamma"],
            cycle_momentum=False,
        )
    if t == "OneCycleLR":
        return L.OneCycleLR(
            optimizer,
            p["max_lr"],
            total_steps=steps,
            pct_start=p["pct_start"],
            anneal_strategy=p["anneal_strategy"],
            div_factor=p["div_factor"],
            final_div_factor=p["final_div_factor"],
            three_phase=p["three_phase"],
            cycle_momentum=False,
        )
    base = float(p[spec.base_param])
    if base <= 0:
        raise ValueError(f"{spec.base_param} must be > 0 for a LambdaLR factor, got {base}")
    return L.LambdaLR(optimizer, functools.partial(_lambda_factor, schedule, base))


# --------------------------------------------------------------------------------------------------
# drawing and the widget
# --------------------------------------------------------------------------------------------------


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
    import matplotlib.pyplot as plt

    from course_lib.plots.schedules import plot_schedule

    check_bool("log", log)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.8))
    else:
        fig = ax.figure
    curves = [c for c in overlay if c.ok]
    if current is not None and current.ok:
        curves.append(current)
    if not curves:
        ax.text(0.5, 0.5, "nothing to draw", ha="center", va="center", transform=ax.transAxes)
        return fig
    steps = current.steps if current is not None and current.ok else curves[-1].steps
    named = {}
    for c in curves:
        named.setdefault(c.label, c.schedule)
    plot_schedule(named, steps, ax=ax, ylabel="learning rate")
    if current is not None and current.ok:
        for line in ax.get_lines():
            if line.get_label() == current.label:
                line.set_linewidth(2.5)
    positive = all(float(np.min(S.curve(s, steps))) > 0 for s in named.values())
    if log and positive:
        ax.set_yscale("log")
    legend = ax.get_legend()
    if legend is not None:  # below the axes: the long labels would hide the curves and the y label
        legend.remove()
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles,
            labels,
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(0.0, -0.2),
            frameon=False,
        )
    fig.tight_layout()
    return fig


def _control(p: Param):
    w = widgets
    style = {"description_width": "120px"}
    layout = w.Layout(width="460px")
    common = {"description": p.name, "style": style, "layout": layout}
    if p.kind == "bool":
        return w.Checkbox(value=p.default, indent=True, **common)
    if p.kind == "choice":
        return w.Dropdown(options=list(p.choices), value=p.default, **common)
    if p.kind == "int":
        return w.IntSlider(
            value=p.default, min=p.low, max=p.high, step=p.step, continuous_update=False, **common
        )
    if p.kind == "log":
        return w.FloatLogSlider(
            value=p.default,
            base=10,
            min=math.log10(p.low),
            max=math.log10(p.high),
            step=p.step,
            readout_format=".3g",
            continuous_update=False,
            **common,
        )
    return w.FloatSlider(
        value=p.default,
        min=p.low,
        max=p.high,
        step=p.step,
        readout_format=".3g",
        continuous_update=False,
        **common,
    )


class ScheduleDesigner(widgets.VBox):
    """Pick a schedule, move its arguments, add curves to an overlay and compare them.

    Children (in order): ``schedule_dropdown``, ``steps_slider`` (:math:`T`), ``description``
    (HTML: one line about the schedule), ``params_box`` (one control per argument of the chosen
    schedule, also in the dict ``sliders`` by argument name), ``log_checkbox``, a row with
    ``add_button`` ("add to overlay") and ``clear_button``, ``status`` (HTML), ``code`` (HTML: the
    torch line that gives the same rates), ``figure`` (an ``Image`` holding the PNG of the figure).
    ``result`` is the latest :class:`ScheduleCurve` and ``overlay`` the kept curves. Nothing here
    raises on a control's value: invalid combinations, and drawing errors, show their message in
    ``status``.

    The figure is an ``Image`` rather than an ``Output`` widget: headless runners
    (papermill/nbclient) mimic ``Output`` widgets by echoing every captured output back to the
    kernel, which was measured to hang a papermill run under load (see
    ``course_lib.widgets.gd.GDExplorer``); an ``Image`` is a plain value update.

    Args:
        schedule: the schedule shown first (a key of :data:`SCHEDULES`).
        steps: the initial :math:`T`.
        draw: draw the figure (tests switch it off to stay fast).

    Example:
        >>> w = ScheduleDesigner(draw=False)
        >>> w.schedule_dropdown.value = "one-cycle"
        >>> w.sliders["pct_start"].value = 0.005
        >>> w.result.ok, w.status.value.startswith("<span style='color:#b00'>invalid")
        (False, True)
    """

    def __init__(self, schedule: str = "cosine", steps: int = 100, *, draw: bool = True) -> None:
        w = widgets
        check_choice("schedule", schedule, SCHEDULES)
        steps = check_int("steps", steps, low=10, high=1000)
        self._draw = check_bool("draw", draw)
        style = {"description_width": "120px"}
        self.schedule_dropdown = w.Dropdown(
            options=[(f"{k} ({v.torch_name})", k) for k, v in SCHEDULES.items()],
            value=schedule,
            description="schedule",
            style=style,
            layout=w.Layout(width="460px"),
        )
        self.steps_slider = w.IntSlider(
            value=steps,
            min=10,
            max=1000,
            step=10,
            description="steps T",
            continuous_update=False,
            style=style,
            layout=w.Layout(width="460px"),
        )
        self.description = w.HTML()
        self.params_box = w.VBox()
        self.log_checkbox = w.Checkbox(value=False, description="log y axis", indent=True)
        self.add_button = w.Button(description="add to overlay", button_style="info")
        self.clear_button = w.Button(description="clear overlay")
        self.status = w.HTML()
        self.code = w.HTML()
        self.figure = w.Image(format="png")
        self.sliders: dict[str, widgets.Widget] = {}
        self.overlay: list[ScheduleCurve] = []
        self.result: ScheduleCurve | None = None
        self._building = False
        super().__init__(
            children=[
                self.schedule_dropdown,
                self.steps_slider,
                self.description,
                self.params_box,
                self.log_checkbox,
                w.HBox([self.add_button, self.clear_button]),
                self.status,
                self.code,
                self.figure,
            ]
        )
        self.schedule_dropdown.observe(self._on_schedule, names="value")
        self.steps_slider.observe(self._on_change, names="value")
        self.log_checkbox.observe(self._on_change, names="value")
        self.add_button.on_click(self._on_add)
        self.clear_button.on_click(self._on_clear)
        self._build_controls()
        self.update()

    # --- controls ---------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self._building = True
        try:
            spec = SCHEDULES[self.schedule_dropdown.value]
            self.sliders = {p.name: _control(p) for p in spec.params}
            for control in self.sliders.values():
                control.observe(self._on_change, names="value")
            self.params_box.children = tuple(self.sliders.values())
            self.description.value = f"<i>{spec.description}</i>"
        finally:
            self._building = False

    def _on_schedule(self, change) -> None:
        self._build_controls()
        self.update()

    def _on_change(self, change) -> None:
        if not self._building:
            self.update()

    def _on_add(self, button=None) -> None:
        if self.result is None or not self.result.ok:
            self.status.value = (
                "<span style='color:#b00'>cannot add an invalid schedule to the overlay</span>"
            )
            return
        if all(c.label != self.result.label for c in self.overlay):
            self.overlay.append(self.result)
        self.update()

    def _on_clear(self, button=None) -> None:
        self.overlay = []
        self.update()

    # --- computing and drawing -----------------------------------------------------------------------
    def params(self) -> dict:
        """The current value of every argument control."""
        return {name: control.value for name, control in self.sliders.items()}

    def update(self) -> None:
        """Recompute with the current controls, set ``result`` and ``status``, redraw."""
        try:
            self.result = compute_schedule(
                self.schedule_dropdown.value, self.steps_slider.value, **self.params()
            )
        except Exception as exc:  # a widget never raises: show the message instead
            self.result = None
            self.status.value = f"<b>error:</b> {type(exc).__name__}: {exc}"
            self.code.value = ""
            return
        colour = "#060" if self.result.ok else "#b00"
        kept = f" ({len(self.overlay)} in overlay)" if self.overlay else ""
        self.status.value = f"<span style='color:{colour}'>{self.result.status}</span>{kept}"
        self.code.value = f"<code>{self.result.torch_code}</code>" if self.result.ok else ""
        if self._draw:
            self._render()

    def _render(self) -> None:
        import matplotlib.pyplot as plt

        fig = None
        try:
            fig = draw_schedules(self.result, self.overlay, log=self.log_checkbox.value)
            self.figure.value = figure_png(fig)
        except Exception as exc:  # a widget never raises: show the message instead
            self.status.value += f"<br><b>could not draw:</b> {type(exc).__name__}: {exc}"
        finally:
            if fig is not None:
                plt.close(fig)
