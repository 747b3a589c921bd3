"""Two-dimensional test functions and the path an optimizer takes on them.

A :class:`Landscape` is a loss :math:`f(\\theta)` of a point :math:`\\theta = (x, y)`, written with torch
operations so that autograd gives :math:`\\nabla f`. :func:`trajectory` runs any optimizer (ours or
``torch.optim``'s: anything built from a parameter list) on it and records every iterate, stopping and
saying so when the run diverges.

The functions:

- :func:`quadratic`: :math:`f(\\theta) = \\tfrac12 (L x'^2 + \\ell y'^2)`, where :math:`(x', y')` is
  :math:`\\theta` rotated by ``angle`` and :math:`\\ell = L / \\kappa`. Its Hessian has eigenvalues
  :math:`h_1 = L` and :math:`h_2 = \\ell`; gradient descent with step :math:`\\gamma` converges iff
  :math:`0 < \\gamma < 2/L`, and the condition number :math:`\\kappa = L/\\ell` sets how slowly.

Symbols follow the course's notation (``docs/notation.md``): :math:`\\gamma` the learning rate (``lr``),
:math:`\\mu` momentum (``momentum``), :math:`h_i` the Hessian's eigenvalues, :math:`L` and :math:`\\ell`
the largest and smallest of them.
- :func:`rosenbrock`: :math:`(a - x)^2 + b (y - x^2)^2`, a curved valley, minimum at :math:`(a, a^2)`.
- :func:`beale`: Beale's function, minimum 0 at :math:`(3, 0.5)`, flat plateaus and steep walls.
- :func:`saddle`: :math:`\\tfrac12 (x^2 - y^2) + \\tfrac14 y^4`, a saddle point at the origin and two minima
  at :math:`(0, \\pm 1)`: a method started on the ridge :math:`y = 0` has zero gradient across it.

    >>> import torch
    >>> q = quadratic(condition_number=10.0)
    >>> path = trajectory(q, lambda params: torch.optim.SGD(params, lr=0.1), steps=50)
    >>> bool(path.losses[-1] < path.losses[0]), path.diverged
    (True, False)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from course_lib._validation import check_array, check_bool, check_int, check_number

__all__ = [
    "LANDSCAPES",
    "Landscape",
    "Trajectory",
    "beale",
    "gd_optimal",
    "gd_rate",
    "get_landscape",
    "measured_rate",
    "momentum_matrix",
    "momentum_optimal",
    "momentum_rate",
    "nesterov_optimal",
    "quadratic",
    "rosenbrock",
    "saddle",
    "trajectory",
]


def _quadratic_f(xy: torch.Tensor, L: float, mu: float, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    x, y = xy[..., 0], xy[..., 1]
    u = c * x + s * y
    v = -s * x + c * y
    return 0.5 * (L * u**2 + mu * v**2)


def _rosenbrock_f(xy: torch.Tensor, a: float, b: float) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (a - x) ** 2 + b * (y - x**2) ** 2


def _beale_f(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _saddle_f(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return 0.5 * (x**2 - y**2) + 0.25 * y**4


def _point(start) -> tuple[float, float]:
    """``start`` as a pair of floats (a tuple, list or array of two numbers)."""
    values = tuple(float(s) for s in start)
    if len(values) != 2:
        raise ValueError(f"start must be a point (x, y) of two numbers, got {start!r}")
    return values[0], values[1]


@dataclass(frozen=True)
class Landscape:
    """A 2-D loss surface: ``f(xy)`` on tensors of shape ``(..., 2)``, plus what plots need.

    Attributes:
        name: short label.
        f: the loss, a picklable function of a ``(..., 2)`` tensor.
        minimum: a global minimiser :math:`\\theta^*` (for distance-to-optimum plots).
        start: the default starting point :math:`\\theta_0`.
        bounds: ``((x_min, x_max), (y_min, y_max))`` for contour plots.
        log_contours: whether contours look better on a log scale (steep valleys).
        info: extra facts, e.g. ``{"L": 1.0, "mu": 0.1, "condition_number": 10.0}`` for the
            quadratic, where ``"mu"`` holds the smallest curvature :math:`\\ell` (the key predates the
            course's notation and is kept for compatibility).
    """

    name: str
    f: Callable[[torch.Tensor], torch.Tensor]
    minimum: tuple[float, float]
    start: tuple[float, float]
    bounds: tuple[tuple[float, float], tuple[float, float]]
    log_contours: bool = False
    info: dict = field(default_factory=dict)

    def __call__(self, xy) -> torch.Tensor:
        return self.f(torch.as_tensor(xy, dtype=torch.float64))

    def grad(self, xy) -> np.ndarray:
        """:math:`\\nabla f` at one point, by autograd, as a NumPy array of shape ``(2,)``."""
        p = torch.tensor(np.asarray(xy, dtype=np.float64), requires_grad=True)
        (g,) = torch.autograd.grad(self.f(p), p)
        return g.numpy()

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X, Y, Z`` on an ``n x n`` grid over :attr:`bounds`, for ``contour`` plots."""
        (x0, x1), (y0, y1) = self.bounds
        xs = torch.linspace(x0, x1, n, dtype=torch.float64)
        ys = torch.linspace(y0, y1, n, dtype=torch.float64)
        X, Y = torch.meshgrid(xs, ys, indexing="xy")
        Z = self.f(torch.stack([X, Y], dim=-1))
        return X.numpy(), Y.numpy(), Z.numpy()


def quadratic(
    condition_number: float = 10.0, L: float = 1.0, angle: float = 0.0, start=(-2.0, 1.0)
) -> Landscape:
    """The quadratic :math:`\\tfrac12 (L x'^2 + \\ell y'^2)` with :math:`\\ell = L/\\kappa`, rotated by ``angle``.

    Args:
        condition_number: :math:`\\kappa = L / \\ell \\ge 1` (:math:`\\ell` the smallest curvature).
        L: largest curvature (the Hessian's largest eigenvalue), > 0.
        angle: rotation of the axes in radians (0 = axis-aligned valley).
        start: default :math:`\\theta_0`.
    """
    check_number("condition_number", condition_number, low=1.0)
    check_number("L", L, low=0.0, low_inclusive=False)
    check_number("angle", angle)
    mu = L / condition_number
    f = functools.partial(_quadratic_f, L=float(L), mu=float(mu), angle=float(angle))
    reach = max(abs(start[0]), abs(start[1]), 1.0) * 1.25
    return Landscape(
        name=f"quadratic (kappa={condition_number:g})",
        f=f,
        minimum=(0.0, 0.0),
        start=_point(start),
        bounds=((-reach, reach), (-reach, reach)),
        info={"L": float(L), "mu": float(mu), "condition_number": float(condition_number)},
    )


def rosenbrock(a: float = 1.0, b: float = 100.0, start=(-1.5, 2.0)) -> Landscape:
    """Rosenbrock's banana valley :math:`(a - x)^2 + b (y - x^2)^2`, minimum at :math:`(a, a^2)`."""
    check_number("a", a)
    check_number("b", b, low=0.0, low_inclusive=False)
    return Landscape(
        name="rosenbrock",
        f=functools.partial(_rosenbrock_f, a=float(a), b=float(b)),
        minimum=(float(a), float(a) ** 2),
        start=_point(start),
        bounds=((-2.0, 2.0), (-1.0, 3.0)),
        log_contours=True,
    )


def beale(start=(1.0, 1.5)) -> Landscape:
    """Beale's function, global minimum 0 at :math:`(3, 0.5)`."""
    return Landscape(
        name="beale",
        f=_beale_f,
        minimum=(3.0, 0.5),
        start=_point(start),
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        log_contours=True,
    )


def saddle(start=(1.5, 1e-3)) -> Landscape:
    """:math:`\\tfrac12 (x^2 - y^2) + \\tfrac14 y^4`: saddle at the origin, minima at :math:`(0, \\pm 1)`.

    The default start lies just off the ridge :math:`y = 0`, where the gradient across the ridge is tiny.
    """
    return Landscape(
        name="saddle",
        f=_saddle_f,
        minimum=(0.0, 1.0),
        start=_point(start),
        bounds=((-2.0, 2.0), (-2.0, 2.0)),
    )


#: Name -> constructor with default arguments, for widgets' drop-downs.
LANDSCAPES: dict[str, Callable[[], Landscape]] = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "saddle": saddle,
}


def get_landscape(name: str, **kwargs) -> Landscape:
    """Build a landscape by name (a key of :data:`LANDSCAPES`); ``ValueError`` lists the names."""
    if name not in LANDSCAPES:
        raise ValueError(
            f"landscape must be one of {', '.join(map(repr, LANDSCAPES))}, got {name!r}"
        )
    return LANDSCAPES[name](**kwargs)


@dataclass(frozen=True)
class Trajectory:
    """Iterates of one optimizer run.

    Attributes:
        points: ``(k + 1, 2)`` array, :math:`\\theta_0 \\dots \\theta_k` (finite points only).
        losses: ``(k + 1,)`` array, :math:`f(\\theta_t)`.
        diverged: whether the run was stopped because it blew up.
        diverged_at: the step at which it was detected (``None`` if it did not diverge).
    """

    points: np.ndarray
    losses: np.ndarray
    diverged: bool = False
    diverged_at: int | None = None

    @property
    def final(self) -> np.ndarray:
        return self.points[-1]

    def steps_to(self, tol: float, f_min: float = 0.0) -> int | None:
        """First step ``t`` with :math:`f(\\theta_t) - f^* \\le` ``tol`` (``None`` if never)."""
        hit = np.nonzero(self.losses - f_min <= tol)[0]
        return int(hit[0]) if len(hit) else None

    @property
    def status(self) -> str:
        """One line for widgets: ``"diverged at step k"`` or the final loss."""
        if self.diverged:
            return f"diverged at step {self.diverged_at}"
        return f"{len(self.losses) - 1} steps, final loss {self.losses[-1]:.3g}"


def trajectory(
    landscape: Landscape,
    make_optimizer: Callable[[Sequence[torch.nn.Parameter]], torch.optim.Optimizer],
    steps: int = 100,
    start=None,
    blowup: float = 1e6,
) -> Trajectory:
    """Run an optimizer on a landscape and record :math:`\\theta_t` and :math:`f(\\theta_t)`.

    Args:
        landscape: the function to minimise.
        make_optimizer: builds the optimizer from a list with one parameter, e.g.
            ``lambda p: course_lib.optim.SGD(p, lr=0.1, momentum=0.9)`` or
            ``functools.partial(torch.optim.Adam, lr=0.05)``.
        steps: number of optimizer steps (>= 0).
        start: :math:`\\theta_0`; the landscape's default when ``None``.
        blowup: the run counts as diverged when :math:`|\\theta|` exceeds this or the loss is not finite.

    Returns:
        A :class:`Trajectory` in float64. Never raises because of divergence: it stops and records the step.
    """
    check_int("steps", steps, low=0)
    check_number("blowup", blowup, low=0.0, low_inclusive=False)
    theta0 = landscape.start if start is None else start
    theta = torch.nn.Parameter(torch.tensor(np.asarray(theta0, dtype=np.float64)))
    optimizer = make_optimizer([theta])
    points = [theta.detach().numpy().copy()]
    with torch.no_grad():
        losses = [float(landscape.f(theta))]
    for t in range(1, steps + 1):
        optimizer.zero_grad()
        loss = landscape.f(theta)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            value = float(landscape.f(theta))
        point = theta.detach().numpy().copy()
        if (
            not (math.isfinite(value) and np.all(np.isfinite(point)))
            or np.abs(point).max() > blowup
        ):
            return Trajectory(np.array(points), np.array(losses), True, t)
        points.append(point)
        losses.append(value)
    return Trajectory(np.array(points), np.array(losses))


# --- Convergence rates on quadratics, in closed form ------------------------------------------------
#
# On f(θ) = ½ θᵀHθ every method below is linear in θ, so the error in each eigendirection of H (an
# eigenvalue h) evolves on its own and the worst eigendirection sets the rate. Notebooks 01 and 02 check
# these formulas against measured trajectories.


def gd_rate(lr, eigenvalues):
    """Per-step contraction factor of gradient descent on a quadratic: :math:`\\max_i |1 - \\gamma h_i|`.

    In the eigendirection with eigenvalue :math:`h` the error obeys
    :math:`e_{t+1} = (1 - \\gamma h)\\, e_t`, so it shrinks iff :math:`|1-\\gamma h| < 1`, i.e.
    :math:`0 < \\gamma < 2/h`; the largest eigenvalue :math:`L` gives the threshold :math:`2/L`.

    Args:
        lr: :math:`\\gamma` (>= 0), a number or an array (the result broadcasts over it).
        eigenvalues: the Hessian's eigenvalues :math:`h_i` (> 0), e.g. ``(L, ell)``.

    Returns:
        :math:`\\rho(\\gamma)` with the shape of ``lr`` (a float for a scalar ``lr``); >= 1 means no
        convergence.

    Example:
        >>> round(float(gd_rate(1.0, (1.0, 0.1))), 6)
        0.9
    """
    g = check_array("lr", lr, low=0.0)
    lam = check_array("eigenvalues", eigenvalues, low=0.0, low_inclusive=False).ravel()
    if lam.size == 0:
        raise ValueError("eigenvalues must hold at least one eigenvalue, got an empty sequence")
    rho = np.abs(1.0 - g[..., None] * lam).max(axis=-1)
    return float(rho) if rho.ndim == 0 else rho


def gd_optimal(L: float, condition_number: float) -> tuple[float, float]:
    """Best fixed step of gradient descent on a quadratic and its rate.

    With curvatures in :math:`[\\ell, L]`, :math:`\\ell = L/\\kappa`, the rate
    :math:`\\max(|1-\\gamma L|, |1-\\gamma\\ell|)` is smallest where the two are equal:

    .. math:: \\gamma^* = \\frac{2}{L + \\ell}, \\qquad \\rho^* = \\frac{\\kappa - 1}{\\kappa + 1}.

    Args:
        L: the largest eigenvalue (> 0).
        condition_number: :math:`\\kappa = L/\\ell` (>= 1).

    Returns:
        ``(lr, rate)``.

    Example:
        >>> [round(v, 6) for v in gd_optimal(1.0, 9.0)]
        [1.8, 0.8]
    """
    check_number("L", L, low=0.0, low_inclusive=False)
    check_number("condition_number", condition_number, low=1.0)
    L, kappa = float(L), float(condition_number)
    return 2.0 / (L + L / kappa), (kappa - 1.0) / (kappa + 1.0)


def momentum_rate(lr, momentum, eigenvalues, nesterov: bool = False):
    """Convergence rate of heavy-ball or Nesterov momentum on a quadratic (spectral radius).

    In the eigendirection :math:`h` the iterates obey a two-term recurrence, a 2x2 linear map
    of :math:`(e_t, e_{t-1})` (see :func:`momentum_matrix`) with characteristic polynomial

    - heavy ball: :math:`z^2 - (1 + \\mu - \\gamma h)\\, z + \\mu`,
    - Nesterov:   :math:`z^2 - (1 + \\mu)(1 - \\gamma h)\\, z + \\mu (1 - \\gamma h)`,

    (:math:`\\gamma` lr, :math:`\\mu` momentum). The error shrinks per step, asymptotically, by the largest
    root modulus; the rate is the maximum of that over the eigenvalues. Vectorised: ``lr`` and
    ``momentum`` broadcast (e.g. a grid from ``np.meshgrid``).

    Args:
        lr: :math:`\\gamma` (>= 0), number or array.
        momentum: :math:`\\mu` (>= 0), number or array.
        eigenvalues: the Hessian's eigenvalues (> 0), e.g. ``(L, L / kappa)``.
        nesterov: Nesterov's look-ahead instead of the heavy ball.

    Returns:
        The rate, broadcast shape of ``lr`` and ``momentum`` (a float for scalars); >= 1 means no
        convergence. With ``momentum=0`` it equals :func:`gd_rate`.

    Example:
        >>> round(float(momentum_rate(1.0, 0.0, (1.0, 0.1))), 6)
        0.9
    """
    g = check_array("lr", lr, low=0.0)
    m = check_array("momentum", momentum, low=0.0)
    lam = check_array("eigenvalues", eigenvalues, low=0.0, low_inclusive=False).ravel()
    if lam.size == 0:
        raise ValueError("eigenvalues must hold at least one eigenvalue, got an empty sequence")
    check_bool("nesterov", nesterov)
    g, m = np.broadcast_arrays(g, m)
    g, m = g[..., None], m[..., None]
    step = 1.0 - g * lam  # 1 - γλ
    if nesterov:
        a, c = (1.0 + m) * step, m * step
    else:
        a, c = 1.0 + m - g * lam, np.broadcast_to(m, step.shape)
    root = np.sqrt((a * a - 4.0 * c).astype(np.complex128))
    rho = np.maximum(np.abs(a + root), np.abs(a - root)).max(axis=-1) / 2.0
    return float(rho) if rho.ndim == 0 else rho


def momentum_matrix(lr: float, momentum: float, eigenvalue: float, nesterov: bool = False):
    """The 2x2 map :math:`(e_t, e_{t-1}) \\mapsto (e_{t+1}, e_t)` of momentum in one eigendirection.

    Heavy ball: :math:`e_{t+1} = (1 + \\mu - \\gamma h) e_t - \\mu e_{t-1}`; Nesterov:
    :math:`e_{t+1} = (1 - \\gamma h)\\big((1 + \\mu) e_t - \\mu e_{t-1}\\big)`.

    Returns:
        A ``(2, 2)`` NumPy array whose spectral radius is :func:`momentum_rate` for one eigenvalue.

    Example:
        >>> momentum_matrix(0.5, 0.5, 1.0).tolist()
        [[1.0, -0.5], [1.0, 0.0]]
    """
    check_number("lr", lr, low=0.0)
    check_number("momentum", momentum, low=0.0)
    check_number("eigenvalue", eigenvalue, low=0.0, low_inclusive=False)
    check_bool("nesterov", nesterov)
    s = 1.0 - lr * eigenvalue
    if nesterov:
        return np.array([[(1.0 + momentum) * s, -momentum * s], [1.0, 0.0]])
    return np.array([[1.0 + momentum - lr * eigenvalue, -momentum], [1.0, 0.0]])


def momentum_optimal(L: float, condition_number: float) -> tuple[float, float, float]:
    """Best (lr, momentum) of the heavy ball on a quadratic, and its rate (Polyak, 1964).

    With curvatures in :math:`[\\ell, L]`, :math:`\\kappa = L / \\ell`:

    .. math:: \\gamma^* = \\frac{4}{(\\sqrt{L} + \\sqrt{\\ell})^2}, \\qquad
              \\mu^* = \\Big(\\frac{\\sqrt\\kappa - 1}{\\sqrt\\kappa + 1}\\Big)^2, \\qquad
              \\rho^* = \\sqrt{\\mu^*} = \\frac{\\sqrt\\kappa - 1}{\\sqrt\\kappa + 1}.

    Args:
        L: the largest eigenvalue (> 0).
        condition_number: :math:`\\kappa` (>= 1).

    Returns:
        ``(lr, momentum, rate)``.

    Example:
        >>> [round(v, 4) for v in momentum_optimal(1.0, 100.0)]
        [3.3058, 0.6694, 0.8182]
    """
    check_number("L", L, low=0.0, low_inclusive=False)
    check_number("condition_number", condition_number, low=1.0)
    L, kappa = float(L), float(condition_number)
    ell = L / kappa
    rate = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)
    return 4.0 / (math.sqrt(L) + math.sqrt(ell)) ** 2, rate**2, rate


def nesterov_optimal(L: float, condition_number: float) -> tuple[float, float, float]:
    """Best (lr, momentum) of Nesterov's method on a quadratic, and its rate.

    Minimising :func:`momentum_rate` (``nesterov=True``) over both parameters gives (Lessard, Recht &
    Packard, 2016), with :math:`\\ell = L/\\kappa`:

    .. math:: \\gamma^* = \\frac{4}{3L + \\ell}, \\qquad
              \\mu^* = \\frac{\\sqrt{3\\kappa + 1} - 2}{\\sqrt{3\\kappa + 1} + 2}, \\qquad
              \\rho^* = 1 - \\frac{2}{\\sqrt{3\\kappa + 1}},

    a little slower than the heavy ball's :math:`(\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1)` on quadratics.

    Args:
        L: the largest eigenvalue (> 0).
        condition_number: :math:`\\kappa` (>= 1).

    Returns:
        ``(lr, momentum, rate)``.

    Example:
        >>> [round(v, 4) for v in nesterov_optimal(1.0, 100.0)]
        [1.3289, 0.7933, 0.8847]
    """
    check_number("L", L, low=0.0, low_inclusive=False)
    check_number("condition_number", condition_number, low=1.0)
    L, kappa = float(L), float(condition_number)
    root = math.sqrt(3.0 * kappa + 1.0)
    return 4.0 / (3.0 * L + L / kappa), (root - 2.0) / (root + 2.0), 1.0 - 2.0 / root


def measured_rate(path: Trajectory, minimum=None, start: int | None = None) -> float | None:
    """Average per-step contraction of the distance to the minimiser, measured on a trajectory.

    .. math:: \\hat\\rho = \\Big(\\frac{\\|\\theta_T - \\theta^*\\|}{\\|\\theta_s - \\theta^*\\|}\\Big)^{1/(T - s)}

    from step :math:`s` (``start``, default: half-way) to the last step :math:`T` whose distance is still
    above 1e-250 (so underflow never enters). Compare it with :func:`gd_rate` / :func:`momentum_rate`;
    on a diverging run it is the growth factor (> 1).

    Args:
        path: a trajectory (from :func:`trajectory`).
        minimum: :math:`\\theta^*`; the origin when ``None`` (the quadratics' minimiser).
        start: first step of the window (>= 0); ``len(points) // 2`` when ``None``.

    Returns:
        :math:`\\hat\\rho`, 0.0 when the iterate hit :math:`\\theta^*` exactly, ``None`` when the window
        holds fewer than two steps.

    Example:
        >>> import functools
        >>> q = quadratic(condition_number=10.0)
        >>> path = trajectory(q, functools.partial(torch.optim.SGD, lr=1.0), steps=100)
        >>> round(measured_rate(path), 6)
        0.9
    """
    if not isinstance(path, Trajectory):
        raise TypeError(f"path must be a Trajectory, got {type(path).__name__}")
    centre = np.zeros(2) if minimum is None else np.asarray(minimum, dtype=np.float64)
    dist = np.linalg.norm(np.asarray(path.points) - centre, axis=1)
    s = len(dist) // 2 if start is None else check_int("start", start, low=0)
    if s >= len(dist):
        return None
    if dist[s] == 0.0:
        return 0.0
    alive = np.nonzero(dist[s:] > 1e-250)[0]
    T = s + int(alive[-1])
    if T == s:
        return 0.0 if s + 1 < len(dist) else None
    return float((dist[T] / dist[s]) ** (1.0 / (T - s)))
