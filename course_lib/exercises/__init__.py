"""Self-check functions for the notebooks' exercises, one submodule per notebook (``nb01`` ...).

A check prints a confirmation for a right answer and a helpful hint for a wrong one; it never raises on a
wrong answer (so a learner's notebook keeps running) and returns ``True``/``False``.
"""
