r"""Pure schedules: a hyperparameter as a function of the step, ``value = schedule(t)``.

A schedule is a small frozen dataclass. Calling it with a step gives a float; it holds no state, so
``schedule(t)`` is the same number whenever and however often you ask, it can be pickled, compared
and plotted with no model or optimizer. ``schedule.curve(n)`` (or :func:`curve`) gives the values at
steps ``0 .. n-1`` as a NumPy array. ``course_lib.schedulers`` turns schedules into torch schedulers
that write the values into an optimizer's ``param_groups``.

**Values, not factors.** Every schedule returns the ABSOLUTE value of the hyperparameter (a learning
rate of 0.05, a momentum of 0.9), not a multiplier of some base. To get torch's "factor" style, build
the schedule with ``base=1.0`` and multiply with :class:`Scaled`: ``Scaled(StepDecay(1.0, 30), 0.1)``
is ``0.1 * StepDecay(1.0, 30)(t)``.

**The step.** ``t = 0, 1, 2, ...`` counts scheduler steps taken so far: the optimizer's first update
uses the value at ``t = 0``. Whether one step is one batch or one epoch is the caller's choice
(``HyperparameterScheduler(interval=...)`` records it). Steps may be real numbers ``t >= 0`` (torch's
``CosineAnnealingWarmRestarts.step(epoch + i / n)`` uses fractional epochs); a negative step raises.

Symbols (those of ``docs/notation.md``, as in the notebooks): :math:`t` the step, :math:`T` the
total number of steps of the schedule (``total_steps``), :math:`\gamma_t` the value at step
:math:`t` (for a learning rate, the rate update :math:`t` uses), :math:`\gamma` the base value
(``base``), :math:`\gamma_{\min}` the final value (``final``), :math:`q` the decay factor (torch's
``gamma``), :math:`m_1 < m_2 < \dots` milestones, :math:`T_w` warm-up steps (``warmup_steps``).
torch's other argument names (``step_size``, ``T_0``, ``T_mult``, ``power``) stand as they are. A
schedule built with ``base=1.0`` is the multiplier :math:`s(t)` of ``docs/notation.md``, and
``Scaled(shape, lr)`` is :math:`\gamma_t = \gamma\,s(t)`.

=============================  =========================================================================
schedule                       :math:`\gamma_t`
=============================  =========================================================================
:class:`Constant`              :math:`\gamma`
:class:`StepDecay`             :math:`\gamma\,q^{\lfloor t/\text{step\_size} \rfloor}`
:class:`MultiStepDecay`        :math:`\gamma\,q^{\#\{i:\ m_i \le t\}}`
:class:`Exponential`           :math:`\gamma\,q^{t}`
:class:`Linear`                :math:`\gamma_{start} + (\gamma_{end} - \gamma_{start})\,\min(t, T)/T`
:class:`Polynomial`            :math:`\gamma_{\min} + (\gamma - \gamma_{\min})\,(1 - \min(t, T)/T)^{\text{power}}`
:class:`Cosine`                :math:`\gamma_{\min} + \tfrac12(\gamma - \gamma_{\min})(1 + \cos(\pi \min(t,T)/T))`
:class:`CosineWarmRestarts`    the cosine with :math:`t \to t - t_i` in cycle :math:`i` of length
                               :math:`C_i = \text{T\_0}\cdot\text{T\_mult}^{\,i}` starting at :math:`t_i=\sum_{j<i}C_j`
:class:`Cyclic`                triangle between :math:`\gamma` and :math:`\gamma_{peak}`, amplitude scaled per
                               cycle (``triangular2``: halved) or per step (``exp_range``: :math:`q^t`)
:class:`OneCycle`              :math:`\gamma_{start} \to \gamma_{peak}` over ``pct_start`` of :math:`T`, then
                               :math:`\to \gamma_{end}` (cosine or linear), optionally in three phases
:class:`InverseSqrt`           :math:`\gamma\,t/T_w` for :math:`t<T_w`, then
                               :math:`\gamma \sqrt{\Delta / (t - T_w + \Delta)}`
:class:`InvScaling`            :math:`\gamma / (t+1)^{\text{power\_t}}` (scikit-learn's ``invscaling``)
:class:`WarmupStableDecay`     warm-up to :math:`\gamma` over :math:`T_w`, hold, then over the last
                               :math:`T_d` steps :math:`\gamma_{\min} + (\gamma - \gamma_{\min})\,h(x)`,
                               :math:`h` = linear, cosine or :math:`1-\sqrt{x}` (WSD)
:class:`Scaled`                :math:`c\,\gamma^{inner}_t`
:class:`Join`                  :math:`\gamma^{(k)}_{t - b_{k}}` for :math:`b_k \le t < b_{k+1}` (pieces in turn)
=============================  =========================================================================

Composite schedules are joins: :func:`linear_warmup` then anything (:func:`warmup_then`),
:func:`warmup_cosine`, warm restarts as joined cosines. Each piece of a :class:`Join` restarts its own
clock at its boundary, as torch's ``SequentialLR`` does. :func:`wsd` sets a WSD cooldown as a
fraction of the run; :func:`wsd_lambda_lr` gives the same rates from torch's own ``LambdaLR``.

``schedule.events(n)`` lists the steps in ``[0, n)`` worth marking on a plot (milestones, restarts,
join boundaries, cycle and phase ends) as ``(step, kind)`` pairs; ``course_lib.plots.plot_schedule``
draws them.

The closed forms use the same arithmetic as torch's closed forms, so ``course_lib.schedulers`` gives
torch's numbers (checked to 1e-12 relative in ``tests/test_schedulers_parity.py``).

    >>> from course_lib.schedules import Cosine, linear_warmup, join
    >>> cos = Cosine(base=0.1, total_steps=100, final=0.0)
    >>> round(cos(50), 6)
    0.05
    >>> sched = join([linear_warmup(0.1, warmup_steps=10), Cosine(0.1, 90)], boundaries=[10])
    >>> [round(sched(t), 4) for t in (0, 5, 10, 55, 100)]
    [0.0, 0.05, 0.1, 0.05, 0.0]
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from course_lib._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_increasing_ints,
    check_int,
    check_number,
)

__all__ = [
    "COOLDOWNS",
    "Constant",
    "Cosine",
    "CosineWarmRestarts",
    "Cyclic",
    "Exponential",
    "InvScaling",
    "InverseSqrt",
    "Join",
    "Linear",
    "MultiStepDecay",
    "OneCycle",
    "Polynomial",
    "Product",
    "Scaled",
    "Schedule",
    "StepDecay",
    "WarmupStableDecay",
    "curve",
    "join",
    "linear_warmup",
    "one_cycle",
    "warmup_cosine",
    "warmup_then",
    "wsd",
    "wsd_lambda_lr",
]


def _check_step(step) -> float | int:
    """The step as a number ``>= 0`` (int fast path); raise naming ``step`` otherwise."""
    if type(step) is int:
        if step < 0:
            raise ValueError(f"step must be a finite number >= 0, got {step!r}")
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(
            f"step must be a finite number >= 0, got {step!r} of type {type(step).__name__}"
        )
    if isinstance(step, numbers.Integral):
        step = int(step)
    else:
        step = float(step)
    if not math.isfinite(step) or step < 0:
        raise ValueError(f"step must be a finite number >= 0, got {step!r}")
    return step


def curve(schedule: Callable, n: int, start: int = 0) -> np.ndarray:
    """The values of any schedule at steps ``start, ..., start + n - 1`` as a float64 array.

    Args:
        schedule: a :class:`Schedule` or any callable ``step -> float``.
        n: number of steps (``>= 0``).
        start: first step (``>= 0``).

    Returns:
        ``np.ndarray`` of shape ``(n,)``.

        >>> curve(Exponential(1.0, gamma=0.5), 4)
        array([1.   , 0.5  , 0.25 , 0.125])
    """
    check_callable("schedule", schedule, "a schedule")
    n = check_int("n", n, low=0)
    start = check_int("start", start, low=0)
    return np.array([float(schedule(t)) for t in range(start, start + n)], dtype=np.float64)


class Schedule:
    """Base class: a pure function of the step. Subclasses are frozen dataclasses with ``_value``.

    ``__call__`` checks the step and returns ``float(self._value(t))``; ``curve(n)`` and
    ``events(n)`` come for free.
    """

    def __call__(self, step) -> float:
        return float(self._value(_check_step(step)))

    def _value(self, t) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def curve(self, n: int, start: int = 0) -> np.ndarray:
        """Values at steps ``start .. start + n - 1`` (see :func:`curve`)."""
        return curve(self, n, start)

    def events(self, n: int) -> list[tuple[float, str]]:
        """Steps in ``[0, n)`` to mark on a plot, as ``(step, kind)``; none by default."""
        check_int("n", n, low=0)
        return []


def _events_of(schedule, n: int) -> list[tuple[float, str]]:
    return schedule.events(n) if isinstance(schedule, Schedule) else []


@dataclass(frozen=True)
class Constant(Schedule):
    r"""The same value at every step: :math:`\gamma_t = \gamma`.

    Args:
        value: :math:`\gamma` (any finite number).

        >>> Constant(0.1)(1000)
        0.1
    """

    value: float

    def __post_init__(self):
        check_number("value", self.value)

    def _value(self, t):
        return self.value


@dataclass(frozen=True)
class StepDecay(Schedule):
    r"""Multiply by :math:`q` every ``step_size`` steps: :math:`\gamma_t = \gamma\,q^{\lfloor t/\text{step\_size}\rfloor}`.

    torch: ``StepLR``. Events: every multiple of ``step_size`` ("milestone").

    Args:
        base: :math:`\gamma`.
        step_size: an integer ``>= 1``.
        gamma: the decay factor :math:`q > 0` (below 1 decays).

        >>> [StepDecay(1.0, step_size=2, gamma=0.5)(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    base: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        check_number("base", self.base)
        check_int("step_size", self.step_size, low=1)
        check_number("gamma", self.gamma, low=0.0, low_inclusive=False)

    def _value(self, t):
        return self.base * self.gamma ** int(t // self.step_size)

    def events(self, n):
        check_int("n", n, low=0)
        return [(float(k), "milestone") for k in range(self.step_size, n, self.step_size)]


@dataclass(frozen=True)
class MultiStepDecay(Schedule):
    r"""Multiply by :math:`q` at each milestone: :math:`\gamma_t = \gamma\,q^{\#\{i:\,m_i \le t\}}`.

    torch: ``MultiStepLR``. Events: the milestones.

    Args:
        base: :math:`\gamma`.
        milestones: strictly increasing integers ``>= 0`` (a list is stored as a tuple).
        gamma: the decay factor :math:`q > 0`.

        >>> [MultiStepDecay(1.0, milestones=[1, 3], gamma=0.1)(t) for t in range(4)]
        [1.0, 0.1, 0.1, 0.010000000000000002]
    """

    base: float
    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __post_init__(self):
        check_number("base", self.base)
        object.__setattr__(self, "milestones", check_increasing_ints("milestones", self.milestones))
        check_number("gamma", self.gamma, low=0.0, low_inclusive=False)

    def _value(self, t):
        return self.base * self.gamma ** bisect_right(self.milestones, t)

    def events(self, n):
        check_int("n", n, low=0)
        return [(float(m), "milestone") for m in self.milestones if m < n]


@dataclass(frozen=True)
class Exponential(Schedule):
    r"""Multiply by :math:`q` every step: :math:`\gamma_t = \gamma\,q^{t}`.

    torch: ``ExponentialLR``. With :math:`q > 1` it grows (the LR range test).

    Args:
        base: :math:`\gamma`.
        gamma: the decay factor :math:`q > 0`.

        >>> Exponential(1.0, gamma=0.5)(3)
        0.125
    """

    base: float
    gamma: float

    def __post_init__(self):
        check_number("base", self.base)
        check_number("gamma", self.gamma, low=0.0, low_inclusive=False)

    def _value(self, t):
        return self.base * self.gamma**t


@dataclass(frozen=True)
class Linear(Schedule):
    r"""Straight line from ``start`` to ``end`` over :math:`T` steps, then hold ``end``.

    .. math:: \gamma_t = \gamma_{start} + (\gamma_{end} - \gamma_{start})\,\frac{\min(t, T)}{T}

    A linear warm-up is ``Linear(0.0, base, warmup_steps)``; torch's ``LinearLR`` is
    ``Scaled(Linear(start_factor, end_factor, total_iters), base_lr)``.

    Args:
        start: value at :math:`t = 0`.
        end: value from :math:`t = T` on.
        total_steps: :math:`T`, an integer ``>= 1``.

        >>> [Linear(0.0, 1.0, total_steps=4)(t) for t in (0, 1, 4, 9)]
        [0.0, 0.25, 1.0, 1.0]
    """

    start: float
    end: float
    total_steps: int

    def __post_init__(self):
        check_number("start", self.start)
        check_number("end", self.end)
        check_int("total_steps", self.total_steps, low=1)

    def _value(self, t):
        return self.start + (self.end - self.start) * min(self.total_steps, t) / self.total_steps


@dataclass(frozen=True)
class Polynomial(Schedule):
    r"""Polynomial decay from :math:`\gamma` to :math:`\gamma_{\min}` over :math:`T` steps, then hold.

    .. math:: \gamma_t = \gamma_{\min} + (\gamma - \gamma_{\min})\left(1 - \frac{\min(t, T)}{T}\right)^{\text{power}}

    torch: ``PolynomialLR`` (which decays to 0: ``final=0``). ``power=1`` is linear decay.

    Args:
        base: :math:`\gamma`.
        total_steps: :math:`T`, an integer ``>= 1``.
        power: an exponent ``>= 0``.
        final: :math:`\gamma_{\min}`.

        >>> Polynomial(1.0, total_steps=10, power=2.0)(5)
        0.25
    """

    base: float
    total_steps: int
    power: float = 1.0
    final: float = 0.0

    def __post_init__(self):
        check_number("base", self.base)
        check_int("total_steps", self.total_steps, low=1)
        check_number("power", self.power, low=0.0)
        check_number("final", self.final)

    def _value(self, t):
        frac = 1.0 - min(self.total_steps, t) / self.total_steps
        return self.final + (self.base - self.final) * frac**self.power


@dataclass(frozen=True)
class Cosine(Schedule):
    r"""Half a cosine from :math:`\gamma` down to :math:`\gamma_{\min}` over :math:`T` steps.

    .. math:: \gamma_t = \gamma_{\min} + \tfrac12(\gamma - \gamma_{\min})\left(1 + \cos\frac{\pi\,t'}{T}\right),
              \qquad t' = \min(t, T)

    so :math:`\gamma_{T/2} = (\gamma + \gamma_{\min})/2` and :math:`\gamma_T = \gamma_{\min}`. After :math:`T`
    the value holds at :math:`\gamma_{\min}`; with ``periodic=True`` it uses :math:`t' = t` and climbs
    back up (period :math:`2T`), which is what torch's ``CosineAnnealingLR`` does past ``T_max``.

    Args:
        base: :math:`\gamma`.
        total_steps: :math:`T`, an integer ``>= 1``.
        final: :math:`\gamma_{\min}`.
        periodic: keep following the cosine after :math:`T` instead of holding.

        >>> Cosine(0.1, total_steps=100, final=0.0)(50)
        0.05
    """

    base: float
    total_steps: int
    final: float = 0.0
    periodic: bool = False

    def __post_init__(self):
        check_number("base", self.base)
        check_int("total_steps", self.total_steps, low=1)
        check_number("final", self.final)
        check_bool("periodic", self.periodic)

    def _value(self, t):
        if not self.periodic:
            t = min(t, self.total_steps)
        cos = math.cos(math.pi * t / self.total_steps)
        return self.final + (self.base - self.final) * (1 + cos) / 2


@dataclass(frozen=True)
class CosineWarmRestarts(Schedule):
    r"""Cosine annealing that restarts at :math:`\gamma`, each cycle ``T_mult`` times longer (SGDR).

    Cycle :math:`i = 0, 1, \dots` lasts :math:`C_i = \text{T\_0}\cdot\text{T\_mult}^{\,i}` steps and
    starts at :math:`t_i = \sum_{j<i} C_j`; inside it (torch's ``T_cur`` is :math:`t - t_i`),

    .. math:: \gamma_t = \gamma_{\min} + \tfrac12(\gamma - \gamma_{\min})\left(1 + \cos\frac{\pi\,(t - t_i)}{C_i}\right).

    torch: ``CosineAnnealingWarmRestarts``. The same curve is a :class:`Join` of :class:`Cosine`
    pieces with boundaries at the restarts. Events: the restarts ("restart").

    Args:
        base: :math:`\gamma`.
        T_0: length of the first cycle, an integer ``>= 1``.
        T_mult: growth of the cycle length, an integer ``>= 1``.
        final: :math:`\gamma_{\min}`.

        >>> s = CosineWarmRestarts(1.0, T_0=2, T_mult=2)
        >>> [round(s(t), 3) for t in range(7)]
        [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]
    """

    base: float
    T_0: int
    T_mult: int = 1
    final: float = 0.0

    def __post_init__(self):
        check_number("base", self.base)
        check_int("T_0", self.T_0, low=1)
        check_int("T_mult", self.T_mult, low=1)
        check_number("final", self.final)

    def cycle(self, t) -> tuple[int, float, int]:
        """``(i, t_i, C_i)``: the cycle index, its first step and its length at step ``t``."""
        t = _check_step(t)
        if self.T_mult == 1:
            i = int(t // self.T_0)
            return i, i * self.T_0, self.T_0
        i, start, length = 0, 0, self.T_0
        while start + length <= t:  # at most log_{T_mult}(t / T_0) + 1 rounds
            start += length
            length *= self.T_mult
            i += 1
        return i, start, length

    def _value(self, t):
        _, start, length = self.cycle(t)
        t_cur = t - start
        return self.final + (self.base - self.final) * (1 + math.cos(math.pi * t_cur / length)) / 2

    def events(self, n):
        check_int("n", n, low=0)
        out, start, length = [], self.T_0, self.T_0 * self.T_mult
        while start < n:
            out.append((float(start), "restart"))
            start += length
            length *= self.T_mult
        return out


def _triangular_scale(x: float) -> float:
    return 1.0


def _triangular2_scale(x: float) -> float:
    return 1 / (2.0 ** (x - 1))


@dataclass(frozen=True)
class Cyclic(Schedule):
    r"""Cyclical schedule (Smith 2017): up from ``base`` towards ``peak`` and back, cycle after cycle.

    With :math:`S = s_{up} + s_{down}`, cycle :math:`c = \lfloor 1 + t/S \rfloor` and position
    :math:`x = 1 + t/S - c \in [0, 1)`, the triangle height is :math:`a = x/r` on the way up
    (:math:`x \le r = s_{up}/S`) and :math:`a = (x-1)/(r-1)` on the way down, and

    .. math:: \gamma_t = \gamma + (\gamma_{peak} - \gamma)\,a\,\sigma

    with the amplitude scale :math:`\sigma` = 1 (``triangular``), :math:`2^{-(c-1)}`
    (``triangular2``), :math:`q^{t}` (``exp_range``), or ``scale_fn(c)`` / ``scale_fn(t)``
    (custom, by ``scale_mode``). The peak is reached at :math:`t = s_{up}` (+ multiples of
    :math:`S`). ``peak < base`` cycles downwards: that is how momentum moves opposite to the learning
    rate (``Cyclic(0.9, 0.8, ...)``). torch: ``CyclicLR`` (its ``base_lr``/``max_lr`` are ``base``/``peak``).
    Events: the start of each cycle after the first ("cycle").

    Args:
        base: :math:`\gamma`, the value at the start of each cycle.
        peak: :math:`\gamma_{peak}`, the value at the top of the (unscaled) triangle.
        step_size_up: :math:`s_{up} > 0` steps up.
        step_size_down: :math:`s_{down} > 0` steps down (default: ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (ignored with ``scale_fn``).
        gamma: the factor :math:`q > 0` of ``exp_range``.
        scale_fn: custom amplitude scale (a picklable callable); replaces ``mode``.
        scale_mode: ``"cycle"`` or ``"iterations"``: what ``scale_fn`` receives. Only with
            ``scale_fn`` (default ``"cycle"``); the built-in modes fix it as torch does.

        >>> s = Cyclic(0.1, 1.0, step_size_up=2)
        >>> [round(s(t), 2) for t in range(5)]
        [0.1, 0.55, 1.0, 0.55, 0.1]
    """

    base: float
    peak: float
    step_size_up: float = 2000
    step_size_down: float | None = None
    mode: str = "triangular"
    gamma: float = 1.0
    scale_fn: Callable[[float], float] | None = None
    scale_mode: str | None = None

    def __post_init__(self):
        check_number("base", self.base)
        check_number("peak", self.peak)
        check_number("step_size_up", self.step_size_up, low=0.0, low_inclusive=False)
        if self.step_size_down is not None:
            check_number("step_size_down", self.step_size_down, low=0.0, low_inclusive=False)
        check_choice("mode", self.mode, ("triangular", "triangular2", "exp_range"))
        check_number("gamma", self.gamma, low=0.0, low_inclusive=False)
        if self.scale_fn is not None:
            check_callable("scale_fn", self.scale_fn, "a schedule")
            if self.scale_mode is None:
                object.__setattr__(self, "scale_mode", "cycle")
            check_choice("scale_mode", self.scale_mode, ("cycle", "iterations"))
        elif self.scale_mode is not None:
            raise ValueError(
                f"scale_mode applies only with a custom scale_fn (mode={self.mode!r} fixes it), "
                f"got scale_mode={self.scale_mode!r} and scale_fn=None"
            )

    @property
    def cycle_length(self) -> float:
        """:math:`S = s_{up} + s_{down}`."""
        up = float(self.step_size_up)
        down = float(self.step_size_down) if self.step_size_down is not None else up
        return up + down

    def _scale(self, cycle: int, t) -> float:
        if self.scale_fn is not None:
            return self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        if self.mode == "triangular":
            return _triangular_scale(cycle)
        if self.mode == "triangular2":
            return _triangular2_scale(cycle)
        return self.gamma**t

    def _value(self, t):
        total = self.cycle_length
        ratio = float(self.step_size_up) / total
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        return self.base + (self.peak - self.base) * height * self._scale(cycle, t)

    def events(self, n):
        check_int("n", n, low=0)
        total, out, k = self.cycle_length, [], 1
        while k * total < n:
            out.append((k * total, "cycle"))
            k += 1
        return out


def _anneal_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


@dataclass(frozen=True)
class OneCycle(Schedule):
    r"""One cycle (Smith & Topin 2018): ``start`` up to ``peak``, then down to ``end``.

    Two phases (default, fastai's): :math:`\gamma_{start} \to \gamma_{peak}` on steps
    :math:`0 \dots e_1` with :math:`e_1 = \text{pct\_start}\cdot T - 1`, then
    :math:`\gamma_{peak} \to \gamma_{end}` on :math:`e_1 \dots T-1`. Three phases (the paper's):
    :math:`\gamma_{start} \to \gamma_{peak}` on :math:`0 \dots e_1`, back to :math:`\gamma_{start}` on
    :math:`e_1 \dots 2e_1`, then :math:`\to \gamma_{end}` on :math:`2e_1 \dots T-1`. Inside a phase from
    :math:`a` (value :math:`u`) to :math:`b` (value :math:`v`) with :math:`x = (t-a)/(b-a)`:

    .. math:: \text{cos: } \gamma_t = v + \tfrac12(u - v)(1 + \cos \pi x) \qquad
              \text{linear: } \gamma_t = u + (v - u)\,x

    After :math:`t = T - 1` the value holds at :math:`\gamma_{end}`. torch: ``OneCycleLR`` with
    ``start = max_lr / div_factor``, ``peak = max_lr``, ``end = start / final_div_factor`` (see
    :func:`one_cycle`); its momentum is ``OneCycle(max_momentum, base_momentum, max_momentum, ...)``.
    Events: the phase ends ("phase").

    Args:
        start, peak, end: the three values.
        total_steps: :math:`T`, an integer ``>= 2``.
        pct_start: fraction of :math:`T` spent going up, in (0, 1) with
            ``pct_start * total_steps > 1`` (the first phase lasts at least one step), and with
            ``three_phase`` also ``pct_start < (T + 1) / (2T)`` (the last phase has a positive length).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        three_phase: use the paper's three phases.

        >>> s = OneCycle(0.1, 1.0, 0.0, total_steps=11, pct_start=0.5, anneal_strategy="linear")
        >>> [round(s(t), 3) for t in (0, 2, 4.5, 7, 10)]
        [0.1, 0.5, 1.0, 0.545, 0.0]
    """

    start: float
    peak: float
    end: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    three_phase: bool = False

    def __post_init__(self):
        for name in ("start", "peak", "end"):
            check_number(name, getattr(self, name))
        check_int("total_steps", self.total_steps, low=2)
        check_number(
            "pct_start",
            self.pct_start,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        check_choice("anneal_strategy", self.anneal_strategy, ("cos", "linear"))
        check_bool("three_phase", self.three_phase)
        total = self.total_steps
        if float(self.pct_start * total) - 1 <= 0:
            raise ValueError(
                f"pct_start * total_steps must be > 1 so that the warm-up phase lasts at least one "
                f"step, got pct_start={self.pct_start!r} and total_steps={total}"
            )
        if self.three_phase and float(2 * self.pct_start * total) - 2 >= total - 1:
            raise ValueError(
                f"with three_phase=True, pct_start must be < (total_steps + 1) / (2 * total_steps) "
                f"= {(total + 1) / (2 * total):.4g} so that the last phase has a positive length, "
                f"got pct_start={self.pct_start!r} and total_steps={total}"
            )

    def phases(self) -> list[tuple[float, float, float]]:
        """``[(end_step, value_at_phase_start, value_at_phase_end), ...]`` (torch's phase table)."""
        e1 = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if self.three_phase:
            e2 = float(2 * self.pct_start * self.total_steps) - 2
            return [
                (e1, self.start, self.peak),
                (e2, self.peak, self.start),
                (last, self.start, self.end),
            ]
        return [(e1, self.start, self.peak), (last, self.peak, self.end)]

    def _value(self, t):
        if t > self.total_steps - 1:
            return self.end
        anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear
        begin = 0.0
        for end_step, u, v in self.phases():
            if t <= end_step:
                return anneal(u, v, (t - begin) / (end_step - begin))
            begin = end_step
        return self.end  # pragma: no cover - the last phase ends at T - 1, handled above

    def events(self, n):
        check_int("n", n, low=0)
        return [(e, "phase") for e, _, _ in self.phases()[:-1] if e < n]


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    r"""Linear warm-up over :math:`T_w` steps, then decay as one over the square root of the step.

    .. math:: \gamma_t = \gamma\,\frac{t}{T_w} \ (t < T_w), \qquad
              \gamma_t = \gamma\,\sqrt{\frac{\Delta}{t - T_w + \Delta}} \ (t \ge T_w)

    continuous at :math:`t = T_w` (value :math:`\gamma`). ``timescale`` :math:`\Delta` defaults to
    :math:`T_w`, which gives the Transformer paper's :math:`\gamma\sqrt{T_w/t}`. HuggingFace:
    ``get_inverse_sqrt_schedule`` (same formula, as a factor).

    Args:
        base: :math:`\gamma`.
        warmup_steps: :math:`T_w`, an integer ``>= 0``.
        timescale: :math:`\Delta > 0`; required when ``warmup_steps == 0``.

        >>> InverseSqrt(1.0, warmup_steps=4)(16)
        0.5
    """

    base: float
    warmup_steps: int = 0
    timescale: float | None = None

    def __post_init__(self):
        check_number("base", self.base)
        check_int("warmup_steps", self.warmup_steps, low=0)
        if self.timescale is None:
            if self.warmup_steps == 0:
                raise ValueError(
                    "timescale must be given (a finite number > 0) when warmup_steps is 0, got None"
                )
            object.__setattr__(self, "timescale", self.warmup_steps)
        check_number("timescale", self.timescale, low=0.0, low_inclusive=False)

    def _value(self, t):
        if t < self.warmup_steps:
            return self.base * t / self.warmup_steps
        return self.base * math.sqrt(self.timescale / (t - self.warmup_steps + self.timescale))


@dataclass(frozen=True)
class InvScaling(Schedule):
    r"""scikit-learn's ``learning_rate="invscaling"``: :math:`\gamma_t = \gamma / (t + 1)^{\text{power\_t}}`.

    scikit-learn writes ``eta = eta0 / pow(t, power_t)`` with its counter ``t`` starting at 1 for the
    first update (``SGDClassifier``/``SGDRegressor`` set ``t_ = 1.0`` before fitting and add 1 after
    every sample), so its ``t`` is our step plus one: the first update uses :math:`\gamma`. The
    names ``eta0`` and ``power_t`` are scikit-learn's.

    Args:
        eta0: :math:`\gamma`.
        power_t: an exponent ``>= 0`` (scikit-learn's default: 0.5 in ``SGDClassifier``, 0.25 in
            ``SGDRegressor``).

        >>> InvScaling(eta0=1.0, power_t=0.5)(3)
        0.5
    """

    eta0: float
    power_t: float = 0.5

    def __post_init__(self):
        check_number("eta0", self.eta0)
        check_number("power_t", self.power_t, low=0.0)

    def _value(self, t):
        return self.eta0 / (t + 1) ** self.power_t


def _cooldown_linear(x: float) -> float:
    return 1.0 - x


def _cooldown_cosine(x: float) -> float:
    return (1.0 + math.cos(math.pi * x)) / 2


def _cooldown_one_minus_sqrt(x: float) -> float:
    return 1.0 - math.sqrt(x)


#: the cooldown shapes :math:`h(x)`, :math:`x \in [0, 1]` the fraction of the cooldown done
COOLDOWNS: dict[str, Callable[[float], float]] = {
    "linear": _cooldown_linear,
    "cosine": _cooldown_cosine,
    "1-sqrt": _cooldown_one_minus_sqrt,
}


@dataclass(frozen=True)
class WarmupStableDecay(Schedule):
    r"""Warmup-stable-decay (WSD): warm up, hold :math:`\gamma`, cool down over the last :math:`T_d` steps.

    With :math:`T_s = T - T_d` the step where the cooldown starts and :math:`x = \min(t - T_s, T_d)/T_d`
    the fraction of it done,

    .. math:: \gamma_t = \begin{cases}
              \gamma_{start} + (\gamma - \gamma_{start})\,t/T_w & t < T_w \\
              \gamma & T_w \le t < T_s \\
              \gamma_{\min} + (\gamma - \gamma_{\min})\,h(x) & t \ge T_s
              \end{cases}

    with the cooldown shape :math:`h(x)` = :math:`1 - x` (``"linear"``),
    :math:`\tfrac12(1 + \cos \pi x)` (``"cosine"``) or :math:`1 - \sqrt{x}` (``"1-sqrt"``, the shape
    Hägele et al. 2024 found best). So :math:`\gamma_{T_s} = \gamma` and :math:`\gamma_t = \gamma_{\min}`
    from :math:`t = T` on; the last update of a run of :math:`T` steps uses :math:`x = (T_d - 1)/T_d`.
    For :math:`\gamma_{\min} \le \gamma` every shape falls monotonically. ``1-sqrt`` lies below
    ``linear`` at every step (:math:`\sqrt{x} \ge x`); the cosine lies above the line in the first
    half of the cooldown and below it in the second. Averaged over the cooldown, :math:`h` is
    :math:`\tfrac12` (linear, cosine) and :math:`\tfrac13` (1-sqrt): 1-sqrt drops fast and spends
    longer at small rates.

    Why: the stable phase needs no run length, so one run gives checkpoints for any budget by
    branching a short cooldown off it (Hägele et al. 2024, "Scaling Laws and Compute-Optimal
    Training Beyond Fixed Training Durations"; Hu et al. 2024, MiniCPM). HuggingFace's
    ``get_wsd_schedule`` is the same curve as a factor (its warm-up starts at ``min_lr_ratio``).
    torch has no class: :func:`wsd_lambda_lr` gives the same rates with torch's ``LambdaLR``.
    Events: the end of the warm-up, the start of the cooldown and its end ("phase").

    Args:
        base: :math:`\gamma`, the rate of the stable phase.
        total_steps: :math:`T`, an integer ``>= 1``.
        warmup_steps: :math:`T_w`, an integer ``>= 0`` (0: no warm-up).
        decay_steps: :math:`T_d`, an integer ``>= 1`` with :math:`T_w + T_d \le T`; default
            (``None``): 20% of :math:`T`, rounded half up, at least 1.
        cooldown: ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
        final: :math:`\gamma_{\min}`, the value at the end of the cooldown.
        start: :math:`\gamma_{start}`, the value at :math:`t = 0` (used only when :math:`T_w > 0`).

        >>> s = WarmupStableDecay(1.0, 100, warmup_steps=10, decay_steps=20, cooldown="1-sqrt")
        >>> [round(s(t), 3) for t in (0, 5, 10, 80, 85, 99, 100)]
        [0.0, 0.5, 1.0, 1.0, 0.5, 0.025, 0.0]
        >>> s.events(200)
        [(10.0, 'phase'), (80.0, 'phase'), (100.0, 'phase')]
    """

    base: float
    total_steps: int
    warmup_steps: int = 0
    decay_steps: int | None = None
    cooldown: str = "linear"
    final: float = 0.0
    start: float = 0.0

    def __post_init__(self):
        check_number("base", self.base)
        total = check_int("total_steps", self.total_steps, low=1)
        check_int("warmup_steps", self.warmup_steps, low=0)
        if self.decay_steps is None:
            object.__setattr__(self, "decay_steps", max(1, math.floor(0.2 * total + 0.5)))
        check_int("decay_steps", self.decay_steps, low=1)
        check_choice("cooldown", self.cooldown, tuple(COOLDOWNS))
        check_number("final", self.final)
        check_number("start", self.start)
        if self.warmup_steps + self.decay_steps > total:
            raise ValueError(
                f"warmup_steps + decay_steps must be <= total_steps={total} (the warm-up and the "
                f"cooldown must fit in the run), got warmup_steps={self.warmup_steps} and "
                f"decay_steps={self.decay_steps}"
            )

    @property
    def decay_start(self) -> int:
        """:math:`T_s = T - T_d`, the first step of the cooldown."""
        return self.total_steps - cast(int, self.decay_steps)  # an int after __post_init__

    def _value(self, t):
        if t < self.warmup_steps:
            return self.start + (self.base - self.start) * t / self.warmup_steps
        if t < self.decay_start:
            return self.base
        decay = cast(int, self.decay_steps)
        x = min(t - self.decay_start, decay) / decay
        return self.final + (self.base - self.final) * COOLDOWNS[self.cooldown](x)

    def events(self, n):
        check_int("n", n, low=0)
        ends = sorted({self.warmup_steps, self.decay_start, self.total_steps})
        return [(float(e), "phase") for e in ends if 0 < e < n]


@dataclass(frozen=True)
class Scaled(Schedule):
    r"""Another schedule times a constant: :math:`\gamma_t = c\,\gamma^{inner}_t`.

    Turns a factor schedule (built with ``base=1.0``) into values: torch's ``StepLR`` on a group with
    ``lr=0.1`` is ``Scaled(StepDecay(1.0, step_size, gamma), 0.1)``. Per-group learning rates that share
    one shape are ``Scaled(shape, lr_of_group)``.

    Args:
        schedule: the inner schedule (any callable of the step).
        factor: :math:`c`.

        >>> Scaled(Linear(0.0, 1.0, 10), 0.5)(10)
        0.5
    """

    schedule: Callable
    factor: float

    def __post_init__(self):
        check_callable("schedule", self.schedule, "a schedule")
        check_number("factor", self.factor)

    def _value(self, t):
        return self.factor * self.schedule(t)

    def events(self, n):
        check_int("n", n, low=0)
        return _events_of(self.schedule, n)


@dataclass(frozen=True)
class Product(Schedule):
    r"""Factor schedules multiplied: :math:`s(t) = \prod_k s_k(t)`, in the order given.

    A ``ChainedScheduler``'s shape: ``Scaled(Product((step, warmup)), 0.1)`` is what torch's chain
    of those two factor schedulers gives on a group with ``lr=0.1``.

    Args:
        schedules: the factors (schedules or any callables of the step), at least one.

        >>> Product((Linear(0.5, 1.0, 10), Constant(0.2)))(10)
        0.2
    """

    schedules: tuple

    def __post_init__(self):
        if not isinstance(self.schedules, tuple) or not self.schedules:
            raise ValueError(f"schedules must be a non-empty tuple, got {self.schedules!r}")
        for i, schedule in enumerate(self.schedules):
            check_callable(f"schedules[{i}]", schedule, "a schedule")

    def _value(self, t):
        value = 1.0
        for schedule in self.schedules:
            value = value * schedule(t)
        return value

    def events(self, n):
        check_int("n", n, low=0)
        return sorted(e for schedule in self.schedules for e in _events_of(schedule, n))


@dataclass(frozen=True)
class Join(Schedule):
    r"""Pieces one after another, each starting its own clock at its boundary.

    With boundaries :math:`b_1 < b_2 < \dots` (and :math:`b_0 = 0`), piece :math:`k` runs on
    :math:`b_k \le t < b_{k+1}` and sees the step :math:`t - b_k`:

    .. math:: \gamma_t = \gamma^{(k)}_{t - b_k}, \qquad k = \#\{i \ge 1:\ b_i \le t\}

    the convention of torch's ``SequentialLR`` and optax's ``join_schedules``. Events: the
    boundaries ("boundary") and the events of each piece inside its own span, shifted.

    Args:
        schedules: the pieces (schedules or any callables of the step), at least one.
        boundaries: strictly increasing integers ``>= 1``, one fewer than ``schedules``.

        >>> s = Join((Constant(0.0), Linear(1.0, 0.0, 2)), boundaries=(3,))
        >>> [s(t) for t in range(6)]
        [0.0, 0.0, 0.0, 1.0, 0.5, 0.0]
    """

    schedules: tuple
    boundaries: tuple[int, ...]

    def __post_init__(self):
        schedules = tuple(self.schedules) if isinstance(self.schedules, list) else self.schedules
        if not isinstance(schedules, tuple) or not schedules:
            raise TypeError(f"schedules must be a non-empty list of schedules, got {schedules!r}")
        for i, s in enumerate(schedules):
            check_callable(f"schedules[{i}]", s, "a schedule")
        boundaries = check_increasing_ints("boundaries", self.boundaries, low=1)
        if len(boundaries) != len(schedules) - 1:
            raise ValueError(
                f"boundaries must have one entry fewer than schedules: got {len(schedules)} "
                f"schedules and {len(boundaries)} boundaries {list(boundaries)}"
            )
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "boundaries", boundaries)

    def piece(self, t) -> tuple[int, float]:
        """``(k, t - b_k)``: which piece is active at step ``t`` and its local step."""
        t = _check_step(t)
        k = bisect_right(self.boundaries, t)
        return k, (t - self.boundaries[k - 1] if k else t)

    def _value(self, t):
        k, local = self.piece(t)
        return self.schedules[k](local)

    def events(self, n):
        check_int("n", n, low=0)
        starts = (0, *self.boundaries)
        ends = (*self.boundaries, n)
        out = []
        for k, (a, b) in enumerate(zip(starts, ends)):
            if a >= n:
                break
            if k:
                out.append((float(a), "boundary"))
            span = min(b, n) - a
            out += [(a + s, kind) for s, kind in _events_of(self.schedules[k], span)]
        return out


def join(schedules: Sequence[Callable], boundaries: Sequence[int]) -> Join:
    """Pieces one after another (see :class:`Join`): ``join([warmup, cosine], boundaries=[100])``."""
    return Join(
        tuple(schedules), tuple(boundaries) if not isinstance(boundaries, tuple) else boundaries
    )


def linear_warmup(base: float, warmup_steps: int, start: float = 0.0) -> Linear:
    r"""Linear warm-up from ``start`` to ``base`` over :math:`T_w` steps, then hold ``base``.

    .. math:: \gamma_t = \gamma_{start} + (\gamma - \gamma_{start}) \min(t, T_w) / T_w

    The default ``start=0.0`` is HuggingFace's warm-up; torch's ``LinearLR(start_factor=f)`` starts
    at ``f * base`` (``start=f * base``), because a zero learning rate wastes the first update.

        >>> linear_warmup(0.1, warmup_steps=10)(5)
        0.05
    """
    check_int("warmup_steps", warmup_steps, low=1)
    return Linear(start, base, warmup_steps)


def warmup_then(schedule: Callable, warmup_steps: int, start: float = 0.0) -> Join:
    r"""Linear warm-up from ``start`` to ``schedule(0)`` over :math:`T_w` steps, then ``schedule``.

    ``schedule`` starts its own clock after the warm-up (``schedule(t - T_w)`` for :math:`t \ge T_w`).

        >>> s = warmup_then(Exponential(1.0, gamma=0.5), warmup_steps=2)
        >>> [s(t) for t in range(5)]
        [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    check_callable("schedule", schedule, "a schedule")
    return join([linear_warmup(schedule(0), warmup_steps, start), schedule], [warmup_steps])


def warmup_cosine(
    base: float, warmup_steps: int, total_steps: int, final: float = 0.0, start: float = 0.0
) -> Join:
    r"""Linear warm-up to :math:`\gamma` over :math:`T_w` steps, then cosine to :math:`\gamma_{\min}` at :math:`T`.

    :math:`T` counts all steps, warm-up included (HuggingFace's ``get_cosine_schedule_with_warmup``
    convention), so the cosine lasts :math:`T - T_w` steps.

        >>> s = warmup_cosine(1.0, warmup_steps=10, total_steps=110)
        >>> [round(s(t), 3) for t in (5, 10, 60, 110)]
        [0.5, 1.0, 0.5, 0.0]
    """
    check_int("warmup_steps", warmup_steps, low=1)
    check_int("total_steps", total_steps, low=1)
    if total_steps <= warmup_steps:
        raise ValueError(
            f"total_steps must be > warmup_steps={warmup_steps}, got total_steps={total_steps}"
        )
    return warmup_then(Cosine(base, total_steps - warmup_steps, final), warmup_steps, start)


def one_cycle(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> OneCycle:
    r"""The learning rate of torch's ``OneCycleLR`` as a :class:`OneCycle`, with torch's arguments.

    :math:`\gamma_{start} = \gamma_{max}/\text{div\_factor}`, :math:`\gamma_{end} = \gamma_{start} /
    \text{final\_div\_factor}`.

        >>> s = one_cycle(1.0, total_steps=100)
        >>> [round(s(t), 6) for t in (0, 29, 99)]
        [0.04, 1.0, 4e-06]
    """
    check_number("max_lr", max_lr, low=0.0, low_inclusive=False)
    check_number("div_factor", div_factor, low=0.0, low_inclusive=False)
    check_number("final_div_factor", final_div_factor, low=0.0, low_inclusive=False)
    initial = max_lr / div_factor
    return OneCycle(
        initial,
        max_lr,
        initial / final_div_factor,
        total_steps,
        pct_start,
        anneal_strategy,
        three_phase,
    )


def wsd(
    base: float,
    total_steps: int,
    warmup_steps: int = 0,
    decay_fraction: float = 0.2,
    cooldown: str = "linear",
    final: float = 0.0,
    start: float = 0.0,
) -> WarmupStableDecay:
    r"""A :class:`WarmupStableDecay` whose cooldown is a fraction of the run: :math:`T_d = \lfloor fT + \tfrac12 \rfloor`.

    ``decay_fraction`` :math:`f` in (0, 1]; 0.2 is the 20% cooldown of Hägele et al. (2024). The
    rounded :math:`T_d` must be at least 1 and fit after the warm-up (:math:`T_w + T_d \le T`).

        >>> s = wsd(0.1, total_steps=50, warmup_steps=5, decay_fraction=0.2, cooldown="cosine")
        >>> s.decay_steps, s.decay_start, round(s(45), 6), round(s(50), 6)
        (10, 40, 0.05, 0.0)
    """
    total_steps = check_int("total_steps", total_steps, low=1)
    check_number("decay_fraction", decay_fraction, low=0.0, high=1.0, low_inclusive=False)
    decay_steps = math.floor(decay_fraction * total_steps + 0.5)
    if decay_steps < 1:
        raise ValueError(
            f"decay_fraction * total_steps must round to at least 1 cooldown step, got "
            f"decay_fraction={decay_fraction!r} and total_steps={total_steps} "
            f"({decay_fraction * total_steps:.3g} steps)"
        )
    return WarmupStableDecay(base, total_steps, warmup_steps, decay_steps, cooldown, final, start)


def wsd_lambda_lr(
    optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    decay_steps: int | None = None,
    cooldown: str = "linear",
    start_factor: float = 0.0,
    final_factor: float = 0.0,
    last_epoch: int = -1,
):
    r"""torch's own ``torch.optim.lr_scheduler.LambdaLR`` that gives a :class:`WarmupStableDecay`.

    The factor is the schedule built with ``base=1.0``: :math:`s(t)` rises from ``start_factor``,
    holds 1 and cools down to ``final_factor``, and torch writes :math:`\gamma\,s(t)` into each
    group (:math:`\gamma` the group's ``initial_lr``). So a group with ``lr=γ`` follows
    ``WarmupStableDecay(γ, ..., start=start_factor * γ, final=final_factor * γ)`` to rounding
    (1e-12 relative, ``tests/test_schedules_wsd.py``). The factor is a frozen dataclass, so the
    scheduler's ``state_dict`` holds its fields, as torch saves callable objects. torch is imported
    here, not at the top, so the pure schedules need no torch.

        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = wsd_lambda_lr(opt, total_steps=10, warmup_steps=2, decay_steps=4)
        >>> lrs = []
        >>> for _ in range(10):
        ...     lrs.append(round(opt.param_groups[0]["lr"], 6))
        ...     opt.step()
        ...     sched.step()
        >>> lrs
        [0.0, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.075, 0.05, 0.025]
    """
    from torch.optim.lr_scheduler import LambdaLR

    factor = WarmupStableDecay(
        1.0, total_steps, warmup_steps, decay_steps, cooldown, final_factor, start_factor
    )
    check_int("last_epoch", last_epoch, low=-1)
    return LambdaLR(optimizer, factor, last_epoch)
