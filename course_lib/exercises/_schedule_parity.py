r"""The schedule side of the checkers: reference rates, the learner's rates through LambdaLR, hints.

:func:`reference_rates` gives the rates :math:`\gamma_t` at steps 0 .. T of a torch scheduler (built on
an SGD of rate ``base_lr``) or of a ``course_lib.schedules`` closed form; :func:`learner_rates` runs a
factor function :math:`s(t)` through torch's ``LambdaLR`` (:math:`\gamma_t = \gamma\,s(t)`);
:func:`schedule_hint` names the likely mistake by finding the variant of the reference (rate instead of
factor, shifted by a step, wrong period or length, wrong end value, ...) that the learner's rates
follow.

    >>> rates, name = reference_rates("StepLR", 0.1, 4, {"step_size": 2})
    >>> name, [round(r, 6) for r in rates]
    ('torch.optim.lr_scheduler.StepLR', [0.1, 0.1, 0.01, 0.01, 0.001])
    >>> learner_rates(lambda t: 0.1 ** (t // 2), 0.1, 5) == rates
    True
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterator

import torch

from course_lib import schedules

__all__ = [
    "CLOSED_FORMS",
    "SCHEDULE_HINTS",
    "TORCH_SCHEDULERS",
    "learner_rates",
    "rate_close",
    "reference_rates",
    "schedule_hint",
]

#: torch schedulers ``check_schedule`` compares with, by class name
TORCH_SCHEDULERS = (
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "StepLR",
)
#: course_lib.schedules closed forms, by the lower-case names ``check_schedule`` takes
CLOSED_FORMS: dict[str, Callable] = {
    "constant": schedules.Constant,
    "cosine": schedules.Cosine,
    "cosine_warm_restarts": schedules.CosineWarmRestarts,
    "exponential": schedules.Exponential,
    "inverse_sqrt": schedules.InverseSqrt,
    "inv_scaling": schedules.InvScaling,
    "linear_warmup": schedules.linear_warmup,
    "multistep": schedules.MultiStepDecay,
    "one_cycle": schedules.one_cycle,
    "polynomial": schedules.Polynomial,
    "step_decay": schedules.StepDecay,
    "warmup_cosine": schedules.warmup_cosine,
    "warmup_stable_decay": schedules.WarmupStableDecay,
    "wsd": schedules.wsd,
}
SCHEDULE_UNFINISHED = (
    "Write the body of your function (replace `raise NotImplementedError`) and run the cell again."
)


def _sgd(base_lr: float) -> torch.optim.SGD:
    """An SGD on one dummy parameter (with momentum, which the cyclic schedulers also set)."""
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr, momentum=0.9)


def _scheduler_rates(opt, make: Callable, n: int) -> list[float]:
    """The rate before each of ``n`` optimizer steps under the scheduler ``make(opt)``.

    A scheduler that ends earlier (OneCycleLR refuses a step past its total) gives fewer.
    """
    sched = make(opt)
    rates = [float(opt.param_groups[0]["lr"])]
    for _ in range(n - 1):
        opt.step()
        try:
            sched.step()
        except ValueError:
            break
        rates.append(float(opt.param_groups[0]["lr"]))
    return rates


def _closed_form(name: str, base_lr: float, total_steps: int, hyper: dict) -> Callable:
    """The closed form ``name`` built with ``hyper``, its first (rate) argument and T filled in."""
    build = CLOSED_FORMS[name]
    params = list(inspect.signature(build).parameters)
    args = dict(hyper)
    if params[0] in ("base", "max_lr", "eta0", "value") and params[0] not in args:
        args[params[0]] = base_lr
    if "total_steps" in params and "total_steps" not in args:
        args["total_steps"] = total_steps
    try:
        return build(**args)
    except TypeError as error:  # the notebook's call, not the learner's answer: say what it takes
        raise TypeError(
            f"like={name!r} is built as course_lib.schedules.{name}({', '.join(params)}): {error}"
        ) from error


def reference_rates(like: str, base_lr: float, total_steps: int, hyper: dict):
    """The reference's rates at steps 0 .. total_steps and its name; ValueError for an unknown one."""
    n = total_steps + 1
    torch_names = {k.lower(): k for k in TORCH_SCHEDULERS}
    if isinstance(like, str) and like.lower() in torch_names:
        cls = getattr(torch.optim.lr_scheduler, torch_names[like.lower()])
        args = dict(hyper)
        if "total_steps" in inspect.signature(cls).parameters and "epochs" not in args:
            args.setdefault("total_steps", total_steps)  # OneCycleLR: T is the checker's
        rates = _scheduler_rates(_sgd(base_lr), lambda opt: cls(opt, **args), n)
        return rates, f"torch.optim.lr_scheduler.{cls.__name__}"
    if isinstance(like, str) and like.lower() in CLOSED_FORMS:
        schedule = _closed_form(like.lower(), base_lr, total_steps, hyper)
        return [float(schedule(t)) for t in range(n)], f"course_lib.schedules.{like.lower()}"
    listed = ", ".join(repr(k) for k in sorted([*TORCH_SCHEDULERS, *CLOSED_FORMS], key=str.lower))
    raise ValueError(f"like must be one of {listed} (any case), got {like!r}")


class NotANumber(Exception):
    """A factor function returned ``value``, which is not a real number."""

    def __init__(self, value) -> None:
        super().__init__(repr(value))
        self.value = value


def _numbers_only(fn: Callable) -> Callable:
    """``fn`` that raises :class:`NotANumber` when it returns anything but a real number."""

    def factor(t):
        value = fn(t)
        is_tensor = isinstance(value, torch.Tensor) and value.numel() == 1
        if isinstance(value, bool) or not (isinstance(value, numbers.Real) or is_tensor):
            raise NotANumber(value)
        return value

    return factor


def learner_rates(fn, base_lr: float, n: int) -> list[float] | None:
    """The ``n`` rates torch's ``LambdaLR`` gives with ``fn``; None after saying what went wrong."""
    if not callable(fn):
        print(f"Answer with a function of the step (a factor for LambdaLR), got {fn!r}.")
        return None
    opt = _sgd(base_lr)
    rates: list[float] = []
    try:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _numbers_only(fn))
        for _ in range(n):
            rates.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step()
    except NotImplementedError:
        print(SCHEDULE_UNFINISHED)
        return None
    except NotANumber as error:
        print(
            f"Your function returned {error.value!r} at step {len(rates)}: return the factor, a number."
        )
        return None
    except Exception as error:  # the learner's code may raise anything: say what and where
        print(f"Your function raised {type(error).__name__} at step {len(rates)}: {error}")
        return None
    return rates


def rate_close(a: float, b: float) -> bool:
    """Two rates equal to 1e-9 relative (1e-12 absolute)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


SCHEDULE_HINTS = {
    "rate_not_factor": (
        "Your function returns the learning rate: LambdaLR multiplies what it returns by the base "
        "lr, so return the factor (rate / base lr, 1 at the peak)."
    ),
    "early": (
        "One step early: your value at step t is the reference's at step t + 1. LambdaLR calls "
        "your function with t = 0 before the first update; do not add 1 to t."
    ),
    "late": (
        "One step late: your value at step t is the reference's at step t - 1. t starts at 0 "
        "(the first update): use t itself, not t - 1."
    ),
    "warmup_length": (
        "Your warm-up has the wrong length: the factor rises as t / T_w, from the start at step 0 "
        "to 1 at step T_w = warmup_steps (it ends one step early or late)."
    ),
    "wrong_period": (
        "The cosine runs over the wrong number of steps: after a warm-up of T_w steps it lasts "
        "T - T_w steps, x = (t - T_w) / (T - T_w); CosineAnnealingLR's period is T_max."
    ),
    "ends_at_zero": (
        "Your schedule ends at 0: it should end at the minimum (eta_min, final or end_factor; as a "
        "factor, minimum / base lr): factor = min + (1 - min) * shape."
    ),
    "per_step": (
        "Your factor decays at every step: StepLR multiplies by gamma once every step_size steps, "
        "gamma ** (t // step_size)."
    ),
    "integer_division": (
        "Use integer division: StepLR's factor is gamma ** (t // step_size), constant within each "
        "block of step_size steps; gamma ** (t / step_size) decays smoothly."
    ),
    "step_size": (
        "Your blocks have the wrong length: the rate drops after every step_size steps, "
        "at t = step_size, 2 step_size, ..."
    ),
    "half_factor": (
        "The cosine factor is 0.5 * (1 + cos(pi x)), from 1 at x = 0 down to 0 at x = 1: yours "
        "misses the 0.5 or the 1 +."
    ),
    "radians": (
        "math.cos takes radians: the cosine factor is 0.5 * (1 + math.cos(math.pi * x)) with x "
        "from 0 to 1 (no degrees, and do not forget pi)."
    ),
}

#: hyperparameters whose value off by one makes a typical mistake, and the hint it gets
_LENGTHS = {
    "warmup_steps": "warmup_length",
    "total_iters": "warmup_length",
    "T_max": "wrong_period",
    "T_0": "wrong_period",
    "step_size": "step_size",
}
_MINIMA = ("final", "eta_min", "end_factor", "final_factor")
_SHAPES = {
    "no_half": "half_factor",
    "cos_only": "half_factor",
    "no_pi": "radians",
    "degrees": "radians",
}


def cosine_rate(
    t: float,
    base: float,
    warm: int,
    length: float,
    final: float,
    start: float,
    clamp: bool,
    shape: str = "ok",
) -> float:
    r"""A warm-up then a cosine, or one of its mistaken shapes.

    :math:`\gamma_{start} + (\gamma - \gamma_{start})\,t/T_w` for :math:`t < T_w`, then with
    :math:`x = (t - T_w)/\text{length}` (at most 1 when ``clamp``):
    :math:`\gamma_{\min} + (\gamma - \gamma_{\min})\,\tfrac12(1 + \cos \pi x)`; ``shape`` drops the ½
    (``no_half``), the 1 + and the ½ (``cos_only``), π (``no_pi``) or uses 180 x (``degrees``).

        >>> cosine_rate(5, 1.0, 0, 10, 0.0, 0.0, True)
        0.5
    """
    if t < warm:
        return start + (base - start) * t / warm
    x = (t - warm) / length
    x = min(x, 1.0) if clamp else x
    factor = {
        "ok": 0.5 * (1 + math.cos(math.pi * x)),
        "no_half": 1 + math.cos(math.pi * x),
        "cos_only": math.cos(math.pi * x),
        "no_pi": 0.5 * (1 + math.cos(x)),
        "degrees": 0.5 * (1 + math.cos(180 * x)),
    }[shape]
    return final + (base - final) * factor


def cosine_parts(like: str, base_lr: float, total_steps: int, hyper: dict) -> dict | None:
    """The arguments of :func:`cosine_rate` that give the reference ``like`` (None: not a cosine)."""
    name = like.lower()
    if name == "cosineannealinglr":
        return dict(
            base=base_lr,
            warm=0,
            length=hyper["T_max"],
            final=hyper.get("eta_min", 0.0),
            start=0.0,
            clamp=False,
        )
    total = hyper.get("total_steps", total_steps)
    base = hyper.get("base", base_lr)
    if name == "cosine":
        return dict(
            base=base, warm=0, length=total, final=hyper.get("final", 0.0), start=0.0, clamp=True
        )
    if name == "warmup_cosine":
        warm = hyper["warmup_steps"]
        return dict(
            base=base,
            warm=warm,
            length=total - warm,
            final=hyper.get("final", 0.0),
            start=hyper.get("start", 0.0),
            clamp=True,
        )
    return None


def _cosine_variants(like, base_lr, total_steps, hyper, n) -> Iterator[tuple[str, list[float]]]:
    """The cosine's mistakes: the wrong period, the end at 0, the wrong shape."""
    parts = cosine_parts(like, base_lr, total_steps, hyper)
    if parts is None:
        return
    changes = [
        ("wrong_period", {"length": hyper.get("total_steps", total_steps)}),
        ("wrong_period", {"length": hyper.get("total_steps", total_steps), "warm": 0}),
        ("ends_at_zero", {"final": 0.0}),
    ]
    changes += [(key, {"shape": shape}) for shape, key in _SHAPES.items()]
    for key, change in changes:
        args = {**parts, **change}
        if change.get("warm") == 0 and parts["warm"]:
            args["start"], args["warm"] = parts["start"], 0
        yield key, [cosine_rate(t, **args) for t in range(n)]


def _variants(like, base_lr, total_steps, hyper, n) -> Iterator[tuple[str, list[float]]]:
    """(hint key, rates) of the typical mistakes for ``like``, computed one at a time."""

    def changed(**change):
        try:
            return reference_rates(like, base_lr, total_steps, {**hyper, **change})[0]
        except (ValueError, TypeError, ZeroDivisionError):
            return None

    for key, hint in _LENGTHS.items():
        if isinstance(hyper.get(key), int):
            for delta in (-1, 1):
                yield hint, changed(**{key: hyper[key] + delta})
    for key in _MINIMA:
        if hyper.get(key):
            yield "ends_at_zero", changed(**{key: 0.0})
    if like.lower() == "steplr":
        gamma, size = hyper.get("gamma", 0.1), hyper["step_size"]
        yield "per_step", [base_lr * gamma**t for t in range(n)]
        yield "integer_division", [base_lr * gamma ** (t / size) for t in range(n)]
    yield from _cosine_variants(like, base_lr, total_steps, hyper, n)


def _shift(got: list[float], want: list[float], bad: list[int]) -> str | None:
    """'early' or 'late' when every wrong rate is the reference's one step later or earlier."""
    n = len(want)
    early = [t for t in bad if t + 1 < n]
    if early and all(rate_close(got[t], want[t + 1]) for t in early):
        return "early"
    late = [t for t in bad if t >= 1]
    if late and all(rate_close(got[t], want[t - 1]) for t in late):
        return "late"
    return None


def schedule_hint(like, base_lr, total_steps, hyper, want, got, bad) -> str | None:
    """The hint for the learner's rates ``got`` (wrong at steps ``bad``), or None when none fits."""
    n = len(want)
    if all(rate_close(g, w * base_lr) for g, w in zip(got, want)):
        return SCHEDULE_HINTS["rate_not_factor"]
    for key, rates in _variants(like, base_lr, total_steps, hyper, n):
        if rates is None or len(rates) < n:
            continue
        differs = any(not rate_close(r, w) for r, w in zip(rates, want))
        if differs and all(rate_close(g, r) for g, r in zip(got, rates)):
            return SCHEDULE_HINTS[key]
    shift = _shift(got, want, bad)
    return SCHEDULE_HINTS[shift] if shift else None
