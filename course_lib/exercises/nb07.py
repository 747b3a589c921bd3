"""Self-checks for notebook 07 (transfer learning).

Expected values are computed with ``course_lib.transfer`` and torch, never stored.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from course_lib.exercises._answers import read_number as _read_number
from course_lib.transfer import BLOCKS, build_strategy

__all__ = [
    "check_backbone_start_lr",
    "check_feature_extraction_parameters",
    "check_gradual_trainable",
]


def _trainable(name: str, epoch: int | None = None) -> int:
    return _strategy_at(name, epoch).trainable()


def _strategy_at(name: str, epoch: int | None = None):
    strategy = build_strategy(name, seed=0)
    if epoch is not None:
        for e in range(epoch + 1):
            strategy.on_epoch_start(e)
    return strategy


def _released(strategy) -> tuple[list[str], list[str]]:
    """The blocks (short names, head first) that train and those still frozen."""
    training: list[str] = []
    frozen: list[str] = []
    for block in reversed(BLOCKS):
        params = list(strategy.model.get_submodule(block).parameters())
        short = "head" if block == "classifier" else block.split(".")[-1]
        (training if all(p.requires_grad for p in params) else frozen).append(short)
    return training, frozen


def _words(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_feature_extraction_parameters(answer) -> bool:
    """Exercise 1: how many scalar parameters train under ``"feature_extraction"``?

    Only the head :math:`W` (``model.classifier``: a linear layer on the flattened feature map,
    weight and bias) has ``requires_grad=True``; the backbone :math:`\\theta` is frozen.
    """
    value = _read_number(answer)
    if value is None:
        return False
    strategy = build_strategy("feature_extraction", seed=0)
    expected = strategy.trainable()
    linear = cast(nn.Linear, strategy.model.classifier.linear)
    total = sum(p.numel() for p in strategy.model.parameters())
    if value == expected:
        print(
            f"Correct: {expected} = {linear.in_features} x {linear.out_features} weights + "
            f"{linear.out_features} biases, {100 * expected / total:.0f}% of the {total} parameters."
        )
        return True
    if value == total:
        print("That is every parameter: under feature extraction the backbone is frozen.")
    elif value == linear.weight.numel():
        print("Almost: the head's bias trains too.")
    elif value == total - expected:
        print("That is the number of FROZEN parameters (the backbone).")
    else:
        print(
            f"Not quite ({value:g}). Count the parameters with requires_grad=True of "
            "build_strategy('feature_extraction').model."
        )
    return False


def check_gradual_trainable(answer, epoch: int = 2) -> bool:
    """Exercise 2: trainable scalar parameters of ``"gradual"`` during epoch ``epoch`` (from 0).

    Gradual unfreezing trains the head alone in epoch 0, then releases one more block per epoch from
    the top: block3 in epoch 1, block2 in epoch 2, block1 in epoch 3.
    """
    value = _read_number(answer)
    if value is None:
        return False
    strategy = _strategy_at("gradual", epoch)
    expected = strategy.trainable()
    if value == expected:
        training, frozen = _released(strategy)
        rest = (
            f"; {_words(frozen)} {'is' if len(frozen) == 1 else 'are'} still frozen"
            if frozen
            else "; every block trains"
        )
        print(f"Correct: {expected} ({_words(training)}){rest}.")
        return True
    if value == _trainable("gradual", epoch - 1):
        print(f"Off by one epoch: that is epoch {epoch - 1}. Epochs count from 0 (head only).")
    elif value == _trainable("gradual", epoch + 1):
        print(f"Off by one epoch: that is epoch {epoch + 1}, when every block trains.")
    else:
        print(
            f"Not quite ({value:g}). Build the strategy, call on_epoch_start(e) for e = 0..{epoch}, "
            "then count the parameters with requires_grad=True."
        )
    return False


def check_backbone_start_lr(answer, head_lr: float = 1e-2, factor: float = 0.1) -> bool:
    """Exercise 3: the backbone's rate at the first step of ``"differential"`` (one-cycle schedule).

    One-cycle starts every group at its own peak divided by ``div_factor`` (25 by default):
    :math:`\\gamma_{b}(0) = \\gamma_b / 25` with :math:`\\gamma_b = 0.1\\,\\gamma_h`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    params = [torch.zeros(1, requires_grad=True) for _ in range(2)]
    peaks = [head_lr * factor, head_lr]
    opt = torch.optim.AdamW([{"params": [p], "lr": lr} for p, lr in zip(params, peaks)])
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peaks, total_steps=100)
    expected = opt.param_groups[0]["lr"]
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: {expected:g} = {peaks[0]:g} / 25. The head starts at "
            f"{opt.param_groups[1]['lr']:g}; the ratio between the groups stays 10 all along."
        )
        return True
    if math.isclose(value, opt.param_groups[1]["lr"], rel_tol=1e-6):
        print("That is the head's starting rate; the backbone's peak is 10x lower.")
    elif math.isclose(value, peaks[0], rel_tol=1e-6):
        print("That is the backbone's PEAK; one-cycle starts lower (warm-up).")
    else:
        print(f"Not quite ({value:g}). One-cycle starts at max_lr / div_factor for each group.")
    return False
