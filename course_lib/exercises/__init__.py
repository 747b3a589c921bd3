"""Self-check functions for the notebooks' exercises, one submodule per notebook (``nb01`` ...).

A check prints a confirmation for a right answer and a helpful hint for a wrong one; it never raises on a
wrong answer (so a learner's notebook keeps running) and returns ``True``/``False``. An answer left as
the notebook's ``None`` placeholder is "not answered yet"; every check says so and returns ``False``:

    >>> from course_lib.exercises import nb01
    >>> nb01.check_divergence_threshold(None)
    Fill in your answer (replace None) and run the cell again.
    False

The expected values are computed (from the notebook's formulas or with course_lib), never stored.
"""
