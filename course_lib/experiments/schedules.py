r"""The catalogue behind notebook 05's schedule designer: every schedule, its arguments, torch's class.

- :data:`SCHEDULE_CATALOGUE`: the one table. Each entry, a :class:`ScheduleSpec`, holds the
  schedule's arguments with their ranges and defaults, the pure ``course_lib.schedules``
  constructor they feed, the ``torch.optim.lr_scheduler`` class that gives the same learning
  rates, and how to build that class's keyword arguments. Everything below reads the table: no
  code branches on a schedule's name.
- :func:`compute_schedule`: the curve :math:`\gamma_t` for :math:`t = 0, \dots, T-1` as arrays, with a
  status line. It never raises on argument values: an invalid combination (milestones out of order,
  a one-cycle warm-up shorter than one step, a warm-up longer than the run) gives ``ok=False`` and
  the validation message as the status.
- :func:`make_torch_scheduler`: torch's own scheduler for the same arguments (to check the curve
  against ``torch.optim.lr_scheduler``).

No ipywidgets or matplotlib here: ``course_lib.widgets.schedules.ScheduleDesigner`` is the widget,
``course_lib.plots.schedules.draw_schedules`` its figure.

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

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch.optim import lr_scheduler as L

from course_lib import schedules as S
from course_lib._validation import check_choice, check_int, check_number

__all__ = [
    "SCHEDULE_CATALOGUE",
    "Param",
    "ScheduleCurve",
    "ScheduleSpec",
    "compute_schedule",
    "make_torch_scheduler",
    "torch_code",
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
    """One row of :data:`SCHEDULE_CATALOGUE`: a schedule's arguments, its pure form, its torch class.

    Attributes:
        name: the designer's name (dropdown value).
        params: the arguments, in display order, with their ranges and defaults.
        build: ``build(steps, **params) -> Schedule`` (a module-level function).
        torch_class: the ``torch.optim.lr_scheduler`` class that gives the same rates (``LambdaLR``
            when torch has no dedicated class; ``None`` for a constant rate: no scheduler).
        torch_kwargs: ``torch_kwargs(steps, params, schedule) -> dict``, that class's keyword
            arguments (after the optimizer) for these argument values.
        base_param: the argument that is the optimizer's ``lr`` for torch's scheduler (``None`` when
            torch's scheduler sets the rates itself, as CyclicLR and OneCycleLR do).
        description: one line shown under the dropdown.
        code: the keyword arguments as shown in :func:`torch_code`, when they cannot be written out
            as values (a ``LambdaLR``'s function): a fixed string, or ``code(steps, params) -> str``
            (a module-level function) that writes them for these argument values; ``None``:
            written from ``torch_kwargs``.
    """

    name: str
    params: tuple[Param, ...]
    build: Callable
    torch_class: type | None
    torch_kwargs: Callable[[int, dict, S.Schedule], dict]
    base_param: str | None
    description: str
    code: str | Callable[[int, dict], str] | None = None

    @property
    def torch_name(self) -> str:
        """torch's class name, or ``"(no scheduler)"``."""
        return "(no scheduler)" if self.torch_class is None else self.torch_class.__name__

    def defaults(self) -> dict:
        """Every argument's default value, by name."""
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


def _build_wsd(steps, lr, warmup_steps, decay_fraction, cooldown, eta_min):
    return S.wsd(lr, steps, warmup_steps, decay_fraction, cooldown, final=eta_min)


def _build_inverse_sqrt(steps, lr, warmup_steps):
    return S.InverseSqrt(lr, warmup_steps)


def _build_invscaling(steps, eta0, power_t):
    return S.InvScaling(eta0, power_t)


# --------------------------------------------------------------------------------------------------
# torch's keyword arguments: (steps, params, schedule) -> dict
# --------------------------------------------------------------------------------------------------


def _pick(names: tuple[str, ...], steps: int, params: Mapping, schedule: S.Schedule) -> dict:
    """The arguments ``names`` as they are: torch's class takes them under the same names."""
    return {k: params[k] for k in names}


def _no_momentum_cycle(names: tuple[str, ...], steps, params, schedule) -> dict:
    """CyclicLR's arguments, with momentum left alone (the designer draws the rate only)."""
    return {**_pick(names, steps, params, schedule), "cycle_momentum": False}


def _milestones(steps: int, params: Mapping, schedule: S.Schedule) -> dict:
    return {"milestones": [params["milestone_1"], params["milestone_2"]], "gamma": params["gamma"]}


def _one_cycle(steps: int, params: Mapping, schedule: S.Schedule) -> dict:
    """OneCycleLR's arguments: the run's length is ``total_steps``; momentum left alone."""
    p = params
    return {
        "max_lr": p["max_lr"],
        "total_steps": steps,
        "pct_start": p["pct_start"],
        "anneal_strategy": p["anneal_strategy"],
        "div_factor": p["div_factor"],
        "final_div_factor": p["final_div_factor"],
        "three_phase": p["three_phase"],
        "cycle_momentum": False,
    }


def _lambda_factor(schedule: Callable, base: float, t: int) -> float:
    return schedule(t) / base


def _lambda(base_param: str, steps: int, params: Mapping, schedule: S.Schedule) -> dict:
    """A LambdaLR's factor :math:`s(t) = \\gamma_t / \\gamma` (the base rate must be > 0)."""
    base = float(check_number(base_param, params[base_param], low=0.0, low_inclusive=False))
    return {"lr_lambda": functools.partial(_lambda_factor, schedule, base)}


def _wsd_factor(steps: int, params: Mapping, schedule: S.Schedule) -> dict:
    """A LambdaLR's factor for WSD: the same schedule with base 1 (what ``wsd_lambda_lr`` builds)."""
    base = float(check_number("lr", params["lr"], low=0.0, low_inclusive=False))
    s = cast(S.WarmupStableDecay, schedule)
    factor = S.WarmupStableDecay(
        1.0, s.total_steps, s.warmup_steps, s.decay_steps, s.cooldown, final=s.final / base
    )
    return {"lr_lambda": factor}


#: the cooldown shapes h(x) as Python source, ``{x}`` the fraction of the cooldown done
_COOLDOWN_CODE = {
    "linear": "1 - {x}",
    "cosine": "(1 + math.cos(math.pi * {x})) / 2",
    "1-sqrt": "1 - math.sqrt({x})",
}


def _wsd_code(steps: int, params: Mapping) -> str:
    """WSD's factor written out as a lambda: the whole schedule in one line of torch and ``math``."""
    s = cast(S.WarmupStableDecay, _build_wsd(steps, **params))
    decay, stable_end = cast(int, s.decay_steps), s.decay_start
    shape = _COOLDOWN_CODE[s.cooldown].format(x=f"min(t - {stable_end}, {decay}) / {decay}")
    final = float(params["eta_min"]) / float(params["lr"])
    if final != 0.0:
        shape = f"{final:.12g} + (1 - {final:.12g}) * ({shape})"
    body = f"1.0 if t < {stable_end} else {shape}"
    if s.warmup_steps:
        body = f"t / {s.warmup_steps} if t < {s.warmup_steps} else {body}"
    return f"lr_lambda=lambda t: {body}"


def _none(steps: int, params: Mapping, schedule: S.Schedule) -> dict:
    return {}


_LAMBDA_CODE = "lr_lambda=lambda t: schedule(t) / lr  # schedule = this curve"
_LR = Param("lr", "log", 0.1, 1e-4, 1.0, 0.1)
_ETA_MIN = Param("eta_min", "float", 0.0, 0.0, 0.1, 0.001)
_SPECS = [
    ScheduleSpec(
        "constant",
        (_LR,),
        _build_constant,
        None,
        _none,
        "lr",
        "the optimizer's lr at every step: no scheduler needed",
    ),
    ScheduleSpec(
        "step",
        (
            _LR,
            Param("step_size", "int", 30, 1, 500, 1),
            Param("gamma", "float", 0.1, 0.05, 1, 0.05),
        ),
        _build_step,
        L.StepLR,
        functools.partial(_pick, ("step_size", "gamma")),
        "lr",
        "multiply by gamma every step_size steps",
    ),
    ScheduleSpec(
        "multistep",
        (
            _LR,
            Param("milestone_1", "int", 50, 0, 1000, 1),
            Param("milestone_2", "int", 75, 0, 1000, 1),
            Param("gamma", "float", 0.1, 0.05, 1, 0.05),
        ),
        _build_multistep,
        L.MultiStepLR,
        _milestones,
        "lr",
        "multiply by gamma at each milestone (they must increase)",
    ),
    ScheduleSpec(
        "exponential",
        (_LR, Param("gamma", "float", 0.97, 0.9, 1.02, 0.001)),
        _build_exponential,
        L.ExponentialLR,
        functools.partial(_pick, ("gamma",)),
        "lr",
        "multiply by gamma every step (gamma > 1 grows, as in the LR range test)",
    ),
    ScheduleSpec(
        "linear",
        (
            _LR,
            Param("start_factor", "float", 0.1, 0.01, 1.0, 0.01),
            Param("end_factor", "float", 1.0, 0.0, 1.0, 0.01),
            Param("total_iters", "int", 20, 1, 1000, 1),
        ),
        _build_linear,
        L.LinearLR,
        functools.partial(_pick, ("start_factor", "end_factor", "total_iters")),
        "lr",
        "a straight line from start_factor*lr to end_factor*lr over total_iters steps (warm-up)",
    ),
    ScheduleSpec(
        "polynomial",
        (
            _LR,
            Param("total_iters", "int", 100, 1, 1000, 1),
            Param("power", "float", 1.0, 0.0, 4.0, 0.1),
        ),
        _build_polynomial,
        L.PolynomialLR,
        functools.partial(_pick, ("total_iters", "power")),
        "lr",
        "decay to 0 as (1 - t/total_iters)^power, then hold 0",
    ),
    ScheduleSpec(
        "cosine",
        (_LR, Param("T_max", "int", 100, 1, 1000, 1), _ETA_MIN),
        _build_cosine,
        L.CosineAnnealingLR,
        functools.partial(_pick, ("T_max", "eta_min")),
        "lr",
        "half a cosine from lr to eta_min over T_max steps (torch's climbs back up after T_max)",
    ),
    ScheduleSpec(
        "warm restarts",
        (
            _LR,
            Param("T_0", "int", 20, 1, 500, 1),
            Param("T_mult", "int", 2, 1, 4, 1),
            _ETA_MIN,
        ),
        _build_warm_restarts,
        L.CosineAnnealingWarmRestarts,
        functools.partial(_pick, ("T_0", "T_mult", "eta_min")),
        "lr",
        "SGDR: cosine cycles that restart at lr, each T_mult times longer",
    ),
    ScheduleSpec(
        "cyclic",
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
        L.CyclicLR,
        functools.partial(
            _no_momentum_cycle, ("base_lr", "max_lr", "step_size_up", "mode", "gamma")
        ),
        None,
        "triangles between base_lr and max_lr (gamma is used by exp_range only)",
    ),
    ScheduleSpec(
        "one-cycle",
        (
            Param("max_lr", "log", 0.1, 1e-4, 1.0, 0.1),
            Param("pct_start", "float", 0.3, 0.01, 0.99, 0.01),
            Param("div_factor", "log", 25.0, 1.0, 1e3, 0.1),
            Param("final_div_factor", "log", 1e4, 1.0, 1e5, 0.1),
            Param("anneal_strategy", "choice", "cos", choices=("cos", "linear")),
            Param("three_phase", "bool", False),
        ),
        _build_one_cycle,
        L.OneCycleLR,
        _one_cycle,
        None,
        "up from max_lr/div_factor to max_lr over pct_start of the run, then far down",
    ),
    ScheduleSpec(
        "warmup + cosine",
        (_LR, Param("warmup_steps", "int", 10, 1, 1000, 1), _ETA_MIN),
        _build_warmup_cosine,
        L.LambdaLR,
        functools.partial(_lambda, "lr"),
        "lr",
        "linear warm-up from 0 over warmup_steps, then cosine to eta_min at the last step",
        _LAMBDA_CODE,
    ),
    ScheduleSpec(
        "warmup-stable-decay",
        (
            _LR,
            Param("warmup_steps", "int", 10, 0, 1000, 1),
            Param("decay_fraction", "float", 0.2, 0.05, 1.0, 0.05),
            Param("cooldown", "choice", "1-sqrt", choices=tuple(S.COOLDOWNS)),
            _ETA_MIN,
        ),
        _build_wsd,
        L.LambdaLR,
        _wsd_factor,
        "lr",
        "WSD: warm up, hold lr, then cool down to eta_min over the last decay_fraction of the run",
        _wsd_code,
    ),
    ScheduleSpec(
        "inverse sqrt",
        (_LR, Param("warmup_steps", "int", 10, 0, 1000, 1)),
        _build_inverse_sqrt,
        L.LambdaLR,
        functools.partial(_lambda, "lr"),
        "lr",
        "linear warm-up, then lr*sqrt(W/t) (the Transformer schedule; needs warmup_steps >= 1)",
        _LAMBDA_CODE,
    ),
    ScheduleSpec(
        "invscaling",
        (Param("eta0", "log", 0.1, 1e-4, 1.0, 0.1), Param("power_t", "float", 0.5, 0.0, 2.0, 0.05)),
        _build_invscaling,
        L.LambdaLR,
        functools.partial(_lambda, "eta0"),
        "eta0",
        "scikit-learn's learning_rate='invscaling': eta0 / (t+1)^power_t",
        _LAMBDA_CODE,
    ),
]

#: The designer's schedules by name, in dropdown order: the one table the designer, its torch line
#: and :func:`make_torch_scheduler` read.
SCHEDULE_CATALOGUE: dict[str, ScheduleSpec] = {spec.name: spec for spec in _SPECS}


def _resolve_params(name: str, params: Mapping) -> tuple[ScheduleSpec, dict]:
    """The spec and the full argument dict (defaults filled in); unknown names raise."""
    check_choice("name", name, SCHEDULE_CATALOGUE)
    spec = SCHEDULE_CATALOGUE[name]
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


def _code_value(value) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return _fmt(value)


def torch_code(name: str, steps: int = 100, **params) -> str:
    """One line of torch that gives the same learning rates (the optimizer built with the base lr).

    Written from the catalogue entry's ``torch_class`` and ``torch_kwargs``, the same ones
    :func:`make_torch_scheduler` calls.

    Example:
        >>> torch_code("step", 90, step_size=30)
        'optimizer built with lr=0.1; StepLR(optimizer, step_size=30, gamma=0.1)'
    """
    spec, p = _resolve_params(name, params)
    base = f"optimizer built with lr={_fmt(p[spec.base_param])}; " if spec.base_param else ""
    if spec.torch_class is None:
        return f"{base}no scheduler"
    inner = spec.code(steps, p) if callable(spec.code) else spec.code
    if inner is None:
        kwargs = spec.torch_kwargs(steps, p, spec.build(steps, **p))
        inner = ", ".join(f"{k}={_code_value(v)}" for k, v in kwargs.items())
    return f"{base}{spec.torch_name}(optimizer, {inner})"


@dataclass(frozen=True)
class ScheduleCurve:
    """What :func:`compute_schedule` returns: the curve, its marks, and a status line.

    Attributes:
        name: the schedule's name in :data:`SCHEDULE_CATALOGUE`.
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

    Any argument left out takes its default (:data:`SCHEDULE_CATALOGUE` lists them). Argument values that
    the schedule rejects, or a curve that is not finite, give ``ok=False`` and the reason in
    ``status`` (the arrays are then empty).

    Args:
        name: a key of :data:`SCHEDULE_CATALOGUE` (an unknown name raises ``ValueError``).
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
        torch_code(name, steps, **full),
        _label(name, full),
    )


def make_torch_scheduler(name: str, optimizer: torch.optim.Optimizer, steps: int = 100, **params):
    """torch's own scheduler that gives the same learning rates as :func:`compute_schedule`.

    Sets every group's ``lr`` to the schedule's base value first (``lr``/``eta0``), then builds
    the catalogue entry's :attr:`ScheduleSpec.torch_class` with its ``torch_kwargs``; schedules without a
    dedicated class become a ``LambdaLR`` with the factor :math:`s(t) = \\gamma_t/\\gamma`. ``"constant"``
    returns ``None`` (no scheduler). Invalid arguments raise here (this is not a widget).

    Example:
        >>> w = torch.zeros(1, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=1.0)
        >>> type(make_torch_scheduler("cosine", opt, 50, lr=0.1, T_max=50)).__name__
        'CosineAnnealingLR'
    """
    spec, p = _resolve_params(name, params)
    steps = check_int("steps", steps, low=1)
    schedule = spec.build(steps, **p)  # validates the arguments
    if spec.base_param is not None:
        for group in optimizer.param_groups:
            group["lr"] = float(p[spec.base_param])
    if spec.torch_class is None:
        return None
    return spec.torch_class(optimizer, **spec.torch_kwargs(steps, p, schedule))
