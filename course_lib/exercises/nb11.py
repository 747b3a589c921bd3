"""Self-checks for notebook 11 (the training loop in practice).

Expected values come from the formulas the notebook states and from torch (``torch.finfo``, the
``GradScaler`` defaults); the coding exercise runs the learner's accumulation function against
``course_lib.training.accumulate_step`` on uneven micro-batches and names what went wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.models import MLP
from course_lib.training import accumulate_step

__all__ = [
    "check_accumulation",
    "check_adam_state_bytes",
    "check_bf16_spacing",
    "check_last_window_weight",
    "check_scale_after_skips",
]


def check_last_window_weight(answer, sizes: Sequence[int] = (32, 32, 32, 4)) -> bool:
    """Exercise 1: the weight :math:`n_b / N` of the last micro-batch's mean loss in a window of
    micro-batches of ``sizes`` (:math:`L = \\sum_b \\frac{n_b}{N} L_b`)."""
    value = _read_number(answer)
    if value is None:
        return False
    n, k, last = sum(sizes), len(sizes), sizes[-1]
    expected = last / n
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: n_b / N = {last}/{n} = {expected:g}; the {k} weights sum to 1 and each "
            "example counts 1/N."
        )
        return True
    if math.isclose(value, 1 / k, rel_tol=1e-6):
        print(
            f"1/k = {1 / k:g} is `loss / k`: right only for equal micro-batches; here the {last} "
            f"examples would count as much as {sizes[0]}."
        )
    elif math.isclose(value, 1.0):
        print("Weight 1 is summing the losses: the gradient comes out k times too large.")
    elif math.isclose(value, last):
        print(f"{last} is n_b; the weight of a mean over n_b examples is n_b / N.")
    else:
        print(f"Not quite ({value:g}). The mean over all N examples is sum_b (n_b / N) L_b.")
    return False


def check_scale_after_skips(
    answer,
    init_scale: float = 65536.0,
    skipped: int = 3,
    clean: int = 2000,
    backoff_factor: float = 0.5,
    growth_factor: float = 2.0,
    growth_interval: int = 2000,
) -> bool:
    """Exercise 2: ``GradScaler``'s scale after ``skipped`` overflowing steps, then ``clean`` clean
    ones: :math:`S = S_0 \\cdot b^{\\text{skipped}} \\cdot g^{\\lfloor \\text{clean} / \\text{interval}
    \\rfloor}` (each skip multiplies by ``backoff_factor`` and restarts the count of clean steps)."""
    value = _read_number(answer)
    if value is None:
        return False
    halved = init_scale * backoff_factor**skipped
    expected = halved * growth_factor ** (clean // growth_interval)
    if math.isclose(value, expected):
        print(
            f"Correct: {init_scale:g} halved {skipped} times is {halved:g}; {clean} clean steps in "
            f"a row then double it: {expected:g}."
        )
        return True
    if math.isclose(value, halved):
        print(
            f"{halved:g} is after the skips; {growth_interval} clean steps in a row double it again."
        )
    elif math.isclose(value, init_scale * growth_factor ** (clean // growth_interval)):
        print("Each skipped step halves the scale first (backoff_factor=0.5).")
    else:
        print(
            f"Not quite ({value:g}). Halve {init_scale:g} once per skipped step, then double it once "
            f"per {growth_interval} clean steps in a row."
        )
    return False


def check_bf16_spacing(answer) -> bool:
    """Exercise 3: the spacing of bfloat16 numbers in [1, 2), ``torch.finfo(torch.bfloat16).eps``
    (:math:`2^{-7}`: 8 significant bits, 7 of them stored)."""
    value = _read_number(answer)
    if value is None:
        return False
    expected = torch.finfo(torch.bfloat16).eps
    if math.isclose(value, expected):
        print(
            f"Correct: 2^-7 = {expected:g}. An Adam step of lr = 1e-3 on a weight near 1 is below "
            f"half of it ({expected / 2:g}): it rounds back to the same weight."
        )
        return True
    if math.isclose(value, expected / 2):
        print(
            "That is half the spacing (the largest update that is lost); the question asks for the spacing."
        )
    elif math.isclose(value, torch.finfo(torch.float16).eps):
        print("That is float16's spacing (11 significant bits); bfloat16 has 8.")
    elif math.isclose(value, torch.finfo(torch.float32).eps):
        print("That is float32's spacing (24 significant bits); bfloat16 has 8.")
    else:
        print(f"Not quite ({value:g}). With p significant bits the spacing in [1, 2) is 2^-(p-1).")
    return False


def check_adam_state_bytes(answer) -> bool:
    """Exercise 4: bytes per parameter of Adam's float32 state, :math:`m_t` and :math:`v_t` (4 bytes
    each; the step counters are per tensor, not per parameter)."""
    value = _read_number(answer)
    if value is None:
        return False
    size = torch.empty((), dtype=torch.float32).element_size()
    expected = 2 * size
    if math.isclose(value, expected):
        print(
            f"Correct: exp_avg and exp_avg_sq, {size} bytes each: {expected} bytes per parameter "
            "(4 in bfloat16)."
        )
        return True
    if math.isclose(value, size):
        print("That is one buffer; Adam keeps two: exp_avg (m_t) and exp_avg_sq (v_t).")
    elif math.isclose(value, 3 * size):
        print("That counts the weights too; the question asks for the optimizer's state only.")
    else:
        print(f"Not quite ({value:g}). Count Adam's buffers and the bytes of a float32.")
    return False


# --- the coding exercise --------------------------------------------------------------------------

#: The micro-batch sizes the accumulation check uses (uneven, like the last window of an epoch).
SIZES = (4, 4, 2)
LR = 0.5


class CountingSGD(torch.optim.SGD):
    """Plain SGD that counts its ``step`` and ``zero_grad`` calls (what the check inspects)."""

    def __init__(self, params, lr: float):
        super().__init__(params, lr=lr)
        self.steps = 0
        self.zero_grads = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.zero_grads += 1
        super().zero_grad(set_to_none)


def exercise_setup() -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A small float64 MLP with a stale gradient in ``.grad`` (as after a previous step) and
    uneven micro-batches of :data:`SIZES`."""
    g = torch.Generator().manual_seed(11)
    model = MLP(hidden_sizes=(8,), seed=0).double()
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
    x = torch.randn(sum(SIZES), 40, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (sum(SIZES),), generator=g)
    return model, list(zip(torch.split(x, list(SIZES)), torch.split(y, list(SIZES))))


def weighted_step(weights: Sequence[float], keep_stale: bool = False) -> list[torch.Tensor]:
    """The weights after one SGD step on :math:`\\sum_b w_b L_b` (plus the stale gradient when
    ``keep_stale``): the reference mistakes are computed, not stored."""
    model, batches = exercise_setup()
    if not keep_stale:
        model.zero_grad(set_to_none=True)
    for (x, y), w in zip(batches, weights):
        if w:
            (F.cross_entropy(model(x), y) * w).backward()
    torch.optim.SGD(model.parameters(), lr=LR).step()
    return [p.detach() for p in model.parameters()]


def close(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> bool:
    """Equal weights up to float64 rounding."""
    return all(torch.allclose(p, q, rtol=1e-9, atol=1e-12) for p, q in zip(a, b))


def accumulation_mistake(got: list[torch.Tensor]) -> str | None:
    """The hint for the known mistake whose weights equal ``got``, or None."""
    k, n = len(SIZES), sum(SIZES)
    right = [s / n for s in SIZES]
    mistakes = [
        ([1.0] * k, False, "The loss is not divided: summing the micro-batch losses gives a "
         "gradient k times too large. Weight each micro-batch's loss by n_b / N."),
        ([1.0 / k] * k, False, f"You divided by k: right only for equal micro-batches; here the "
         f"sizes are {SIZES}. Weight each loss by n_b / N (count the examples first)."),
        (right, True, "The gradient of the previous step was still in .grad: call "
         "optimizer.zero_grad() once, before the loop."),
    ]  # fmt: skip
    for w in (right[-1], 1.0 / k, 1.0):  # zero_grad inside the loop: only the last one survives
        mistakes.append(([0.0] * (k - 1) + [w], False, "zero_grad is inside the loop: it wipes "
                         "the micro-batches accumulated so far. Call it once, before the loop."))  # fmt: skip
    for weights, stale, hint in mistakes:
        if close(got, weighted_step(weights, stale)):
            return hint
    return None


def run_learner(fn: Callable) -> tuple[nn.Module, CountingSGD] | None:
    """The model and optimizer after ``fn`` ran on the exercise's setup; None after a hint."""
    model, batches = exercise_setup()
    opt = CountingSGD(model.parameters(), lr=LR)
    try:
        fn(model, opt, batches)
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the cell again."
        )
        return None
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__}: {error}")
        return None
    return model, opt


def report_mismatch(got: list[torch.Tensor], ref: nn.Module) -> None:
    """Print the first parameter where ``got`` differs from ``ref`` and the hint of the mistake."""
    hint = accumulation_mistake(got)
    names = [name for name, _ in ref.named_parameters()]
    first = next(i for i, (a, b) in enumerate(zip(got, ref.parameters())) if not close([a], [b]))
    diff = (got[first] - list(ref.parameters())[first].detach()).abs().max().item()
    print(
        f"The weights differ from accumulate_step's, first in {names[first]} (by up to {diff:.2e})."
    )
    print(
        hint
        or "Zero the gradients once, backward each micro-batch's loss times n_b / N, step once."
    )


def check_accumulation(answer) -> bool:
    """Exercise 5 (code): ``fn(model, optimizer, micro_batches)`` makes one optimizer step on the
    mean cross-entropy over all examples of uneven micro-batches.

    The check gives the model a stale gradient (as after a previous step), runs ``fn`` with a
    plain SGD that counts its calls, and compares the weights with those after
    :func:`~course_lib.training.accumulate_step`; a mismatch names the first parameter that
    differs and, when it matches a known mistake, what it is.
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function fn(model, optimizer, micro_batches), got {answer!r}.")
        return False
    ran = run_learner(answer)
    if ran is None:
        return False
    model, opt = ran
    if opt.steps != 1:
        if opt.steps == 0:
            print("Your function never called optimizer.step(): call it once, after the loop.")
        else:
            print(
                f"Your function called optimizer.step() {opt.steps} times: step is inside the loop. "
                "Make exactly one step, after the loop over the micro-batches."
            )
        return False
    ref, batches = exercise_setup()
    accumulate_step(ref, torch.optim.SGD(ref.parameters(), lr=LR), batches)
    got = [p.detach() for p in model.parameters()]
    if close(got, [p.detach() for p in ref.parameters()]):
        print(f"Correct: one step, equal to accumulate_step on micro-batches of {SIZES} examples.")
        return True
    report_mismatch(got, ref)
    return False
