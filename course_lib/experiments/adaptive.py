"""The experiments of notebook 03 (adaptive methods): an optimizer race, bias correction, AMSGrad.

Pure compute functions (unit-tested; no plotting, no ipywidgets):

- :func:`race`: several optimizers from the same :math:`\\theta_0` on a 2-D landscape; one
  :class:`~course_lib.landscapes.Trajectory` each, "diverged at step k" when one blows up.
- :func:`tune_race_lrs`: each optimizer's best rate on a grid (lowest final loss), for a fair race.
- :func:`bias_correction`: Adam's moment estimates over the first steps, raw and bias-corrected:

  .. math::

      m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\quad v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,
      \\quad \\hat m_t = \\frac{m_t}{1-\\beta_1^t}, \\quad \\hat v_t = \\frac{v_t}{1-\\beta_2^t},

  and the resulting step sizes :math:`\\gamma \\hat m_t / (\\sqrt{\\hat v_t} + \\varepsilon)` (corrected)
  and :math:`\\gamma m_t / (\\sqrt{v_t} + \\varepsilon)` (uncorrected).
- :func:`online_counterexample`: the online problem of Reddi, Kale & Kumar (2018) on which Adam
  converges to the worst point and AMSGrad does not.
- :func:`amsgrad_rates`: AMSGrad's effective per-coordinate rate while its running maximum
  :math:`v^{\\max}_t` holds, as torch computes it (bias-corrected, so it grows) and as the paper's
  Algorithm 2 does (no correction, :math:`\\gamma/\\sqrt t`, so it does not).

The explorers around them are ``course_lib.widgets.adaptive.RaceExplorer`` and
``BiasCorrectionExplorer``; the figures are ``course_lib.plots.adaptive``'s.

    >>> r = race("quadratic", ["Momentum", "Adam"], steps=50)
    >>> sorted(r.trajectories), r.diverged()
    (['Adam', 'Momentum'], [])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from course_lib import landscapes as _landscapes
from course_lib._validation import check_bool, check_choice, check_int, check_number
from course_lib.optim import SGD, Adadelta, Adagrad, Adam, Adamax, Lion, NAdam, RAdam, RMSprop, Yogi

__all__ = [
    "DEFAULT_LRS",
    "RACE_LANDSCAPES",
    "RACE_OPTIMIZERS",
    "ROTATED_START",
    "AmsgradRates",
    "BiasCorrection",
    "Counterexample",
    "RaceResult",
    "amsgrad_rates",
    "bias_correction",
    "make_race_optimizer",
    "online_counterexample",
    "race",
    "race_landscape",
    "tune_race_lrs",
]

#: The optimizers of the race, by name: ``RACE_OPTIMIZERS[name](params, lr=...)`` builds one. Every
#: optimizer of ``course_lib.optim`` that works on one 2-vector with a plain ``step()``: not Muon (2-D
#: matrices only), LBFGS (needs a closure), nor LARS, LAMB and Adafactor (per-tensor trust ratios and
#: factored moments, which on a single 2-vector teach nothing the others do not).
RACE_OPTIMIZERS: dict[str, Callable] = {
    "SGD": SGD,
    "Momentum": functools.partial(SGD, momentum=0.9),
    "Adagrad": Adagrad,
    "RMSprop": RMSprop,
    "Adam": Adam,
    "AMSGrad": functools.partial(Adam, amsgrad=True),
    "NAdam": NAdam,
    "Adadelta": Adadelta,
    "Adamax": Adamax,
    "RAdam": RAdam,
    "Lion": Lion,
    "Yogi": Yogi,
}

_START = (-2.0, 1.0)
_ANGLE = math.pi / 4
#: Start of the rotated quadratic: :math:`R^\top \theta_0`, so that the rotated problem is the
#: aligned one seen in rotated coordinates (a rotation-invariant method follows the same losses).
ROTATED_START = (
    math.cos(_ANGLE) * _START[0] - math.sin(_ANGLE) * _START[1],
    math.sin(_ANGLE) * _START[0] + math.cos(_ANGLE) * _START[1],
)

#: The landscapes of the race: an ill-conditioned quadratic (condition number 50) along the axes,
#: the same problem rotated by 45 degrees (start rotated too), Rosenbrock, Beale and the saddle.
RACE_LANDSCAPES: dict[str, Callable[[], _landscapes.Landscape]] = {
    "quadratic": functools.partial(_landscapes.quadratic, 50.0, start=_START),
    "rotated quadratic": functools.partial(
        _landscapes.quadratic, 50.0, angle=_ANGLE, start=ROTATED_START
    ),
    "rosenbrock": _landscapes.rosenbrock,
    "beale": _landscapes.beale,
    "saddle": _landscapes.saddle,
}

#: Starting rates of the race explorer, per landscape and optimizer: values that make progress in a
#: couple of hundred steps without diverging (the explorer's multiplier scales them all). Adadelta's
#: "no learning rate" default ``lr=1`` barely moves in 200 steps (its first steps are about
#: :math:`\sqrt{\varepsilon/(1-\rho)} \approx 0.003`), so the race gives it a multiplier of 3-10.
DEFAULT_LRS: dict[str, dict[str, float]] = {
    "quadratic": {
        "SGD": 1.0,
        "Momentum": 0.1,
        "Adagrad": 1.0,
        "RMSprop": 0.1,
        "Adam": 0.2,
        "AMSGrad": 0.2,
        "NAdam": 0.2,
        "Adadelta": 3.0,
        "Adamax": 0.1,
        "RAdam": 0.1,
        "Lion": 0.03,
        "Yogi": 0.1,
    },
    "rotated quadratic": {
        "SGD": 1.0,
        "Momentum": 0.1,
        "Adagrad": 1.0,
        "RMSprop": 0.1,
        "Adam": 0.2,
        "AMSGrad": 0.2,
        "NAdam": 0.2,
        "Adadelta": 3.0,
        "Adamax": 0.1,
        "RAdam": 0.1,
        "Lion": 0.03,
        "Yogi": 0.1,
    },
    "rosenbrock": {
        "SGD": 1e-3,
        "Momentum": 1e-3,
        "Adagrad": 0.5,
        "RMSprop": 0.01,
        "Adam": 0.1,
        "AMSGrad": 0.1,
        "NAdam": 0.1,
        "Adadelta": 10.0,
        "Adamax": 1.0,
        "RAdam": 1e-3,
        "Lion": 0.03,
        "Yogi": 1.0,
    },
    "beale": {
        "SGD": 0.01,
        "Momentum": 1e-3,
        "Adagrad": 0.5,
        "RMSprop": 0.01,
        "Adam": 0.1,
        "AMSGrad": 0.1,
        "NAdam": 0.1,
        "Adadelta": 10.0,
        "Adamax": 0.3,
        "RAdam": 0.01,
        "Lion": 0.03,
        "Yogi": 0.3,
    },
    "saddle": {
        "SGD": 0.1,
        "Momentum": 0.03,
        "Adagrad": 0.3,
        "RMSprop": 0.01,
        "Adam": 0.03,
        "AMSGrad": 0.03,
        "NAdam": 0.03,
        "Adadelta": 3.0,
        "Adamax": 0.1,
        "RAdam": 0.1,
        "Lion": 0.03,
        "Yogi": 0.1,
    },
}


def race_landscape(name) -> _landscapes.Landscape:
    """A race landscape by name (a key of :data:`RACE_LANDSCAPES`), or a ``Landscape`` passed through."""
    if isinstance(name, _landscapes.Landscape):
        return name
    check_choice("landscape", name, RACE_LANDSCAPES)
    return RACE_LANDSCAPES[name]()


def make_race_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """Build optimizer ``name`` (a key of :data:`RACE_OPTIMIZERS`) over ``params`` with rate ``lr``.

    Example:
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> type(make_race_optimizer("AMSGrad", [p], 0.1)).__name__, make_race_optimizer("AMSGrad", [p], 0.1).defaults["amsgrad"]
        ('Adam', True)
    """
    check_choice("optimizer", name, RACE_OPTIMIZERS)
    check_number("lr", lr, low=0.0)
    return RACE_OPTIMIZERS[name](params, lr=lr)


def _optimizer_factory(name: str, lr: float, params):
    return make_race_optimizer(name, params, lr)


@dataclass(frozen=True)
class RaceResult:
    """The paths of several optimizers on one landscape (see :func:`race`).

    Attributes:
        landscape: the :class:`~course_lib.landscapes.Landscape`.
        trajectories: optimizer name -> its :class:`~course_lib.landscapes.Trajectory`.
        lrs: optimizer name -> the rate it used.
        steps: the number of steps asked for.
    """

    landscape: _landscapes.Landscape
    trajectories: dict
    lrs: dict
    steps: int

    @property
    def f_min(self) -> float:
        return float(self.landscape(self.landscape.minimum))

    def diverged(self) -> list[str]:
        """Names of the optimizers whose run diverged."""
        return [n for n, t in self.trajectories.items() if t.diverged]

    def final_gap(self, name: str) -> float:
        """:math:`f(\\theta_T) - f^*` of one optimizer (``inf`` when it diverged)."""
        t = self.trajectories[name]
        return math.inf if t.diverged else float(t.losses[-1]) - self.f_min

    def steps_to(self, name: str, tol: float) -> int | None:
        """First step with :math:`f(\\theta_t) - f^* \\le` ``tol`` (``None`` if never)."""
        return self.trajectories[name].steps_to(tol, self.f_min)

    def labelled(self) -> dict:
        """``{"Adam (lr=0.1)": Trajectory, ...}`` for plots and legends."""
        return {f"{n} (lr={self.lrs[n]:.3g})": t for n, t in self.trajectories.items()}

    def status(self) -> str:
        """One line per optimizer: "diverged at step k" or its final sub-optimality."""
        lines = []
        for n, t in self.trajectories.items():
            if t.diverged:
                lines.append(f"{n} (lr={self.lrs[n]:.3g}): diverged at step {t.diverged_at}")
            else:
                lines.append(
                    f"{n} (lr={self.lrs[n]:.3g}): f - f* = {self.final_gap(n):.2e} "
                    f"after {len(t.losses) - 1} steps"
                )
        return "\n".join(lines)


def race(
    landscape,
    optimizers: Sequence[str],
    lrs: Mapping[str, float] | None = None,
    *,
    lr_scale: float = 1.0,
    steps: int = 200,
    start=None,
) -> RaceResult:
    """Run several optimizers from the same start on one landscape.

    Optimizer ``name`` runs with rate :math:`\\gamma = s \\cdot \\gamma_{name}`, where ``s`` is
    ``lr_scale`` and :math:`\\gamma_{name}` comes from ``lrs`` or, when missing, from
    :data:`DEFAULT_LRS`. Never raises because a run diverges: that trajectory stops and says so.

    Args:
        landscape: a key of :data:`RACE_LANDSCAPES` or a :class:`~course_lib.landscapes.Landscape`.
        optimizers: names from :data:`RACE_OPTIMIZERS` (at least one, no repeats).
        lrs: optional name -> rate.
        lr_scale: common multiplier of every rate, > 0.
        steps: optimizer steps per run, in [1, 5000].
        start: :math:`\\theta_0`; the landscape's default when ``None``.

    Returns:
        A :class:`RaceResult`.

    Example:
        >>> r = race("rosenbrock", ["SGD"], {"SGD": 0.01}, steps=100)
        >>> r.trajectories["SGD"].status
        'diverged at step 5'
    """
    land = race_landscape(landscape)
    if isinstance(optimizers, str) or not isinstance(optimizers, Sequence):
        raise TypeError(f"optimizers must be a list of names, got {optimizers!r}")
    if not optimizers:
        raise ValueError(f"optimizers must name at least one of {list(RACE_OPTIMIZERS)}, got []")
    if len(set(optimizers)) != len(optimizers):
        raise ValueError(f"optimizers must not repeat a name, got {list(optimizers)}")
    for name in optimizers:
        check_choice("optimizer", name, RACE_OPTIMIZERS)
    check_number("lr_scale", lr_scale, low=0.0, low_inclusive=False)
    check_int("steps", steps, low=1, high=5000)
    defaults = DEFAULT_LRS.get(landscape if isinstance(landscape, str) else "", {})
    lrs = dict(lrs or {})
    chosen = {}
    for name in optimizers:
        base = lrs.get(name, defaults.get(name))
        if base is None:
            raise ValueError(f"lrs must give a rate for {name!r} on this landscape, got {lrs}")
        check_number(f"lrs[{name!r}]", base, low=0.0, low_inclusive=False)
        chosen[name] = float(base) * float(lr_scale)
    paths = {
        name: _landscapes.trajectory(
            land,
            functools.partial(_optimizer_factory, name, chosen[name]),
            steps=steps,
            start=start,
        )
        for name in optimizers
    }
    return RaceResult(land, paths, chosen, steps)


def tune_race_lrs(
    landscape,
    optimizers: Sequence[str],
    lrs: Sequence[float] = tuple(np.geomspace(1e-3, 3.0, 15)),
    *,
    steps: int = 200,
) -> dict[str, float]:
    """Each optimizer's best rate on a grid: the lowest final :math:`f(\\theta_T)`, diverged runs last.

    Every optimizer gets the same grid and the same number of steps, so the race that follows
    compares tuned methods, not our guesses.

    Args:
        landscape: a key of :data:`RACE_LANDSCAPES` or a ``Landscape``.
        optimizers: names from :data:`RACE_OPTIMIZERS`.
        lrs: the candidate rates (default: 15 rates from 1e-3 to 3, evenly spaced on a log scale).
        steps: steps per run.

    Returns:
        name -> best rate.

    Example:
        >>> best = tune_race_lrs("quadratic", ["SGD"], [0.1, 1.0, 3.0], steps=50)
        >>> best["SGD"]  # 3.0 > 2/L diverges; 1.0 converges fastest
        1.0
    """
    lrs = [
        float(check_number(f"lrs[{i}]", lr, low=0.0, low_inclusive=False))
        for i, lr in enumerate(lrs)
    ]
    if not lrs:
        raise ValueError("lrs must hold at least one rate, got an empty sequence")
    land = race_landscape(landscape)
    best = {}
    for name in optimizers:
        scores = []
        for lr in lrs:
            path = race(land, [name], {name: lr}, steps=steps).trajectories[name]
            scores.append(math.inf if path.diverged else float(path.losses[-1]))
        best[name] = lrs[int(np.argmin(scores))]
    return best


@dataclass(frozen=True)
class BiasCorrection:
    """Adam's moment estimates over the first steps (see :func:`bias_correction`).

    All arrays have one entry per step :math:`t = 1, \\dots, T`.

    Attributes:
        t: the steps.
        g: the gradients :math:`g_t` fed in.
        m, v: raw averages :math:`m_t`, :math:`v_t` (started at 0).
        m_hat, v_hat: bias-corrected :math:`\\hat m_t`, :math:`\\hat v_t`.
        step_corrected: :math:`\\gamma \\hat m_t / (\\sqrt{\\hat v_t} + \\varepsilon)` (Adam's step).
        step_uncorrected: :math:`\\gamma m_t / (\\sqrt{v_t} + \\varepsilon)` (no correction).
        beta1, beta2, lr, eps: the settings.
    """

    t: np.ndarray
    g: np.ndarray
    m: np.ndarray
    v: np.ndarray
    m_hat: np.ndarray
    v_hat: np.ndarray
    step_corrected: np.ndarray
    step_uncorrected: np.ndarray
    beta1: float
    beta2: float
    lr: float
    eps: float

    @property
    def first_step_ratio(self) -> float:
        """Uncorrected over corrected first step: :math:`(1-\\beta_1)/\\sqrt{1-\\beta_2}` (ε aside)."""
        return float(self.step_uncorrected[0] / self.step_corrected[0])

    def status(self) -> str:
        return (
            f"first step: corrected {self.step_corrected[0]:.3g}, uncorrected "
            f"{self.step_uncorrected[0]:.3g} ({self.first_step_ratio:.3g} x); "
            f"(1-β1)/√(1-β2) = {(1 - self.beta1) / math.sqrt(1 - self.beta2):.3g}"
        )


def bias_correction(
    beta1: float = 0.9,
    beta2: float = 0.999,
    steps: int = 50,
    *,
    gradient: str = "constant",
    g: float = 1.0,
    noise: float = 1.0,
    lr: float = 1e-3,
    eps: float = 1e-8,
    seed: int = 0,
) -> BiasCorrection:
    """Adam's first and second moment estimates, raw and bias-corrected, for a given gradient stream.

    With a constant gradient :math:`g_t = g` the raw averages are :math:`m_t = (1-\\beta_1^t) g` and
    :math:`v_t = (1-\\beta_2^t) g^2`, biased towards their zero start; dividing by
    :math:`1-\\beta^t` removes the bias exactly: :math:`\\hat m_t = g`, :math:`\\hat v_t = g^2`, so
    Adam's step is :math:`\\gamma g/(|g|+\\varepsilon) \\approx \\gamma` from the first step on. Without
    the correction the first step is :math:`\\gamma (1-\\beta_1)/\\sqrt{1-\\beta_2}` (about
    :math:`3.16\\gamma` for the defaults).

    Args:
        beta1, beta2: :math:`\\beta_1, \\beta_2` in [0, 1).
        steps: :math:`T`, in [1, 100000].
        gradient: ``"constant"`` (:math:`g_t = g`) or ``"noisy"`` (:math:`g_t = g + \\sigma \\xi_t`,
            :math:`\\xi_t \\sim \\mathcal N(0, 1)` from ``seed``).
        g: the (mean) gradient.
        noise: :math:`\\sigma >= 0` for the noisy stream.
        lr: :math:`\\gamma > 0`; eps: :math:`\\varepsilon >= 0`.
        seed: seed of the noise.

    Returns:
        A :class:`BiasCorrection`.

    Example:
        >>> r = bias_correction(0.9, 0.999, steps=3)
        >>> np.allclose(r.m_hat, 1.0), round(r.first_step_ratio, 3)
        (True, 3.162)
    """
    check_number("beta1", beta1, low=0.0, high=1.0, high_inclusive=False)
    check_number("beta2", beta2, low=0.0, high=1.0, high_inclusive=False)
    check_int("steps", steps, low=1, high=100_000)
    check_choice("gradient", gradient, ("constant", "noisy"))
    check_number("g", g)
    check_number("noise", noise, low=0.0)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_number("eps", eps, low=0.0)
    check_int("seed", seed, low=0)
    t = np.arange(1, steps + 1, dtype=np.float64)
    grads = np.full(steps, float(g))
    if gradient == "noisy":
        grads = grads + noise * np.random.default_rng(seed).standard_normal(steps)
    m = np.empty(steps)
    v = np.empty(steps)
    m_prev = v_prev = 0.0
    for i, gi in enumerate(grads):
        m_prev = beta1 * m_prev + (1 - beta1) * gi
        v_prev = beta2 * v_prev + (1 - beta2) * gi * gi
        m[i], v[i] = m_prev, v_prev
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = lr * m_hat / (np.sqrt(v_hat) + eps)
        uncorrected = lr * m / (np.sqrt(v) + eps)
    return BiasCorrection(
        t, grads, m, v, m_hat, v_hat, corrected, uncorrected, float(beta1), float(beta2), lr, eps
    )


@dataclass(frozen=True)
class Counterexample:
    """Iterates and regret on the online problem of :func:`online_counterexample`.

    Attributes:
        x: :math:`x_t` after each step (projected onto [-1, 1]).
        regret: cumulative regret :math:`R_t = \\sum_{s \\le t} f_s(x_s) - f_s(x^*)`, :math:`x^* = -1`.
        amsgrad: which method ran.
    """

    x: np.ndarray
    regret: np.ndarray
    amsgrad: bool

    @property
    def average_regret(self) -> float:
        """:math:`R_T / T`: tends to 0 for a method that learns, stays positive for one that does not."""
        return float(self.regret[-1] / len(self.regret))


def online_counterexample(
    amsgrad: bool,
    steps: int = 3000,
    *,
    C: float = 3.0,
    lr: float = 0.5,
) -> Counterexample:
    """Adam vs AMSGrad on the online problem of Reddi, Kale & Kumar (2018, Section 3).

    On :math:`x \\in [-1, 1]` the loss at step :math:`t` is :math:`f_t(x) = C x` when
    :math:`t \\bmod 3 = 1` and :math:`-x` otherwise (:math:`C > 2`). Over three steps the sum is
    :math:`(C - 2) x`, minimised at :math:`x^* = -1`. Adam with :math:`\\beta_1 = 0`,
    :math:`\\beta_2 = 1/(1 + C^2)` and rate :math:`\\gamma_t = \\gamma/\\sqrt t` forgets the rare
    large gradient :math:`C` within a step or two, while the frequent small gradients :math:`-1`
    get steps just as large: it drifts to :math:`x = +1`, the worst point. AMSGrad keeps
    :math:`\\max_s v_s`, so after a large gradient its steps stay small, and it converges to -1.
    Each step is ``course_lib.optim.Adam`` followed by the projection ``x.clamp_(-1, 1)``.

    Args:
        amsgrad: run AMSGrad instead of Adam.
        steps: number of online steps, in [3, 1000000].
        C: the large gradient, > 2.
        lr: :math:`\\gamma > 0`.

    Returns:
        A :class:`Counterexample`.

    Example:
        >>> adam, ams = online_counterexample(False, 600), online_counterexample(True, 600)
        >>> float(adam.x[-1]), round(float(ams.x[-1]), 1)
        (1.0, -1.0)
    """
    check_bool("amsgrad", amsgrad)
    check_int("steps", steps, low=3, high=1_000_000)
    check_number("C", C, low=2.0, low_inclusive=False)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    x = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = Adam([x], lr=lr, betas=(0.0, 1.0 / (1.0 + C**2)), amsgrad=amsgrad)
    xs = np.empty(steps)
    regret = np.empty(steps)
    total = 0.0
    for t in range(1, steps + 1):
        opt.param_groups[0]["lr"] = lr / math.sqrt(t)
        coef = C if t % 3 == 1 else -1.0
        loss = coef * x.sum()
        total += loss.item() - coef * (-1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
        xs[t - 1] = x.item()
        regret[t - 1] = total
    return Counterexample(xs, regret, amsgrad)


@dataclass(frozen=True)
class AmsgradRates:
    """AMSGrad's effective rates on one coordinate (see :func:`amsgrad_rates`).

    All arrays have one entry per step :math:`t = 1, \\dots, T`.

    Attributes:
        t: the steps.
        g: the gradients fed in.
        v, v_max: :math:`v_t` and :math:`v^{\\max}_t` after step :math:`t` (``exp_avg_sq`` and
            ``max_exp_avg_sq``).
        rate_torch: :math:`\\gamma / (\\sqrt{v^{\\max}_t / (1-\\beta_2^t)} + \\varepsilon)`, the
            rate by which torch's (and ``course_lib``'s) AMSGrad multiplies :math:`\\hat m_t`.
        rate_paper: :math:`(\\gamma/\\sqrt t) / \\sqrt{v^{\\max}_t}`, the rate of Reddi, Kale & Kumar's
            Algorithm 2 (no bias correction, decaying step :math:`\\alpha_t = \\gamma/\\sqrt t`).
        matches_torch: whether, on the first ``check`` steps, ``course_lib``'s and
            ``torch.optim.Adam(amsgrad=True)`` gave bit-identical parameters and state, and their
            ``max_exp_avg_sq`` equals ``v_max`` (to 1e-12).
        beta2, lr, eps: the settings.
    """

    t: np.ndarray
    g: np.ndarray
    v: np.ndarray
    v_max: np.ndarray
    rate_torch: np.ndarray
    rate_paper: np.ndarray
    matches_torch: bool
    beta2: float
    lr: float
    eps: float

    @property
    def bound(self) -> float:
        """The largest growth of ``rate_torch`` while :math:`v^{\\max}` holds: :math:`1/\\sqrt{1-\\beta_2}`."""
        return 1.0 / math.sqrt(1.0 - self.beta2)

    @property
    def growth(self) -> float:
        """``rate_torch[-1] / rate_torch[0]``: how much torch's rate grew over the run."""
        return float(self.rate_torch[-1] / self.rate_torch[0])


def _amsgrad_matches_torch(grads: np.ndarray, v_max: np.ndarray, beta2, lr, eps) -> bool:
    """Whether course_lib's and torch's AMSGrad agree bit for bit on ``grads``, and with ``v_max``."""
    ours = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    theirs = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = Adam([ours], lr=lr, betas=(0.9, beta2), eps=eps, amsgrad=True)
    ref = torch.optim.Adam([theirs], lr=lr, betas=(0.9, beta2), eps=eps, amsgrad=True)
    state_v_max = np.empty(len(grads))
    for i, gi in enumerate(grads):
        for p, o in ((ours, opt), (theirs, ref)):
            o.zero_grad()
            (float(gi) * p).sum().backward()
            o.step()
        state_v_max[i] = opt.state[ours]["max_exp_avg_sq"].item()
    mine, torchs = opt.state[ours], ref.state[theirs]
    return bool(
        torch.equal(ours, theirs)
        and torch.equal(mine["max_exp_avg_sq"], torchs["max_exp_avg_sq"])
        and torch.equal(mine["exp_avg"], torchs["exp_avg"])
        and np.allclose(state_v_max, v_max[: len(grads)], rtol=1e-12, atol=0.0)
    )


def amsgrad_rates(
    steps: int = 5000,
    *,
    beta2: float = 0.999,
    g_first: float = 1.0,
    g_rest: float = 0.01,
    lr: float = 1e-3,
    eps: float = 1e-8,
    check: int = 200,
) -> AmsgradRates:
    """AMSGrad's per-coordinate rate over the steps, on a gradient stream where :math:`v^{\\max}` holds.

    One coordinate sees one large gradient ``g_first`` at step 1, then small ones ``g_rest``. Then
    :math:`v_1 = (1-\\beta_2) g_\\text{first}^2` is the running maximum for as long as the EWMA
    :math:`v_t` stays below it (always, when ``g_rest**2 < (1 - beta2) * g_first**2``). torch's
    AMSGrad divides :math:`\\hat m_t` by :math:`\\sqrt{v^{\\max}_t/(1-\\beta_2^t)} + \\varepsilon`, so
    with :math:`v^{\\max}` fixed its rate grows like :math:`\\sqrt{1-\\beta_2^t}`: from
    :math:`\\gamma/|g_\\text{first}|` at step 1 towards :math:`1/\\sqrt{1-\\beta_2}` times that (31.6x
    for :math:`\\beta_2 = 0.999`). The paper's Algorithm 2 divides by :math:`\\sqrt{v^{\\max}_t}` and
    uses :math:`\\gamma/\\sqrt t`: its rate never increases. Both rates come from the same
    :math:`v^{\\max}_t`, computed by the recurrence; on the first ``check`` steps it is compared with
    the state ``max_exp_avg_sq`` of ``course_lib.optim.Adam(amsgrad=True, betas=(0.9, beta2))``, which
    is in turn checked bit for bit against ``torch.optim.Adam`` on the same stream.

    Args:
        steps: :math:`T`, in [2, 1000000].
        beta2: :math:`\\beta_2` in (0, 1).
        g_first, g_rest: the first gradient and all later ones.
        lr: :math:`\\gamma > 0`; eps: :math:`\\varepsilon >= 0`.
        check: how many first steps run through the optimizers (>= 1; a step of both costs far
            more than the recurrence).

    Returns:
        An :class:`AmsgradRates`.

    Example:
        >>> r = amsgrad_rates(3000)
        >>> bool(np.all(r.v_max == r.v_max[0])), round(r.growth, 1), round(r.bound, 1)
        (True, 30.8, 31.6)
    """
    check_int("steps", steps, low=2, high=1_000_000)
    check_number("beta2", beta2, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    check_number("g_first", g_first)
    check_number("g_rest", g_rest)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_number("eps", eps, low=0.0)
    check_int("check", check, low=1)
    grads = np.full(steps, float(g_rest))
    grads[0] = float(g_first)
    v = np.empty(steps)
    v_max = np.empty(steps)
    v_prev = v_max_prev = 0.0
    for i, gi in enumerate(grads):
        v_prev = beta2 * v_prev + (1.0 - beta2) * gi * gi
        v_max_prev = max(v_max_prev, v_prev)
        v[i], v_max[i] = v_prev, v_max_prev
    matches = _amsgrad_matches_torch(grads[: min(check, steps)], v_max, beta2, lr, eps)
    t = np.arange(1, steps + 1, dtype=np.float64)
    rate_torch = lr / (np.sqrt(v_max / (1.0 - beta2**t)) + eps)
    rate_paper = (lr / np.sqrt(t)) / np.sqrt(v_max)
    return AmsgradRates(
        t, grads, v, v_max, rate_torch, rate_paper, matches, float(beta2), float(lr), float(eps)
    )
