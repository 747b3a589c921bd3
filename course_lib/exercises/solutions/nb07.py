"""Answer key for notebook 07's coding exercise (``nb07.check_unfreezing``).

Not imported by the notebook: the learner writes their own version; the tests run this one through
the check.
"""

from __future__ import annotations

from course_lib.transfer import BLOCKS

__all__ = ["unfreeze"]


def unfreeze(model, optimizer, epoch: int, backbone_lr: float) -> None:
    """Gradual unfreezing at the start of ``epoch``: release the ``epoch``-th block from the top.

    Epoch 0 trains the head alone (as feature extraction left it); epoch :math:`e \\ge 1` releases
    block :math:`4 - e` (block3, block2, block1) and adds its parameters to the optimizer, once, at
    :math:`\\gamma_b` = ``backbone_lr``; later epochs change nothing.

    Example:
        >>> from course_lib.exercises import nb07
        >>> nb07.check_unfreezing(unfreeze)  # doctest: +ELLIPSIS
        Correct: ...
        True
    """
    backbone = list(reversed(BLOCKS[:-1]))  # block3, block2, block1: from the top
    if not 1 <= epoch <= len(backbone):
        return
    params = list(model.get_submodule(backbone[epoch - 1]).parameters())
    for p in params:
        p.requires_grad_(True)
    optimizer.add_param_group({"params": params, "lr": backbone_lr})
