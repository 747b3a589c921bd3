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
from collections.abc import Iterable

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
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
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


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
