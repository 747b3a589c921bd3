"""Self-checks for notebook 12 (beyond one machine: DDP, ZeRO, FSDP, large batches).

Expected values come from the formulas the notebook states; the coding exercise runs the learner's
gradient-combining function on per-rank gradients that autograd computes here, and compares its
result with the gradient of the whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number

__all__ = ["check_combine_gradients", "check_linear_scaling_lr", "check_zero_state_bytes"]


def check_zero_state_bytes(answer, num_params: int = 1_000_000, world_size: int = 4) -> bool:
    """Exercise 1: Adam's state bytes per rank under ZeRO stage 1, an even split, float32.

    Adam keeps :math:`m_t` and :math:`v_t`, 4 bytes each per parameter: :math:`8P` bytes unsharded,
    :math:`8P/N` per rank when the state is split evenly over :math:`N` ranks (the step counters'
    few bytes left out).
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = 8 * num_params / world_size
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: 2 moments x 4 bytes x {num_params:,} / {world_size} = {expected:,.0f} bytes "
            "per rank, against 8 bytes per parameter on every rank without sharding."
        )
        return True
    hints = {
        8 * num_params: "That is the unsharded state, the same on every rank; ZeRO splits it.",
        4 * num_params / world_size: "Adam keeps two moments per parameter (m_t and v_t), not one.",
        16 * num_params / world_size: "Stage 1 shards only the optimizer state, not the gradients.",
    }
    hint = next((h for v, h in hints.items() if math.isclose(value, v, rel_tol=1e-6)), None)
    print(
        hint
        or f"Not quite ({value:g}). Bytes of m_t and v_t for all parameters, over {world_size}."
    )
    return False


def check_linear_scaling_lr(
    answer, lr: float = 0.1, local_batch: int = 32, world_size: int = 8, base_batch: int = 32
) -> bool:
    """Exercise 2: the linear scaling rule's rate for ``world_size`` ranks of ``local_batch`` each.

    The global batch is :math:`B = N b`; Goyal et al.'s rule scales the rate tuned at
    :math:`B_0`: :math:`\\gamma(B) = \\gamma_0 B / B_0`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    batch = local_batch * world_size
    expected = lr * batch / base_batch
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: DDP's global batch is {world_size} x {local_batch} = {batch}, so the rule gives "
            f"{lr:g} x {batch}/{base_batch} = {expected:g} (with a warm-up to reach it)."
        )
        return True
    if math.isclose(value, lr, rel_tol=1e-6):
        print(
            "Each rank's batch is unchanged, but DDP averages the gradients of all ranks: "
            "the step sees the global batch."
        )
    elif math.isclose(value, lr / world_size, rel_tol=1e-6):
        print("The rule scales the rate up with the batch, not down.")
    else:
        print(f"Not quite ({value:g}). Global batch = ranks x local batch, then gamma_0 x B / B_0.")
    return False


def _rank_gradients(sizes: tuple[int, ...], seed: int):
    """Per-rank mean-loss gradients of a linear least-squares model, and the whole batch's one."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(sum(sizes), 5, generator=g, dtype=torch.float64)
    y = torch.randn(sum(sizes), generator=g, dtype=torch.float64)

    def grad(xs, ys):
        return torch.autograd.grad(((xs @ w - ys) ** 2).mean(), w)[0]

    parts = torch.split(torch.arange(sum(sizes)), list(sizes))
    return [grad(x[i], y[i]) for i in parts], grad(x, y)


def _call_learner(fn: Callable, grads: list, sizes: tuple[int, ...]):
    try:
        return fn([g.clone() for g in grads], list(sizes))
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the "
            "cell again."
        )
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__} for sizes {list(sizes)}: {error}")
    return None


def check_combine_gradients(answer, cases=((8, 8), (3, 5, 8), (1, 15))) -> bool:
    """Exercise 3 (code): the global batch's mean-loss gradient from per-rank gradients and sizes.

    Rank :math:`r` holds :math:`n_r` examples and the gradient :math:`g_r` of its *mean* loss; the
    gradient of the mean over all :math:`n = \\sum_r n_r` examples is
    :math:`\\sum_r n_r g_r / n`. DDP's plain average :math:`\\frac1N \\sum_r g_r` is this only when
    every :math:`n_r` is equal.
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function combine(grads, sizes), got {answer!r}.")
        return False
    for i, sizes in enumerate(cases):
        grads, expected = _rank_gradients(tuple(sizes), seed=i)
        got = _call_learner(answer, grads, tuple(sizes))
        if got is None:
            return False
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            print(f"Return one tensor of shape {tuple(expected.shape)}, got {got!r:.80}.")
            return False
        if not torch.allclose(got.double(), expected, rtol=1e-9, atol=1e-12):
            plain = torch.stack(grads).mean(0)
            if torch.allclose(got.double(), plain, rtol=1e-9, atol=1e-12):
                print(
                    f"Sizes {list(sizes)}: that is DDP's plain average over ranks, right only for equal "
                    "batches; weight each rank's gradient by its n_r."
                )
            else:
                print(
                    f"Sizes {list(sizes)}: not the whole batch's gradient. Sum n_r g_r, divide by n."
                )
            return False
    print(
        "Correct: sum_r n_r g_r / n is the gradient of the mean loss over all examples, for equal "
        "and unequal batches alike."
    )
    return True
