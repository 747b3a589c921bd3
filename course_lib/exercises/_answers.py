"""Reading a learner's answer: the shared first lines of every self-check.

Each helper prints what is wrong with an answer that cannot be checked (not filled in, not a number)
and returns ``None``/``True`` so the check can stop there; a check never raises on a learner's answer.

    >>> missing(None)
    Fill in your answer (replace None) and run the cell again.
    True
    >>> number("abc") is None
    Answer with a number, got 'abc'.
    True
    >>> numbers([1, 2.5])
    [1.0, 2.5]

The ``read_*`` helpers are the opening block of a check: the placeholder test, then the type test.

    >>> read_number(None) is None
    Fill in your answer (replace None) and run the cell again.
    True
    >>> read_real("0.5", "a number between 0 and 1") is None
    Answer with a number between 0 and 1, got '0.5'.
    True
    >>> read_integer(5.0) is None
    Answer with an integer, got 5.0.
    True
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = [
    "missing",
    "number",
    "numbers",
    "read_integer",
    "read_number",
    "read_numbers",
    "read_real",
]


def missing(answer) -> bool:
    """True (after saying so) when the learner has not replaced the ``None`` placeholder yet."""
    if answer is None:
        print("Fill in your answer (replace None) and run the cell again.")
        return True
    return False


def number(answer) -> float | None:
    """``answer`` as a finite float, or None after printing why it is not one (bools are refused)."""
    if isinstance(answer, bool):
        print(f"Answer with a number, got {answer!r}.")
        return None
    try:
        value = float(answer)
    except (TypeError, ValueError):
        print(f"Answer with a number, got {answer!r}.")
        return None
    if not math.isfinite(value):
        print(f"Answer with a finite number, got {answer!r}.")
        return None
    return value


def numbers(answer) -> list[float] | None:
    """``answer`` as a list of finite floats, or None after printing which element is not one."""
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        print(f"Answer with a list of numbers, got {answer!r}.")
        return None
    values = []
    for item in answer:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            print(f"Answer with a list of numbers, got an element {item!r}.")
            return None
        if not math.isfinite(item):
            print(f"Answer with finite numbers, got {item!r}.")
            return None
        values.append(float(item))
    return values


def read_number(answer) -> float | None:
    """:func:`number` of an answered ``answer``; None (after the hint) when it is missing or not one."""
    if missing(answer):
        return None
    return number(answer)


def read_numbers(answer) -> list[float] | None:
    """:func:`numbers` of an answered ``answer``; None (after the hint) when missing or not a list."""
    if missing(answer):
        return None
    return numbers(answer)


def read_real(answer, what: str = "a number") -> float | None:
    """An answered ``answer`` that is a real number (not a bool, not a string), as a float.

    None after a hint when it is missing or of another type; ``what`` names the expected answer in the
    hint ("Answer with <what>, got ...").
    """
    if missing(answer):
        return None
    if isinstance(answer, bool) or not isinstance(answer, Real):
        print(f"Answer with {what}, got {answer!r}.")
        return None
    return float(answer)


def read_integer(answer) -> int | None:
    """An answered ``answer`` that is an integer (not a bool, not a float such as ``5.0``), as an int."""
    if missing(answer):
        return None
    if isinstance(answer, bool) or not isinstance(answer, Integral):
        print(f"Answer with an integer, got {answer!r}.")
        return None
    return int(answer)
