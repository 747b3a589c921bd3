"""Self-checks for notebook 13 (what a step costs).

Expected values come from ``course_lib.experiments.step_cost``; the coding exercise's checker runs
the learner's ``state_bytes_per_param`` on optimizers after one step and compares it with
:func:`course_lib.experiments.step_cost.state_bytes_per_param`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib import optim
from course_lib.exercises._answers import read_number as _read_number
from course_lib.experiments.step_cost import bytes_per_step, state_bytes_per_param

__all__ = ["check_state_bytes_per_param", "check_step_bytes", "exercise_optimizers"]


def check_step_bytes(answer, numel: int = 10_000_000) -> bool:
    """Exercise 1: the least bytes one float32 AdamW step moves on ``numel`` parameters.

    Read :math:`\\theta, g, m, v`, write :math:`\\theta, m, v`: 7 tensors of 4 bytes per element.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = bytes_per_step("AdamW", numel)
    if math.isclose(value, expected, rel_tol=1e-3):
        print(
            f"Correct: 7 tensors x 4 bytes x {numel:,} = {expected / 1e6:g} MB, "
            "whatever the machine; the bandwidth turns it into a time."
        )
        return True
    per_tensor = 4 * numel
    hints = {
        6 * per_tensor: "6 tensors: one is missing. The gradient is read; theta, m, v are read "
        "and written.",
        8 * per_tensor: "8 tensors: the gradient is only read (backward wrote it), not written.",
        2 * per_tensor: "That is the state's size (m and v); the question asks for the traffic "
        "of one step.",
        28.0: "28 bytes is per parameter; multiply by the number of parameters.",
        7 * numel: "That counts elements; each float32 takes 4 bytes.",
    }
    hint = next((h for v, h in hints.items() if math.isclose(value, v, rel_tol=1e-3)), None)
    print(hint or f"Not quite ({value:g}). Count the tensors read and written, times 4 bytes each.")
    return False


def exercise_optimizers() -> list[tuple[str, torch.optim.Optimizer]]:
    """The optimizers the coding exercise's check measures, each after one step."""
    g = torch.Generator().manual_seed(13)
    cases = [
        ("SGD (no momentum)", optim.SGD, {"lr": 0.1}),
        ("SGD with momentum", optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        ("Adam", optim.Adam, {}),
        ("Adafactor", optim.Adafactor, {}),
    ]
    out = []
    for label, cls, hyper in cases:
        params = [torch.randn(16, 8, generator=g).requires_grad_(), torch.zeros(8).requires_grad_()]
        opt = cls(params, **hyper)
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
        out.append((label, opt))
    return out


def _mistake(value: float, opt: torch.optim.Optimizer) -> str | None:
    """The hint of the known mistake that gives ``value`` for ``opt``, or None."""
    params = [p for group in opt.param_groups for p in group["params"]]
    numel = sum(p.numel() for p in params)
    state = opt.state_dict()["state"].values()
    tensors = [v for per in state for v in per.values() if isinstance(v, torch.Tensor)]
    total = sum(t.numel() * t.element_size() for t in tensors)
    big = sum(t.numel() * t.element_size() for t in tensors if t.ndim > 0)
    mistakes = [
        (big / numel, "The step counters are missing: count every tensor of the state, `step` "
         "included (one float each)."),
        (sum(t.numel() for t in tensors) / numel, "That counts elements, not bytes: multiply "
         "each tensor's numel() by its element_size()."),
        (total / len(params), "Divide by the number of parameter elements (sum of p.numel()), "
         "not by the number of parameter tensors."),
        (total / numel + 4, "That counts the parameters themselves too; only the optimizer's "
         "state is asked for."),
    ]  # fmt: skip
    return next((hint for v, hint in mistakes if math.isclose(value, v, rel_tol=1e-9)), None)


def _run(fn: Callable, opt: torch.optim.Optimizer, label: str):
    try:
        return fn(opt)
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the "
            "cell again."
        )
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__} on {label}: {error}")
    return None


def check_state_bytes_per_param(fn: Callable[[torch.optim.Optimizer], float]) -> bool:
    """Exercise 2: the learner's ``state_bytes_per_param(optimizer)`` on four optimizers.

    Each case (:func:`exercise_optimizers`) holds a 16x8 matrix and a bias of 8 after one step; the
    answer must equal :func:`course_lib.experiments.step_cost.state_bytes_per_param`.
    """
    if fn is None:
        print("Fill in your answer (replace None) and run the cell again.")
        return False
    if not callable(fn):
        print(f"Answer with a function of the optimizer, got {fn!r}.")
        return False
    results = []
    for label, opt in exercise_optimizers():
        got, expected = _run(fn, opt, label), state_bytes_per_param(opt)
        if got is None:
            return False
        if isinstance(got, bool) or not isinstance(got, (int, float, torch.Tensor)):
            print(f"Return a number of bytes per parameter, got {got!r} on {label}.")
            return False
        if not math.isclose(float(got), expected, rel_tol=1e-9, abs_tol=1e-12):
            print(f"On {label}: you return {float(got):.4g} bytes per parameter, expected "
                  f"{expected:.4g}.")  # fmt: skip
            print(_mistake(float(got), opt) or "Sum numel() * element_size() over every tensor "
                  "of state_dict()['state'], then divide by the parameters' numel().")  # fmt: skip
            return False
        results.append(f"{label} {expected:.3g}")
    print("Correct: " + ", ".join(results) + " bytes per parameter.")
    return True
