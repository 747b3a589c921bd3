"""One place for argument checks, so every error names the argument, the value and the valid range.

Every public constructor in ``course_lib`` validates its arguments with these helpers, at
construction time, and raises ``ValueError`` (bad value) or ``TypeError`` (bad type)::

    >>> check_number("lr", -0.1, low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number >= 0, got -0.1
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")

__all__ = [
    "check_bool",
    "check_callable",
    "check_choice",
    "check_increasing_ints",
    "check_int",
    "check_name",
    "check_number",
    "check_pair",
    "describe_range",
]


def _fmt(x: float) -> str:
    """Format a bound compactly: 0 not 0.0, 1e-08 as is."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def describe_range(low=None, high=None, low_inclusive=True, high_inclusive=True) -> str:
    """Human-readable range: '>= 0', '> 0', 'in [0, 1)', or '' when unbounded."""
    if low is not None and high is not None:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        return f"in {left}{_fmt(low)}, {_fmt(high)}{right}"
    if low is not None:
        return f"{'>=' if low_inclusive else '>'} {_fmt(low)}"
    if high is not None:
        return f"{'<=' if high_inclusive else '<'} {_fmt(high)}"
    return ""


def _is_real(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    # 0-d tensors are accepted where torch accepts them (e.g. lr as a tensor).
    try:
        import torch

        return isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False


def check_number(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Check that ``value`` is a finite real number in the given range; return it unchanged.

    Raises:
        TypeError: ``value`` is not a real number (``bool`` is rejected too).
        ValueError: ``value`` is NaN, infinite, or out of range. The message reads
            ``"<name> must be a finite number <range>, got <value>"``.
    """
    rng = describe_range(low, high, low_inclusive, high_inclusive)
    expected = f"a finite number {rng}".rstrip()
    if not _is_real(value):
        raise TypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}")
    v = float(value)
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v >= low if low_inclusive else v > low
    if ok and high is not None:
        ok = v <= high if high_inclusive else v < high
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Check that ``value`` is an integer (not a bool) in ``[low, high]``; return it.

    Raises ``TypeError`` for non-integers (``2.0`` included) and ``ValueError`` when out of range,
    with the message ``"<name> must be an integer <range>, got <value>"``.
    """
    rng = describe_range(low, high)
    expected = f"an integer {rng}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def check_bool(name: str, value) -> bool:
    """Check that ``value`` is exactly ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, got {value!r} of type {type(value).__name__}"
        )
    return value


def check_choice(name: str, value, choices: Iterable):
    """Check that ``value`` is one of ``choices``; the message lists them."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_pair(name: str, value, **range_kwargs) -> tuple:
    """Check a pair such as ``betas``: a tuple/list of two numbers, each in the given range.

    Element errors are reported as ``betas[0] must be ...``.
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a tuple of two numbers, got {value!r}")
    for i, v in enumerate(value):
        check_number(f"{name}[{i}]", v, **range_kwargs)
    return tuple(value)


def check_name(name: str, value, choices: Mapping[str, T]) -> T:
    """The entry of ``choices`` whose key is ``value`` in any case; the message lists the keys.

    >>> check_name("name", "adam", {"Adam": 1, "SGD": 2})
    1
    >>> check_name("name", "Lion", {"Adam": 1, "SGD": 2})
    Traceback (most recent call last):
    ...
    ValueError: name must be one of 'Adam', 'SGD' (any case), got 'Lion'
    """
    by_lower = {key.lower(): entry for key, entry in choices.items()}
    if isinstance(value, str) and value.lower() in by_lower:
        return by_lower[value.lower()]
    listed = ", ".join(repr(key) for key in sorted(choices, key=str.lower))
    raise ValueError(f"{name} must be one of {listed} (any case), got {value!r}")


def check_increasing_ints(name: str, values, *, low: int = 0) -> tuple[int, ...]:
    """Check a sequence of integers ``>= low`` in strictly increasing order; return it as a tuple.

    Used for milestones and join boundaries; errors name the element (``milestones[1]``):

        >>> check_increasing_ints("milestones", [2, 2])
        Traceback (most recent call last):
        ...
        ValueError: milestones must be strictly increasing, got [2, 2] (milestones[1]=2 after 2)
    """
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of integers >= {low}, got {values!r}")
    try:
        values = list(values)
    except TypeError:
        raise TypeError(f"{name} must be a list of integers >= {low}, got {values!r}") from None
    out: list[int] = []
    for i, v in enumerate(values):
        out.append(check_int(f"{name}[{i}]", v, low=low))
        if i and out[i] <= out[i - 1]:
            raise ValueError(
                f"{name} must be strictly increasing, got {list(values)!r} "
                f"({name}[{i}]={out[i]} after {out[i - 1]})"
            )
    return tuple(out)


def check_callable(name: str, value, what: str = "") -> None:
    """Check that ``value`` can be called; ``what`` says what it stands for (``"a schedule"``).

    >>> check_callable("schedule", 0.1, "a schedule")
    Traceback (most recent call last):
    ...
    TypeError: schedule must be callable (a schedule), got 0.1
    """
    if not callable(value):
        kind = f" ({what})" if what else ""
        raise TypeError(f"{name} must be callable{kind}, got {value!r}")
