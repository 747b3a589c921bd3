"""Self-checks for notebook 09 (after Adam).

Expected values are computed with ``course_lib.experiments.after_adam`` and ``course_lib.optim``;
the coding exercise's checker runs the learner's Lion step against ``course_lib.optim.Lion``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib.exercises._answers import missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.experiments.after_adam import first_adaptive_step, radam_rho
from course_lib.optim import Lion

__all__ = [
    "check_adafactor_bytes",
    "check_lion_decay",
    "check_lion_step",
    "check_radam_first_step",
]


def check_adafactor_bytes(answer, rows: int = 1024, cols: int = 4096) -> bool:
    """Exercise 1: Adafactor's state in bytes per parameter for a ``rows x cols`` float32 matrix.

    It keeps the row sums and the column sums of :math:`v_t`: :math:`4(n + m)` bytes for
    :math:`nm` parameters (no first moment, the ``step`` counter left out).
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 4 * (rows + cols) / (rows * cols)
    if math.isclose(value, expected, rel_tol=1e-2):
        print(
            f"Correct: {expected:.4g} bytes per parameter, against Adam's 8: "
            f"{8 / expected:.0f} times less."
        )
        return True
    if math.isclose(value, (rows + cols) / (rows * cols), rel_tol=1e-2):
        print("That counts numbers, not bytes: each float32 takes 4 bytes.")
    elif math.isclose(value, 4.0) or math.isclose(value, 8.0):
        print(f"{value:g} bytes is a full {'second moment' if value == 4 else 'Adam state'}: "
              "Adafactor keeps one number per row and one per column.")  # fmt: skip
    else:
        print(f"Not quite ({value:g}). Count the numbers in R and C, times 4 bytes, over n m.")
    return False


def check_radam_first_step(answer, beta2: float = 0.99) -> bool:
    """Exercise 2: the first step at which RAdam adapts (:math:`\\rho_t > 5`) for ``beta2``."""
    value = _read_number(answer)
    if value is None:
        return False
    expected = first_adaptive_step(beta2)
    if value == expected:
        print(
            f"Correct: t = {expected} (rho_{expected} = {radam_rho(expected, beta2):.2f}). "
            "It barely depends on beta2: rho_t grows about one per step at the start."
        )
        return True
    if value == expected - 1:
        print(f"rho_{expected - 1} = {radam_rho(expected - 1, beta2):.2f} is not above 5 yet.")
    elif math.isclose(value, 2 / (1 - beta2) - 1):
        print("That is rho_infinity, the limit; the question is when rho_t first exceeds 5.")
    else:
        print(f"Not quite ({value:g}). Evaluate rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t).")
    return False


def check_lion_decay(answer, adamw_lr: float = 1e-3, adamw_decay: float = 0.01, ratio=10) -> bool:
    """Exercise 3: Lion's :math:`\\lambda` that keeps AdamW's shrink :math:`\\gamma\\lambda` per step
    when Lion's rate is ``ratio`` times smaller."""
    value = _read_number(answer)
    if value is None:
        return False
    expected = adamw_decay * ratio
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: lambda = {expected:g}, so gamma lambda = {adamw_lr / ratio:g} x {expected:g}"
            f" = {adamw_lr * adamw_decay:g}, AdamW's shrink per step."
        )
        return True
    if math.isclose(value, adamw_decay / ratio, rel_tol=1e-6):
        print("That divides: with a smaller gamma, lambda must grow to keep the product.")
    else:
        print(
            f"Not quite ({value:g}). Solve (gamma / {ratio}) x lambda = {adamw_lr:g} x {adamw_decay:g}."
        )
    return False


def _lion_run(start, grads, lr, betas, weight_decay) -> list[torch.Tensor]:
    """The iterates of course_lib's Lion from ``start`` fed the gradients ``grads``."""
    p = start.clone().requires_grad_(True)
    opt = Lion([p], lr=lr, betas=betas, weight_decay=weight_decay)
    out = []
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
        out.append(p.detach().clone())
    return out


def _problem(steps: int, seed: int = 0):
    """A start and ``steps`` noisy gradients of a small quadratic (the same for every learner)."""
    g = torch.Generator().manual_seed(seed)
    target, start = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    grads = [
        2 * (start - target) * 0.9**t + 0.5 * torch.randn(4, 3, generator=g) for t in range(steps)
    ]
    return start, grads


def _learner_run(fn: Callable, start, grads, lr, betas, weight_decay) -> list[torch.Tensor]:
    param, exp_avg, out = start.clone(), torch.zeros_like(start), []
    for grad in grads:
        fn(param, grad.clone(), exp_avg, lr=lr, betas=betas, weight_decay=weight_decay)
        out.append(param.clone())
    return out


def _hint(got, start, grads, lr, betas, weight_decay) -> str:
    """Name the typical mistake whose numbers the learner's match, or the likely one."""
    b1, _ = betas
    if torch.allclose(got[-1], _lion_run(start, grads, lr, (b1, b1), weight_decay)[-1], atol=1e-6):
        return "the momentum update m = beta2 m + (1 - beta2) g uses beta2, not beta1"
    if torch.allclose(got[-1], _lion_run(start, grads, lr, betas, 0.0)[-1], atol=1e-6):
        return "the weight decay is missing: theta <- (1 - lr weight_decay) theta before the step"
    return (
        "the likely mistake is updating m before taking the sign: c = beta1 m + (1 - beta1) g "
        "uses the old m, theta moves by -lr sign(c), and only then m = beta2 m + (1 - beta2) g"
    )


def check_lion_step(fn, steps: int = 20, lr: float = 0.01, weight_decay: float = 0.1) -> bool:
    """Exercise 4 (coding): ``fn(param, grad, exp_avg, *, lr, betas, weight_decay)`` does one Lion
    step in place on one tensor; checked against :class:`course_lib.optim.Lion` over ``steps``."""
    if missing(fn):
        return False
    if not callable(fn):
        print(
            f"Answer with a function lion_step(param, grad, exp_avg, *, lr, betas, weight_decay), got {fn!r}."
        )
        return False
    betas = (0.9, 0.99)
    start, grads = _problem(steps)
    expected = _lion_run(start, grads, lr, betas, weight_decay)
    try:
        with torch.no_grad():
            got = _learner_run(fn, start, grads, lr, betas, weight_decay)
    except NotImplementedError:
        print("Fill in your answer (write the body of lion_step) and run the cell again.")
        return False
    except Exception as err:  # the learner's code: report it, never raise
        print(f"Your function raised {type(err).__name__}: {err}")
        return False
    for t, (a, b) in enumerate(zip(got, expected), start=1):
        if not torch.allclose(a, b, atol=1e-6):
            hint = _hint(got, start, grads, lr, betas, weight_decay)
            print(f"Step {t} differs from course_lib.optim.Lion: {hint}.")
            return False
    print(f"Correct: {steps} steps equal course_lib.optim.Lion's, each coordinate moving by lr.")
    return True
