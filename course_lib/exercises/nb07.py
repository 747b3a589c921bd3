"""Self-checks for notebook 07 (transfer learning).

Expected values are computed with ``course_lib.transfer`` and torch, never stored. The coding
exercise runs the learner's gradual-unfreezing function epoch by epoch against the ``"gradual"``
strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.models import BACKBONE2D_PT, CNN2d
from course_lib.transfer import BLOCKS, DEFAULTS, build_strategy

__all__ = [
    "check_backbone_start_lr",
    "check_feature_extraction_2d",
    "check_feature_extraction_parameters",
    "check_gradual_trainable",
    "check_unfreezing",
    "reference_unfreezing",
    "unfreezing_setup",
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


def check_feature_extraction_2d(answer) -> bool:
    """Exercise 5: how many scalar parameters train under feature extraction on the 2-D backbone?

    The head of :class:`course_lib.models.CNN2d` is one linear layer on the flattened feature map
    (``feature_shape`` = channels x side x side after the two poolings), weight and bias.
    """
    value = _read_number(answer)
    if value is None:
        return False
    strategy = build_strategy("feature_extraction", seed=0, path=BACKBONE2D_PT)
    expected = strategy.trainable()
    c, h, w = cast(CNN2d, strategy.model).feature_shape
    total = sum(p.numel() for p in strategy.model.parameters())
    if value == expected:
        print(
            f"Correct: {expected} = ({c} x {h} x {w} = {c * h * w} features) x 10 weights + 10 biases; "
            f"the backbone's {total - expected} stay frozen."
        )
        return True
    hints = {
        c * h * w: "That is the number of features the head reads; it has one weight per feature "
        "AND class, plus a bias per class.",
        c * h * w * 10: "Almost: the head's bias trains too.",
        c * 16 * 16 * 10 + 10: "The two MaxPool2d(2) halve the side twice: 16 -> 8 -> 4.",
        total - expected: "That is the number of FROZEN parameters (the backbone).",
        total: "That is every parameter: under feature extraction the backbone is frozen.",
    }
    print(
        hints.get(
            value,
            f"Not quite ({value:g}). Look at build_strategy('feature_extraction', "
            "path=models.BACKBONE2D_PT).model.feature_shape and the head classifier.linear.",
        )
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


# --- the coding exercise: gradual unfreezing, by hand --------------------------------------------

#: The epochs the check calls the learner's function for: the head alone, one block more per epoch,
#: then everything (block3 in epoch 1, block2 in 2, block1 in 3, and epoch 4 changes nothing).
EPOCHS = len(BLOCKS) + 1
#: The head's rate :math:`\gamma_h` and the backbone's :math:`\gamma_b = \gamma_h / 10`.
HEAD_LR = DEFAULTS["lr"]
BACKBONE_LR = DEFAULTS["lr"] * DEFAULTS["backbone_lr_factor"]


def unfreezing_setup() -> tuple[nn.Module, torch.optim.Optimizer]:
    """Where gradual unfreezing starts: feature extraction's model (backbone frozen) and its AdamW,
    which holds the head alone, at :math:`\\gamma_h`."""
    strategy = build_strategy("feature_extraction", seed=0, lr=HEAD_LR)
    return strategy.model, strategy.optimizer()


def block_states(model: nn.Module) -> dict[str, str]:
    """Each of :data:`BLOCKS` (short names, head first): "trains", "frozen" or "partly"."""
    states = {}
    for block in reversed(BLOCKS):
        flags = [p.requires_grad for p in model.get_submodule(block).parameters()]
        short = "head" if block == "classifier" else block.split(".")[-1]
        states[short] = "trains" if all(flags) else "frozen" if not any(flags) else "partly"
    return states


def reference_unfreezing() -> tuple[list[dict[str, str]], dict[str, float]]:
    """``course_lib.transfer``'s ``"gradual"`` strategy: its block states in each of :data:`EPOCHS`
    epochs (:class:`~course_lib.param_groups.GradualUnfreezer`) and each parameter's rate."""
    strategy = build_strategy("gradual", seed=0, lr=HEAD_LR)
    names = {id(p): n for n, p in strategy.model.named_parameters()}
    rates = {names[id(p)]: g["lr"] for g in strategy.groups for p in g["params"]}
    states = []
    for epoch in range(EPOCHS):
        strategy.on_epoch_start(epoch)
        states.append(block_states(strategy.model))
    return states, rates


def trained(states: dict[str, str]) -> list[str]:
    """The blocks that train, head first."""
    return [b for b, s in states.items() if s == "trains"]


def blocks_mistake(got: dict[str, str], expected: list[dict[str, str]], epoch: int) -> str:
    """The hint for block states ``got`` in ``epoch`` that are not ``expected[epoch]``."""
    partly = [b for b, s in got.items() if s == "partly"]
    wanted, mine = trained(expected[epoch]), trained(got)
    backbone = [b for b in got if b != "head"]
    from_bottom = ["head", *reversed(backbone)][: len(wanted)]
    if partly:
        return (
            f"Some of {partly[0]}'s parameters train and some do not: release a block whole "
            "(weight and bias), e.g. for p in model.get_submodule(block).parameters()."
        )
    if "head" not in mine:
        return "The head must train in every epoch, from epoch 0 on: never freeze it."
    if 1 < len(wanted) < len(got) and sorted(mine) == sorted(from_bottom):
        return (
            "You unfreeze from the bottom (block1, next to the input, first). ULMFiT releases "
            "from the top: block3, next to the head, in epoch 1, then block2, then block1."
        )
    if len(mine) == len(got) and len(wanted) < len(got):
        return (
            "Every block trains already: release one block per epoch (block3 in epoch 1, "
            "block2 in epoch 2, ...), not all at once."
        )
    for other, words in ((epoch + 1, "one epoch early"), (epoch - 1, "one epoch late")):
        if 0 <= other < len(expected) and mine == trained(expected[other]):
            return (
                f"That is the state of epoch {other}, {words}: epoch 0 trains the head alone "
                "and epoch e releases the e-th block from the top."
            )
    return f"In epoch {epoch} these should train: {', '.join(wanted)}; yours: {', '.join(mine)}."


def optimizer_mistake(model: nn.Module, optimizer, rates: dict[str, float]) -> str | None:
    """The hint when the optimizer does not hold a trainable parameter at the reference rate."""
    held = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        if p.requires_grad and id(p) not in held:
            return (
                f"{name} trains (requires_grad=True) but the optimizer does not hold it, so "
                "it is never updated: add each released block to the optimizer, once, with "
                "optimizer.add_param_group({'params': ..., 'lr': backbone_lr})."
            )
        if id(p) in held and not math.isclose(held[id(p)], rates[name]):
            where = (
                "the head's rate" if math.isclose(held[id(p)], HEAD_LR) else f"lr {held[id(p)]:g}"
            )
            return (
                f"{name} is in a group at {where}; the backbone's blocks train at "
                f"backbone_lr = {BACKBONE_LR:g} and the head at {HEAD_LR:g}."
            )
    return None


def call_unfreeze(fn: Callable, model: nn.Module, optimizer, epoch: int) -> bool:
    """``fn(model, optimizer, epoch, BACKBONE_LR)``; False after a hint when it did not finish."""
    try:
        fn(model, optimizer, epoch, BACKBONE_LR)
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the "
            "cell again."
        )
        return False
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__} in epoch {epoch}: {error}")
        twice = ("more than one parameter group", "one group only")  # torch's, course_lib's
        if isinstance(error, ValueError) and any(words in str(error) for words in twice):
            print(
                "A block was added to the optimizer twice: add it once, in the epoch it is "
                "released (or check which parameters the optimizer already holds)."
            )
        return False
    return True


def check_unfreezing(answer) -> bool:
    """Exercise 4 (code): ``fn(model, optimizer, epoch, backbone_lr)``, called at the start of
    every epoch, does gradual unfreezing on feature extraction's model and optimizer.

    In epoch :math:`e` the head and the :math:`e` blocks next to it train (block3 from epoch 1,
    block2 from 2, block1 from 3), the other blocks are frozen, and the optimizer holds every
    trainable parameter once: the head at :math:`\\gamma_h`, a released block at
    :math:`\\gamma_b` = ``backbone_lr``. The check calls ``fn`` for epochs 0 to 4 and compares, in
    each, which blocks train with the ``"gradual"`` strategy of :mod:`course_lib.transfer` (its
    :class:`~course_lib.param_groups.GradualUnfreezer`) and each parameter's rate with that
    strategy's groups; a mismatch names the epoch and the likely mistake (from the bottom, all at
    once, one epoch off, not added to the optimizer, added twice, the head's rate).
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function fn(model, optimizer, epoch, backbone_lr), got {answer!r}.")
        return False
    expected, rates = reference_unfreezing()
    model, optimizer = unfreezing_setup()
    for epoch in range(EPOCHS):
        if not call_unfreeze(answer, model, optimizer, epoch):
            return False
        got = block_states(model)
        hint = None if got == expected[epoch] else blocks_mistake(got, expected, epoch)
        hint = hint or optimizer_mistake(model, optimizer, rates)
        if hint is not None:
            print(f"Epoch {epoch}: training {', '.join(trained(got)) or 'nothing'}.")
            print(hint)
            return False
    print(
        f"Correct: in each of epochs 0-{EPOCHS - 1} the same blocks train as with "
        "GradualUnfreezer, and the optimizer holds them at the strategy's rates."
    )
    return True
