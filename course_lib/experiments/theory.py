"""The theory sections of notebooks 01 and 03: convexity, saddles, SGD's rates, Newton, AdaGrad's origin.

Pure compute functions (unit-tested; no plotting, no ipywidgets). Symbols as in ``docs/notation.md``:
:math:`\\gamma` the learning rate (``lr``), :math:`\\gamma_t` its value at step :math:`t`, :math:`H` the
Hessian, :math:`h_i` its eigenvalues, :math:`L` and :math:`\\ell` the largest and smallest.

Notebook 01:

- :func:`tilted_double_well`: a landscape with a global and a worse local minimum, and a saddle between.
- :func:`chord_gap`: the largest amount by which :math:`f` rises above its chord on a segment;
  :math:`f` is convex iff the gap is :math:`\\le 0` on every segment.
- :func:`hessian`, :func:`critical_point` (Newton's method on :math:`\\nabla f = 0`) and
  :func:`classify`: the signs of the Hessian's eigenvalues tell a minimum from a saddle.
- :func:`descend`: gradient descent from many starts at once (one row per start, its own rate).
- :func:`least_squares`, :func:`sgd_least_squares`: single-sample SGD on a noisy least-squares problem
  with a constant rate (stalls at a noise floor :math:`\\approx \\tfrac{\\gamma}{4}\\operatorname{tr}\\Sigma`),
  :math:`\\gamma_t = \\gamma_0/\\sqrt{t+1}` (excess loss :math:`O(1/\\sqrt t)`) or
  :math:`\\gamma_t = \\gamma_0/(1 + \\gamma_0 \\ell t/2)` (:math:`O(1/t)`, strongly convex);
  :func:`loglog_slope` measures the exponent.

Notebook 03:

- :func:`preconditioned_descent`: :math:`\\theta_t = \\theta_{t-1} - \\gamma P_t^{-1} \\nabla f(\\theta_{t-1})`
  with :math:`P_t = I`, :math:`\\operatorname{diag}(H)` or :math:`H` (Newton); and
  :func:`preconditioned_condition_number`, the condition number of :math:`P^{-1/2} H P^{-1/2}`.
- :func:`evaluations_to`: function evaluations an optimizer needs to reach a tolerance (LBFGS's closure
  calls counted one by one).
- :func:`sparse_regression`, :func:`tune_sparse`: a linear model whose rare binary features carry signal;
  SGD and AdaGrad at tuned rates, paired over seeds.
- :func:`second_moments`: Adam's and Yogi's second-moment recurrences on a gradient sequence.

    >>> round(chord_gap(tilted_double_well(), (-1.0, 0.0), (1.0, 0.0)), 3)
    1.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from course_lib import compare
from course_lib._validation import check_array, check_choice, check_int, check_number
from course_lib.landscapes import Landscape, Trajectory

__all__ = [
    "LeastSquares",
    "SGDRun",
    "SparseRun",
    "chord_gap",
    "classify",
    "critical_point",
    "descend",
    "evaluations_to",
    "hessian",
    "least_squares",
    "loglog_slope",
    "preconditioned_condition_number",
    "preconditioned_descent",
    "rosenbrock_gradient",
    "schedule_lr",
    "second_moments",
    "sgd_least_squares",
    "sparse_regression",
    "tilted_double_well",
    "tune_sparse",
]


# --- Notebook 01: convexity, critical points, saddles -------------------------------------------------


def _double_well_f(xy: torch.Tensor, tilt: float) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 - 1.0) ** 2 + tilt * x + 0.5 * y**2


def tilted_double_well(tilt: float = 0.3, start=(1.5, 1.0)) -> Landscape:
    """:math:`f(x, y) = (x^2 - 1)^2 + \\tau x + \\tfrac12 y^2`: two minima of different depth.

    For :math:`0 < \\tau < 8/(3\\sqrt3)` the critical points lie on :math:`y = 0` where
    :math:`4x(x^2 - 1) + \\tau = 0`: a global minimum near :math:`x = -1`, a worse local minimum near
    :math:`x = +1` and a saddle between them (near :math:`x = 0`).

    Args:
        tilt: :math:`\\tau`, in (0, 1.5] (1.5 < 8/(3√3) ≈ 1.54 keeps both minima).
        start: the default :math:`\\theta_0` (in the basin of the local minimum).

    Example:
        >>> w = tilted_double_well()
        >>> round(float(w(w.minimum)), 4)
        -0.3054
    """
    check_number("tilt", tilt, low=0.0, high=1.5, low_inclusive=False)
    roots = np.roots([4.0, 0.0, -4.0, float(tilt)]).real
    x_min = float(roots.min())
    return Landscape(
        name=f"tilted double well (tilt={tilt:g})",
        f=functools.partial(_double_well_f, tilt=float(tilt)),
        minimum=(x_min, 0.0),
        start=(float(start[0]), float(start[1])),
        bounds=((-2.0, 2.0), (-1.5, 1.5)),
        info={"critical_x": tuple(sorted(float(r) for r in roots))},
    )


def chord_gap(landscape: Landscape, a, b, n: int = 201) -> float:
    """Largest rise of :math:`f` above its chord on the segment from ``a`` to ``b``.

    .. math:: \\max_{s \\in [0, 1]} \\; f\\big((1-s)a + s b\\big) - \\big((1-s) f(a) + s f(b)\\big)

    on ``n`` evenly spaced :math:`s`. A convex :math:`f` never rises above a chord, so the gap is
    :math:`\\le 0` (up to rounding) on every segment; one segment with a positive gap proves
    :math:`f` non-convex.

    Example:
        >>> from course_lib.landscapes import quadratic
        >>> chord_gap(quadratic(10.0), (-2.0, 1.0), (1.0, 1.5)) <= 1e-12
        True
    """
    check_int("n", n, low=2)
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    s = np.linspace(0.0, 1.0, n)[:, None]
    points = torch.as_tensor((1.0 - s) * a64 + s * b64)
    values = landscape.f(points).numpy()
    chord = (1.0 - s[:, 0]) * values[0] + s[:, 0] * values[-1]
    return float((values - chord).max())


def hessian(landscape: Landscape, xy) -> np.ndarray:
    """The ``(2, 2)`` Hessian :math:`H = \\nabla^2 f` at one point, by autograd (float64)."""
    point = torch.tensor(np.asarray(xy, dtype=np.float64))
    return torch.autograd.functional.hessian(landscape.f, point).numpy()


def critical_point(landscape: Landscape, guess, steps: int = 50) -> np.ndarray:
    """A point with :math:`\\nabla f = 0` near ``guess``: Newton's method on the gradient.

    Iterates :math:`\\theta \\leftarrow \\theta - H(\\theta)^{-1} \\nabla f(\\theta)`, which converges
    to a critical point of any kind (minimum, maximum or saddle) from close enough: Newton's step
    looks for a zero of the gradient, not for lower loss.
    """
    check_int("steps", steps, low=1)
    theta = np.asarray(guess, dtype=np.float64).copy()
    for _ in range(steps):
        g = landscape.grad(theta)
        if np.linalg.norm(g) < 1e-15:
            break
        theta = theta - np.linalg.solve(hessian(landscape, theta), g)
    return theta


def classify(eigenvalues, tol: float = 1e-9) -> str:
    """``"minimum"``, ``"maximum"``, ``"saddle"`` or ``"degenerate"`` from the Hessian's eigenvalues.

    All :math:`h_i > 0`: a strict local minimum; all :math:`< 0`: a maximum; both signs: a saddle;
    an eigenvalue within ``tol`` of zero: the second derivatives do not decide.

    Example:
        >>> classify([1.0, -1.0]), classify([2.0, 1.0])
        ('saddle', 'minimum')
    """
    h = check_array("eigenvalues", eigenvalues).ravel()
    check_number("tol", tol, low=0.0)
    if np.any(np.abs(h) <= tol):
        return "degenerate"
    if np.all(h > 0):
        return "minimum"
    if np.all(h < 0):
        return "maximum"
    return "saddle"


def descend(
    landscape: Landscape, starts, lr, steps: int, gradient: Callable | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient descent :math:`\\theta_t = \\theta_{t-1} - \\gamma \\nabla f(\\theta_{t-1})` from many starts.

    Args:
        landscape: the function.
        starts: ``(k, 2)`` starting points, one run per row.
        lr: :math:`\\gamma > 0`, one number or one per row.
        steps: number of steps (>= 0).
        gradient: :math:`\\nabla f` in closed form, a function of a ``(k, 2)`` float64 tensor (e.g.
            :func:`rosenbrock_gradient`), for long runs; autograd when ``None``.

    Returns:
        ``(points, losses)`` of shapes ``(steps + 1, k, 2)`` and ``(steps + 1, k)``, float64; a run
        that blows up keeps non-finite values from then on (no exception).
    """
    x = torch.tensor(np.atleast_2d(np.asarray(starts, dtype=np.float64)))
    rates = torch.as_tensor(
        check_array("lr", lr, low=0.0, low_inclusive=False), dtype=torch.float64
    )
    rates = rates.reshape(-1, 1) if rates.ndim else rates
    check_int("steps", steps, low=0)
    points, losses = [x.clone()], []
    for _ in range(steps):
        if gradient is None:
            x.requires_grad_(True)
            value = landscape.f(x)
            (g,) = torch.autograd.grad(value.sum(), x)
        else:
            with torch.no_grad():
                value, g = landscape.f(x), gradient(x)
        losses.append(value.detach())
        x = (x.detach() - rates * g).nan_to_num(nan=math.inf)
        points.append(x.clone())
    with torch.no_grad():
        losses.append(landscape.f(x))
    return torch.stack(points).numpy(), torch.stack(losses).numpy()


def rosenbrock_gradient(xy: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    """:math:`\\nabla f` of Rosenbrock's :math:`(a - x)^2 + b (y - x^2)^2` in closed form, on ``(..., 2)``.

    .. math:: \\partial_x f = -2(a - x) - 4 b x (y - x^2), \\qquad \\partial_y f = 2 b (y - x^2).

    Example:
        >>> rosenbrock_gradient(torch.tensor([0.0, 1.0])).tolist()  # (-2a, 2b) at (0, 1)
        [-2.0, 200.0]
    """
    x, y = xy[..., 0], xy[..., 1]
    r = y - x**2
    return torch.stack([-2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r], dim=-1)


# --- Notebook 01: SGD with constant and decaying rates -------------------------------------------------


@dataclass(frozen=True)
class LeastSquares:
    """A least-squares problem :math:`f(w) = \\frac{1}{2n}\\|Xw - y\\|^2` and what the theory needs.

    Attributes:
        X, y: the data, ``(n, d)`` and ``(n,)``.
        w_star: the minimiser :math:`w^*`.
        H: the Hessian :math:`X^\\top X / n`.
        sigma: :math:`\\Sigma`, the covariance of single-sample gradients at :math:`w^*`.
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    H: np.ndarray
    sigma: np.ndarray

    @property
    def ell(self) -> float:
        """:math:`\\ell`, the smallest eigenvalue of :math:`H` (the strong convexity)."""
        return float(np.linalg.eigvalsh(self.H).min())

    def excess(self, w: np.ndarray) -> np.ndarray:
        """:math:`f(w) - f(w^*) = \\tfrac12 (w - w^*)^\\top H (w - w^*)`, for one or many rows ``w``."""
        e = np.asarray(w) - self.w_star
        return 0.5 * np.einsum("...i,ij,...j->...", e, self.H, e)

    def noise_floor(self, lr: float) -> float:
        """First-order stationary excess loss of constant-rate SGD: :math:`\\tfrac{\\gamma}{4}\\operatorname{tr}\\Sigma`."""
        return float(lr) / 4.0 * float(np.trace(self.sigma))


def least_squares(n: int = 500, d: int = 5, noise: float = 0.5, seed: int = 0) -> LeastSquares:
    """A noisy linear regression: :math:`X_{ij} \\sim \\mathcal N(0,1)`, :math:`y = X w_0 + \\sigma\\xi`.

    Example:
        >>> p = least_squares(n=50, d=2, seed=1)
        >>> bool(np.allclose(p.X.T @ (p.X @ p.w_star - p.y), 0.0, atol=1e-10))
        True
    """
    check_int("n", n, low=2)
    check_int("d", d, low=1, high=n)
    check_number("noise", noise, low=0.0)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    per_sample = X * (X @ w_star - y)[:, None]  # ∇ℓ_i(w*), mean zero
    return LeastSquares(X, y, w_star, X.T @ X / n, per_sample.T @ per_sample / n)


SCHEDULES = ("constant", "sqrt", "inverse")


def schedule_lr(schedule: str, lr: float, t, ell: float = 1.0):
    """:math:`\\gamma_t` at step :math:`t = 0, 1, \\dots`: ``"constant"`` :math:`\\gamma_0`, ``"sqrt"``
    :math:`\\gamma_0/\\sqrt{t+1}`, ``"inverse"`` :math:`\\gamma_0/(1 + \\gamma_0 \\ell t/2)`.

    The inverse schedule tends to :math:`2/(\\ell t)`: with :math:`\\gamma_t \\approx a/t`, SGD on a
    strongly convex problem reaches :math:`O(1/t)` when :math:`a\\ell > 1` (here 2).

    Example:
        >>> [round(float(schedule_lr("sqrt", 1.0, t)), 3) for t in (0, 3, 99)]
        [1.0, 0.5, 0.1]
    """
    check_choice("schedule", schedule, SCHEDULES)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_number("ell", ell, low=0.0, low_inclusive=False)
    t = np.asarray(t, dtype=np.float64)
    if schedule == "constant":
        return lr + 0.0 * t
    if schedule == "sqrt":
        return lr / np.sqrt(t + 1.0)
    return lr / (1.0 + lr * ell * t / 2.0)


@dataclass(frozen=True)
class SGDRun:
    """Mean excess loss of SGD over independent chains (see :func:`sgd_least_squares`).

    Attributes:
        t: the recorded steps (``(k,)``, increasing, from 1).
        excess: :math:`\\mathbb E[f(w_t)] - f^*` at those steps, averaged over the chains.
        schedule, lr: the rate schedule and :math:`\\gamma_0`.
    """

    t: np.ndarray
    excess: np.ndarray
    schedule: str
    lr: float

    def slope(self, t_min: float = 1.0, t_max: float = math.inf) -> float:
        """The exponent :math:`a` in excess :math:`\\propto t^a` over ``[t_min, t_max]``."""
        return loglog_slope(self.t, self.excess, t_min, t_max)


def sgd_least_squares(
    problem: LeastSquares,
    schedule: str,
    lr: float,
    steps: int = 10_000,
    *,
    chains: int = 100,
    seed: int = 0,
    n_record: int = 60,
) -> SGDRun:
    """Single-sample SGD :math:`w_{t+1} = w_t - \\gamma_t \\nabla \\ell_{i_t}(w_t)` on least squares.

    ``chains`` independent runs from :math:`w_0 = 0`, each drawing :math:`i_t` uniformly (a NumPy
    generator seeded with ``seed``), vectorised; :math:`\\nabla\\ell_i(w) = x_i (x_i^\\top w - y_i)`.

    Args:
        problem: from :func:`least_squares`.
        schedule: ``"constant"``, ``"sqrt"`` or ``"inverse"`` (:func:`schedule_lr`, :math:`\\ell` of
            the problem).
        lr: :math:`\\gamma_0 > 0`.
        steps: number of steps, in [10, 10**6].
        chains: independent runs averaged, >= 1.
        seed: seed of the sample draws.
        n_record: about how many log-spaced steps are recorded.

    Returns:
        An :class:`SGDRun`; diverging chains give ``inf``/``nan`` excess (no exception).
    """
    check_int("steps", steps, low=10, high=10**6)
    check_int("chains", chains, low=1)
    check_int("n_record", n_record, low=2)
    rates = schedule_lr(schedule, lr, np.arange(steps), problem.ell)
    rng = np.random.default_rng(seed)
    X, y = problem.X, problem.y
    record = set(np.unique(np.geomspace(1, steps, n_record).astype(int)).tolist())
    w = np.zeros((chains, X.shape[1]))
    t_rec, values = [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            i = rng.integers(0, len(y), chains)
            x = X[i]
            w -= rates[t - 1] * x * ((x * w).sum(axis=1) - y[i])[:, None]
            if t in record:
                t_rec.append(t)
                values.append(float(problem.excess(w).mean()))
    return SGDRun(np.array(t_rec), np.array(values), schedule, float(lr))


def loglog_slope(t, values, t_min: float = 1.0, t_max: float = math.inf) -> float:
    """Least-squares slope of :math:`\\log` ``values`` against :math:`\\log t` for ``t_min <= t <= t_max``.

    Example:
        >>> t = np.arange(1.0, 101.0)
        >>> round(loglog_slope(t, 3.0 / np.sqrt(t)), 6)
        -0.5
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = (t >= t_min) & (t <= t_max) & np.isfinite(v) & (v > 0)
    if keep.sum() < 2:
        raise ValueError(
            f"t_min, t_max must leave at least 2 positive values, got [{t_min}, {t_max}]"
        )
    return float(np.polyfit(np.log(t[keep]), np.log(v[keep]), 1)[0])


# --- Notebook 03: Newton's method and preconditioning ---------------------------------------------------

PRECONDITIONERS = ("identity", "diagonal", "newton")


def preconditioned_descent(
    landscape: Landscape, preconditioner: str, lr: float, steps: int, start=None
) -> Trajectory:
    """:math:`\\theta_t = \\theta_{t-1} - \\gamma P_t^{-1} \\nabla f(\\theta_{t-1})` and its losses.

    :math:`P_t` is :math:`I` (gradient descent, ``"identity"``), the Hessian's diagonal
    :math:`\\operatorname{diag} H(\\theta_{t-1})` (a per-coordinate rate :math:`\\gamma / H_{ii}`,
    ``"diagonal"``) or :math:`H(\\theta_{t-1})` itself (Newton's method, ``"newton"``). On a quadratic
    :math:`\\tfrac12\\theta^\\top H\\theta`, Newton with :math:`\\gamma = 1` lands on the minimum in one step.

    Returns:
        A :class:`~course_lib.landscapes.Trajectory`; stops with "diverged at step k" on a blow-up.
    """
    check_choice("preconditioner", preconditioner, PRECONDITIONERS)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_int("steps", steps, low=0)
    theta = np.asarray(landscape.start if start is None else start, dtype=np.float64)
    points, losses = [theta], [float(landscape(theta))]
    for t in range(1, steps + 1):
        g = landscape.grad(theta)
        if preconditioner == "identity":
            d = g
        else:
            H = hessian(landscape, theta)
            d = g / np.diag(H) if preconditioner == "diagonal" else np.linalg.solve(H, g)
        theta = theta - lr * d
        value = float(landscape(theta))
        if not (math.isfinite(value) and np.abs(theta).max() < 1e6):
            return Trajectory(np.array(points), np.array(losses), True, t)
        points.append(theta)
        losses.append(value)
    return Trajectory(np.array(points), np.array(losses))


def preconditioned_condition_number(H, P) -> float:
    """Condition number of :math:`P^{-1/2} H P^{-1/2}`: what gradient descent sees after preconditioning.

    Example:
        >>> H = np.diag([50.0, 1.0])
        >>> preconditioned_condition_number(H, np.eye(2)), preconditioned_condition_number(H, np.diag(np.diag(H)))
        (50.0, 1.0)
    """
    H = np.asarray(H, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    vals, vecs = np.linalg.eigh(P)
    if vals.min() <= 0:
        raise ValueError(f"P must be positive definite, got eigenvalues {vals.tolist()}")
    root = vecs @ np.diag(vals**-0.5) @ vecs.T
    h = np.linalg.eigvalsh(root @ H @ root)
    return float(h.max() / h.min())


def evaluations_to(
    landscape: Landscape,
    make_optimizer: Callable,
    tol: float,
    max_evals: int = 10_000,
    *,
    closure: bool = False,
    start=None,
) -> int | None:
    """Function evaluations until :math:`f(\\theta) - f^* \\le` ``tol`` (``None`` within ``max_evals``).

    Without a closure, step :math:`t` evaluates :math:`f(\\theta_{t-1})` once; the count is the
    number of evaluations up to and including the first one below the tolerance. With
    ``closure=True`` (LBFGS), ``optimizer.step(closure)`` may evaluate several times per step (its line
    search); every call is counted.

    Args:
        landscape: the function; :math:`f^*` is its value at ``landscape.minimum``.
        make_optimizer: builds the optimizer from a list with one parameter.
        tol: the target, > 0.
        max_evals: the budget, >= 1.
        closure: pass a closure to ``step`` (needed by LBFGS).
        start: :math:`\\theta_0`; the landscape's default when ``None``.
    """
    check_number("tol", tol, low=0.0, low_inclusive=False)
    check_int("max_evals", max_evals, low=1)
    f_min = float(landscape(landscape.minimum))
    theta0 = landscape.start if start is None else start
    p = torch.nn.Parameter(torch.tensor(np.asarray(theta0, dtype=np.float64)))
    optimizer = make_optimizer([p])
    values: list[float] = []

    def evaluate():
        optimizer.zero_grad()
        loss = landscape.f(p)
        loss.backward()
        values.append(float(loss.detach()) - f_min)
        return loss

    while len(values) < max_evals:
        if closure:
            optimizer.step(evaluate)
        else:
            evaluate()
            optimizer.step()
        hit = [i for i, v in enumerate(values) if v <= tol]
        if hit:
            return hit[0] + 1
        if not math.isfinite(values[-1]):
            return None
    return None


# --- Notebook 03: AdaGrad on sparse features -------------------------------------------------------------


@dataclass(frozen=True)
class SparseRun:
    """Results of :func:`sparse_regression`: one row per seed, one column per rate.

    Attributes:
        excess: population excess loss :math:`\\tfrac12 (w - w^*)^\\top H (w - w^*)` at the end
            (``inf`` for a run that blew up).
        rare_error: mean :math:`|w_i - w^*_i|` over the rare features at the end.
        lrs, seeds: the grid.
    """

    excess: np.ndarray
    rare_error: np.ndarray
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]


def sparse_regression(
    method: str,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    steps: int = 3000,
    n_common: int = 5,
    n_rare: int = 40,
    p_rare: float = 0.003,
    noise: float = 0.5,
    eps: float = 1e-10,
) -> SparseRun:
    """Single-sample SGD or AdaGrad on a linear model whose rare binary features carry signal.

    Each example has ``n_common`` features that are on with probability 1/2 and ``n_rare`` that are on
    with probability ``p_rare``; :math:`y = x^\\top w^* + \\sigma\\xi` with :math:`w^* = 1`, the loss
    :math:`\\tfrac12 (x^\\top w - y)^2`. SGD: :math:`w_t = w_{t-1} - \\gamma g_t`; AdaGrad:
    :math:`G_t = G_{t-1} + g_t^2`, :math:`w_t = w_{t-1} - \\gamma g_t / (\\sqrt{G_t} + \\varepsilon)`, so
    a feature seen :math:`k` times keeps a rate of about :math:`\\gamma/\\sqrt k` per unit gradient.
    Every (seed, rate) pair runs at once; the data of a seed are the same for both methods (paired).

    Args:
        method: ``"SGD"`` or ``"AdaGrad"``.
        lrs: rates :math:`\\gamma > 0`.
        seeds: data seeds (NumPy generators).
        steps: examples seen (one per step).
        n_common, n_rare, p_rare, noise: the problem.
        eps: AdaGrad's :math:`\\varepsilon`.
    """
    check_choice("method", method, ("SGD", "AdaGrad"))
    rates = check_array("lrs", lrs, low=0.0, low_inclusive=False).ravel()
    check_int("steps", steps, low=1)
    check_number("p_rare", p_rare, low=0.0, high=1.0, low_inclusive=False)
    seeds = tuple(int(s) for s in seeds)
    p = np.r_[np.full(n_common, 0.5), np.full(n_rare, float(p_rare))]
    data = [np.random.default_rng(s) for s in seeds]
    X = np.stack([(g.random((steps, len(p))) < p).astype(np.float64) for g in data])
    y = X.sum(axis=2) + noise * np.stack([g.standard_normal(steps) for g in data])
    w = np.zeros((len(seeds), len(rates), len(p)))
    G = np.zeros_like(w)
    lr = rates[None, :, None]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            x = X[:, t, None, :]
            g = x * ((x * w).sum(axis=2) - y[:, t, None])[..., None]
            if method == "SGD":
                w = w - lr * g
            else:
                G = G + g * g
                w = w - lr * g / (np.sqrt(G) + eps)
    e = w - 1.0
    H = np.outer(p, p)
    np.fill_diagonal(H, p)  # E[x x^T] for independent Bernoulli features
    with np.errstate(over="ignore", invalid="ignore"):
        excess = 0.5 * np.einsum("...i,ij,...j->...", e, H, e)
        rare = np.abs(e[..., n_common:]).mean(axis=2)
    excess = np.where(np.isfinite(excess), excess, np.inf)
    rare = np.where(np.isfinite(rare), rare, np.inf)
    return SparseRun(excess, rare, tuple(float(r) for r in rates), seeds)


def tune_sparse(
    lrs: Sequence[float], tune_seeds: Sequence[int], eval_seeds: Sequence[int], **problem
) -> tuple[compare.Table, dict[str, float]]:
    """SGD and AdaGrad each at its best rate, tuned on ``tune_seeds`` and reported on ``eval_seeds``.

    The rate of each method is the one of ``lrs`` with the lowest mean excess loss over the tuning
    seeds (disjoint from the evaluation seeds); both methods then run on the same evaluation seeds.

    Returns:
        ``(table, best)``: a :class:`~course_lib.compare.Table` with configs ``"SGD"`` and ``"AdaGrad"``
        and metrics ``excess``, ``log10_excess`` (the excess loss varies over seeds by factors, so
        paired differences of its logarithm are the steadier comparison) and ``rare_error``, paired by
        seed; and method -> chosen rate.
    """
    overlap = set(tune_seeds) & set(eval_seeds)
    if overlap:
        raise ValueError(f"tune_seeds and eval_seeds must be disjoint, got both {sorted(overlap)}")
    rows, best = [], {}
    for method in ("SGD", "AdaGrad"):
        tuning = sparse_regression(method, lrs, tune_seeds, **problem)
        best[method] = tuning.lrs[int(np.argmin(tuning.excess.mean(axis=0)))]
        run = sparse_regression(method, [best[method]], eval_seeds, **problem)
        for i, seed in enumerate(run.seeds):
            rows.append(
                {
                    "config": method,
                    "seed": seed,
                    "excess": float(run.excess[i, 0]),
                    "log10_excess": float(np.log10(run.excess[i, 0])),
                    "rare_error": float(run.rare_error[i, 0]),
                }
            )
    return compare.Table.from_rows(rows), best


# --- Notebook 03: Adam's and Yogi's second moments --------------------------------------------------------


def second_moments(grads, beta2: float = 0.999, v0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Adam's and Yogi's second-moment estimates :math:`v_t` for one coordinate's gradients :math:`g_t`.

    .. math::

        \\text{Adam:}\\; v_t = v_{t-1} + (1-\\beta_2)(g_t^2 - v_{t-1}), \\qquad
        \\text{Yogi:}\\; v_t = v_{t-1} + (1-\\beta_2)\\operatorname{sign}(g_t^2 - v_{t-1})\\, g_t^2.

    Adam moves :math:`v` by a fraction of the gap :math:`g_t^2 - v_{t-1}` (after a burst it falls by
    :math:`(1-\\beta_2) v_{t-1}` per step, fast when :math:`v` is large); Yogi by at most
    :math:`(1-\\beta_2) g_t^2` per step, whatever :math:`v` is.

    Returns:
        ``(v_adam, v_yogi)``, arrays of the length of ``grads`` (no bias correction).

    Example:
        >>> a, y = second_moments([2.0, 0.0], beta2=0.9, v0=1.0)
        >>> [round(float(v), 3) for v in a], [round(float(v), 3) for v in y]
        ([1.3, 1.17], [1.4, 1.4])
    """
    g2 = check_array("grads", grads).ravel() ** 2
    check_number("beta2", beta2, low=0.0, high=1.0, high_inclusive=False)
    check_number("v0", v0, low=0.0)
    adam, yogi = np.empty_like(g2), np.empty_like(g2)
    va = vy = float(v0)
    for t, s in enumerate(g2):
        va = va + (1.0 - beta2) * (s - va)
        vy = vy + (1.0 - beta2) * np.sign(s - vy) * s
        adam[t], yogi[t] = va, vy
    return adam, yogi
