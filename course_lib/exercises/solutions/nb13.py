"""Answer key for notebook 13's coding exercise (``nb13.check_state_bytes_per_param``).

Not imported by the notebook: the learner writes their own version; the tests run this one through
the check.
"""

from __future__ import annotations

import torch

__all__ = ["state_bytes_per_param"]


def state_bytes_per_param(optimizer: torch.optim.Optimizer) -> float:
    """Bytes of every tensor in ``optimizer.state_dict()["state"]`` over the parameters' elements.

    .. math:: \\frac{\\sum_{s \\in \\text{state}} n_s b_s}{\\sum_{\\theta} n_\\theta}

    with :math:`n` the number of elements and :math:`b` the bytes per element; ``step`` counters
    are tensors too and count.

    Example:
        >>> from course_lib.exercises import nb13
        >>> nb13.check_state_bytes_per_param(state_bytes_per_param)  # doctest: +ELLIPSIS
        Correct: ...
        True
    """
    state_bytes = sum(
        value.numel() * value.element_size()
        for per_param in optimizer.state_dict()["state"].values()
        for value in per_param.values()
        if isinstance(value, torch.Tensor)
    )
    numel = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    return state_bytes / numel
