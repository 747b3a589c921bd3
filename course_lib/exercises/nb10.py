"""Self-checks for notebook 10 (modern schedules and weight averaging).

Expected values come from ``course_lib.schedules`` (the WSD schedule) or from the formulas the
notebook states; the coding exercise runs the learner's function inside torch's ``LambdaLR``.
"""

from __future__ import annotations

import math

from course_lib.exercises._answers import read_number as _read_number
from course_lib.exercises._schedule_parity import learner_rates
from course_lib.schedules import WarmupStableDecay, wsd

__all__ = ["check_anytime_steps", "check_ema_mean_age", "check_wsd_lambda", "check_wsd_rate"]


def check_wsd_rate(
    answer,
    lr: float = 0.01,
    total_steps: int = 1000,
    warmup_steps: int = 50,
    decay_fraction: float = 0.2,
    step: int = 900,
) -> bool:
    """Exercise 1: the rate of step ``step`` under WSD with a linear cooldown.

    The cooldown starts at :math:`T_s = T - T_d` with :math:`T_d = 0.2\\,T`; there
    :math:`\\gamma_t = \\gamma\\,(1 - x)`, :math:`x = (t - T_s)/T_d` (``docs/notation.md``: :math:`\\gamma`
    the rate).
    """
    value = _read_number(answer)
    if value is None:
        return False
    schedule = wsd(lr, total_steps, warmup_steps, decay_fraction, "linear")
    expected = schedule(step)
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: the cooldown starts at step {schedule.decay_start}, step {step} is "
            f"{(step - schedule.decay_start) / (total_steps - schedule.decay_start):.0%} of the way "
            f"down: {expected:g}."
        )
        return True
    if math.isclose(value, lr, rel_tol=1e-6):
        print(
            f"{lr:g} is the stable rate; the cooldown covers the last {decay_fraction:.0%} of the steps."
        )
    elif math.isclose(value, wsd(lr, total_steps, warmup_steps, decay_fraction, "1-sqrt")(step)):
        print("That is the 1-sqrt cooldown's rate; the question asks for the linear one.")
    else:
        print(
            f"Not quite ({value:g}). Find T_s = T - 0.2 T, then x = (t - T_s) / (0.2 T) and "
            "lr * (1 - x)."
        )
    return False


def check_anytime_steps(answer, total_steps: int = 1000, budgets=(250, 500, 1000)) -> bool:
    """Exercise 2: the steps one WSD trunk and its 20 % cooldowns train for all ``budgets``.

    The trunk runs to the last branch point :math:`0.8\\,B_{\\max}`; each budget :math:`B` adds its
    own cooldown of :math:`0.2\\,B` steps. Cosine runs from scratch would train :math:`\\sum B`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    cooldowns = [wsd(1.0, b, 0, 0.2) for b in budgets]
    trunk = max(c.decay_start for c in cooldowns)
    expected = trunk + sum(c.total_steps - c.decay_start for c in cooldowns)
    if math.isclose(value, expected):
        print(
            f"Correct: {trunk} trunk steps + {sum(c.total_steps - c.decay_start for c in cooldowns)} cooldown "
            f"steps = {expected}, against {sum(budgets)} for one cosine run per budget."
        )
        return True
    if math.isclose(value, sum(budgets)):
        print("That is one cosine run per budget from scratch; WSD shares the stable phase.")
    elif math.isclose(value, total_steps + sum(c.total_steps - c.decay_start for c in cooldowns)):
        print(
            "Almost: the trunk only needs to reach the last branch point, not the end of the "
            "longest budget (its own cooldown covers the rest)."
        )
    else:
        print(f"Not quite ({value:g}). Add the trunk up to 0.8 x {max(budgets)} and each 0.2 x B.")
    return False


def check_ema_mean_age(answer, ema_decay: float = 0.99) -> bool:
    """Exercise 3: the mean age of the iterates in an EMA of decay :math:`\\beta` (in steps).

    :math:`\\bar\\theta_t = \\sum_{k \\ge 0} (1-\\beta)\\beta^k\\,\\theta_{t-k}`: the weights
    :math:`(1-\\beta)\\beta^k` sum to 1 and their mean age is :math:`\\sum_k k (1-\\beta)\\beta^k =
    \\beta/(1-\\beta)`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = ema_decay / (1 - ema_decay)
    if math.isclose(value, expected, rel_tol=1e-3):
        print(
            f"Correct: {expected:g} steps. An EMA with beta = {ema_decay:g} mostly remembers the last "
            f"few hundred steps; SWA weighs every averaged iterate equally."
        )
        return True
    if math.isclose(value, 1 / (1 - ema_decay), rel_tol=1e-3):
        print(
            f"{1 / (1 - ema_decay):g} is the usual 'window' 1/(1 - beta); the mean age counts the "
            "newest iterate as age 0."
        )
    elif math.isclose(value, math.log(0.5) / math.log(ema_decay), rel_tol=1e-2):
        print(
            "That is the half-life (where the weight halves); the question asks for the mean age."
        )
    else:
        print(f"Not quite ({value:g}). Sum k (1 - beta) beta^k over k = 0, 1, 2, ...")
    return False


def check_wsd_lambda(
    answer,
    total_steps: int = 100,
    warmup_steps: int = 10,
    decay_steps: int = 20,
    cooldown: str = "1-sqrt",
    base: float = 0.1,
) -> bool:
    """Exercise 4 (code): a factor function ``fn(step)`` for ``LambdaLR`` that gives WSD.

    The checker runs ``torch.optim.lr_scheduler.LambdaLR(SGD(lr=base), fn)`` for ``total_steps + 1``
    steps and compares every rate with ``WarmupStableDecay(base, total_steps, warmup_steps,
    decay_steps, cooldown)``; the first step that differs is named with both values.
    """
    if answer is None:
        print("Fill in your answer (replace None) and run the cell again.")
        return False
    rates = learner_rates(answer, base, total_steps + 1)
    if rates is None:
        return False
    ref = WarmupStableDecay(base, total_steps, warmup_steps, decay_steps, cooldown)
    for t, got in enumerate(rates):
        want = ref(t)
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            phase = (
                "warm-up" if t < warmup_steps else "stable" if t < ref.decay_start else "cooldown"
            )
            print(
                f"Step {t} ({phase} phase) is wrong: LambdaLR gives lr {got:.6g}, WSD wants "
                f"{want:.6g} (factor {want / base:.6g}). The cooldown starts at step {ref.decay_start}."
            )
            return False
    print(
        f"Correct: all {len(rates)} rates match course_lib's WarmupStableDecay ({cooldown} cooldown), "
        "step for step."
    )
    return True
