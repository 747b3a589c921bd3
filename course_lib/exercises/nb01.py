"""Self-checks for notebook 01 (gradient descent and SGD).

Symbols as in ``docs/notation.md``: :math:`\\gamma` the learning rate (``lr``), :math:`L` and :math:`\\ell` the
largest and smallest curvature, :math:`\\kappa = L/\\ell`. The expected values are computed from the
formulas of the notebook, not stored. How a check answers: see :mod:`course_lib.exercises`.
"""

from __future__ import annotations

import math

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.experiments.theory import classify, least_squares, schedule_lr, sgd_least_squares
from course_lib.landscapes import gd_optimal

__all__ = [
    "check_batch_size_for_quarter_variance",
    "check_critical_point_kind",
    "check_decaying_rate_exponent",
    "check_divergence_threshold",
    "check_optimal_step",
    "check_sqrt_schedule",
    "check_steps_ratio",
]


def _close(value: float, expected: float, rel: float) -> bool:
    return math.isclose(value, expected, rel_tol=rel)


def check_divergence_threshold(answer, L: float = 4.0) -> bool:
    """Exercise 1: the largest stable learning rate of gradient descent when the top curvature is ``L``.

    Along the eigendirection with eigenvalue :math:`L` the error is multiplied by :math:`1 - \\gamma L` per
    step, so GD converges iff :math:`|1 - \\gamma L| < 1`, i.e. :math:`\\gamma < 2/L`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 2.0 / L
    if _close(value, expected, 1e-3):
        print(f"Correct: lr < 2/L = {expected:g}; at lr = 2/L the factor 1 - lr·L is exactly -1.")
        return True
    if _close(value, 1.0 / L, 1e-3):
        print(
            f"Not quite: 1/L = {value:g} is the step that zeroes the steepest direction in one step, "
            "but larger steps still converge (they overshoot and come back). Where does "
            "|1 - lr·L| reach 1?"
        )
    elif _close(value, 2.0 * L, 1e-3) or _close(value, L / 2.0, 1e-3):
        print(
            "Not quite: the curvature divides, it does not multiply. Solve |1 - lr·L| = 1 for lr."
        )
    else:
        print(f"Not quite ({value:g}). Solve |1 - lr·L| = 1 for lr with L = {L:g}.")
    return False


def check_optimal_step(answer, L: float = 2.0, condition_number: float = 4.0) -> bool:
    """Exercise 2: the fixed step that makes GD fastest on a quadratic with curvatures :math:`[\\ell, L]`.

    The rate :math:`\\max(|1-\\gamma L|, |1-\\gamma\\ell|)` is smallest where the two factors have equal size:
    :math:`\\gamma L - 1 = 1 - \\gamma\\ell`, so :math:`\\gamma^* = 2/(L + \\ell)`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected, rate = gd_optimal(L, condition_number)
    ell = L / condition_number
    if _close(value, expected, 1e-3):
        print(
            f"Correct: 2/(L + ℓ) = {expected:g}; both eigendirections then shrink by "
            f"(kappa - 1)/(kappa + 1) = {rate:g} per step."
        )
        return True
    if _close(value, 2.0 / L, 1e-3):
        print(
            "Not quite: 2/L is the edge of divergence, where the steep direction stops shrinking."
        )
    elif _close(value, 1.0 / L, 1e-3):
        print(
            "Not quite: 1/L is safe, but then the flat direction shrinks by only 1 - ℓ/L per step. "
            "Make |1 - lr·L| and |1 - lr·ℓ| equal."
        )
    elif _close(value, 1.0 / ell, 1e-3):
        print("Not quite: 1/ℓ overshoots the steep direction badly (|1 - lr·L| > 1).")
    else:
        print(f"Not quite ({value:g}). Make |1 - lr·L| equal to |1 - lr·ℓ| with ℓ = L/kappa.")
    return False


def check_steps_ratio(answer, kappa_small: float = 10.0, kappa_large: float = 1000.0) -> bool:
    """Exercise 3: how many times more steps GD (optimal fixed step) needs at ``kappa_large``.

    To shrink the error by a fixed factor takes :math:`\\log(\\epsilon)/\\log\\rho` steps with
    :math:`\\rho = (\\kappa-1)/(\\kappa+1)`, about :math:`\\kappa/2 \\cdot \\log(1/\\epsilon)`: the ratio is
    :math:`\\log\\rho_{small} / \\log\\rho_{large}`, close to :math:`\\kappa_{large}/\\kappa_{small}`.
    Answers within 20% of the exact ratio count.
    """
    value = _read_number(answer)
    if value is None:
        return False
    _, r_small = gd_optimal(1.0, kappa_small)
    _, r_large = gd_optimal(1.0, kappa_large)
    expected = math.log(r_small) / math.log(r_large)
    if _close(value, expected, 0.2):
        print(
            f"Correct: about {expected:.0f} times more (log rho ratio {expected:.1f}); GD's step count "
            "grows linearly with kappa."
        )
        return True
    if _close(value, math.sqrt(kappa_large / kappa_small), 0.2):
        print("Not quite: sqrt(kappa) is the scaling of momentum (notebook 02). Plain GD is worse.")
    elif value < expected:
        print("Too few: compare log((k-1)/(k+1)) for both kappas; for large k it is about -2/k.")
    else:
        print("Too many: compare log((k-1)/(k+1)) for both kappas; for large k it is about -2/k.")
    return False


def check_batch_size_for_quarter_variance(answer, batch_size: int = 32) -> bool:
    """Exercise 4: the batch size whose gradient noise variance is a quarter of that at ``batch_size``.

    Averaging :math:`B` independent per-example gradients divides the variance by :math:`B`
    (:math:`\\mathbb{E}\\|g_B - g\\|^2 = \\operatorname{tr}\\Sigma / B`), so a quarter needs four times
    the batch.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 4 * batch_size
    if value == expected:
        print(
            f"Correct: {expected}. Variance ~ 1/B, so the noise's standard deviation only halves: "
            "four times the compute per step for half the noise."
        )
        return True
    if value == 2 * batch_size:
        print("Not quite: doubling B halves the variance (and divides the std by sqrt 2).")
    elif value == 16 * batch_size:
        print("Not quite: that would quarter the standard deviation, not the variance.")
    else:
        print(f"Not quite ({value:g}). The variance of a mean of B samples is sigma^2 / B.")
    return False


_KINDS = ("minimum", "maximum", "saddle")


def check_critical_point_kind(answer, eigenvalues=(3.0, -0.5)) -> bool:
    """Exercise 5: the kind of a critical point whose Hessian has the given eigenvalues.

    All :math:`h_i > 0`: a minimum; all :math:`< 0`: a maximum; both signs: a saddle
    (:func:`course_lib.experiments.theory.classify`).
    """
    if _missing(answer):
        return False
    if not isinstance(answer, str) or answer.strip().lower() not in _KINDS:
        print(f"Answer with one of {', '.join(map(repr, _KINDS))}, got {answer!r}.")
        return False
    expected = classify(eigenvalues)
    given = answer.strip().lower()
    if given == expected:
        print(
            f"Correct: eigenvalues {tuple(eigenvalues)} give a {expected}. At a saddle f curves up "
            "along one eigenvector and down along the other, so the gradient vanishes but a step "
            "along the negative-curvature direction lowers the loss."
        )
        return True
    if given == "minimum":
        print(
            "Not quite: a zero gradient is not enough. One eigenvalue is negative: along its "
            "eigenvector f curves down."
        )
    else:
        print("Not quite: look at the signs of both eigenvalues, not only the largest or smallest.")
    return False


def check_decaying_rate_exponent(answer) -> bool:
    """Exercise 6: the exponent :math:`a` of SGD's excess loss :math:`\\propto t^a` with :math:`\\gamma_t = \\gamma_0/\\sqrt{t+1}`.

    Once the iterate tracks the noise, the excess loss is about proportional to the current rate,
    :math:`\\gamma_t \\propto t^{-1/2}`: :math:`a = -1/2` (notebook 01, section 7).
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, -0.5, abs_tol=0.02):
        print("Correct: -1/2. The error follows the rate: halve the rate, halve the noise floor.")
        return True
    if math.isclose(value, -1.0, abs_tol=0.02):
        print("Not quite: -1 is what gamma_t ~ 1/t gives on a strongly convex problem.")
    elif math.isclose(value, 0.0, abs_tol=0.02):
        print("Not quite: 0 is the constant rate, which stalls at its noise floor.")
    elif math.isclose(value, 0.5, abs_tol=0.02):
        print("Not quite: check the sign; the excess loss falls.")
    else:
        print(
            f"Not quite ({value:g}). The noise floor is proportional to the rate; how does gamma_t fall?"
        )
    return False


def check_sqrt_schedule(answer, lr: float = 0.5, steps: int = 3000) -> bool:
    """Exercise 7 (code): a function ``lr_at(t)`` returning :math:`\\gamma_0/\\sqrt{t+1}` for ``t = 0, 1, ...``.

    The check compares it with :func:`course_lib.experiments.theory.schedule_lr` for
    :math:`t < 1000`, then runs single-sample SGD with it on a small least-squares problem and reports
    the measured exponent of the excess loss.
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function lr_at(t) that returns a number, got {answer!r}.")
        return False
    try:
        values = [float(answer(t)) for t in range(1000)]
    except NotImplementedError:
        print(
            "Write the body of lr_at: replace the raise by a return of the rate at step t "
            "(the formula in the exercise), then run the cell again."
        )
        return False
    except ZeroDivisionError:
        print("lr_at(0) divides by zero: t starts at 0, so use t + 1 under the root.")
        return False
    except Exception as error:  # a learner's bug: report it, never raise
        print(f"lr_at raised {type(error).__name__}: {error}. Test it on t = 0, 1, 2 first.")
        return False
    expected = schedule_lr("sqrt", lr, range(1000))
    if not all(math.isclose(v, e, rel_tol=1e-9) for v, e in zip(values, expected)):
        t = next(
            i
            for i, (v, e) in enumerate(zip(values, expected))
            if not math.isclose(v, e, rel_tol=1e-9)
        )
        hint = " (t starts at 0: use t + 1 under the root)" if t == 0 else ""
        print(f"Not quite: lr_at({t}) = {values[t]:g}, expected {expected[t]:g}{hint}.")
        return False
    problem = least_squares(n=200, d=3, seed=0)
    run = sgd_least_squares(problem, "sqrt", lr, steps, chains=50, seed=0)
    print(
        f"Correct: your schedule equals lr/sqrt(t+1). With it SGD's excess loss falls like "
        f"t^{run.slope(100):.2f} (theory: -1/2) instead of stalling."
    )
    return True
