"""Self-checks for notebook 03 (adaptive methods)."""

from __future__ import annotations

import math

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.experiments.theory import second_moments

__all__ = [
    "check_adadelta_first_step",
    "check_adagrad_rate",
    "check_preconditioned_condition_number",
    "check_rare_feature_rate_ratio",
    "check_rotation_invariant",
    "check_uncorrected_first_step",
    "check_yogi_update",
]


def check_uncorrected_first_step(answer) -> bool:
    """Exercise 1: Adam's first step without bias correction, in units of γ (β1=0.9, β2=0.999).

    The reference: m_1 = (1-β1) g and v_1 = (1-β2) g², so m_1/√v_1 = (1-β1)/√(1-β2) = 0.1/√0.001
    ≈ 3.162 (up to the sign of g and ε).
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 0.1 / math.sqrt(0.001)
    if math.isclose(abs(value), expected, rel_tol=0.01):
        print(
            f"Correct: (1-β1)/√(1-β2) = {expected:.3f}. Without the correction Adam's first steps "
            "are about three times larger than γ; with it they are about γ."
        )
        return True
    if math.isclose(value, 1.0, rel_tol=0.01):
        print("That is the corrected step (m̂/√v̂ = 1 for a constant gradient). Drop the 1/(1-β^t).")
    elif math.isclose(value, 0.1, rel_tol=0.01):
        print("Not quite: that is m_1/g. Divide by √v_1 = √(1-β2)·|g| as well.")
    else:
        print(f"Not quite ({value:g}). Write m_1 and v_1 for a constant gradient g, then m_1/√v_1.")
    return False


def check_adagrad_rate(answer) -> bool:
    """Exercise 2: AdaGrad's effective rate γ/√G_t after t=100 steps of g=2, γ=0.1 (ε=0, G_0=0).

    The reference: G_100 = 100·2² = 400, so γ/√G = 0.1/20 = 0.005.
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, 0.005, rel_tol=0.01):
        print("Correct: G_100 = 100·4 = 400, so the rate is 0.1/20 = 0.005 (and the step 0.01).")
        return True
    if math.isclose(value, 0.01, rel_tol=0.01):
        print("That is the step γ·g/√G. The question asks for the rate γ/√G (without g).")
    elif math.isclose(value, 0.05, rel_tol=0.01):
        print("Not quite: the sum holds squared gradients, G = t·g² = 400, not t·g.")
    else:
        print(f"Not quite ({value:g}). G_t adds g² every step; the rate is γ/√G_t.")
    return False


_ADAPTIVE = {"adagrad", "rmsprop", "adam", "amsgrad", "nadam"}
_INVARIANT = {"sgd", "momentum"}


def check_rotation_invariant(answer) -> bool:
    """Exercise 3: which race optimizers give the same losses when the problem is rotated?

    The reference: {"SGD", "Momentum"}. Their updates are linear in the gradient, so they commute
    with a rotation; the adaptive ones divide coordinate by coordinate and do not.
    """
    if _missing(answer):
        return False
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        print(f"Answer with a set of names such as {{'SGD', 'Adam'}}, got {answer!r}.")
        return False
    given = {str(a).strip().lower() for a in answer}
    unknown = given - _ADAPTIVE - _INVARIANT
    if unknown:
        print(
            f"Unknown names {sorted(unknown)}; choose among SGD, Momentum, Adagrad, RMSprop, Adam."
        )
        return False
    if given == _INVARIANT:
        print(
            "Correct: SGD and momentum only add multiples of gradients, so rotating the problem "
            "rotates their path. The adaptive methods rescale each coordinate separately: their "
            "per-coordinate rates belong to the axes, not to the problem."
        )
        return True
    wrong = sorted(given & _ADAPTIVE)
    if wrong:
        print(
            f"Not quite: {wrong} divide every coordinate by its own √v or √G, which depends on "
            "the axes. Compare their loss curves on 'quadratic' and 'rotated quadratic'."
        )
    else:
        print("Not quite: one method whose losses do not change under rotation is missing.")
    return False


def check_preconditioned_condition_number(answer, L: float = 50.0, ell: float = 1.0) -> bool:
    """Exercise 4: κ of :math:`P^{-1/2} H P^{-1/2}` for :math:`P = \\operatorname{diag}(H)` and the quadratic
    with curvatures ``L`` and ``ell`` rotated by 45°.

    The reference: rotated by 45°, :math:`H = \\tfrac12 \\begin{pmatrix} L+\\ell & L-\\ell \\\\ L-\\ell & L+\\ell
    \\end{pmatrix}`, whose diagonal is :math:`\\tfrac{L+\\ell}{2} I`: the preconditioner only rescales, and
    κ stays :math:`L/\\ell`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = L / ell
    if math.isclose(value, expected, rel_tol=1e-3):
        print(
            f"Correct: {expected:g}. At 45° both diagonal entries of H equal (L + ℓ)/2, so "
            "diag(H)⁻¹ is a multiple of the identity: a diagonal preconditioner cannot undo a rotation."
        )
        return True
    if math.isclose(value, 1.0, rel_tol=1e-3):
        print(
            "Not quite: 1 is the aligned case, where H is diagonal. Write H for the rotated "
            "quadratic: what are its diagonal entries?"
        )
    else:
        print(f"Not quite ({value:g}). Compute diag(H) of R diag(L, ℓ) Rᵀ with a 45° rotation R.")
    return False


def check_rare_feature_rate_ratio(answer, k_rare: int = 4, k_common: int = 400) -> bool:
    """Exercise 5: AdaGrad's rate of a feature seen ``k_rare`` times over one seen ``k_common`` times.

    Both with gradient 1 whenever present (ε = 0): :math:`G = k`, rate :math:`\\gamma/\\sqrt{k}`, so the
    ratio is :math:`\\sqrt{k_{common}/k_{rare}}`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = math.sqrt(k_common / k_rare)
    if math.isclose(value, expected, rel_tol=1e-3):
        print(
            f"Correct: √({k_common}/{k_rare}) = {expected:g}. The rare feature keeps a {expected:g} "
            "times larger rate: that is what AdaGrad was invented for."
        )
        return True
    if math.isclose(value, k_common / k_rare, rel_tol=1e-3):
        print("Not quite: AdaGrad divides by the square root of G, not by G.")
    elif math.isclose(value, 1.0 / expected, rel_tol=1e-3):
        print("Not quite: that is common over rare. The rare feature has the smaller G.")
    else:
        print(f"Not quite ({value:g}). G_i = number of appearances × 1²; the rate is γ/√G_i.")
    return False


def check_adadelta_first_step(answer, rho: float = 0.9, eps: float = 1e-6) -> bool:
    """Exercise 6: Adadelta's first step for a gradient much larger than √ε (``lr=1``).

    :math:`u_0 = 0`, :math:`v_1 = (1-\\rho) g^2`: the step is
    :math:`\\sqrt{\\varepsilon}\\,|g|/\\sqrt{(1-\\rho)g^2 + \\varepsilon} \\approx \\sqrt{\\varepsilon/(1-\\rho)}`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = math.sqrt(eps / (1 - rho))
    if math.isclose(abs(value), expected, rel_tol=0.01):
        print(
            f"Correct: √(ε/(1-ρ)) = {expected:.4g}, whatever the gradient. With no learning rate, ε "
            "sets the size of the first steps."
        )
        return True
    if math.isclose(abs(value), math.sqrt(eps), rel_tol=0.01):
        print("Not quite: √ε is the numerator; the denominator √v_1 = √(1-ρ)|g| is not |g|.")
    elif math.isclose(abs(value), 1.0, rel_tol=0.01):
        print(
            "Not quite: that would be a step of γ = 1. The numerator starts at √(u_0 + ε) with u_0 = 0."
        )
    else:
        print(f"Not quite ({value:g}). Plug u_0 = 0 and v_1 = (1-ρ)g² into √(u_0+ε)/√(v_1+ε)·|g|.")
    return False


def check_yogi_update(answer, beta2: float = 0.9) -> bool:
    """Exercise 7 (code): a function ``yogi_v(v, g, beta2)`` returning Yogi's :math:`v_t` from :math:`v_{t-1}`.

    :math:`v_t = v_{t-1} - (1-\\beta_2)\\operatorname{sign}(v_{t-1} - g_t^2)\\,g_t^2`. The check feeds it
    a gradient sequence with a burst and compares with
    :func:`course_lib.experiments.theory.second_moments`.
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function yogi_v(v, g, beta2) that returns a number, got {answer!r}.")
        return False
    grads = [1.0] * 20 + [5.0] * 3 + [0.5] * 30
    adam, expected = second_moments(grads, beta2=beta2)
    v = 0.0
    try:
        for t, g in enumerate(grads):
            v = float(answer(v, g, beta2))
            if not math.isclose(v, expected[t], rel_tol=1e-9, abs_tol=1e-12):
                if math.isclose(v, adam[t], rel_tol=1e-9, abs_tol=1e-12):
                    print(
                        f"Not quite: step {t + 1} gives Adam's v = {v:.4g}, a multiplicative EWMA."
                    )
                else:
                    print(
                        f"Not quite: step {t + 1} (g = {g:g}) gives v = {v:.4g}, expected "
                        f"{expected[t]:.4g}. Yogi moves v by (1-β2)·g² towards g²."
                    )
                return False
    except NotImplementedError:
        print(
            "Write the body of yogi_v: replace the raise by a return of v_t, then run the cell again."
        )
        return False
    except Exception as error:  # a learner's bug: report it, never raise
        print(f"yogi_v raised {type(error).__name__}: {error}. Try yogi_v(0.0, 1.0, 0.9) first.")
        return False
    print(
        f"Correct: after the burst your v is {expected[-1]:.3g} where Adam's is {adam[-1]:.3g}: Yogi's "
        "v falls by at most (1-β2)g² per step."
    )
    return True
