"""Answer key of notebook 06's coding exercise: a layer-wise learning-rate split, written by hand.

The notebook's exercise cell starts from a skeleton; this is one answer that
``course_lib.exercises.nb06.check_layerwise_groups`` accepts (``tests/test_exercises_nb06.py`` runs
it through the checker, next to the typical wrong versions). Learners: try the exercise first.

    >>> from course_lib.exercises import nb06
    >>> nb06.check_layerwise_groups(layerwise_groups)  # doctest: +ELLIPSIS
    Correct: the blocks get lr ['0.0025', '0.005', '0.01'] from the input to the head, ...
    True
"""

from __future__ import annotations

from torch import nn

__all__ = ["layerwise_groups"]


def layerwise_groups(model: nn.Sequential, lr: float, decay: float) -> list[dict]:
    """One group per block of ``model``; block :math:`k` from the head gets :math:`\\gamma\\xi^k`.

    A block starts at each ``nn.Linear`` and takes the layers after it (a LayerNorm, a ReLU) up to
    the next Linear. With :math:`n` blocks listed input first, block :math:`i` is
    :math:`k = n - 1 - i` from the head: the head gets :math:`\\gamma` (``lr``), each block below
    it :math:`\\xi` (``decay``) times the rate of the block above.

        >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> [(len(g["params"]), g["lr"]) for g in layerwise_groups(model, 0.1, 0.5)]
        [(2, 0.05), (2, 0.1)]
    """
    blocks: list[list[nn.Parameter]] = []
    for module in model:
        if isinstance(module, nn.Linear):
            blocks.append([])
        if blocks:
            blocks[-1].extend(module.parameters())
    n = len(blocks)
    return [{"params": params, "lr": lr * decay ** (n - 1 - i)} for i, params in enumerate(blocks)]
