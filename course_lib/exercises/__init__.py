"""Self-check functions for the notebooks' exercises, one submodule per notebook (``nb01`` ...).

A check prints a confirmation for a right answer and a helpful hint for a wrong one; it never raises on a
wrong answer (so a learner's notebook keeps running) and returns ``True``/``False``. An answer left as
the notebook's ``None`` placeholder is "not answered yet"; every check says so and returns ``False``:

    >>> from course_lib.exercises import nb01
    >>> nb01.check_divergence_threshold(None)
    Fill in your answer (replace None) and run the cell again.
    False

The expected values are computed (from the notebook's formulas or with course_lib), never stored.

Coding exercises are checked by running the learner's code: :func:`check_optimizer` runs an
``Optimizer`` subclass through a parity grid against torch.optim (two groups, a late gradient, a
changed rate, weight decay, ``maximize``, a ``state_dict`` round trip) and :func:`check_schedule` runs
a ``LambdaLR`` factor function against a torch scheduler or a ``course_lib.schedules`` closed form;
each names the first step that differs and the likely mistake (``course_lib.exercises.checkers``).
The answer keys are in ``course_lib.exercises.solutions``.
"""

from course_lib.exercises.checkers import check_optimizer, check_schedule

__all__ = ["check_optimizer", "check_schedule"]
