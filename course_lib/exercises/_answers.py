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
"""

from __future__ import annotations

import math

__all__ = ["missing", "number", "numbers"]


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
