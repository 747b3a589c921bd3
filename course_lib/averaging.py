r"""Weight averaging from scratch: the EMA and SWA of a model's weights, SWALR, batch-norm statistics.

The names, arguments, defaults and state of ``torch.optim.swa_utils`` (torch 2.13), written to be
read; ``tests/test_averaging.py`` checks each against torch's on the same model and data.

**Why average.** Late in training, SGD's iterates :math:`\theta_t` bounce around a minimum with a
spread set by the learning rate and the gradient noise. Their average sits nearer the centre of the
basin than any single iterate (Polyak & Juditsky 1992), and in deep networks it lands in a wider,
flatter region that generalises better (Izmailov et al. 2018, "Averaging Weights Leads to Wider
Optima and Better Generalization"). The average is kept in a second copy of the model,
:class:`AveragedModel`; the optimizer never sees it.

**The two averages** (:math:`\bar\theta` the averaged weights, :math:`n` the models averaged so far,
``n_averaged``; the first update copies, :math:`\bar\theta = \theta`):

- SWA, the equal-weight mean of the snapshots (:func:`get_swa_multi_avg_fn`, the default):

  .. math:: \bar\theta \leftarrow \bar\theta + \frac{\theta - \bar\theta}{n + 1},
            \qquad\text{so after } k \text{ updates}\quad \bar\theta = \frac1k \sum_{i=1}^{k} \theta_i .

- EMA, the exponential moving average with decay :math:`\beta` (:func:`get_ema_multi_avg_fn`):

  .. math:: \bar\theta_t = \beta\,\bar\theta_{t-1} + (1 - \beta)\,\theta_t,

  which weights the snapshot :math:`i` steps back by :math:`(1-\beta)\beta^{i}`: a window of about
  :math:`1/(1-\beta)` updates (1000 for the default 0.999), so it forgets the early iterates.

**Batch norm after averaging.** A batch-norm layer keeps running estimates of its inputs' mean and
variance, gathered while the weights moved (with ``momentum=0.1``, mostly from the last hundred or so
batches of the last weights). The averaged weights :math:`\bar\theta` are a different network: the
layers before a batch norm produce other activations under :math:`\bar\theta` (a non-linear network's
activations at the mean weights are not the mean of its activations), so the stored statistics do
not fit and the averaged model's evaluation-mode outputs are off. :func:`update_bn` measures them
anew with one pass of training data through :math:`\bar\theta`. ``use_buffers=True`` instead averages
the buffers like the weights, which is cheaper and only approximately right.

**SWALR** moves each group's rate from where it is to a constant ``swa_lr`` over ``anneal_epochs``
steps (cosine or linear), then holds it: SWA samples the basin at a constant, fairly large rate.

    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Linear(2, 1)
    >>> swa = AveragedModel(model)
    >>> for value in (1.0, 2.0, 6.0):
    ...     with torch.no_grad():
    ...         _ = model.bias.fill_(value)
    ...     swa.update_parameters(model)
    >>> swa.module.bias.item(), int(swa.n_averaged)
    (3.0, 3)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from course_lib._validation import check_bool, check_callable, check_choice, check_int, check_number
from course_lib.schedulers import per_group_values

__all__ = [
    "SWALR",
    "AveragedModel",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]

#: the batch-norm layers :func:`update_bn` resets and re-measures (torch's public classes)
BATCH_NORMS = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
    nn.SyncBatchNorm,
)


def _check_decay(decay) -> float:
    return float(check_number("decay", decay, low=0.0, high=1.0))


# --------------------------------------------------------------------------------------------------
# averaging functions
# --------------------------------------------------------------------------------------------------


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[list, list, Any], None]:
    r"""The EMA update of many tensors in place: :math:`\bar\theta \leftarrow \beta\bar\theta + (1-\beta)\theta`.

    Args:
        decay: :math:`\beta` in [0, 1] (0: copy the model; 1: keep the first snapshot).

    Returns:
        ``ema_update(averaged, current, n_averaged)``: lists of tensors; floating-point ones move by
        :math:`\bar\theta + (1-\beta)(\theta - \bar\theta)` (``lerp``), integer ones (a batch norm's
        ``num_batches_tracked``) get :math:`\beta\bar\theta + (1-\beta)\theta` rounded toward zero.

        >>> avg, cur = [torch.zeros(2)], [torch.ones(2)]
        >>> get_ema_multi_avg_fn(0.75)(avg, cur, 1)
        >>> avg[0]
        tensor([0.2500, 0.2500])
    """
    decay = _check_decay(decay)

    @torch.no_grad()
    def ema_update(averaged: list, current: list, n_averaged) -> None:
        for avg, cur in zip(averaged, current, strict=True):
            if avg.is_floating_point() or avg.is_complex():
                avg.lerp_(cur, 1 - decay)
            else:
                avg.copy_(avg * decay + cur * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[list, list, Any], None]:
    r"""The SWA update of many tensors in place: :math:`\bar\theta \leftarrow \bar\theta + (\theta - \bar\theta)/(n+1)`.

    Returns:
        ``swa_update(averaged, current, n_averaged)``: lists of tensors, :math:`n` = ``n_averaged``
        (an int or a 0-d tensor). Floating-point tensors move by ``lerp`` with weight
        :math:`1/(n+1)`; integer ones (a batch norm's ``num_batches_tracked``) get the formula
        rounded toward zero, as the default average does (torch's raises there).

        >>> avg, cur = [torch.zeros(2)], [torch.full((2,), 3.0)]
        >>> get_swa_multi_avg_fn()(avg, cur, 2)
        >>> avg[0]
        tensor([1., 1.])
    """

    @torch.no_grad()
    def swa_update(averaged: list, current: list, n_averaged) -> None:
        weight = 1 / (n_averaged + 1)
        for avg, cur in zip(averaged, current, strict=True):
            if avg.is_floating_point() or avg.is_complex():
                avg.lerp_(cur, weight)
            else:
                avg.copy_(avg + (cur - avg) / (n_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    r"""The EMA of one tensor, as a new tensor: :math:`\beta\bar\theta + (1-\beta)\theta`.

    For ``AveragedModel(avg_fn=...)``, which copies the result into the average.

        >>> get_ema_avg_fn(0.5)(torch.tensor(2.0), torch.tensor(4.0), 1)
        tensor(3.)
    """
    decay = _check_decay(decay)

    @torch.no_grad()
    def ema_update(averaged: Tensor, current: Tensor, n_averaged) -> Tensor:
        return decay * averaged + (1 - decay) * current

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    r"""The SWA of one tensor, as a new tensor: :math:`\bar\theta + (\theta - \bar\theta)/(n+1)`.

    >>> get_swa_avg_fn()(torch.tensor(2.0), torch.tensor(5.0), 2)
    tensor(3.)
    """

    @torch.no_grad()
    def swa_update(averaged: Tensor, current: Tensor, n_averaged) -> Tensor:
        return averaged + (current - averaged) / (n_averaged + 1)

    return swa_update


# --------------------------------------------------------------------------------------------------
# the averaged model
# --------------------------------------------------------------------------------------------------


def _check_module(name: str, module) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    return module


class AveragedModel(nn.Module):
    r"""A copy of a model that holds the running average of its weights (SWA by default, or EMA).

    ``update_parameters(model)`` folds the model's current weights in: the first call copies them,
    later calls apply the averaging function with :math:`n` = ``n_averaged`` (see the module
    docstring for the two averages). Call the averaged model like the model (``forward`` is the
    copy's). With ``use_buffers=False`` the buffers (a batch norm's running statistics) are copied
    from the model at each update, not averaged; then run :func:`update_bn` before evaluating.

    Args:
        model: the model to average; it is deep-copied (``module``), the model itself is untouched.
        device: if given, the copy and ``n_averaged`` live there.
        avg_fn: ``avg_fn(averaged, current, n_averaged) -> Tensor`` for one tensor (e.g.
            :func:`get_ema_avg_fn`); its result is copied into the average.
        multi_avg_fn: ``multi_avg_fn(averaged, current, n_averaged)`` updating lists of tensors in
            place, called once per (device, dtype) group (e.g. :func:`get_ema_multi_avg_fn`).
            At most one of ``avg_fn`` and ``multi_avg_fn``; neither: SWA.
        use_buffers: average the buffers too (parameters and buffers in one list, as torch does).

    State: ``n_averaged`` (a long 0-d buffer) and the copy's parameters and buffers under
    ``module.``, so ``state_dict()`` loads into torch's ``AveragedModel`` and back. The averaging
    functions are not saved (as in torch).

        >>> swa = AveragedModel(torch.nn.Linear(3, 1), multi_avg_fn=get_ema_multi_avg_fn(0.9))
        >>> sorted(swa.state_dict())
        ['module.bias', 'module.weight', 'n_averaged']
    """

    n_averaged: Tensor

    def __init__(
        self,
        model: nn.Module,
        device: int | str | torch.device | None = None,
        avg_fn: Callable[[Tensor, Tensor, Any], Tensor] | None = None,
        multi_avg_fn: Callable[[list, list, Any], None] | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        _check_module("model", model)
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError(
                "give at most one of avg_fn (one tensor at a time) and multi_avg_fn (lists of "
                "tensors), got both"
            )
        if avg_fn is not None:
            check_callable("avg_fn", avg_fn, "an averaging function")
        if multi_avg_fn is not None:
            check_callable("multi_avg_fn", multi_avg_fn, "an averaging function")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = check_bool("use_buffers", use_buffers)

    def forward(self, *args, **kwargs):
        """The averaged copy's forward."""
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, module: nn.Module) -> list[Tensor]:
        tensors: list[Tensor] = list(module.parameters())
        return tensors + list(module.buffers()) if self.use_buffers else tensors

    def _pairs(self, model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
        """The average's tensors and the model's, detached, each model tensor on its partner's device."""
        ours, theirs = self._averaged_tensors(self.module), self._averaged_tensors(model)
        what = "parameters and buffers" if self.use_buffers else "parameters"
        if len(ours) != len(theirs):
            raise ValueError(
                f"update_parameters: model has {len(theirs)} {what}, the averaged model "
                f"{len(ours)}: pass the model this AveragedModel was built from"
            )
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if a.shape != b.shape:
                raise ValueError(
                    f"update_parameters: {what} #{i} has shape {tuple(b.shape)} in model and "
                    f"{tuple(a.shape)} in the averaged model"
                )
        return [a.detach() for a in ours], [b.detach().to(a.device) for a, b in zip(ours, theirs)]

    def _average(self, averaged: list[Tensor], current: list[Tensor]) -> None:
        """One averaging step with ``n = n_averaged >= 1``."""
        if self.multi_avg_fn is not None:
            groups: dict[tuple, tuple[list[Tensor], list[Tensor]]] = {}
            for a, b in zip(averaged, current):
                group = groups.setdefault((a.device, a.dtype), ([], []))
                group[0].append(a)
                group[1].append(b)
            for (device, _), (avgs, curs) in groups.items():
                self.multi_avg_fn(avgs, curs, self.n_averaged.to(device))
            return
        avg_fn = self.avg_fn if self.avg_fn is not None else get_swa_avg_fn()
        for a, b in zip(averaged, current):
            a.copy_(avg_fn(a, b, self.n_averaged.to(a.device)))

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        r"""Fold ``model``'s weights into the average (the first call copies them); ``n_averaged += 1``."""
        _check_module("model", model)
        averaged, current = self._pairs(model)
        if int(self.n_averaged) == 0:
            for a, b in zip(averaged, current):
                a.copy_(b)
        else:
            self._average(averaged, current)
        if not self.use_buffers:
            ours, theirs = list(self.module.buffers()), list(model.buffers())
            if len(ours) != len(theirs):
                raise ValueError(
                    f"update_parameters: model has {len(theirs)} buffers, the averaged model "
                    f"{len(ours)}"
                )
            for a, b in zip(ours, theirs):
                a.detach().copy_(b.detach().to(a.device))
        self.n_averaged += 1


# --------------------------------------------------------------------------------------------------
# batch-norm statistics
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def update_bn(
    loader: Iterable, model: nn.Module, device: int | str | torch.device | None = None
) -> None:
    r"""Recompute every batch norm's running mean and variance for the model's current weights.

    Each batch-norm layer (:data:`BATCH_NORMS`) is reset (mean 0, variance 1, no batches) and set
    to ``momentum=None``, which makes its running statistics the cumulative average over the
    batches seen: after :math:`k` batches with batch means :math:`\mu_b` and unbiased batch
    variances :math:`\sigma^2_b`,

    .. math:: \text{running\_mean} = \frac1k \sum_{b=1}^{k} \mu_b, \qquad
              \text{running\_var} = \frac1k \sum_{b=1}^{k} \sigma^2_b .

    Then one pass of ``loader`` through the model in training mode, and each layer's momentum and
    the model's training flag are put back. Gradients are off. Without a batch norm the loader is
    not read.

    Args:
        loader: an iterable of batches; a batch is a tensor, or a list/tuple whose first element
            is the input (the rest, e.g. the labels, is ignored).
        model: the model (an :class:`AveragedModel` too).
        device: if given, each input is moved there first.

        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.BatchNorm1d(1))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(1.0), net[0].bias.fill_(0.0)
        >>> update_bn([torch.tensor([[0.0], [2.0]]), torch.tensor([[4.0], [6.0]])], net)
        >>> net[1].running_mean, net[1].running_var, net.training
        (tensor([3.]), tensor([2.]), True)
    """
    _check_module("model", model)
    if not isinstance(loader, Iterable):
        raise TypeError(f"loader must be an iterable of batches, got {type(loader).__name__}")
    momenta = {m: m.momentum for m in model.modules() if isinstance(m, BATCH_NORMS)}
    if not momenta:
        return
    for layer in momenta:
        layer.reset_running_stats()
        layer.momentum = None
    was_training = model.training
    model.train()
    for batch in loader:
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        model(inputs.to(device) if device is not None else inputs)
    for layer, momentum in momenta.items():
        layer.momentum = momentum
    model.train(was_training)


# --------------------------------------------------------------------------------------------------
# SWALR
# --------------------------------------------------------------------------------------------------


def _anneal_cos(x: float) -> float:
    return (1 - math.cos(math.pi * x)) / 2


def _anneal_linear(x: float) -> float:
    return x


_ANNEALS = {"cos": _anneal_cos, "linear": _anneal_linear}


class SWALR(LRScheduler):
    r"""Anneal each group's learning rate to a constant ``swa_lr``, then hold it (for SWA).

    With :math:`A` = ``anneal_epochs``, :math:`s` the scheduler steps taken, and the anneal weight
    :math:`\alpha_s = a(\min(1, \max(0, s/A)))`, :math:`a(x) = \tfrac12(1 - \cos\pi x)` (``"cos"``)
    or :math:`a(x) = x` (``"linear"``),

    .. math:: \gamma_s = (1 - \alpha_s)\,\gamma_{start} + \alpha_s\,\gamma_{swa},

    so :math:`\gamma_0 = \gamma_{start}` and :math:`\gamma_s = \gamma_{swa}` from :math:`s = A` on
    (with :math:`A = 0`, at once). As in torch, :math:`\gamma_{start}` is not stored: each step
    reads the group's current rate and inverts the previous step,
    :math:`\gamma_{start} = (\gamma_{s-1} - \alpha_{s-1}\gamma_{swa}) / (1 - \alpha_{s-1})`. So the
    anneal starts from whatever rate the group holds when this scheduler first steps (often the
    end of another schedule, stepped until then), and a rate written by hand between steps moves
    the start.

    Args:
        optimizer: the optimizer.
        swa_lr: :math:`\gamma_{swa} > 0`, one number or one per group (stored as ``group["swa_lr"]``).
        anneal_epochs: :math:`A`, an integer ``>= 0``.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        last_epoch: the last step taken (``-1`` to start).

    ``state_dict()`` has torch's keys (``anneal_epochs``, ``_anneal_strategy``, the counters), so it
    loads into torch's ``SWALR`` and back.

        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = SWALR(opt, swa_lr=0.5, anneal_epochs=2, anneal_strategy="linear")
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(opt.param_groups[0]["lr"])
        ...     opt.step()
        ...     sched.step()
        >>> lrs
        [1.0, 0.75, 0.5, 0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr,
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        swa_lrs = per_group_values("swa_lr", swa_lr, optimizer, low=0.0, low_inclusive=False)
        check_choice("anneal_strategy", anneal_strategy, tuple(_ANNEALS))
        self.anneal_epochs = check_int("anneal_epochs", anneal_epochs, low=0)
        check_int("last_epoch", last_epoch, low=-1)
        self._anneal_strategy = anneal_strategy
        for group, value in zip(optimizer.param_groups, swa_lrs):
            group["swa_lr"] = value
        super().__init__(optimizer, last_epoch)

    @property
    def anneal_strategy(self) -> str:
        """``"cos"`` or ``"linear"``."""
        return self._anneal_strategy

    def _alpha(self, s: int) -> float:
        """:math:`\\alpha_s`, the weight of ``swa_lr`` after ``s`` steps."""
        x = max(0, min(1, s / max(1, self.anneal_epochs)))
        return _ANNEALS[self._anneal_strategy](x)

    def get_lr(self) -> list:  # list[float]; torch's annotation is list[float | Tensor]
        """The rate of every group after this step (called by ``step()``; read ``get_last_lr()``)."""
        s = self._step_count - 1  # torch's counter: steps taken, 0 at construction
        if self.anneal_epochs == 0:
            s = max(1, s)
        before, now = self._alpha(s - 1), self._alpha(s)
        rates = []
        for group in self.optimizer.param_groups:
            lr, swa_lr = group["lr"], group["swa_lr"]
            start = swa_lr if before == 1 else (lr - before * swa_lr) / (1 - before)
            rates.append(swa_lr * now + start * (1 - now))
        return rates
