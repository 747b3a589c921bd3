"""Self-checks for notebook 06 (parameter groups).

Expected values are computed with ``course_lib.param_groups`` and torch, not stored.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.exercises._answers import read_number as _read_number
from course_lib.exercises._answers import read_numbers as _read_numbers
from course_lib.param_groups import discriminative_lrs, no_decay_groups

__all__ = [
    "check_group_lr_after_cosine",
    "check_layerwise_lrs",
    "check_no_decay_count",
    "check_state_dict_params",
    "exercise_model",
]


def exercise_model() -> nn.Sequential:
    """The model of exercises 2 and 4: three linear layers, a LayerNorm after each hidden one.

    ``Linear(40, 64) -> LayerNorm(64) -> ReLU -> Linear(64, 64) -> LayerNorm(64) -> ReLU ->
    Linear(64, 10)``, seeded so every call builds the same weights.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Linear(40, 64),
            nn.LayerNorm(64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.LayerNorm(64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )


def _all_close(a, b, rel=1e-6) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=rel) for x, y in zip(a, b))


def check_layerwise_lrs(answer, lr: float = 1e-2, decay: float = 0.5, num_blocks: int = 4) -> bool:
    """Exercise 1: the learning rates of ``num_blocks`` blocks, listed input -> head, with layer-wise decay.

    The head gets the rate :math:`\\gamma` (``lr``), each block below it :math:`\\xi` (``decay``) times
    the one above: :math:`\\gamma_i = \\gamma\\,\\xi^{\\,n-1-i}` for :math:`i = 0 \\dots n-1` (input first).
    """
    values = _read_numbers(answer)
    if values is None:
        return False
    expected = discriminative_lrs(num_blocks, lr, decay)
    if _all_close(values, expected):
        print(
            f"Correct: {[f'{v:g}' for v in expected]}; the head learns {1 / decay ** (num_blocks - 1):g}x faster than the input block."
        )
        return True
    if _all_close(values, expected[::-1]):
        print(
            "Reversed: list the blocks from the INPUT to the head; the head gets the largest rate."
        )
    elif len(values) != num_blocks:
        print(f"Give one rate per block ({num_blocks}), got {len(values)}.")
    elif _all_close(values, [lr * decay ** (num_blocks - i) for i in range(num_blocks)]):
        print("Off by one power: the head itself is not decayed, it gets lr exactly.")
    else:
        print(
            f"Not quite. Start from lr={lr:g} at the head and multiply by {decay:g} per block down."
        )
    return False


def check_no_decay_count(answer) -> bool:
    """Exercise 2: how many tensors of :func:`exercise_model` get NO weight decay?

    Biases, every 1-D tensor and every parameter of a normalisation layer
    (``course_lib.param_groups.is_no_decay``).
    """
    value = _read_number(answer)
    if value is None:
        return False
    model = exercise_model()
    groups = {g["name"]: g["params"] for g in no_decay_groups(model, 1e-4)}
    expected = len(groups["no_decay"])
    n_linear_bias = sum(isinstance(m, nn.Linear) for m in model)
    n_norm = sum(isinstance(m, nn.LayerNorm) for m in model)
    if value == expected:
        print(
            f"Correct: {expected} = {n_linear_bias} Linear biases + {n_norm} LayerNorms x "
            "(weight, bias). Only the three weight matrices are decayed."
        )
        return True
    if value == n_linear_bias:
        print("Not quite: the LayerNorms' weights and biases get no decay either.")
    elif value == n_linear_bias + n_norm:
        print("Not quite: a LayerNorm has two tensors, its gain (weight) and its bias.")
    elif value == len(groups["decay"]):
        print("That is the number of tensors that DO get weight decay.")
    else:
        print(f"Not quite ({value:g}). List model.named_parameters() and sort each tensor.")
    return False


def check_group_lr_after_cosine(answer, lrs=(0.1, 0.01), T_max: int = 10, steps: int = 5) -> bool:
    """Exercise 3: group 1's lr after ``steps`` steps of ``CosineAnnealingLR`` on two groups.

    A scheduler applies the same shape to every group, scaled by each group's own initial lr:
    :math:`\\gamma_i(t) = \\gamma_{\\min} + (\\gamma_{i,0} - \\gamma_{\\min})(1 + \\cos(\\pi t/T_{\\max}))/2`
    (``eta_min`` is torch's name for :math:`\\gamma_{\\min}`).
    """
    value = _read_number(answer)
    if value is None:
        return False
    params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T_max)
    for _ in range(steps):
        opt.step()
        sched.step()
    expected = opt.param_groups[1]["lr"]
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: {expected:g}. Group 0 is at {opt.param_groups[0]['lr']:g}: the ratio "
            f"{lrs[0] / lrs[1]:g} between the groups is kept at every step."
        )
        return True
    if math.isclose(value, opt.param_groups[0]["lr"], rel_tol=1e-6):
        print("That is group 0's lr; group 1 started lower.")
    elif math.isclose(value, lrs[1], rel_tol=1e-6):
        print("Not quite: the scheduler changes every group, not just the first.")
    else:
        print(f"Not quite ({value:g}). Apply the cosine to group 1's own initial lr {lrs[1]:g}.")
    return False


def check_state_dict_params(answer, weight_decay: float = 1e-4) -> bool:
    """Exercise 4: ``opt.state_dict()["param_groups"][1]["params"]`` for ``no_decay_groups`` of the model.

    ``state_dict`` replaces tensors by integers that count through ALL groups in order, so group 1's
    indices start after group 0's.
    """
    values = _read_numbers(answer)
    if values is None:
        return False
    opt = torch.optim.AdamW(no_decay_groups(exercise_model(), weight_decay), lr=1e-3)
    expected = [float(i) for i in opt.state_dict()["param_groups"][1]["params"]]
    n0 = len(opt.param_groups[0]["params"])
    if values == expected:
        print(
            f"Correct: {[int(v) for v in expected]}. Group 0 holds indices 0..{n0 - 1}; loading "
            "needs an optimizer whose groups have the same sizes in the same order."
        )
        return True
    if values == [float(i) for i in range(len(expected))]:
        print("Not quite: the indices do not restart at 0 in each group, they continue.")
    else:
        print(
            f"Not quite. Group 0 ('decay') has {n0} tensors; number the tensors of all groups "
            "one after the other."
        )
    return False
