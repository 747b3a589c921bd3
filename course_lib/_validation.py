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
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

__all__ = [
    "check_array",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_increasing_ints",
    "check_int",
    "check_name",
    "check_nonempty",
    "check_number",
    "check_pair",
    "check_range_pair",
    "check_sizes",
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


def check_nonempty(name: str, values) -> list:
    """``values`` as a list; a ValueError naming ``name`` when it is empty.

    >>> check_nonempty("names", [])
    Traceback (most recent call last):
    ...
    ValueError: names must hold at least one value, got []
    """
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one value, got []")
    return values


def check_range_pair(name: str, value) -> tuple[float, float]:
    """``value`` as a pair ``(low, high)`` with ``0 < low < high`` (a search range of a rate).

    >>> check_range_pair("lr_range", (1e-2, 1e-3))
    Traceback (most recent call last):
    ...
    ValueError: lr_range[1] must be a finite number > 0.01, got 0.001
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}")
    lo, hi = value
    check_number(f"{name}[0]", lo, low=0.0, low_inclusive=False)
    check_number(f"{name}[1]", hi, low=lo, low_inclusive=False)
    return (lo, hi)


def check_sizes(name: str, value, *, allow_empty: bool = False) -> tuple[int, ...]:
    """A tuple of integers >= 1 (``hidden_sizes``, ``channels``); one integer counts as a tuple of one.

    >>> check_sizes("channels", 32)
    (32,)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(
            f"{name} must be a sequence of integers >= 1, got {value!r} of type "
            f"{type(value).__name__}"
        )
    if not value and not allow_empty:
        raise ValueError(f"{name} must contain at least one integer >= 1, got {value!r}")
    for i, v in enumerate(value):
        check_int(f"{name}[{i}]", v, low=1)
    return tuple(int(v) for v in value)


def check_array(
    name: str, value, low: float | None = None, low_inclusive: bool = True
) -> np.ndarray:
    """``value`` as a float64 array, every entry finite and above ``low`` (else ``ValueError``).

    >>> check_array("h", [1.0, -2.0], low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: h must be finite number(s) >= 0, got np.float64(-2.0)
    """
    if isinstance(value, (bool, str)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {type(value).__name__}"
        ) from None
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= (arr < low) if low_inclusive else (arr <= low)
    if bad.any():
        rng = f" {'>=' if low_inclusive else '>'} {low:g}" if low is not None else ""
        shown = value if arr.ndim == 0 else arr[bad].flat[0]
        raise ValueError(f"{name} must be finite number(s){rng}, got {shown!r}")
    return arr
