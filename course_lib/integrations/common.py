r"""The framework-free pieces the Lightning and Optuna bridges share: scheduler factories, loaders.

:func:`make_scheduler` turns a schedule's name into a picklable ``(optimizer, total_steps) ->
scheduler`` factory for :class:`~course_lib.integrations.lightning.CourseLitModule`;
:func:`tensor_loader` is a ``DataLoader`` over in-memory tensors that indexes a whole batch at once.
Neither imports Lightning.

    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> type(make_scheduler("onecycle")(opt, 10)).__name__
    'OneCycleLR'
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler

from course_lib import schedulers as lr_scheduler
from course_lib._validation import check_choice, check_int

__all__ = ["SCHEDULER_NAMES", "is_plateau", "make_scheduler", "tensor_loader"]


#: The schedules :func:`make_scheduler` knows (``"constant"`` means no scheduler).
SCHEDULER_NAMES = ("constant", "cosine", "onecycle", "warmup_cosine", "plateau")


def _cosine(optimizer, total_steps: int, final_fraction: float = 0.0):
    base = min(g["lr"] for g in optimizer.param_groups)
    return lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=total_steps, eta_min=final_fraction * base
    )


def _onecycle(optimizer, total_steps: int, pct_start: float = 0.3):
    max_lr = [g["lr"] for g in optimizer.param_groups]
    return lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start
    )


def _warmup_cosine(optimizer, total_steps: int, warmup_fraction: float = 0.1):
    warmup = max(1, round(warmup_fraction * total_steps))
    if warmup >= total_steps:
        raise ValueError(
            f"warmup_fraction={warmup_fraction} leaves no cosine steps for total_steps={total_steps}"
        )
    return lr_scheduler.SequentialLR(
        optimizer,
        [
            lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, total_iters=warmup),
            lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup),
        ],
        milestones=[warmup],
    )


def _plateau(
    optimizer,
    total_steps: int,
    factor: float = 0.5,
    patience: int = 2,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
):
    del total_steps  # a plateau scheduler reacts to the metric, not to a horizon
    return lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
    )


_BUILDERS: dict[str, Callable] = {
    "cosine": _cosine,
    "onecycle": _onecycle,
    "warmup_cosine": _warmup_cosine,
    "plateau": _plateau,
}


def make_scheduler(name: str, **kwargs) -> Callable | None:
    r"""A picklable ``(optimizer, total_steps) -> scheduler`` factory for ``CourseLitModule``.

    ``total_steps`` is :math:`T`, the number of scheduler steps of the whole run (optimizer steps for
    ``interval="step"``, epochs for ``"epoch"``). Each group keeps its own base rate :math:`\gamma_0`.

    ================  ===================================================================================
    name              scheduler (``course_lib.schedulers``, torch's names and arguments)
    ================  ===================================================================================
    ``constant``      none: ``None`` is returned
    ``cosine``        ``CosineAnnealingLR(T_max=T, eta_min=final_fraction * min lr)``
    ``onecycle``      ``OneCycleLR(max_lr=each group's lr, total_steps=T, pct_start)`` (cycles momentum)
    ``warmup_cosine`` ``LinearLR`` over ``warmup_fraction * T`` steps, then ``CosineAnnealingLR``
    ``plateau``       ``ReduceLROnPlateau(mode="min", factor, patience, threshold, threshold_mode)``
                      (torch's defaults): needs ``interval="epoch"`` and a monitor
    ================  ===================================================================================

    Args:
        name: one of :data:`SCHEDULER_NAMES`.
        **kwargs: the options of that row (``final_fraction``, ``pct_start``, ``warmup_fraction``,
            ``factor``, ``patience``, ``threshold``, ``threshold_mode``).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> type(make_scheduler("cosine")(opt, 100)).__name__
        'CosineAnnealingLR'
    """
    check_choice("name", name, SCHEDULER_NAMES)
    if name == "constant":
        if kwargs:
            raise TypeError(f"make_scheduler('constant') takes no options, got {sorted(kwargs)}")
        return None
    return functools.partial(_BUILDERS[name], **kwargs)


def is_plateau(scheduler) -> bool:
    """Whether ``scheduler`` reacts to a metric (torch's or course_lib's ``ReduceLROnPlateau``).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> is_plateau(make_scheduler("plateau")(opt, 10)), is_plateau(make_scheduler("cosine")(opt, 10))
        (True, False)
    """
    # course_lib.schedulers.ReduceLROnPlateau subclasses torch's
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def tensor_loader(x, y, batch_size: int | None = None, seed: int | None = None) -> DataLoader:
    """A ``DataLoader`` over in-memory tensors that indexes a whole batch at once.

    A plain ``DataLoader(TensorDataset(x, y), batch_size)`` indexes and collates example by example,
    which costs more than the small MLP's training step; here a ``BatchSampler`` hands the dataset a
    list of indices per batch. With ``seed`` the order is shuffled by the loader's own seeded
    ``torch.Generator`` (each epoch a new order, the same sequence of orders for the same seed);
    without it the batches are in order (for evaluation).

    Args:
        x, y: tensors with the same first dimension.
        batch_size: examples per batch (>= 1); default 100 with a ``seed``, 1000 without.
        seed: shuffling seed, or ``None`` for ordered batches of 1000.

    Example:
        >>> loader = tensor_loader(torch.arange(10.0), torch.arange(10), batch_size=4, seed=0)
        >>> [len(xb) for xb, yb in loader]
        [4, 4, 2]
    """
    dataset = torch.utils.data.TensorDataset(x, y)
    sampler: Sampler[int]
    if seed is None:
        sampler = SequentialSampler(dataset)
        batch_size = 1000 if batch_size is None else batch_size
    else:
        check_int("seed", seed, low=0)
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
        batch_size = 100 if batch_size is None else batch_size
    check_int("batch_size", batch_size, low=1)
    batches = BatchSampler(sampler, batch_size, drop_last=False)
    return DataLoader(dataset, batch_size=None, sampler=batches)
