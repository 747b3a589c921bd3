"""Self-checks for notebook A1 (Keras 3 on the torch backend).

The expected answers are computed here from the rules measured in the notebook: Keras's Adam adds
its epsilon before bias correction, ``PiecewiseConstantDecay`` switches one step after each
boundary, and Keras's ``ReduceLROnPlateau`` reduces when ``wait >= patience``. Only the coding
exercise (:func:`check_keras_warmup_exponential`) imports Keras, when it runs: it drives a Keras
optimizer with the learner's schedule and compares the rates with torch's schedulers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_integer as _read_integer
from course_lib.exercises._answers import read_real as _read_real
from course_lib.integrations.keras import keras_module, torch_lr_curve

__all__ = [
    "WARMUP_EXPONENTIAL",
    "check_adam_first_step_eps",
    "check_adam_gradient_scale",
    "check_keras_warmup_exponential",
    "check_piecewise_milestones",
    "check_plateau_patience",
    "keras_piecewise_curve",
    "multistep_curve",
    "warmup_exponential_curve",
]


def check_adam_first_step_eps(answer, epsilon: float = 1e-7, beta2: float = 0.999) -> bool:
    """Exercise 1: torch's ``eps`` that reproduces the first step of Keras's Adam(epsilon).

    Keras: :math:`\\theta \\mathrel{-}= \\hat\\gamma_t\\, m_t / (\\sqrt{v_t} + \\hat\\varepsilon)` with
    :math:`\\hat\\gamma_t = \\gamma \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t)` (:math:`\\gamma` is ``lr``); in torch
    terms :math:`\\varepsilon_t = \\hat\\varepsilon / \\sqrt{1 - \\beta_2^t}`; at :math:`t = 1` that is
    ``1e-7 / sqrt(0.001)``, about 3.16e-6.
    """
    value = _read_real(answer)
    if value is None:
        return False
    expected = epsilon / math.sqrt(1 - beta2)
    if value > 0 and abs(value / expected - 1) < 0.02:
        print(
            f"Correct: eps = epsilon / sqrt(1 - beta2) = {expected:.3g}. At step t it is "
            f"epsilon / sqrt(1 - beta2**t), which tends to {epsilon:g} as t grows."
        )
        return True
    if math.isclose(value, epsilon, rel_tol=0.02):
        print(
            "Not quite: Keras adds epsilon to sqrt(v_t) BEFORE the bias correction. Divide "
            "numerator and denominator by sqrt(1 - beta2**t) to see torch's form."
        )
    elif math.isclose(value, 1e-8, rel_tol=0.02):
        print("Not quite: 1e-8 is torch's default, which differs from Keras's at every step.")
    elif value > 0 and abs(value / (epsilon * (1 - beta2)) - 1) < 0.02:
        print("Close, but the bias correction of v enters through its square root.")
    else:
        print(
            f"Not quite ({value:g}). Write both updates with v_hat = v / (1 - beta2**t) and compare "
            "the denominators at t = 1."
        )
    return False


def keras_piecewise_curve(boundaries, values, steps: int) -> np.ndarray:
    """Keras's ``PiecewiseConstantDecay`` rule: ``values[i]`` while ``boundaries[i-1] < t <= boundaries[i]``."""
    t = np.arange(steps)
    index = np.searchsorted(np.asarray(boundaries), t, side="left")
    return np.asarray(values, dtype=np.float64)[index]


def multistep_curve(lr: float, milestones, gamma: float, steps: int) -> np.ndarray:
    """torch's ``MultiStepLR`` values: ``lr * gamma ** #{milestones <= t}``."""
    t = np.arange(steps)
    count = np.searchsorted(np.sort(np.asarray(milestones)), t, side="right")
    return lr * gamma**count


def check_piecewise_milestones(answer, boundaries=(300, 600)) -> bool:
    """Exercise 2: MultiStepLR milestones equal to Keras's PiecewiseConstantDecay(boundaries)."""
    if _missing(answer):
        return False
    try:
        milestones = [int(m) for m in answer]
    except (TypeError, ValueError):
        print(f"Answer with a list of integers, got {answer!r}.")
        return False
    if any(m != a for m, a in zip(milestones, answer)):
        print(f"Answer with whole numbers, got {answer!r}.")
        return False
    values = [0.1 * 0.1**i for i in range(len(boundaries) + 1)]
    steps = boundaries[-1] + 100
    keras = keras_piecewise_curve(boundaries, values, steps)
    torch_like = multistep_curve(0.1, milestones, 0.1, steps)
    if len(milestones) == len(boundaries) and np.allclose(keras, torch_like, rtol=1e-12):
        print(
            f"Correct: milestones {milestones}. Keras keeps values[i] while step <= boundary, so the "
            "rate changes one step after each boundary; MultiStepLR changes it AT the milestone."
        )
        return True
    if milestones == list(boundaries):
        print(
            "Not quite: with milestones equal to the boundaries torch switches one step too early. "
            "At step 300 Keras still uses 0.1 (its test is step <= boundary)."
        )
    else:
        first = int(np.flatnonzero(~np.isclose(keras, torch_like))[0])
        print(
            f"Not quite: the two curves first differ at step {first} (Keras {keras[first]:g}, "
            f"MultiStepLR {torch_like[first]:g})."
        )
    return False


def check_plateau_patience(answer, keras_patience: int = 5) -> bool:
    """Exercise 3: torch's patience equal to Keras's ReduceLROnPlateau(patience)."""
    if _read_integer(answer) is None:
        return False
    expected = keras_patience - 1
    if answer == expected:
        print(
            f"Correct: {expected}. Keras reduces when wait >= patience, torch when "
            "num_bad_epochs > patience: torch waits one epoch more for the same number."
        )
        return True
    if answer == keras_patience:
        print(
            "Not quite: the same number waits one epoch longer in torch. Compare Keras's "
            "`wait >= patience` with torch's `num_bad_epochs > patience`."
        )
    else:
        print(f"Not quite ({answer}). Count the bad epochs each library needs before it reduces.")
    return False


def check_adam_gradient_scale(answer) -> bool:
    """Exercise 4: with Adam, scaling a gradient by c leaves the update (almost) unchanged: factor 1."""
    value = _read_real(answer)
    if value is None:
        return False
    if abs(value - 1.0) <= 0.05:
        print(
            "Correct: about 1. m scales by c and sqrt(v) by |c|, so m / sqrt(v) does not change "
            "(only epsilon breaks the tie). Use a second optimizer for a second learning rate."
        )
        return True
    if math.isclose(value, 0.01, rel_tol=0.05):
        print(
            "Not quite: that is what SGD would do. Adam divides by the root of the squared gradient."
        )
    else:
        print(
            f"Not quite ({value:g}). What happens to m_t / sqrt(v_t) when every g is multiplied by c?"
        )
    return False


#: The exercise's schedule: linear warm-up from 0.1 * peak to peak over 10 steps, then x 0.9 a step.
WARMUP_EXPONENTIAL: dict[str, Any] = {"peak": 0.1, "warmup_steps": 10, "gamma": 0.9}
_START_FACTOR = 0.1
_CURVE_STEPS = 40


def warmup_exponential_curve(
    peak: float, warmup_steps: int, gamma: float, steps: int
) -> np.ndarray:
    """torch's rates for ``SequentialLR([LinearLR(0.1, total_iters=W), ExponentialLR(q)], [W])``.

    On an optimizer built with ``lr`` :math:`\\gamma` (``peak``):
    :math:`\\gamma_t = \\gamma\\,(0.1 + 0.9\\,t/W)` for :math:`t < W`, then
    :math:`\\gamma\\,q^{\\,t - W}` (``SequentialLR`` starts the second scheduler at its own step 0
    at the milestone); updates :math:`t = 0 \\dots` ``steps - 1``.

        >>> warmup_exponential_curve(1.0, 2, 0.5, 5).round(3).tolist()
        [0.1, 0.55, 1.0, 0.5, 0.25]
    """
    sched = torch.optim.lr_scheduler

    def make(opt):
        warm = sched.LinearLR(opt, start_factor=_START_FACTOR, total_iters=warmup_steps)
        decay = sched.ExponentialLR(opt, gamma=gamma)
        return sched.SequentialLR(opt, [warm, decay], milestones=[warmup_steps])

    return torch_lr_curve(make, steps, lr=peak)


def _keras_schedule_rates(cls, steps: int) -> np.ndarray | None:
    """The rate of each of ``steps`` updates of a Keras SGD driven by ``cls(**WARMUP_EXPONENTIAL)``.

    The gradient is 1 and the variable is reset to 0 before each update, so each move is the rate
    Keras's optimizer took from the schedule (``schedule(optimizer.iterations)``). None after a
    hint.
    """
    keras = keras_module()
    moves: list[float] = []
    try:
        schedule = cls(**WARMUP_EXPONENTIAL)
        optimizer = keras.optimizers.SGD(learning_rate=schedule)
        w = keras.Variable(torch.zeros(1))
        for _ in range(steps):
            w.assign(torch.zeros(1))
            optimizer.apply([torch.ones(1)], [w])
            moves.append(0.0 - float(w.value.detach()[0]))  # 0.0 - x: no "-0"
    except NotImplementedError:
        print(
            "Write the body of __call__ (replace `raise NotImplementedError`) and run the cell "
            "again."
        )
        return None
    except Exception as error:  # the learner's code may raise anything: say what and where
        print(f"Your schedule raised {type(error).__name__} at step {len(moves)}: {error}")
        return None
    return np.asarray(moves)


_WARMUP_HINTS = {
    "from 0": "Your warm-up starts at 0: torch's LinearLR starts at start_factor * lr, here "
    "0.1 * peak, and the first update (step 0) uses it.",
    "early": "Every rate is one step early: Keras's first update calls schedule(0), like torch's "
    "first update, and that must be 0.1 * peak.",
    "clock": "The decay's clock starts at the milestone: SequentialLR starts ExponentialLR at its "
    "own step 0, so step t >= warmup_steps uses peak * gamma**(t - warmup_steps).",
    "integer": "The warm-up does not move: t / warmup_steps was computed on integers. Cast the "
    'step with keras.ops.cast(step, "float32") before dividing.',
}


def _warmup_hint(got: np.ndarray, want: np.ndarray, peak: float, warmup_steps: int, gamma: float):
    """The hint of the typical mistake whose curve ``got`` is, or None."""
    t = np.arange(len(want))
    warming = t < warmup_steps
    mistakes = {
        "from 0": np.where(warming, peak * t / warmup_steps, want),
        "early": warmup_exponential_curve(peak, warmup_steps, gamma, len(want) + 1)[1:],
        "clock": np.where(warming, want, peak * gamma**t),
        "integer": np.where(warming, _START_FACTOR * peak, want),
    }
    for key, curve in mistakes.items():
        if np.allclose(got, curve, rtol=1e-5, atol=0):
            return _WARMUP_HINTS[key]
    return None


def _survives_config(cls, got: np.ndarray) -> bool:
    """True when ``cls.from_config(schedule.get_config())`` gives the rates ``got``.

    False after a hint when it does not, or when either method raises.
    """
    try:
        clone = cls.from_config(cls(**WARMUP_EXPONENTIAL).get_config())
        again = np.asarray([float(clone(t)) for t in range(len(got))])
    except Exception as error:  # the learner's code may raise anything
        print(
            f"The rates are right, but get_config/from_config failed ({type(error).__name__}: "
            f"{error}). get_config must return the arguments of __init__: "
            f"{sorted(WARMUP_EXPONENTIAL)}."
        )
        return False
    if not np.allclose(again, got, rtol=1e-5, atol=0):
        print(
            "The rates are right, but a schedule rebuilt with from_config(get_config()) gives "
            "others: return every argument of __init__ from get_config."
        )
        return False
    return True


def _matches_torch(got: np.ndarray) -> bool:
    """True when the rates ``got`` are torch's; else the first wrong step and the likely mistake."""
    want = warmup_exponential_curve(**WARMUP_EXPONENTIAL, steps=len(got))
    wrong = np.flatnonzero(~np.isclose(got, want, rtol=1e-5, atol=0))
    if not wrong.size:
        return True
    t = int(wrong[0])
    phase = "warm-up" if t < WARMUP_EXPONENTIAL["warmup_steps"] else "decay"
    print(
        f"Step {t} ({phase} phase) is wrong: your schedule gives {got[t]:.6g}, torch's "
        f"SequentialLR {want[t]:.6g}."
    )
    hint = _warmup_hint(got, want, **WARMUP_EXPONENTIAL)
    if hint:
        print(hint)
    return False


def check_keras_warmup_exponential(cls) -> bool:
    """Exercise 5 (code): a Keras ``LearningRateSchedule`` equal to torch's warm-up + exponential.

    ``cls(peak, warmup_steps, gamma)`` must give, at every step :math:`t` of Keras's optimizer, the
    rate of torch's ``SequentialLR([LinearLR(start_factor=0.1, total_iters=W), ExponentialLR(q)],
    milestones=[W])`` on ``lr`` :math:`\\gamma` (``peak``): :math:`\\gamma\\,(0.1 + 0.9\\,t/W)`
    for :math:`t < W`, then :math:`\\gamma\\,q^{\\,t - W}` (:func:`warmup_exponential_curve`). The
    check drives a Keras ``SGD`` with the schedule for 40 updates (a unit gradient: each move is the
    rate),
    names the first step that differs and the likely mistake, then rebuilds the schedule with
    ``from_config(get_config())``. Keras computes in float32: rates agree to a relative 1e-5.
    """
    if _missing(cls):
        return False
    keras = keras_module()
    if not (
        isinstance(cls, type) and issubclass(cls, keras.optimizers.schedules.LearningRateSchedule)
    ):
        print(
            "Answer with a subclass of keras.optimizers.schedules.LearningRateSchedule (the class, "
            f"not an instance), got {cls!r}."
        )
        return False
    got = _keras_schedule_rates(cls, _CURVE_STEPS)
    if got is None or not _matches_torch(got) or not _survives_config(cls, got):
        return False
    print(
        f"Correct: all {_CURVE_STEPS} rates Keras's SGD took from your schedule equal torch's "
        "SequentialLR(LinearLR, ExponentialLR), and the schedule survives get_config/from_config."
    )
    return True
