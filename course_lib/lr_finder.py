"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; popularised by fastai).

Train for a few steps while the learning rate :math:`\\gamma` (``lr``; notation:
``docs/notation.md``) grows exponentially from ``start_lr`` to ``end_lr``, record the loss, and read
off a good rate from the curve: the loss first barely moves (rate too small), then falls fast (good
rates), then blows up (too large). Afterwards the model, the optimizer
(states and hyperparameters), the gradients and, by default, every RNG are put back exactly as they
were, so ``lr_find`` followed by ``fit`` trains the same as ``fit`` alone.

    >>> from torch import nn
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(256, 5, generator=g); y = (x @ torch.ones(5) > 0).long()
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)
    >>> model = nn.Linear(5, 2)
    >>> result = lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), loader,
    ...                  num_iter=60, progress=False)
    >>> sorted(result.suggestions)
    ['min_over_10', 'steepest', 'valley']
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from course_lib._validation import check_bool, check_int, check_number
from course_lib.training import (
    loader_generators,
    model_device,
    resolve_device,
    rng_state,
    set_rng_state,
    to_device,
    to_float,
    train_step,
)

__all__ = [
    "LRFinderResult",
    "lr_find",
    "readings",
    "steepest_before_minimum",
    "suggest_lrs",
    "sweep_lrs",
    "valley",
]


@dataclass(frozen=True)
class LRFinderResult:
    """What the range test measured.

    Attributes:
        lrs: the reference learning rate of each step (the group whose rate was largest).
        losses: the raw batch loss of each step (computed before that step's update).
        smoothed: the bias-corrected exponential moving average of ``losses``.
        suggestions: ``{"steepest": ..., "min_over_10": ..., "valley": ...}`` (see
            :func:`suggest_lrs`); a value is
            ``None`` when the sweep was too short to tell.
        group_ratios: each group's rate divided by the reference rate (kept during the sweep).
        diverged: the sweep stopped early (smoothed loss above ``diverge_threshold`` x best, or a
            non-finite loss).
        best_loss: the lowest smoothed loss.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float | None]
    group_ratios: list[float]
    diverged: bool
    best_loss: float

    def group_lrs(self, lr: float) -> list[float]:
        """Per-group rates for reference rate ``lr``, keeping the groups' ratios.

        Example:
            >>> r = LRFinderResult([], [], [], {}, [0.1, 1.0], False, math.nan)
            >>> r.group_lrs(0.01)
            [0.001, 0.01]
        """
        check_number("lr", lr, low=0.0)
        return [lr * ratio for ratio in self.group_ratios]


def sweep_lrs(start_lr: float, end_lr: float, num_iter: int) -> list[float]:
    """The exponential sweep :math:`\\gamma_t = \\gamma_0\\,(\\gamma_1/\\gamma_0)^{t/(T-1)}`, t = 0..T-1.

    Equal steps in :math:`\\log \\gamma`, so every decade gets the same number of steps
    (:math:`\\gamma_0` = ``start_lr``, :math:`\\gamma_1` = ``end_lr``, :math:`T` = ``num_iter``).

    Example:
        >>> [round(v, 12) for v in sweep_lrs(1e-3, 1e-1, 3)]
        [0.001, 0.01, 0.1]
    """
    check_number("start_lr", start_lr, low=0.0, low_inclusive=False)
    check_number("end_lr", end_lr, low=float(start_lr), low_inclusive=False)
    check_int("num_iter", num_iter, low=2)
    ratio = float(end_lr) / float(start_lr)
    return [float(start_lr) * ratio ** (t / (num_iter - 1)) for t in range(num_iter)]


def valley(lrs, smoothed) -> float | None:
    """fastai's ``valley`` reading (its default since fastai 2.4): halfway down the longest descent.

    Find the longest strictly decreasing subsequence of the curve, :math:`\\tilde f_{j_1} >
    \\tilde f_{j_2} > \\dots`, ending at index :math:`e` with length :math:`\\ell_e`; the valley
    spans :math:`[e - \\ell_e, e]`, and the reading is the rate at
    :math:`s + \\lfloor w/3 \\rfloor + \\lfloor w/6 \\rfloor` with :math:`s = e - \\ell_e`,
    :math:`w = e - s`, i.e. about halfway along it (the same arithmetic as fastai's
    ``callback/schedule.py``).

    Args:
        lrs, smoothed: the sweep's rates and smoothed losses (already trimmed as wanted).

    Returns:
        The rate, or ``None`` for fewer than 3 points.

    Example:
        >>> lrs = [10 ** (k / 10 - 4) for k in range(40)]
        >>> curve = [1.0 / (1 + 10 ** (k / 10 - 2)) for k in range(30)] + [1.0] * 10
        >>> round(math.log10(valley(lrs, curve)), 1)  # the fall runs from 1e-4 to 10**-1.1
        -2.6
    """
    y = np.asarray(smoothed, dtype=float)
    if len(lrs) != y.size:
        raise ValueError(f"lrs and smoothed must have the same length, got {len(lrs)} and {y.size}")
    if y.size < 3:
        return None
    longest = np.ones(y.size, dtype=int)
    for i in range(1, y.size):
        higher = y[:i] > y[i]
        if higher.any():
            longest[i] = longest[:i][higher].max() + 1
    end = int(np.argmax(longest))  # the first of the longest, as fastai's strict comparison
    start = end - int(longest[end])
    third = (end - start) / 3
    return float(lrs[max(start + int(third) + int(third / 2), 0)])


def steepest_before_minimum(lrs, smoothed, *, skip_start: int = 10) -> float | None:
    """The steepest-descent rate restricted to the sweep up to the smoothed minimum.

    :math:`\\arg\\min_{t \\le t^*} d\\tilde f/d\\log\\gamma` with :math:`t^* = \\arg\\min_t \\tilde f_t`
    (via :func:`suggest_lrs` on the truncated curve, ``skip_end=0``). After the minimum the loss only
    rises or, when a blown-up network settles on a plateau, falls again: a steep fall *there* is not
    a rate to train at. On a curve whose minimum comes after its steepest point this equals the
    ``"steepest"`` suggestion.

    Args:
        lrs, smoothed: the sweep's rates and smoothed losses.
        skip_start: noisy first points to ignore.

    Returns:
        The rate, or ``None`` for fewer than 3 points.

    Example:
        >>> lrs = [10 ** (k / 10 - 4) for k in range(40)]
        >>> curve = [1 / (1 + 10 ** (k / 10 - 2)) + (k > 30) * (k - 30) for k in range(40)]
        >>> round(float(np.log10(steepest_before_minimum(lrs, curve, skip_start=0))), 1)
        -2.0
    """
    check_int("skip_start", skip_start, low=0)
    smoothed = np.asarray(smoothed, dtype=float)
    if smoothed.size < 3:
        return None
    end = int(np.argmin(smoothed)) + 1
    return suggest_lrs(lrs[:end], smoothed[:end], skip_start=skip_start, skip_end=0)["steepest"]


def readings(result: LRFinderResult) -> dict[str, float | None]:
    """Every reading of one range test, by name: the rate at the smoothed minimum and the
    suggestions read from it.

    ``"minimum"`` (:math:`\\gamma_{\\min}`, the lowest smoothed loss: about the largest rate at
    which the loss still falls, Smith & Topin's upper bound for one-cycle), ``"min_over_10"``,
    ``"valley"`` and ``"steepest"`` (fastai's, see :func:`suggest_lrs`) and
    ``"steepest_before_min"`` (:func:`steepest_before_minimum`). ``None`` where the sweep was too
    short.

    Example:
        >>> r = LRFinderResult([1e-3, 1e-2, 1e-1], [2.0, 1.0, 3.0], [2.0, 1.5, 2.0],
        ...                    {"steepest": 1e-2, "min_over_10": 1e-3, "valley": 1e-2}, [1.0], True, 1.5)
        >>> readings(r)["minimum"]
        0.01
    """
    if not result.smoothed:
        lr_min = None
    else:
        lr_min = float(result.lrs[int(np.argmin(result.smoothed))])
    return {
        "minimum": lr_min,
        **result.suggestions,
        "steepest_before_min": steepest_before_minimum(result.lrs, result.smoothed),
    }


def suggest_lrs(
    lrs, smoothed, *, skip_start: int = 10, skip_end: int = 5
) -> dict[str, float | None]:
    """Three readings of a range-test curve, ignoring the first ``skip_start`` and last ``skip_end`` points.

    All three are fastai's (``fastai.callback.schedule``: ``steep``, ``minimum``, ``valley``); Smith's
    own readings are about accuracy and the largest rate at which the loss still falls (see notebook
    08).

    - ``"steepest"``: the rate where the smoothed loss falls fastest per unit of :math:`\\log\\gamma`,
      :math:`\\arg\\min_t\\, d\\tilde f / d\\log\\gamma` (finite differences).
    - ``"min_over_10"``: the rate at the lowest smoothed loss, divided by 10 (fastai's ``minimum``,
      its ``lr_min``): at the minimum the rate is at the edge of instability, one decade lower is
      meant to be safe.
    - ``"valley"``: :func:`valley`, about halfway down the longest descent.

    The first points are noisy warm-up of the moving average, the last ones the blow-up; when fewer
    than 3 points remain after skipping, nothing is skipped. With fewer than 3 points in all, every
    suggestion is ``None``.

    Example:
        >>> lrs = [10 ** (k / 10 - 4) for k in range(40)]
        >>> curve = [1.0 / (1 + 10 ** (k / 10 - 2)) for k in range(40)]  # falls fastest at 1e-2
        >>> s = suggest_lrs(lrs, curve, skip_start=0, skip_end=0)
        >>> round(math.log10(s["steepest"]), 1)
        -2.0
    """
    check_int("skip_start", skip_start, low=0)
    check_int("skip_end", skip_end, low=0)
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    if lrs.shape != smoothed.shape:
        raise ValueError(
            f"lrs and smoothed must have the same length, got {lrs.size} and {smoothed.size}"
        )
    if lrs.size < 3:
        return {"steepest": None, "min_over_10": None, "valley": None}
    lo, hi = skip_start, lrs.size - skip_end
    if hi - lo < 3:
        lo, hi = 0, lrs.size
    x, y = np.log10(lrs[lo:hi]), smoothed[lo:hi]
    slope = np.gradient(y, x)
    return {
        "steepest": float(lrs[lo + int(np.argmin(slope))]),
        "min_over_10": float(lrs[lo + int(np.argmin(y))]) / 10.0,
        "valley": valley(lrs[lo:hi], y),
    }


def _set_lrs(optimizer: torch.optim.Optimizer, lrs: list[float]) -> None:
    for group, lr in zip(optimizer.param_groups, lrs):
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def _check_lr_find_args(
    model, optimizer, start_lr, end_lr, num_iter, beta, diverge_threshold, skip_start, skip_end
) -> list[float]:
    """Check ``lr_find``'s arguments; return the sweep's rates (:func:`sweep_lrs`)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    schedule = sweep_lrs(start_lr, end_lr, num_iter)
    check_number("beta", beta, low=0.0, high=1.0, high_inclusive=False)
    check_number("diverge_threshold", diverge_threshold, low=1.0, low_inclusive=False)
    check_int("skip_start", skip_start, low=0)
    check_int("skip_end", skip_end, low=0)
    return schedule


@contextlib.contextmanager
def _restored(model: nn.Module, optimizer: torch.optim.Optimizer, generators):
    """Restore parameters, buffers, optimizer state, ``.grad``\\ s, train/eval mode and (unless
    ``generators`` is ``None``) the RNG states on exit, also after an exception."""
    saved_rng = None if generators is None else rng_state(generators)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(optimizer.state_dict())
    saved_grads = [
        [None if p.grad is None else p.grad.detach().clone() for p in g["params"]]
        for g in optimizer.param_groups
    ]
    was_training = model.training
    try:
        yield
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        for group, grads in zip(optimizer.param_groups, saved_grads):
            for p, grad in zip(group["params"], grads):
                p.grad = grad
        model.train(was_training)
        if saved_rng is not None:
            set_rng_state(saved_rng, generators)


def _cycle(loader, device: torch.device):
    """The loader's batches on ``device``, restarting the loader whenever it runs out."""
    while True:
        empty = True
        for inputs, targets in loader:
            empty = False
            yield to_device(inputs, device), to_device(targets, device)
        if empty:
            raise ValueError("train_loader yielded no batches")


def _sweep(model, optimizer, batches, schedule, ratios, loss_fn, beta, threshold):
    """The range test's steps (:func:`course_lib.training.train_step` at each rate of ``schedule``)
    with the bias-corrected smoothed loss; returns ``(lrs, losses, smoothed, best, diverged)``."""
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    model.train()
    for t, (lr, (inputs, targets)) in enumerate(zip(schedule, batches)):
        _set_lrs(optimizer, [lr * r for r in ratios])
        step = train_step(model, optimizer, inputs, targets, loss_fn=loss_fn)
        if not step.finite:
            return lrs, losses, smoothed, best, True
        avg = beta * avg + (1 - beta) * step.loss
        smooth = avg / (1 - beta ** (t + 1))
        lrs.append(lr)
        losses.append(step.loss)
        smoothed.append(smooth)
        best = min(best, smooth)
        if smooth > threshold * best:
            return lrs, losses, smoothed, best, True
    return lrs, losses, smoothed, best, False


def lr_find(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    *,
    loss_fn: Callable = F.cross_entropy,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    beta: float = 0.98,
    diverge_threshold: float = 4.0,
    skip_start: int = 10,
    skip_end: int = 5,
    device=None,
    restore_rng: bool = True,
    progress: bool = True,
) -> LRFinderResult:
    """Run the LR range test and restore model and optimizer afterwards.

    Step :math:`t` uses :math:`\\gamma_t = \\gamma_0 (\\gamma_1/\\gamma_0)^{t/(T-1)}` (:func:`sweep_lrs`).
    Every group keeps its ratio to the group with the largest current rate: group ``g`` gets
    :math:`r_g\\,\\gamma_t` with :math:`r_g = \\gamma_g / \\max_h \\gamma_h` (all 1 if every rate is 0), so
    layer-wise rates stay layer-wise; ``lrs`` and the suggestions are the reference group's rate and
    :meth:`LRFinderResult.group_lrs` converts back. The loss is smoothed with bias correction,
    :math:`a_t = \\beta a_{t-1} + (1-\\beta) f_t` (:math:`f_t` the batch loss),
    :math:`\\tilde f_t = a_t / (1-\\beta^{t+1})`, and the
    sweep stops early when :math:`\\tilde f_t > \\text{diverge\\_threshold} \\cdot \\min_{s\\le t}
    \\tilde f_s` or a loss is not finite (that loss is not recorded). The loader is restarted when it
    runs out before ``num_iter`` steps.

    Afterwards the parameters and buffers (deep-copied ``state_dict``), the optimizer's
    ``state_dict`` (state and hyperparameters), every ``.grad`` and the train/eval mode are restored,
    also if the sweep diverged or raised; with ``restore_rng`` the RNG states too (torch, NumPy,
    Python and the loader's generators), so a following ``fit`` is unaffected.

    Args:
        model, optimizer, train_loader, loss_fn: as for ``fit``.
        start_lr, end_lr: the sweep's range (0 < start_lr < end_lr).
        num_iter: steps of the sweep (>= 2).
        beta: smoothing factor in [0, 1).
        diverge_threshold: stop when the smoothed loss exceeds this multiple of the best (> 1).
        skip_start, skip_end: points ignored by the suggestions (:func:`suggest_lrs`).
        device: where batches go; ``None`` for the model's device (the model is never moved).
        restore_rng: also restore the RNG states.
        progress: show a ``tqdm`` bar.

    Returns:
        An :class:`LRFinderResult`.
    """
    schedule = _check_lr_find_args(
        model, optimizer, start_lr, end_lr, num_iter, beta, diverge_threshold, skip_start, skip_end
    )
    check_bool("restore_rng", restore_rng)
    check_bool("progress", progress)
    device = model_device(model) if device is None else resolve_device(device)
    current = [to_float(g["lr"]) for g in optimizer.param_groups]
    top = max(current)
    ratios = [lr / top for lr in current] if top > 0 else [1.0] * len(current)
    gens = loader_generators(train_loader)
    with _restored(model, optimizer, gens if restore_rng else None):
        schedule = tqdm(schedule, disable=not progress, desc="lr_find", unit="step")
        batches = _cycle(train_loader, device)
        sweep = _sweep(
            model, optimizer, batches, schedule, ratios, loss_fn, beta, diverge_threshold
        )
    lrs, losses, smoothed, best, diverged = sweep
    return LRFinderResult(
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        suggestions=suggest_lrs(lrs, smoothed, skip_start=skip_start, skip_end=skip_end),
        group_ratios=ratios,
        diverged=diverged,
        best_loss=best,
    )
