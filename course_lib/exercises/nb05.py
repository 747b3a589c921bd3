"""Self-checks for notebook 05 (learning-rate schedules).

The expected values are computed with ``course_lib.schedules`` (or the rule the exercise states), not
stored. The coding exercise (:func:`check_inverse_sqrt_lambda`) runs the learner's factor function
through ``course_lib.exercises.check_schedule``.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from course_lib import schedules as S
from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.exercises.checkers import check_schedule

__all__ = [
    "INVERSE_SQRT",
    "check_cosine_t_max",
    "check_inverse_sqrt_lambda",
    "check_onecycle_peak_step",
    "check_plateau_arguments",
    "check_warmup_lr",
]


def check_onecycle_peak_step(answer, total_steps: int = 200, pct_start: float = 0.25) -> bool:
    """Exercise 1: at which step (counted from 0) does ``OneCycleLR`` reach ``max_lr``?

    The warm-up phase of torch's one-cycle ends at :math:`e_1 = \\text{pct\\_start}\\cdot T - 1`
    (steps count from 0, so the phase spans :math:`\\text{pct\\_start}\\cdot T` values).
    """
    value = _read_number(answer)
    if value is None:
        return False
    curve = S.one_cycle(1.0, total_steps, pct_start).curve(total_steps)
    expected = int(np.argmax(curve))
    if value == expected:
        print(
            f"Correct: step {expected} = pct_start * total_steps - 1. The warm-up takes "
            f"{expected + 1} values (steps 0..{expected}), then the cosine goes down."
        )
        return True
    if value == expected + 1:
        print(
            "Off by one: torch ends the first phase at pct_start * total_steps - 1, because the "
            "first value is at step 0."
        )
    elif value == total_steps - expected - 1 or value == round((1 - pct_start) * total_steps):
        print("Not quite: pct_start is the share of the run spent going UP, at the start.")
    else:
        print(
            f"Not quite ({value:g}). Plot one_cycle(1.0, {total_steps}, pct_start={pct_start}) "
            "and look for the top, or use the formula of the docstring."
        )
    return False


def check_cosine_t_max(
    answer, n_train: int = 4000, batch_size: int = 100, epochs: int = 20
) -> bool:
    """Exercise 2: ``T_max`` of a cosine that is stepped once per BATCH and should end with the run.

    Stepped per batch, ``T_max`` counts optimizer steps, the run's :math:`T`:
    :math:`T = \\text{epochs}\\cdot\\lceil N / B \\rceil` (:math:`N` examples, batches of :math:`B`).
    """
    value = _read_number(answer)
    if value is None:
        return False
    per_epoch = math.ceil(n_train / batch_size)
    expected = epochs * per_epoch
    if value == expected:
        print(
            f"Correct: {epochs} epochs x {per_epoch} batches = {expected} scheduler steps. "
            f"With T_max={epochs} it would reach eta_min after {epochs} BATCHES and climb back up."
        )
        return True
    if value == epochs:
        print("That is right for stepping once per EPOCH. Stepped per batch, T_max counts batches.")
    elif value == per_epoch:
        print("That is one epoch of batches; the cosine should last the whole run.")
    elif value == expected - 1:
        print(
            "Off by one: the last update uses the value at step T_max - 1, so T_max = the number of "
            "steps."
        )
    else:
        print(f"Not quite ({value:g}). How many optimizer steps does the run take in total?")
    return False


def check_warmup_lr(
    answer, lr: float = 0.5, start_factor: float = 0.1, total_iters: int = 10, step: int = 4
) -> bool:
    """Exercise 3: the lr that update number ``step`` (from 0) uses under ``LinearLR`` warm-up.

    ``LinearLR(opt, start_factor, end_factor=1.0, total_iters)`` on a base rate :math:`\\gamma`
    (``lr``) gives :math:`\\gamma_t = \\gamma\\,(f_s + (1 - f_s)\\min(t, T_w)/T_w)` with
    :math:`f_s` = ``start_factor`` and :math:`T_w` = ``total_iters`` (notation: ``docs/notation.md``).
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = S.Scaled(S.Linear(start_factor, 1.0, total_iters), lr)(step)
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: {lr:g} * ({start_factor:g} + {1 - start_factor:g} * {step}/{total_iters}) "
            f"= {expected:g}."
        )
        return True
    if math.isclose(value, lr * step / total_iters, rel_tol=1e-6):
        print(
            "Not quite: that warm-up starts at 0. LinearLR starts at start_factor * lr, which is "
            "why torch does not allow start_factor=0 (a first update of size 0 is wasted)."
        )
    elif math.isclose(value, S.Scaled(S.Linear(start_factor, 1.0, total_iters), lr)(step + 1)):
        print(
            "Off by one: the first update (number 0) uses the value at t = 0; update number "
            f"{step} uses t = {step}."
        )
    elif math.isclose(value, lr, rel_tol=1e-6):
        print(f"Not quite: the warm-up lasts {total_iters} steps, step {step} is still inside it.")
    else:
        print(f"Not quite ({value:g}). Interpolate linearly from start_factor*lr to lr.")
    return False


_PLATEAU_KEYS = ("mode", "factor", "patience", "threshold", "threshold_mode")


def _plateau_answer(answer) -> dict | None:
    """The answer's keyword arguments with ``mode`` defaulted, or None after saying what is wrong."""
    if _missing(answer):
        return None
    if not isinstance(answer, Mapping):
        print(
            "Answer with a dict of keyword arguments, e.g. "
            "{'factor': ..., 'patience': ..., 'threshold': ..., 'threshold_mode': ...}."
        )
        return None
    unknown = sorted(str(k) for k in answer if k not in _PLATEAU_KEYS)
    if unknown:
        print(f"Unknown or unneeded keys {unknown}; use only {list(_PLATEAU_KEYS)}.")
        return None
    got = {"mode": "min", **answer}
    missing = [k for k in _PLATEAU_KEYS if k not in got]
    if missing:
        print(f"Give every argument that differs from torch's defaults; missing: {missing}.")
        return None
    return got


def _plateau_hints(got: dict, n_iter_no_change: int, tol: float) -> list[str]:
    """One hint per argument of ``got`` that differs from scikit-learn's adaptive rule."""
    hints = []
    if got["mode"] != "min":
        hints.append("mode: the training loss should go DOWN ('min').")
    factor = got["factor"]
    if not (isinstance(factor, (int, float)) and math.isclose(factor, 0.2, rel_tol=1e-9)):
        hints.append("factor: torch MULTIPLIES the lr by factor; dividing by 5 is factor=0.2.")
    patience = got["patience"]
    if patience == n_iter_no_change:
        hints.append(
            f"patience: torch reduces when the bad epochs EXCEED patience, so "
            f"{n_iter_no_change} bad epochs in a row need patience={n_iter_no_change - 1}."
        )
    elif patience != n_iter_no_change - 1:
        hints.append(f"patience: count the bad epochs that sklearn waits for ({n_iter_no_change}).")
    threshold = got["threshold"]
    if not (isinstance(threshold, (int, float)) and math.isclose(threshold, tol, rel_tol=1e-9)):
        hints.append(f"threshold: sklearn's tol is {tol:g}.")
    if got["threshold_mode"] != "abs":
        hints.append(
            "threshold_mode: torch's default 'rel' compares with best * (1 - threshold); sklearn "
            "subtracts tol itself ('abs')."
        )
    return hints


def check_plateau_arguments(answer, n_iter_no_change: int = 5, tol: float = 1e-3) -> bool:
    """Exercise 4: the ``ReduceLROnPlateau`` arguments of scikit-learn's ``learning_rate="adaptive"``.

    scikit-learn divides the rate by 5 once ``n_iter_no_change`` epochs in a row failed to lower the
    training loss by at least ``tol`` (an absolute amount). torch reduces when the number of bad epochs
    EXCEEDS ``patience``, and compares with ``threshold`` relatively unless
    ``threshold_mode="abs"``. So: ``mode="min"``, ``factor=0.2``, ``patience=n_iter_no_change - 1``,
    ``threshold=tol``, ``threshold_mode="abs"``. Answer with a dict of these keyword arguments
    (``mode`` may be left out: "min" is the default).
    """
    got = _plateau_answer(answer)
    if got is None:
        return False
    hints = _plateau_hints(got, n_iter_no_change, tol)
    if hints:
        print("Not quite:\n- " + "\n- ".join(hints))
        return False
    print(
        f"Correct: ReduceLROnPlateau(optimizer, mode='min', factor=0.2, "
        f"patience={n_iter_no_change - 1}, threshold={tol:g}, threshold_mode='abs'), stepped once "
        "per epoch with the training loss."
    )
    return True


#: The coding exercise's schedule: linear warm-up over 10 steps, then inverse square root.
INVERSE_SQRT: dict[str, Any] = {"base_lr": 0.1, "total_steps": 100, "warmup_steps": 10}


def _inverse_sqrt_hint(fn, base_lr: float, total_steps: int, warmup_steps: int) -> str | None:
    """A hint for two mistakes of this exercise that the general checker does not name, or None."""
    try:
        got = [float(fn(t)) for t in range(warmup_steps, total_steps + 1)]
    except Exception:  # the checker already said what the learner's function raised
        return None
    steps = range(warmup_steps, total_steps + 1)
    if all(math.isclose(g, 1 / math.sqrt(t), rel_tol=1e-9) for g, t in zip(got, steps)):
        return (
            f"After the warm-up your factor is 1 / sqrt(t): at t = T_w = {warmup_steps} it jumps "
            f"from about 1 down to {1 / math.sqrt(warmup_steps):.3g}. Scale it by sqrt(T_w): "
            "sqrt(T_w / t) continues the warm-up's 1 at t = T_w."
        )
    if all(math.isclose(g, warmup_steps / t, rel_tol=1e-9) for g, t in zip(got, steps)):
        return "That decays as T_w / t: the inverse SQUARE ROOT is sqrt(T_w / t)."
    return None


def check_inverse_sqrt_lambda(fn) -> bool:
    """Exercise 5 (code): a ``LambdaLR`` factor for linear warm-up then inverse square root.

    :math:`s(t) = t/T_w` for :math:`t < T_w`, then :math:`s(t) = \\sqrt{T_w/t}`, so that
    :math:`\\gamma_t = \\gamma\\,s(t)` is continuous at :math:`T_w` (the Transformer's schedule;
    ``course_lib.schedules.InverseSqrt`` with ``timescale`` :math:`T_w`). Runs
    ``check_schedule(fn, like="inverse_sqrt", **INVERSE_SQRT)``: ``fn`` inside torch's ``LambdaLR``,
    every rate of steps 0..100 against the closed form, the first wrong step named with a hint; two
    mistakes of this exercise get their own hint.
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = check_schedule(fn, like="inverse_sqrt", **INVERSE_SQRT)
    text = out.getvalue()
    print(text, end="")
    if "ZeroDivisionError at step 0" in text:
        print(
            "Hint: sqrt(T_w / t) divides by t = 0: use it only from t = T_w on, after the warm-up."
        )
    elif not ok and "Hint:" not in text and callable(fn):
        hint = _inverse_sqrt_hint(fn, **INVERSE_SQRT)
        if hint:
            print("Hint: " + hint)
    return ok
