"""The pure part of the Muon explorer: what Newton-Schulz does to the singular values of a matrix.

Muon (``course_lib.optim.Muon``) replaces the momentum matrix u = U S V^T by about U V^T: the same
singular vectors, every singular value pushed towards 1. :func:`course_lib.optim.muon.newton_schulz`
does it with k iterations X ← aX + b(XX^T)X + c(XX^T)²X from X_0 = u / ‖u‖_F, each of which maps
every singular value σ to the quintic p(σ) = aσ + bσ³ + cσ⁵ (U and V stay). With torch's
coefficients (3.4445, −4.775, 2.0315) a small σ grows by about a = 3.4 per step, and after enough
steps every σ ends in a band around 1, not at 1 (:func:`quintic_band`: [0.68, 1.13]).

:func:`compute_orthogonalisation` builds a random matrix with a chosen condition number, runs the
iteration as torch's Muon does (bfloat16) for 0, 1, ..., k steps, and returns the singular values
after each step, the quintic's prediction in float64, and the distance to the exact U V^T. No
ipywidgets or matplotlib here: ``course_lib.widgets.muon.MuonExplorer`` shows it.

    >>> r = compute_orthogonalisation((32, 16), ns_steps=5, condition=10.0)
    >>> r.singular_values.shape  # one row after each of 0, 1, ..., 5 steps
    (6, 16)
    >>> round(float(r.initial.max() / r.initial.min()), 6)
    10.0
    >>> bool(0.65 < r.singular_values[-1].min() and r.singular_values[-1].max() < 1.2)
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from course_lib._validation import check_int, check_number, check_sizes
from course_lib.optim.muon import (
    MAX_NS_STEPS,
    NS_COEFFICIENTS,
    check_ns_coefficients,
    newton_schulz,
)

__all__ = [
    "CUBIC_COEFFICIENTS",
    "Orthogonalisation",
    "compute_orthogonalisation",
    "quintic",
    "quintic_band",
    "random_matrix",
]

#: The classical cubic Newton-Schulz iteration X ← 1.5 X − 0.5 (XX^T) X: it converges to U V^T
#: exactly, but a small σ grows only by 1.5 per step.
CUBIC_COEFFICIENTS = (1.5, -0.5, 0.0)


def quintic(sigma, ns_coefficients=NS_COEFFICIENTS):
    """p(σ) = aσ + bσ³ + cσ⁵, what one Newton-Schulz step does to each singular value.

    >>> round(quintic(0.01), 5), round(quintic(1.0), 4)  # small σ grow by a; 1 is not fixed
    (0.03444, 0.701)
    """
    a, b, c = ns_coefficients
    return a * sigma + b * sigma**3 + c * sigma**5


@functools.lru_cache(maxsize=16)
def quintic_band(ns_coefficients=NS_COEFFICIENTS, steps: int = 60) -> tuple[float, float]:
    """Where p's iterates end: the range of p applied ``steps`` times to σ in [1e-6, 1].

    The singular values of X_0 = u / ‖u‖_F lie in (0, 1]; once enough steps have passed, all of
    them lie in this band, whatever they started at. For torch's coefficients it is about
    [0.68, 1.13] (on the way a value can reach max p = 1.20):

        >>> tuple(round(x, 3) for x in quintic_band())
        (0.682, 1.134)
        >>> quintic_band(CUBIC_COEFFICIENTS)  # the cubic converges to 1
        (1.0, 1.0)
    """
    ns_coefficients = check_ns_coefficients(ns_coefficients)
    sigma = np.logspace(-6, 0, 20001)
    for _ in range(check_int("steps", steps, low=1)):
        sigma = quintic(sigma, ns_coefficients)
    return float(sigma.min()), float(sigma.max())


def random_matrix(shape: tuple[int, int], condition: float, seed: int = 0) -> torch.Tensor:
    """U diag(σ) V^T in float64 with random orthonormal U, V and σ log-spaced from 1 to 1/condition.

    >>> s = torch.linalg.svdvals(random_matrix((6, 4), 100.0))
    >>> [round(x, 4) for x in s.tolist()]
    [1.0, 0.2154, 0.0464, 0.01]
    """
    sizes = check_sizes("shape", shape)
    if len(sizes) != 2:
        raise ValueError(f"shape must be two integers >= 1 (rows, cols), got {shape!r}")
    rows, cols = sizes
    check_number("condition", condition, low=1)
    check_int("seed", seed, low=0)
    gen = torch.Generator().manual_seed(seed)
    rank = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, rank, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, rank, generator=gen, dtype=torch.float64))
    sigma = torch.logspace(0, -float(np.log10(condition)), rank, dtype=torch.float64)
    return u @ torch.diag(sigma) @ v.T


@dataclass(frozen=True)
class Orthogonalisation:
    """The singular values of a matrix through k Newton-Schulz steps, and how far from U V^T.

    Attributes:
        shape, condition, seed, ns_steps, ns_coefficients: the arguments.
        initial: ``(r,)`` singular values of the matrix u, r = min(rows, cols), largest first
            (1 down to 1/condition).
        singular_values: ``(ns_steps + 1, r)``; row k holds those of X_k, the result of k steps as
            torch's Muon computes it (bfloat16); row 0 is X_0 = u / ‖u‖_F.
        predicted: ``(ns_steps + 1, r)``; row k is p applied k times to X_0's singular values in
            float64 (:func:`quintic`): what the iteration does without rounding.
        target: ``(r,)`` the singular values of U V^T: all ones.
        distance: ``(ns_steps + 1,)`` ‖X_k − U V^T‖_F / ‖U V^T‖_F.
        band: (lowest, highest) singular value after the last step.
        status: one line for the explorer.
    """

    shape: tuple[int, int]
    condition: float
    seed: int
    ns_steps: int
    ns_coefficients: tuple[float, float, float]
    initial: np.ndarray
    singular_values: np.ndarray
    predicted: np.ndarray
    target: np.ndarray
    distance: np.ndarray
    band: tuple[float, float]
    status: str


def compute_orthogonalisation(
    shape: tuple[int, int] = (32, 16),
    ns_steps: int = 5,
    condition: float = 100.0,
    seed: int = 0,
    ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
) -> Orthogonalisation:
    """Run 0, 1, ..., ``ns_steps`` Newton-Schulz steps on a random matrix of the given condition.

    Args:
        shape: (rows, cols) of the matrix, integers >= 1.
        ns_steps: k, an integer in [0, 99].
        condition: σ_max / σ_min of the matrix, >= 1.
        seed: the random singular vectors, an integer >= 0.
        ns_coefficients: (a, b, c); torch's quintic by default, :data:`CUBIC_COEFFICIENTS` for the
            classical iteration.

    Returns:
        An :class:`Orthogonalisation`.
    """
    check_int("ns_steps", ns_steps, low=0, high=MAX_NS_STEPS)
    ns_coefficients = check_ns_coefficients(ns_coefficients)
    u = random_matrix(shape, condition, seed)
    left, initial, right = torch.linalg.svd(u, full_matrices=False)
    polar = left @ right  # U V^T
    measured, distance = [], []
    for k in range(ns_steps + 1):  # k steps from scratch: exactly what Muon applies with ns_steps=k
        x = newton_schulz(u, ns_coefficients, k).double()
        measured.append(torch.linalg.svdvals(x).numpy())
        distance.append(((x - polar).norm() / polar.norm()).item())
    predicted = [(initial / initial.norm()).numpy()]
    for _ in range(ns_steps):
        predicted.append(quintic(predicted[-1], ns_coefficients))
    last = measured[-1]
    band = (float(last.min()), float(last.max()))
    status = (
        f"after {ns_steps} step{'s' if ns_steps != 1 else ''}: singular values in "
        f"[{band[0]:.3f}, {band[1]:.3f}] (U V^T: all 1), distance to U V^T {distance[-1]:.3f}"
    )
    return Orthogonalisation(
        shape=(u.shape[0], u.shape[1]),
        condition=float(condition),
        seed=seed,
        ns_steps=ns_steps,
        ns_coefficients=ns_coefficients,
        initial=initial.numpy(),
        singular_values=np.array(measured),
        predicted=np.array(predicted),
        target=np.ones(len(initial)),
        distance=np.array(distance),
        band=band,
        status=status,
    )
