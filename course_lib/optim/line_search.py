r"""The strong-Wolfe line search of ``torch.optim.LBFGS``, with its cubic interpolation.

Along a descent direction d from θ, the line search looks at the one-dimensional function::

    φ(a) = f(θ + a d),        φ'(a) = ∇f(θ + a d)ᵀ d,        φ'(0) = gᵀd < 0

and looks for a step length a > 0 (torch's ``t``) that satisfies the strong Wolfe conditions
(Nocedal & Wright, 2006, eq. 3.7), with 0 < c1 < c2 < 1::

    φ(a) <= φ(0) + c1 a φ'(0)          sufficient decrease (Armijo), c1 = 1e-4
    |φ'(a)| <= c2 |φ'(0)|              curvature: the slope has flattened enough, c2 = 0.9

The first says the step gains at least a fraction c1 of what the slope at 0 promises; the second rules
out steps so short that φ is still steep, and for c2 < 1 guarantees sᵀy > 0 for the secant pair, which
keeps the L-BFGS matrix positive definite. The search has two phases (Nocedal & Wright, Algorithms 3.5
and 3.6; torch ports them from minFunc through Lua torch's ``lswolfe.lua``):

1. :func:`bracket_phase` extrapolates until an interval [a_lo, a_hi] is known to contain such a step
   (or a step already satisfies both conditions);
2. :func:`zoom_phase` shrinks that interval by safeguarded cubic interpolation
   (:func:`cubic_interpolate`) until a step satisfies both.

Every operation here is torch's own, in torch's order, so the steps and the number of evaluations of
f are torch's bit for bit (``tests/test_optim_lbfgs.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

__all__ = [
    "LineFunction",
    "Trial",
    "bracket_phase",
    "cubic_interpolate",
    "strong_wolfe",
    "zoom_phase",
]


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    r"""The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clipped.

    With d1 = g1 + g2 − 3 (f1 − f2) / (x1 − x2) and d2 = √(d1² − g1 g2), the cubic's minimiser,
    taking x2 as the larger point, is (Nocedal & Wright, eq. 3.59)::

        x = x2 − (x2 − x1) (g2 + d2 − d1) / (g2 − g1 + 2 d2)

    clipped to ``bounds`` (default: the interval between x1 and x2). When d1² < g1 g2 the cubic has no
    minimiser and the midpoint of the bounds is returned (also when d1² − g1 g2 is NaN, as in torch). The slopes are tensors, as in torch (d2 is a
    tensor's ``sqrt``); the points and values may be numbers or tensors. On f(x) = x³ − 3x, minimised
    at 1, the cubic is f itself:

        >>> g = lambda x: torch.tensor(3.0 * x * x - 3.0)
        >>> cubic_interpolate(0.0, 0.0, g(0.0), 2.0, 2.0, g(2.0))
        tensor(1.)
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if not d2_square >= 0:  # no minimiser, or NaN (torch's test, so NaN also gives the midpoint)
        return (xmin_bound + xmax_bound) / 2.0
    d2 = d2_square.sqrt()
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, xmin_bound), xmax_bound)


class Trial(NamedTuple):
    """One evaluated step length: a (``t``), φ(a) (a float), ∇f(θ + a d) (flat) and φ'(a)."""

    t: Any
    f: Any
    g: torch.Tensor
    gtd: Any


class LineFunction:
    """φ(a) = f(θ + a d) and φ'(a), evaluated through ``obj_func(x, t, d)`` and counted.

    ``obj_func`` returns (f, flat gradient) at x + t d and leaves the parameters at x (LBFGS's
    ``directional_evaluate``). ``evals`` counts the calls; ``iterations`` is ``evals − 1``, torch's
    ``ls_iter``: the evaluations after the first, which ``max_ls`` bounds.
    """

    def __init__(self, obj_func: Callable, x, d: torch.Tensor) -> None:
        self.obj_func, self.x, self.d = obj_func, x, d
        self.evals = 0

    def __call__(self, t) -> Trial:
        f_new, g_new = self.obj_func(self.x, t, self.d)
        self.evals += 1
        return Trial(t, f_new, g_new, g_new.dot(self.d))

    @property
    def iterations(self) -> int:
        return self.evals - 1


def sufficient_decrease_fails(trial: Trial, start: Trial, c1: float) -> bool:
    """φ(a) > φ(0) + c1 a φ'(0): the step does not decrease f enough (Armijo fails)."""
    return bool(trial.f > (start.f + c1 * trial.t * start.gtd))


def curvature_holds(trial: Trial, start: Trial, c2: float) -> bool:
    """|φ'(a)| <= c2 |φ'(0)| (φ'(0) < 0): the strong Wolfe curvature condition."""
    return bool(abs(trial.gtd) <= -c2 * start.gtd)


def bracket_phase(phi: LineFunction, start: Trial, t, c1: float, c2: float, max_ls: int):
    """Extrapolate from a = ``t`` until [a_prev, a] brackets a strong-Wolfe step.

    Returns (bracket, done): ``done`` with a one-trial bracket when a trial already satisfies both
    conditions; otherwise two trials, the interval's ends. An interval is found when the trial
    fails sufficient decrease, or is not lower than the previous one (from the third trial on), or
    has φ' >= 0 (the minimum was passed). Else the next trial is the cubic's minimiser in
    [a + 0.01 (a − a_prev), 10 a]. After ``max_ls`` more evaluations: the bracket [0, a].
    """
    prev, new = start, phi(t)
    while phi.iterations < max_ls:
        if sufficient_decrease_fails(new, start, c1) or (phi.iterations > 1 and new.f >= prev.f):
            return [prev, new], False
        if curvature_holds(new, start, c2):
            return [new], True
        if new.gtd >= 0:
            return [prev, new], False
        min_step = new.t + 0.01 * (new.t - prev.t)
        max_step = new.t * 10
        t = cubic_interpolate(
            prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd, bounds=(min_step, max_step)
        )
        prev, new = new, phi(t)
    return [start, new], False


def safeguarded_step(bracket: list[Trial], insuf_progress: bool):
    """The next trial in the zoom phase: the cubic's minimiser, kept off the interval's ends.

    A trial within 10 % of the interval's length from an end counts as insufficient progress; twice
    in a row, or on an end itself, it is moved to 10 % inside the nearest end. Returns
    (trial step, insuf_progress for the next round).
    """
    a, b = bracket
    t = cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
    ends = [a.t, b.t]
    eps = 0.1 * (max(ends) - min(ends))
    if not min(max(ends) - t, t - min(ends)) < eps:
        return t, False
    if not (insuf_progress or t >= max(ends) or t <= min(ends)):
        return t, True
    if abs(t - max(ends)) < abs(t - min(ends)):
        return max(ends) - eps, False
    return min(ends) + eps, False


def zoom_phase(phi, bracket, start, c1, c2, tolerance_change, max_ls) -> Trial:
    """Shrink a bracket around a strong-Wolfe step; return its lowest trial.

    ``bracket[low]`` is the lowest trial that satisfies sufficient decrease, ``bracket[high]`` the
    other end. A new trial that fails sufficient decrease or is not lower replaces the high end;
    otherwise it becomes the low end (the old low becomes the high end when φ' points away from it)
    and the search stops when it also satisfies the curvature condition. It stops too when the
    interval is shorter than ``tolerance_change`` in parameter space, or after ``max_ls`` trials.
    """
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    d_norm = phi.d.abs().max()
    insuf_progress = False
    while phi.iterations < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        t, insuf_progress = safeguarded_step(bracket, insuf_progress)
        new = phi(t)
        if sufficient_decrease_fails(new, start, c1) or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
            continue
        done = curvature_holds(new, start, c2)
        if not done and new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
        if done:
            break
    return bracket[low]


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step length along ``d`` satisfying the strong Wolfe conditions, as torch finds it.

    ``obj_func(x, t, d)`` gives (f, flat gradient) at x + t d; ``f``, ``g``, ``gtd`` are φ(0),
    ∇f(θ) and φ'(0); ``t`` is the first trial. At most ``max_ls`` evaluations after the first.
    Returns (f_new, g_new, t, evaluations) of the step found: torch's ``_strong_wolfe``.
    """
    phi = LineFunction(obj_func, x, d)
    start = Trial(0, f, g, gtd)  # a = 0, an int as in torch (it may become the returned t)
    bracket, done = bracket_phase(phi, start, t, c1, c2, max_ls)
    if done:
        best = bracket[0]
    else:
        best = zoom_phase(phi, bracket, start, c1, c2, tolerance_change, max_ls)
    return best.f, best.g, best.t, phi.evals
