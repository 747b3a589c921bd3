"""Answer key of notebook 05's coding exercise: warm-up then inverse square root, a LambdaLR factor.

The notebook's exercise cell starts from a skeleton; :func:`warmup_inverse_sqrt_factor` is one
answer that ``course_lib.exercises.nb05.check_inverse_sqrt_lambda`` (through ``check_schedule``)
accepts; ``tests/test_exercises_nb05.py`` runs it through the checker, next to the typical wrong
versions.
Learners: try the exercise first.

    >>> from course_lib.exercises import nb05
    >>> nb05.check_inverse_sqrt_lambda(warmup_inverse_sqrt_factor)  # doctest: +ELLIPSIS
    Correct: all 101 rates match course_lib.schedules.inverse_sqrt (base lr 0.1), step for step.
    True
"""

from __future__ import annotations

import math

__all__ = ["warmup_inverse_sqrt_factor"]


def warmup_inverse_sqrt_factor(step: int, warmup_steps: int = 10) -> float:
    """The factor :math:`s(t)` of :math:`\\gamma_t = \\gamma\\,s(t)`: warm-up, then inverse sqrt.

    :math:`s(t) = t/T_w` for :math:`t < T_w` and :math:`s(t) = \\sqrt{T_w/t}` from :math:`T_w` on.

    A linear warm-up from 0 to 1 over the first :math:`T_w` steps (``warmup_steps``), then the decay
    as one over the square root of the step, scaled so that it starts at 1 at :math:`t = T_w`.

        >>> [round(warmup_inverse_sqrt_factor(t), 3) for t in (0, 5, 10, 40)]
        [0.0, 0.5, 1.0, 0.5]
    """
    if step < warmup_steps:
        return step / warmup_steps
    return math.sqrt(warmup_steps / step)
