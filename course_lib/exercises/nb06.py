"""Self-checks for notebook 06 (parameter groups).

Expected values are computed with ``course_lib.param_groups`` and torch, not stored. The coding
exercise (:func:`check_layerwise_groups`) runs the learner's group function on
:func:`exercise_model` and compares the optimizer it builds with
``course_lib.param_groups.layerwise_lr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import nn

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.exercises._answers import read_numbers as _read_numbers
from course_lib.param_groups import discriminative_lrs, layerwise_lr, no_decay_groups

__all__ = [
    "EXERCISE_BLOCKS",
    "check_group_lr_after_cosine",
    "check_layerwise_groups",
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


#: The blocks of :func:`exercise_model`, input -> head: each Linear with the LayerNorm after it.
EXERCISE_BLOCKS = (("0", "1"), ("3", "4"), "6")

_LAYERWISE_CASES = ((1e-2, 0.5), (0.1, 0.8))  # (lr, decay): the exercise's, then other numbers


def _normalised_groups(groups) -> list[dict] | None:
    """The learner's groups as new dicts whose ``params`` are lists; None after a hint."""
    try:
        items = list(groups)
    except TypeError:
        print(f"Return a list of group dicts, got {type(groups).__name__}.")
        return None
    if items and all(isinstance(x, torch.Tensor) for x in items):
        return [{"params": items}]  # a plain list of parameters: one group, as torch reads it
    out = []
    for i, group in enumerate(items):
        if not isinstance(group, Mapping) or "params" not in group:
            print(
                f"Return a list of dicts, each with a 'params' list and an 'lr'; item {i} is "
                f"{type(group).__name__}."
            )
            return None
        params = group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        out.append({**group, "params": params})
    return out


def _duplicated(groups: list[dict], model: nn.Module) -> bool:
    """True (after naming it) when a parameter of ``model`` is in two groups or twice in one."""
    names = {id(p): n for n, p in model.named_parameters()}
    seen: dict[int, int] = {}
    for i, group in enumerate(groups):
        for p in group["params"]:
            if id(p) in seen:
                where = (
                    f"in groups {seen[id(p)]} and {i}"
                    if seen[id(p)] != i
                    else f"twice in group {i}"
                )
                print(
                    f"Parameter {names.get(id(p), '(not in the model)')} is {where}: torch "
                    "refuses a parameter in two groups (ValueError: some parameters appear in more "
                    "than one parameter group) and warns about one listed twice. Put every "
                    "parameter in exactly one group."
                )
                return True
            seen[id(p)] = i
    return False


def _learner_rates(fn: Callable, lr: float, decay: float) -> dict[str, float] | None:
    """Parameter name -> lr in ``torch.optim.SGD(fn(model, lr, decay), lr=lr)``; None after a hint.

    Only the parameters of the fresh :func:`exercise_model` passed to ``fn`` are named.
    """
    model = exercise_model()
    try:
        raw = fn(model, lr, decay)
    except NotImplementedError:
        print(
            "Write the body of layerwise_groups (replace `raise NotImplementedError`) and run the "
            "cell again."
        )
        return None
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__}: {error}")
        return None
    groups = _normalised_groups(raw)
    if groups is None or _duplicated(groups, model):
        return None
    try:
        opt = torch.optim.SGD(groups, lr=lr)
    except (TypeError, ValueError) as error:
        print(f"torch.optim.SGD refused your groups: {type(error).__name__}: {error}")
        return None
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: g["lr"] for g in opt.param_groups for p in g["params"] if id(p) in names}


def _blocks_from_top() -> dict[str, int]:
    """Parameter name -> k, the position of its block counted from the head (the head is k = 0)."""
    model, n = exercise_model(), len(EXERCISE_BLOCKS)
    out = {}
    for i, block in enumerate(EXERCISE_BLOCKS):
        for prefix in block if isinstance(block, tuple) else (block,):
            for name, _ in model.get_submodule(prefix).named_parameters(prefix=prefix):
                out[name] = n - 1 - i
    return out


_HINTS = {
    "reversed": "Decay applied from the bottom: the input block has the full lr. Count k from the "
    "TOP: the head (k = 0) gets lr, the block below it lr * decay, the input block lr * decay**2.",
    "head": "The head is not at the full rate: block k from the top gets lr * decay**k, and "
    "decay**0 = 1, so the head gets lr itself.",
    "lr**k": "The power applies to decay only: lr * decay**k, not lr**k.",
    "(lr*decay)**k": "The power applies to decay only: lr * decay**k, not (lr * decay)**k.",
    "no lr": "decay**k alone: multiply it by lr, the head's rate.",
    "per layer": "Every layer with parameters is a block of its own here: a LayerNorm belongs to "
    "the block of the Linear layer before it (three blocks: 0 and 1, 3 and 4, the head 6).",
}


def _mistaken_rates(lr: float, decay: float, k: int, layer: int) -> dict[str, float]:
    """Hint key -> the rate that mistake gives a parameter of block ``k`` (of layer ``layer``).

    ``k`` and ``layer`` count from the head: ``layer`` numbers the modules with parameters.
    """
    return {
        "reversed": lr * decay ** (len(EXERCISE_BLOCKS) - 1 - k),
        "head": lr * decay ** (k + 1),
        "lr**k": lr**k,
        "(lr*decay)**k": (lr * decay) ** k,
        "no lr": decay**k,
        "per layer": lr * decay**layer,
    }


def _layerwise_hint(got: dict[str, float], lr: float, decay: float) -> str:
    """What the rates ``got`` (every parameter present) most likely got wrong."""
    k_of = _blocks_from_top()
    layers = sorted({name.rpartition(".")[0] for name in k_of}, key=int, reverse=True)
    mistaken = {
        name: _mistaken_rates(lr, decay, k, layers.index(name.rpartition(".")[0]))
        for name, k in k_of.items()
    }
    for key, hint in _HINTS.items():
        if all(math.isclose(got[n], mistaken[n][key], rel_tol=1e-9) for n in k_of):
            return hint
    if len(set(got.values())) == 1:
        return (
            f"Every parameter has lr {next(iter(got.values())):g}: give each block its own group."
        )
    name, k = next((n, k) for n, k in k_of.items() if not math.isclose(got[n], lr * decay**k))
    return (
        f"Parameter {name} (block k = {k} from the top) has lr {got[name]:g}; it should get "
        f"lr * decay**k = {lr * decay**k:g}."
    )


def _reference_rates(lr: float, decay: float) -> dict[str, float]:
    """Parameter name -> lr of ``layerwise_lr(exercise_model(), EXERCISE_BLOCKS, lr, decay=decay)``.

    The reference the coding check compares with.
    """
    model = exercise_model()
    names = {id(p): n for n, p in model.named_parameters()}
    groups = layerwise_lr(model, EXERCISE_BLOCKS, lr=lr, decay=decay)
    return {names[id(p)]: g["lr"] for g in groups for p in g["params"]}


def _case_rates(fn: Callable, lr: float, decay: float, first) -> dict[str, float] | None:
    """The reference's rates when ``fn`` gives them for ``(lr, decay)``; None after a hint.

    ``first`` holds the rates of the first case once it passed (to spot fixed numbers), else None.
    """
    got, want = _learner_rates(fn, lr, decay), _reference_rates(lr, decay)
    if got is None:
        return None
    missing = [n for n in want if n not in got]
    if missing:
        print(
            f"{len(missing)} parameter(s) in no group: {', '.join(missing)}. The optimizer "
            "would never train them: put every trainable parameter in exactly one group."
        )
        return None
    if all(math.isclose(got[n], want[n], rel_tol=1e-9) for n in want):
        return want
    if first is None:
        print(_layerwise_hint(got, lr, decay))
    elif all(math.isclose(got[n], first[n], rel_tol=1e-9) for n in want):
        print(
            f"Right for lr={_LAYERWISE_CASES[0][0]:g}, decay={_LAYERWISE_CASES[0][1]:g}, but with "
            f"lr={lr:g}, decay={decay:g} your function gives the same rates: use its arguments lr "
            "and decay instead of fixed numbers."
        )
    else:
        print(f"With lr={lr:g}, decay={decay:g} (a second test): {_layerwise_hint(got, lr, decay)}")
    return None


def check_layerwise_groups(fn) -> bool:
    """Exercise 5 (code): ``layerwise_groups(model, lr, decay)``, block k from the head at lr·ξ^k.

    With :math:`\\gamma` (``lr``) and :math:`\\xi` (``decay``), block :math:`k` counted from the
    head gets :math:`\\gamma_k = \\gamma\\,\\xi^{k}` (the head :math:`\\gamma`); a block of
    :func:`exercise_model` is a Linear layer with the LayerNorm after it (:data:`EXERCISE_BLOCKS`).
    The check calls ``fn(exercise_model(), lr, decay)`` for the exercise's numbers and a second
    pair,
    builds ``torch.optim.SGD(groups, lr=lr)`` and compares every parameter's lr with
    ``layerwise_lr(model, EXERCISE_BLOCKS, lr=lr, decay=decay)``; it names a missing or duplicated
    parameter and the likely mistake.
    """
    if _missing(fn):
        return False
    if not callable(fn):
        print(f"Answer with a function layerwise_groups(model, lr, decay), got {fn!r}.")
        return False
    first = None
    for lr, decay in _LAYERWISE_CASES:
        first = _case_rates(fn, lr, decay, first)
        if first is None:
            return False
    rates = sorted(set(_reference_rates(*_LAYERWISE_CASES[0]).values()))
    print(
        f"Correct: the blocks get lr {[f'{r:g}' for r in rates]} from the input to the head, and "
        "every parameter is in exactly one group, as layerwise_lr(model, blocks, lr, decay=decay) "
        "gives (also checked with other lr and decay)."
    )
    return True
