r"""torch-compatible schedulers built on the pure schedules of ``course_lib.schedules``.

Same class names and signatures as ``torch.optim.lr_scheduler`` (torch 2.13): :class:`LambdaLR`,
:class:`MultiplicativeLR`, :class:`StepLR`, :class:`MultiStepLR`, :class:`ConstantLR`,
:class:`LinearLR`, :class:`ExponentialLR`, :class:`PolynomialLR`, :class:`CosineAnnealingLR`,
:class:`CosineAnnealingWarmRestarts`, :class:`CyclicLR`, :class:`OneCycleLR`, :class:`SequentialLR`,
:class:`ChainedScheduler`, :class:`ReduceLROnPlateau`; plus :class:`HyperparameterScheduler`, which
drives any hyperparameter (``lr``, ``momentum``, ``beta1``/``beta2``, ``weight_decay``, ...) of any
group from pure schedules.

Each class subclasses ``torch.optim.lr_scheduler.LRScheduler`` (and :class:`ReduceLROnPlateau`
subclasses torch's ``ReduceLROnPlateau``), so torch utilities and Lightning accept them, with torch's
optimizers and with ``course_lib.optim``'s. Use them as in torch: ``optimizer.step()`` then
``scheduler.step()``; the constructor writes the value of step 0 into the groups.

**A scheduler is a thin adapter.** At construction it turns its arguments and each group's base
learning rate :math:`\gamma` (``group["initial_lr"]``, as in torch) into one pure schedule per group;
``step()`` advances ``last_epoch`` (= the step :math:`t`) and writes :math:`\gamma_t = \gamma\,s(t)` into
``group["lr"]``. The value at :math:`t` is a closed form of :math:`t` (``scheduler.lr_schedules()``
returns those schedules, to plot them), not torch's recursive "chainable" update of the current lr.
(Symbols as in ``docs/notation.md``: :math:`\gamma` the base lr, :math:`s(t)` the schedule's
multiplier, :math:`q` the decay factor that torch calls ``gamma``, :math:`T` the steps of a run.)
Standalone, the numbers are torch's: every group's ``lr``, ``get_last_lr()``, and the momentum or
``beta1`` that CyclicLR and OneCycleLR cycle agree to 1e-12 relative at every step
(``tests/test_schedulers_parity.py``). Measured: the largest gap between torch's recursion and the
closed form in that grid is 4.4e-14 relative (CosineAnnealingLR with ``eta_min > 0``, 100 steps,
past ``T_max``: rounding that accumulates in the recursion), so no class needed torch's recursion.

``state_dict()`` holds plain numbers, strings and lists only, so ``torch.load(weights_only=True)``
reads it back; the schedules themselves are rebuilt from the constructor's arguments. To resume:
build the optimizer and the scheduler as before, load the optimizer's state, then the scheduler's.

**Groups added after the scheduler** (``optimizer.add_param_group``, a known torch pitfall): the
torch-named schedulers here raise ``RuntimeError`` at the next ``step()``, naming both counts,
instead of guessing a schedule for the new group (torch's recursive classes silently start
scaling the new group's lr mid-schedule; others fail with a ``zip()`` error). Build the scheduler
after the last ``add_param_group``, or use :class:`HyperparameterScheduler`, which schedules a group
added later with its shared ``schedules`` from the next step on. :class:`ReduceLROnPlateau` keeps
torch's behaviour (it scales whatever lrs the groups hold; a scalar ``min_lr`` extends to new groups).

Deliberate differences from torch (each one tested; all of course_lib's are in one table in
``docs/differences.md``):

1. Stricter validation, at construction, with ``ValueError``/``TypeError`` naming the argument, the
   value and the valid range, where torch accepts silently or fails later (often with
   ``ZeroDivisionError``): ``step_size``, ``T_max``, ``T_0``, ``total_iters``, ``total_steps`` must be
   integers >= 1; ``T_mult`` an integer >= 1; ``gamma`` > 0; ConstantLR ``factor`` in (0, 1];
   LinearLR ``start_factor`` in (0, 1], ``end_factor`` in [0, 1]; ReduceLROnPlateau ``factor`` in
   (0, 1), ``patience``/``cooldown`` integers >= 0, ``threshold``/``eps``/``min_lr`` >= 0; CyclicLR
   step sizes > 0; OneCycleLR ``pct_start`` in (0, 1) with ``pct_start * total_steps > 1`` (and a
   last phase of positive length with ``three_phase``), ``div_factor``/``final_div_factor`` > 0;
   momenta in [0, 1]; ``last_epoch`` an integer >= -1; unknown modes and anneal strategies;
   milestones: integers >= 0 (SequentialLR: >= 1), strictly increasing. MultiStepLR therefore
   rejects a repeated milestone (torch multiplies by ``gamma`` twice there).
2. ``add_param_group`` after construction: ``RuntimeError`` at the next step (see above).
3. Closed forms: a value written by hand into ``group["lr"]`` between steps is overwritten by the
   next step (torch's recursive classes would continue from it). Constructing with
   ``last_epoch >= 0`` writes the closed-form value of step ``last_epoch + 1`` (torch's recursive
   classes keep the group's current lr there).
4. :class:`ChainedScheduler` multiplies the factors of its schedulers,
   :math:`\gamma_t = \gamma \prod_k f_k(t)`, and accepts only schedulers that are such factors:
   StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, MultiplicativeLR and
   CosineAnnealingLR with ``eta_min=0``. Others raise ``TypeError``/``ValueError`` (in torch a
   LambdaLR, CyclicLR, OneCycleLR or CosineAnnealingWarmRestarts in a chain overwrites what came
   before it, and the result depends on the order). Past ``T_max`` a chained CosineAnnealingLR
   differs: torch's recursion adds back the un-scaled base lr at ``T_max + 1``; here the product holds.
5. :class:`SequentialLR` and :class:`ChainedScheduler` take ``course_lib`` schedulers only
   (``TypeError`` for torch's, whose recursive values cannot be evaluated at a given step); a
   :class:`SequentialLR` child may be a :class:`ChainedScheduler` (torch accepts one but raises
   ``NotImplementedError`` at the milestone that switches to it; here the chain runs on its own
   clock). Ours inside torch's ``SequentialLR`` work; inside torch's ``ChainedScheduler`` the last
   one wins, because each writes absolute values.
6. :class:`OneCycleLR` at ``last_epoch == total_steps`` (the ``scheduler.step()`` after the last
   batch, whose value no update uses) holds the final value; torch extrapolates the last phase there
   (with ``anneal_strategy="linear"`` and the default factors, to a NEGATIVE lr). One more step raises
   ``ValueError`` naming ``total_steps``, as torch does.
7. :class:`CosineAnnealingWarmRestarts` ``.step(epoch)`` finds the cycle with an exact integer loop;
   torch uses a floating-point logarithm that puts some restarts one cycle early (``T_0=1,
   T_mult=10, epoch=111``: torch gives ``eta_min``, the restart value is the base lr). A ``T_cur``
   written by hand is continued from as in torch; a ``T_i`` written by hand must be one of the
   cycle lengths ``T_0 * T_mult**k`` (``ValueError`` at the next step; torch takes any).
8. ``state_dict()`` holds no callables or Counters (``weights_only=True`` loading works);
   MultiStepLR keeps ``milestones`` as a sorted list. LambdaLR, MultiplicativeLR and CyclicLR save
   the ``__dict__`` of callable objects (not of functions), as torch does.

    >>> import torch
    >>> from course_lib.schedulers import CosineAnnealingLR
    >>> w = torch.zeros(2, requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> sched = CosineAnnealingLR(opt, T_max=10)
    >>> for _ in range(5):
    ...     opt.step()
    ...     sched.step()
    >>> round(opt.param_groups[0]["lr"], 6)
    0.05
"""

from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Literal, cast

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau as _TorchReduceLROnPlateau

from course_lib._validation import (
    check_bool,
    check_choice,
    check_increasing_ints,
    check_int,
    check_name,
    check_number,
)
from course_lib.schedules import (
    Constant,
    Cosine,
    CosineWarmRestarts,
    Cyclic,
    Exponential,
    Join,
    Linear,
    MultiStepDecay,
    OneCycle,
    Polynomial,
    Product,
    Scaled,
    StepDecay,
    one_cycle,
)

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "HyperparameterScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "by_name",
]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _check_optimizer(optimizer) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "optimizer must be a torch.optim.Optimizer (course_lib.optim's optimizers are), "
            f"got {type(optimizer).__name__}"
        )
    return optimizer


def per_group_values(name: str, value, optimizer: Optimizer, **range_kwargs) -> list[float]:
    """One float per param group: a scalar is repeated, a list/tuple must have one per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must be a number or a list with one value per param group ({n}), "
                f"got {len(value)} values: {list(value)!r}"
            )
        return [float(check_number(f"{name}[{i}]", v, **range_kwargs)) for i, v in enumerate(value)]
    return [float(check_number(name, value, **range_kwargs))] * n


def _group_values(optimizer: Optimizer, key: str) -> list:
    """``group[key]`` of every group, tensors cloned (never aliased)."""
    return [g[key].clone() if torch.is_tensor(g[key]) else g[key] for g in optimizer.param_groups]


def _set_hyper(group: dict, key: str, value: float) -> None:
    """Write one hyperparameter; ``beta1``/``beta2`` write into the ``betas`` tuple."""
    if key in ("beta1", "beta2"):
        betas = group["betas"]
        group["betas"] = (value, *betas[1:]) if key == "beta1" else (betas[0], value, *betas[2:])
    elif torch.is_tensor(group[key]):
        group[key].fill_(value)
    else:
        group[key] = value


def _callable_state(fns) -> list:
    """torch's convention: save the ``__dict__`` of callable objects, ``None`` for functions."""
    return [
        None if isinstance(fn, types.FunctionType) else dict(getattr(fn, "__dict__", {}))
        for fn in fns
    ]


class _CycledMomentum:
    """What CyclicLR and OneCycleLR share: the momentum (or ``beta1``) cycled against the lr.

    The attributes are torch's (``cycle_momentum``, ``use_beta1``, ``base_momentums``,
    ``max_momentums``); they are set only when ``cycle_momentum`` is on, as in torch.
    """

    cycle_momentum: bool
    use_beta1: bool
    base_momentums: list[float]
    max_momentums: list[float]
    _momentum_key: str

    def _setup_momentum(
        self, optimizer: Optimizer, owner: str, cycle_momentum, base_momentum, max_momentum
    ) -> None:
        """Check ``cycle_momentum`` and, when it is on, set the key and per-group bounds."""
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self._momentum_key = _momentum_key(optimizer, owner)
            self.use_beta1 = self._momentum_key == "beta1"
            self.base_momentums = per_group_values(
                "base_momentum", base_momentum, optimizer, low=0.0, high=1.0
            )
            self.max_momentums = per_group_values(
                "max_momentum", max_momentum, optimizer, low=0.0, high=1.0
            )

    def _start_momentum(self, group: dict, i: int) -> None:
        """At construction (``last_epoch == -1``): group ``i`` starts at its ``max_momentum``."""
        if self.cycle_momentum:
            _set_hyper(group, self._momentum_key, self.max_momentums[i])
            group["max_momentum"] = self.max_momentums[i]
            group["base_momentum"] = self.base_momentums[i]


def _momentum_key(optimizer: Optimizer, owner: str) -> str:
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{owner}: cycle_momentum=True needs an optimizer with 'momentum' or 'betas' in its "
            f"defaults, {type(optimizer).__name__} has neither; pass cycle_momentum=False"
        )
    return "beta1" if "betas" in optimizer.defaults else "momentum"


class _RunningProduct:
    r""":math:`\prod_{k=1}^{t} m(k)` (1 at :math:`t = 0`) for MultiplicativeLR, :math:`m` = ``lr_lambda``.

    Computed in torch's order, one factor at a time. The last result is cached so stepping forward
    costs one call of :math:`m`; any other step recomputes from :math:`t = 0`. The cache only
    saves time: the value is the same either way (for a pure :math:`m`).
    """

    def __init__(self, fn: Callable[[int], float]):
        self.fn = fn
        self._t, self._value = 0, 1.0

    def __call__(self, t: int) -> float:
        if t < self._t:
            self._t, self._value = 0, 1.0
        while self._t < t:
            self._t += 1
            self._value = self._value * self.fn(self._t)
        return self._value


# --------------------------------------------------------------------------------------------------
# the adapter base class
# --------------------------------------------------------------------------------------------------


class _ClosedFormScheduler(LRScheduler):
    """An ``LRScheduler`` whose value at step ``t`` is a pure schedule per group.

    Subclasses set their arguments as attributes, then call ``super().__init__``, and define
    ``_lr_schedule(i, base)`` (or ``_factor_schedule(i)`` when chainable) and optionally
    ``_extra_schedules(i)`` (e.g. ``{"momentum": ...}``). Schedules are built lazily from
    ``base_lrs`` and rebuilt when ``base_lrs`` or the loaded state changes.
    """

    #: the value is base_lr times a factor of the step (can go in a ChainedScheduler)
    _chainable = False
    #: attributes not saved in state_dict (rebuilt from the constructor's arguments)
    _unsaved: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        check_int("last_epoch", last_epoch, low=-1)
        self._built: tuple | None = None
        super().__init__(optimizer, last_epoch)

    # --- what subclasses define ----------------------------------------------------------------
    def _factor_schedule(self, i: int) -> Callable:  # pragma: no cover - abstract
        raise NotImplementedError

    def _lr_schedule(self, i: int, base: float) -> Callable:
        return Scaled(self._factor_schedule(i), base)

    def _extra_schedules(self, i: int) -> dict[str, Callable]:
        return {}

    def _base_values(self) -> list[float]:
        return [float(b) for b in self.base_lrs]

    def _chain_problem(self) -> str | None:
        """Why this scheduler cannot go in a ChainedScheduler (None when it can)."""
        if self._chainable:
            return None
        return (
            f"{type(self).__name__} sets absolute values, so it cannot be chained (torch lets it "
            "overwrite the schedulers before it); use SequentialLR, or HyperparameterScheduler "
            "with a course_lib.schedules schedule"
        )

    # --- machinery -----------------------------------------------------------------------------
    def _schedules(self) -> tuple[list, list, list | None]:
        bases = tuple(self._base_values())
        if self._built is None or self._built[0] != bases:
            n = len(bases)
            lrs = [self._lr_schedule(i, b) for i, b in enumerate(bases)]
            extras = [self._extra_schedules(i) for i in range(n)]
            factors = [self._factor_schedule(i) for i in range(n)] if self._chainable else None
            self._built = (bases, (lrs, extras, factors))
        return self._built[1]

    def _check_groups(self) -> None:
        n_now, n_built = len(self.optimizer.param_groups), len(self.base_lrs)
        if n_now != n_built:
            raise RuntimeError(
                f"{type(self).__name__} was built for {n_built} param group(s) but the optimizer now "
                f"has {n_now}: a group was added (add_param_group) after the scheduler was built. "
                "course_lib schedulers do not guess a schedule for it: build the scheduler after the "
                "last add_param_group, or use course_lib.schedulers.HyperparameterScheduler, which "
                "schedules groups added later"
            )

    def _values_at(self, t) -> list[float]:
        """The lr of every group at step ``t``; writes the extra hyperparameters (momentum)."""
        self._check_groups()
        lrs, extras, _ = self._schedules()
        for group, extra in zip(self.optimizer.param_groups, extras):
            for key, schedule in extra.items():
                _set_hyper(group, key, schedule(t))
        return [schedule(t) for schedule in lrs]

    def _factors_at(self, t) -> list[float]:
        """The factor :math:`f(t)` of every group (chainable schedulers only)."""
        self._check_groups()
        factors = self._schedules()[2]
        if factors is None:
            raise TypeError(
                f"{type(self).__name__} is not a factor schedule: {self._chain_problem()}"
            )
        return [f(t) for f in factors]

    def get_lr(self) -> list:  # list[float]; torch's annotation is list[float | Tensor]
        """The closed-form lr of every group at ``last_epoch`` (no warning, no hidden state)."""
        return self._values_at(self.last_epoch)

    def _get_closed_form_lr(self) -> list[float]:
        # torch's step(epoch) and SequentialLR use this name; ours is closed-form already
        return self.get_lr()

    def lr_schedules(self) -> list[Callable]:
        """The pure lr schedule of every group (``course_lib.schedules`` objects): plot or call them."""
        return list(self._schedules()[0])

    def state_dict(self) -> dict:
        """Counters and arguments as plain values (loadable with ``torch.load(weights_only=True)``)."""
        skip = {"optimizer", "_built", *self._unsaved}
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the counters (and arguments) saved by :meth:`state_dict`."""
        skip = {"optimizer", "_built", *self._unsaved}
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in skip})
        self._built = None


# --------------------------------------------------------------------------------------------------
# torch's schedulers, closed-form
# --------------------------------------------------------------------------------------------------


class _FunctionScheduler(_ClosedFormScheduler):
    """LambdaLR and MultiplicativeLR: one user function per group, saved as torch saves them."""

    _unsaved = ("lr_lambdas",)

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        n = len(optimizer.param_groups)
        many = isinstance(lr_lambda, (list, tuple))
        if many and len(lr_lambda) != n:
            raise ValueError(
                f"lr_lambda must be a callable or a list with one per param group ({n}), "
                f"got {len(lr_lambda)}"
            )
        fns = list(lr_lambda) if many else [lr_lambda] * n
        for i, fn in enumerate(fns):
            if not callable(fn):
                name = f"lr_lambda[{i}]" if many else "lr_lambda"
                raise TypeError(f"{name} must be callable (step -> factor), got {fn!r}")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["lr_lambdas"] = _callable_state(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, state_dict.get("lr_lambdas", [])):
            if saved is not None:
                fn.__dict__.update(saved)


class LambdaLR(_FunctionScheduler):
    r"""Base lr times a function of the step: :math:`\gamma_t = \gamma\,s(t)`, :math:`s` = ``lr_lambda``.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        lr_lambda: a callable ``step -> factor``, or a list with one per param group.
        last_epoch: the last step taken (``-1`` to start).

        >>> import functools, torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = LambdaLR(opt, functools.partial(pow, 0.5))
        >>> opt.step(); sched.step(); round(opt.param_groups[0]["lr"], 6)
        0.05
    """

    def _lr_schedule(self, i, base):
        return Scaled(self.lr_lambdas[i], base)


class MultiplicativeLR(_FunctionScheduler):
    r"""Multiply the lr by :math:`m(t)` = ``lr_lambda(t)`` at every step from :math:`t = 1`.

    .. math:: \gamma_t = \gamma \prod_{k=1}^{t} m(k) \qquad (\gamma_0 = \gamma)

    The product is recomputed from the step (one new factor per ``step()``, cached), so it does
    not read the group's current lr.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        lr_lambda: a callable ``step -> factor``, or a list with one per param group.
        last_epoch: the last step taken (``-1`` to start).

        >>> import functools, torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = MultiplicativeLR(opt, functools.partial(min, 0.5))
        >>> for _ in range(3):
        ...     opt.step()
        ...     sched.step()
        >>> opt.param_groups[0]["lr"]
        0.125
    """

    _chainable = True

    def _factor_schedule(self, i):
        return _RunningProduct(self.lr_lambdas[i])


class StepLR(_ClosedFormScheduler):
    r"""Multiply the lr by :math:`q` every ``step_size`` steps: :math:`\gamma\,q^{\lfloor t/\text{step\_size}\rfloor}`.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        step_size: an integer >= 1.
        gamma: the decay factor :math:`q > 0`.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = check_int("step_size", step_size, low=1)
        self.gamma = check_number("gamma", gamma, low=0.0, low_inclusive=False)
        super().__init__(optimizer, last_epoch)

    def _factor_schedule(self, i):
        return StepDecay(1.0, self.step_size, self.gamma)


class MultiStepLR(_ClosedFormScheduler):
    r"""Multiply the lr by :math:`q` at each milestone: :math:`\gamma\,q^{\#\{i: m_i \le t\}}`.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        milestones: strictly increasing integers >= 0.
        gamma: the decay factor :math:`q > 0`.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(
        self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.milestones = list(check_increasing_ints("milestones", milestones, low=0))
        self.gamma = check_number("gamma", gamma, low=0.0, low_inclusive=False)
        super().__init__(optimizer, last_epoch)

    def _factor_schedule(self, i):
        return MultiStepDecay(1.0, tuple(self.milestones), self.gamma)


class ConstantLR(_ClosedFormScheduler):
    r"""The lr times ``factor`` for the first ``total_iters`` steps, then the base lr.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        factor: in (0, 1].
        total_iters: an integer >= 1.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.factor = check_number("factor", factor, low=0.0, high=1.0, low_inclusive=False)
        self.total_iters = check_int("total_iters", total_iters, low=1)
        super().__init__(optimizer, last_epoch)

    def _factor_schedule(self, i):
        return Join((Constant(self.factor), Constant(1.0)), (self.total_iters,))


class LinearLR(_ClosedFormScheduler):
    r"""The factor goes linearly from ``start_factor`` to ``end_factor`` in ``total_iters`` steps.

    .. math:: \gamma_t = \gamma\left(f_s + (f_e - f_s)\frac{\min(t, \text{total\_iters})}{\text{total\_iters}}\right)

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        start_factor: :math:`f_s` in (0, 1].
        end_factor: :math:`f_e` in [0, 1].
        total_iters: an integer >= 1.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.start_factor = check_number(
            "start_factor", start_factor, low=0.0, high=1.0, low_inclusive=False
        )
        self.end_factor = check_number("end_factor", end_factor, low=0.0, high=1.0)
        self.total_iters = check_int("total_iters", total_iters, low=1)
        super().__init__(optimizer, last_epoch)

    def _factor_schedule(self, i):
        return Linear(self.start_factor, self.end_factor, self.total_iters)


class ExponentialLR(_ClosedFormScheduler):
    r"""Multiply the lr by :math:`q` every step: :math:`\gamma\,q^{t}`.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        gamma: the decay factor :math:`q > 0`.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_number("gamma", gamma, low=0.0, low_inclusive=False)
        super().__init__(optimizer, last_epoch)

    def _factor_schedule(self, i):
        return Exponential(1.0, self.gamma)


class PolynomialLR(_ClosedFormScheduler):
    r"""Polynomial decay to 0 in ``total_iters`` steps: :math:`\gamma(1 - \min(t,n)/n)^{\text{power}}`, :math:`n` = ``total_iters``.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        total_iters: an integer >= 1.
        power: an exponent >= 0.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(
        self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1
    ) -> None:
        self.total_iters = check_int("total_iters", total_iters, low=1)
        self.power = check_number("power", power, low=0.0)
        super().__init__(optimizer, last_epoch)

    def _factor_schedule(self, i):
        return Polynomial(1.0, self.total_iters, self.power)


class CosineAnnealingLR(_ClosedFormScheduler):
    r"""Cosine from the base lr to ``eta_min`` in ``T_max`` steps (then back up, period ``2 * T_max``).

    .. math:: \gamma_t = \gamma_{\min} + \tfrac12(\gamma - \gamma_{\min})\left(1 + \cos\frac{\pi t}{\text{T\_max}}\right)

    torch computes this recursively from the current lr; the closed form gives the same numbers
    standalone (to about 1e-13 relative, measured) and keeps going past ``T_max`` the way torch's
    recursion does. To hold ``eta_min`` after ``T_max`` use ``course_lib.schedules.Cosine``.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        T_max: an integer >= 1.
        eta_min: :math:`\gamma_{\min} \ge 0`.
        last_epoch: the last step taken (``-1`` to start).
    """

    _chainable = True

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = check_int("T_max", T_max, low=1)
        self.eta_min = check_number("eta_min", eta_min, low=0.0)
        super().__init__(optimizer, last_epoch)

    def _lr_schedule(self, i, base):
        return Cosine(base, self.T_max, float(self.eta_min), periodic=True)

    def _factor_schedule(self, i):
        return Cosine(1.0, self.T_max, 0.0, periodic=True)

    def _chain_problem(self):
        if self.eta_min != 0:
            return (
                f"CosineAnnealingLR with eta_min={self.eta_min!r} is not a factor of the base lr "
                "(torch's chained result depends on the order of the schedulers), so it cannot be "
                "chained; use eta_min=0 in a chain, or a joined schedule in HyperparameterScheduler"
            )
        return None


class CosineAnnealingWarmRestarts(_ClosedFormScheduler):
    r"""Cosine annealing with warm restarts (SGDR): cycles of ``T_0``, ``T_0 * T_mult``, ... steps.

    .. math:: \gamma_t = \gamma_{\min} + \tfrac12(\gamma - \gamma_{\min})\left(1 + \cos\frac{\pi\,\text{T\_cur}}{\text{T\_i}}\right)

    ``T_cur`` and ``T_i`` are kept as attributes, as in torch; writing ``T_cur`` by hand makes the
    next ``step()`` continue from it, as in torch (the closed form is then evaluated ``T_cur``
    minus the old ``T_cur`` steps later or earlier). ``step(epoch)`` accepts a real epoch
    (``scheduler.step(epoch + i / iters)`` inside an epoch); the step after it continues from there.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        T_0: length of the first cycle, an integer >= 1.
        T_mult: growth of the cycle length, an integer >= 1.
        eta_min: :math:`\gamma_{\min} \ge 0`.
        last_epoch: the last step taken (``-1`` to start).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.T_0 = check_int("T_0", T_0, low=1)
        self.T_mult = check_int("T_mult", T_mult, low=1)
        self.eta_min = check_number("eta_min", eta_min, low=0.0)
        self.T_i = self.T_0
        self.T_cur = last_epoch
        self._t = None  # the real-valued step when step(epoch) was given a fraction
        self._shift = 0  # steps skipped or repeated by writing T_cur by hand (see step)
        self._written: tuple | None = None  # (T_cur, T_i) as the last step wrote them
        super().__init__(optimizer, last_epoch)

    def _lr_schedule(self, i, base):
        return CosineWarmRestarts(base, self.T_0, self.T_mult, float(self.eta_min))

    def _current_t(self):
        if self._t is not None and math.floor(self._t) == self.last_epoch:
            return self._t
        return self.last_epoch

    def _values_at(self, t):
        t = t + self._shift if t >= 0 else t
        values = super()._values_at(t)
        if t >= 0:
            _, start, self.T_i = CosineWarmRestarts(1.0, self.T_0, self.T_mult).cycle(t)
            self.T_cur = t - start
            self._written = (self.T_cur, self.T_i)
        return values

    def get_lr(self):
        return self._values_at(self._current_t())

    def _adopt_written_t_cur(self) -> None:
        """If ``T_cur`` was written by hand, shift the clock so the next step continues from it.

        As in torch, the next ``step()`` then takes ``T_cur + 1`` in the current cycle (restarting
        when it reaches ``T_i``). ``T_cur`` must be a number >= 0; ``T_i`` may be written too if it is
        one of the cycle lengths ``T_0 * T_mult**k``.
        """
        if self._written is None or (self.T_cur, self.T_i) == self._written:
            return
        check_number("T_cur", self.T_cur, low=0.0)
        now = self._current_t() + self._shift
        start = now - self._written[0]  # the start of the current cycle
        if self.T_i != self._written[1]:
            start, length = 0, self.T_0
            while length < self.T_i and self.T_mult > 1:
                start, length = start + length, length * self.T_mult
            if length != self.T_i:
                raise ValueError(
                    f"T_i must be one of the cycle lengths T_0 * T_mult**k = {self.T_0} * "
                    f"{self.T_mult}**k, got {self.T_i!r}"
                )
        self._shift = start + self.T_cur - self._current_t()

    def step(self, epoch=None) -> None:
        """Advance one step, or jump to ``epoch`` (a real number >= 0, e.g. ``epoch + i / iters``)."""
        if epoch is None:
            self._adopt_written_t_cur()
            self._t = self._current_t() + 1
            super().step()
            return
        check_number("epoch", epoch, low=0.0)
        self._step_count += 1
        self._t, self._shift = epoch, 0
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self._values_at(epoch), strict=True):
            _set_hyper(group, "lr", lr)
        self._last_lr = _group_values(self.optimizer, "lr")


class CyclicLR(_CycledMomentum, _ClosedFormScheduler):
    r"""Cyclical learning rate (Smith 2017) between ``base_lr`` and ``max_lr``; momentum the other way.

    The lr follows ``course_lib.schedules.Cyclic(base_lr, max_lr, ...)`` (the maths is there); with
    ``cycle_momentum`` the momentum (or ``beta1`` of Adam-like optimizers) follows
    ``Cyclic(max_momentum, base_momentum, ...)``: high when the lr is low. As in torch, the
    constructor sets every group's ``lr`` to ``base_lr`` and its momentum to ``max_momentum``,
    and for the built-in modes ``scale_mode`` is fixed by the mode.

    Args:
        optimizer: the optimizer.
        base_lr, max_lr: numbers >= 0, or lists with one per param group.
        step_size_up: steps going up (> 0). step_size_down: steps going down (default: up).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the factor :math:`q > 0` of ``exp_range``.
        scale_fn: custom amplitude scale (then ``mode`` is ignored); scale_mode: what it receives,
            ``"cycle"`` or ``"iterations"``.
        cycle_momentum: cycle ``momentum``/``beta1`` too.
        base_momentum, max_momentum: in [0, 1], or lists with one per param group.
        last_epoch: the last step taken (``-1`` to start).
    """

    _unsaved = ("_scale_fn_custom",)

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr,
        max_lr,
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        base_lrs = per_group_values("base_lr", base_lr, optimizer, low=0.0)
        self.max_lrs = per_group_values("max_lr", max_lr, optimizer, low=0.0)
        up = float(check_number("step_size_up", step_size_up, low=0.0, low_inclusive=False))
        if step_size_down is not None:
            check_number("step_size_down", step_size_down, low=0.0, low_inclusive=False)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode = check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
        self.gamma = check_number("gamma", gamma, low=0.0, low_inclusive=False)
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"scale_fn must be callable or None, got {scale_fn!r}")
        self._scale_fn_custom = scale_fn
        self.scale_mode = check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        if scale_fn is None:  # torch fixes the scale mode of the built-in modes
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self._step_size_up, self._step_size_down = up, down
        self._setup_momentum(optimizer, "CyclicLR", cycle_momentum, base_momentum, max_momentum)
        if last_epoch == -1:
            for i, group in enumerate(optimizer.param_groups):
                _set_hyper(group, "lr", base_lrs[i])
                self._start_momentum(group, i)
        self._cyclic_base_lrs = base_lrs
        super().__init__(optimizer, last_epoch)
        self.base_lrs = list(base_lrs)

    def _base_values(self):
        return list(self._cyclic_base_lrs)

    def _cyclic(self, base, peak):
        custom = self._scale_fn_custom
        return Cyclic(
            base,
            peak,
            self._step_size_up,
            self._step_size_down,
            self.mode,
            self.gamma,
            custom,
            self.scale_mode if custom is not None else None,
        )

    def _lr_schedule(self, i, base):
        return self._cyclic(base, self.max_lrs[i])

    def _extra_schedules(self, i):
        if not self.cycle_momentum:
            return {}
        return {self._momentum_key: self._cyclic(self.max_momentums[i], self.base_momentums[i])}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["_scale_fn_custom"] = (
            None if self._scale_fn_custom is None else _callable_state([self._scale_fn_custom])[0]
        )
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        saved = state_dict.get("_scale_fn_custom")
        if saved is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(saved)


class OneCycleLR(_CycledMomentum, _ClosedFormScheduler):
    r"""The 1cycle policy: lr up from ``max_lr / div_factor`` to ``max_lr``, then down to a tiny value.

    The lr of group :math:`i` follows ``course_lib.schedules.one_cycle(max_lr[i], total_steps, ...)``
    (the maths is in :class:`course_lib.schedules.OneCycle`); with ``cycle_momentum`` the momentum
    (or ``beta1``) follows ``OneCycle(max_momentum, base_momentum, max_momentum, ...)``. Step it
    once per batch. The schedule covers steps ``0 .. total_steps``; the value at ``total_steps``
    (after the last batch) is the final one, and stepping past it raises ``ValueError``.

    Args:
        optimizer: the optimizer.
        max_lr: > 0, or a list with one per param group.
        total_steps: an integer >= 2; or give ``epochs`` and ``steps_per_epoch`` (integers >= 1).
        pct_start: fraction of the steps going up, in (0, 1), with ``pct_start * total_steps > 1``.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle ``momentum``/``beta1`` too.
        base_momentum, max_momentum: in [0, 1], or lists with one per param group.
        div_factor: initial lr = ``max_lr / div_factor`` (> 0).
        final_div_factor: final lr = initial lr / ``final_div_factor`` (> 0).
        three_phase: go back down to the initial lr before annihilating (the paper's schedule).
        last_epoch: the last step taken (``-1`` to start).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps, low=1)
        elif epochs is not None and steps_per_epoch is not None:
            check_int("epochs", epochs, low=1)
            check_int("steps_per_epoch", steps_per_epoch, low=1)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(
                "OneCycleLR needs total_steps, or both epochs and steps_per_epoch, got "
                f"total_steps={total_steps!r}, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}"
            )
        self.max_lrs = per_group_values("max_lr", max_lr, optimizer, low=0.0, low_inclusive=False)
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.div_factor = check_number("div_factor", div_factor, low=0.0, low_inclusive=False)
        self.final_div_factor = check_number(
            "final_div_factor", final_div_factor, low=0.0, low_inclusive=False
        )
        self.three_phase = check_bool("three_phase", three_phase)
        # the pure schedule checks total_steps, pct_start, anneal_strategy and the phase lengths
        self._cycle(1.0, 0.5, 0.0)
        self._setup_momentum(optimizer, "OneCycleLR", cycle_momentum, base_momentum, max_momentum)
        if last_epoch == -1:
            for i, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = self.max_lrs[i] / div_factor
                group["max_lr"] = self.max_lrs[i]
                group["min_lr"] = group["initial_lr"] / final_div_factor
                self._start_momentum(group, i)
        super().__init__(optimizer, last_epoch)

    def _cycle(self, start, peak, end):
        return OneCycle(
            start,
            peak,
            end,
            self.total_steps,
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
        )

    def _base_values(self):
        return list(self.max_lrs)

    def _lr_schedule(self, i, base):
        return one_cycle(
            self.max_lrs[i],
            self.total_steps,
            self.pct_start,
            self.anneal_strategy,
            self.div_factor,
            self.final_div_factor,
            self.three_phase,
        )

    def _extra_schedules(self, i):
        if not self.cycle_momentum:
            return {}
        high, low = self.max_momentums[i], self.base_momentums[i]
        return {self._momentum_key: self._cycle(high, low, high)}

    def _values_at(self, t):
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR was stepped {t} times but total_steps={self.total_steps}: the schedule "
                f"covers steps 0..{self.total_steps}. Give total_steps (or epochs * "
                "steps_per_epoch) equal to the number of optimizer steps, and step once per batch"
            )
        return super()._values_at(t)


# --------------------------------------------------------------------------------------------------
# combining schedulers
# --------------------------------------------------------------------------------------------------


def _check_sub_schedulers(owner: str, optimizer, schedulers) -> list:
    if not isinstance(schedulers, (list, tuple)) or not schedulers:
        raise ValueError(
            f"{owner}: schedulers must be a non-empty list of schedulers, got {schedulers!r}"
        )
    for i, s in enumerate(schedulers):
        if isinstance(s, _TorchReduceLROnPlateau):
            raise ValueError(
                f"{owner}: schedulers[{i}] is a ReduceLROnPlateau, which needs a metric in step() "
                "and cannot be combined"
            )
        allowed = (_ClosedFormScheduler, ChainedScheduler) if owner == "SequentialLR" else ()
        if not isinstance(s, allowed or _ClosedFormScheduler):
            raise TypeError(
                f"{owner}: schedulers[{i}] must be a course_lib.schedulers scheduler (closed form), "
                f"got {type(s).__module__}.{type(s).__name__}"
            )
        if optimizer is not None and s.optimizer is not optimizer:
            raise ValueError(
                f"{owner}: schedulers[{i}] ({type(s).__name__}) belongs to another optimizer; all "
                "schedulers must wrap the same optimizer"
            )
    return list(schedulers)


class SequentialLR(_ClosedFormScheduler):
    r"""Schedulers one after another: scheduler :math:`k` runs from milestone :math:`m_k` with its own clock.

    .. math:: \gamma_t = \gamma^{(k)}_{t - m_k}, \qquad k = \#\{i:\ m_i \le t\},\ m_0 = 0

    (torch's convention: the scheduler that takes over starts at its own step 0). The schedulers
    must be ``course_lib`` schedulers on the same optimizer.

    Args:
        optimizer: the optimizer.
        schedulers: the schedulers, in order.
        milestones: strictly increasing integers >= 1, one fewer than ``schedulers``.
        last_epoch: the last step taken (``-1`` to start).
    """

    def __init__(self, optimizer: Optimizer, schedulers, milestones, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self._schedulers = _check_sub_schedulers("SequentialLR", optimizer, schedulers)
        self._milestones = list(check_increasing_ints("milestones", milestones, low=1))
        if len(self._milestones) != len(self._schedulers) - 1:
            raise ValueError(
                "SequentialLR: milestones must have one entry fewer than schedulers, got "
                f"{len(self._schedulers)} schedulers and milestones={self._milestones}"
            )
        super().__init__(optimizer, last_epoch)

    def _active(self, t) -> tuple[_ClosedFormScheduler | ChainedScheduler, int]:
        k = bisect_right(self._milestones, t)
        return self._schedulers[k], (t - self._milestones[k - 1] if k else t)

    def _values_at(self, t):
        self._check_groups()
        scheduler, local = self._active(t)
        values = scheduler._values_at(local)
        scheduler.last_epoch = local
        scheduler._last_lr = list(values)
        return values

    def lr_schedules(self):
        """Per group: the sub-schedulers' schedules joined at the milestones."""
        per_sub = [s.lr_schedules() for s in self._schedulers]
        return [
            Join(tuple(p[i] for p in per_sub), tuple(self._milestones))
            for i in range(len(per_sub[0]))
        ]

    def state_dict(self) -> dict:
        state = {k: v for k, v in super().state_dict().items() if k != "_schedulers"}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for s, saved in zip(self._schedulers, state_dict["_schedulers"], strict=True):
            s.load_state_dict(saved)


class ChainedScheduler(LRScheduler):
    r"""Several factor schedulers at once: :math:`\gamma_t = \gamma \prod_k f_k(t)`.

    Each ``step()`` steps every scheduler and writes the product of their factors. Only schedulers
    whose value is the base lr times a factor can be chained (see the module docstring, item 4).

    Args:
        schedulers: ``course_lib`` factor schedulers on the same optimizer.
        optimizer: that optimizer (default: the first scheduler's).
    """

    def __init__(self, schedulers, optimizer: Optimizer | None = None) -> None:
        if not isinstance(schedulers, (list, tuple)) or not schedulers:
            raise ValueError(
                f"ChainedScheduler: schedulers must be a non-empty list of schedulers, got {schedulers!r}"
            )
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        optimizer = _check_optimizer(optimizer)
        self._schedulers = _check_sub_schedulers("ChainedScheduler", optimizer, schedulers)
        for i, s in enumerate(self._schedulers):
            problem = s._chain_problem()
            if problem is not None:
                raise (ValueError if s._chainable else TypeError)(
                    f"ChainedScheduler: schedulers[{i}]: {problem}"
                )
        self.optimizer = optimizer
        self._apply()

    def _check_groups(self) -> None:
        for s in self._schedulers:
            s._check_groups()

    def _chain_values(self, steps: list) -> list[list[float]]:
        r"""What the optimizer holds after each scheduler, when scheduler k is at step ``steps[k]``.

        Row k is :math:`\gamma \prod_{j \le k} f_j(t_j) \prod_{j > k} f_j(t_j - 1)` (with
        :math:`f_j(-1) = 1`): torch's chain steps its schedulers in order, each scaling what the
        previous ones left, and each reports that value in ``get_last_lr()``. The last row is the
        chained lr.
        """
        bases = self._schedulers[0].base_lrs
        now = [s._factors_at(t) for s, t in zip(self._schedulers, steps)]
        before = [s._factors_at(t - 1) if t > 0 else None for s, t in zip(self._schedulers, steps)]
        rows = []
        for k in range(len(self._schedulers)):
            row = []
            for g, base in enumerate(bases):
                value = float(base)
                for j in range(len(self._schedulers)):
                    factors = now[j] if j <= k else before[j]
                    value = value * (factors[g] if factors is not None else 1.0)
                row.append(value)
            rows.append(row)
        return rows

    def _values_at(self, t) -> list[float]:
        """The chained lr of every group with every scheduler at step ``t`` (for SequentialLR)."""
        rows = self._chain_values([t] * len(self._schedulers))
        for s, row in zip(self._schedulers, rows):
            s.last_epoch, s._last_lr = t, list(row)
        return rows[-1]

    def lr_schedules(self) -> list[Callable]:
        """Per group: the product of the chained schedulers' factors times the base lr."""
        bases = self._schedulers[0].base_lrs
        factors = [s._schedules()[2] for s in self._schedulers]
        return [
            Scaled(Product(tuple(f[g] for f in factors)), float(base))
            for g, base in enumerate(bases)
        ]

    def _apply(self) -> None:
        rows = self._chain_values([s.last_epoch for s in self._schedulers])
        for s, row in zip(self._schedulers, rows):
            s._last_lr = list(row)
        for group, value in zip(self.optimizer.param_groups, rows[-1]):
            _set_hyper(group, "lr", value)
        self._last_lr = _group_values(self.optimizer, "lr")

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler, then write the product of their factors."""
        for s in self._schedulers:
            s.step()
        self._apply()

    def state_dict(self) -> dict:
        """``_last_lr`` and the state of every scheduler."""
        return {
            "_last_lr": self._last_lr,
            "_schedulers": [s.state_dict() for s in self._schedulers],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the schedulers' states."""
        for s, saved in zip(self._schedulers, state_dict["_schedulers"], strict=True):
            s.load_state_dict(saved)
        self._last_lr = list(state_dict["_last_lr"])


# --------------------------------------------------------------------------------------------------
# plateau
# --------------------------------------------------------------------------------------------------


class ReduceLROnPlateau(_TorchReduceLROnPlateau):
    r"""Multiply the lr by ``factor`` when a metric has not improved for more than ``patience`` steps.

    torch's class with validation at construction (it is a subclass, so Lightning sees a plateau
    scheduler and asks for a monitored metric). "Improving" means, with :math:`b` the best so far:
    ``min``/``rel``: :math:`x < b(1 - \text{threshold})`; ``min``/``abs``: :math:`x < b - \text{threshold}`;
    ``max`` likewise upwards. When the bad steps in a row exceed ``patience``, every group's lr
    :math:`\gamma` becomes :math:`\max(\gamma\cdot\text{factor}, \text{min\_lr})` unless that changes it by less than ``eps``;
    then ``cooldown`` steps are not counted.

    Args:
        optimizer: the optimizer.
        mode: ``"min"`` or ``"max"``.
        factor: in (0, 1).
        patience: an integer >= 0.
        threshold: >= 0.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: an integer >= 0.
        min_lr: >= 0, or a list with one per param group.
        eps: >= 0.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr=0,
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        check_choice("mode", mode, ("min", "max"))
        check_number("factor", factor, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        check_int("patience", patience, low=0)
        check_number("threshold", threshold, low=0.0)
        check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        check_int("cooldown", cooldown, low=0)
        if isinstance(min_lr, (list, tuple)):
            per_group_values("min_lr", list(min_lr), optimizer, low=0.0)
        else:
            check_number("min_lr", min_lr, low=0.0)
        check_number("eps", eps, low=0.0)
        super().__init__(
            optimizer,
            cast(Literal["min", "max"], mode),
            factor,
            patience,
            threshold,
            cast(Literal["rel", "abs"], threshold_mode),
            cooldown,
            min_lr,
            eps,
        )


# --------------------------------------------------------------------------------------------------
# any hyperparameter
# --------------------------------------------------------------------------------------------------


def _check_schedule_map(name: str, mapping) -> dict[str, Callable]:
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"{name} must be a dict {{hyperparameter: schedule}}, got {type(mapping).__name__}"
        )
    out = {}
    for key, schedule in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"{name}: keys must be hyperparameter names (str), got {key!r}")
        if key in ("params", "initial_lr", "betas"):
            hint = " (use 'beta1' / 'beta2')" if key == "betas" else ""
            raise ValueError(f"{name}: {key!r} cannot be scheduled{hint}")
        if not callable(schedule):
            raise TypeError(
                f"{name}[{key!r}] must be a schedule (callable step -> value), got {schedule!r}"
            )
        out[key] = schedule
    return out


class HyperparameterScheduler(LRScheduler):
    r"""Drive any hyperparameter of any param group from pure schedules.

    At step :math:`t` (``last_epoch``), for every group :math:`i` and every scheduled key,
    ``group[key] = schedule(t)``; ``"beta1"``/``"beta2"`` write into the ``betas`` tuple. Values are
    absolute (``course_lib.schedules`` gives values, not factors; ``Scaled`` makes a per-group
    copy of one shape). Groups without a schedule for ``"lr"`` keep their lr.

    ``interval`` says what one ``step()`` is, ``"step"`` (one batch) or ``"epoch"``; it is required,
    stored, checked when a state is loaded, and read by training loops (and Lightning:
    ``{"scheduler": s, "interval": s.interval}``). A group added later with ``add_param_group`` is
    driven by the shared ``schedules`` from the next step on.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        schedules: ``{key: schedule}`` for every group (``None`` or ``{}``: only ``groups``).
        interval: ``"step"`` or ``"epoch"`` (keyword, required).
        groups: per-group ``{key: schedule}`` that REPLACES ``schedules`` for that group, keyed by
            group index or by the group's ``"name"`` entry; ``{}`` leaves a group alone.
        last_epoch: the last step taken (``-1`` to start).

        >>> import torch
        >>> from course_lib.schedules import Cosine, Linear, warmup_cosine
        >>> w = torch.zeros(2, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.0)
        >>> sched = HyperparameterScheduler(opt, {
        ...     "lr": warmup_cosine(0.1, warmup_steps=10, total_steps=100),
        ...     "momentum": Linear(0.95, 0.85, 10),
        ...     "weight_decay": Cosine(5e-4, 100, final=0.0)}, interval="step")
        >>> opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
        (0.0, 0.95)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedules: Mapping[str, Callable] | None = None,
        *,
        interval: str,
        groups: Mapping | None = None,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.interval = check_choice("interval", interval, ("step", "epoch"))
        self._shared = _check_schedule_map("schedules", schedules if schedules is not None else {})
        self._per_group: dict[int, dict[str, Callable]] = {}
        if groups is not None:
            if not isinstance(groups, Mapping):
                raise TypeError(
                    "groups must be a dict {group index or name: {hyperparameter: schedule}}, "
                    f"got {type(groups).__name__}"
                )
            for key, mapping in groups.items():
                index = self._group_index(optimizer, key)
                self._per_group[index] = _check_schedule_map(f"groups[{key!r}]", mapping)
        if not self._shared and not any(self._per_group.values()):
            raise ValueError("HyperparameterScheduler: schedules and groups schedule nothing")
        for i, group in enumerate(optimizer.param_groups):
            self._check_keys(i, group)
        check_int("last_epoch", last_epoch, low=-1)
        self._last_values: list[dict[str, float]] = []
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _group_index(optimizer: Optimizer, key) -> int:
        n = len(optimizer.param_groups)
        if isinstance(key, str):
            matches = [i for i, g in enumerate(optimizer.param_groups) if g.get("name") == key]
            if len(matches) != 1:
                names = [g.get("name") for g in optimizer.param_groups]
                raise ValueError(
                    f"groups: {key!r} must name exactly one param group (by its 'name' entry), "
                    f"found {len(matches)}; the group names are {names}"
                )
            return matches[0]
        index = check_int("groups key", key, low=0, high=n - 1)
        return index

    def _schedules_for(self, i: int) -> dict[str, Callable]:
        return self._per_group.get(i, self._shared)

    def _check_keys(self, i: int, group: dict) -> None:
        for key in self._schedules_for(i):
            wanted = "betas" if key in ("beta1", "beta2") else key
            if wanted not in group:
                available = sorted(k for k in group if k != "params")
                raise ValueError(
                    f"HyperparameterScheduler: param_groups[{i}] has no {wanted!r} to schedule "
                    f"(for {key!r}); its hyperparameters are {available}"
                )

    def get_lr(self) -> list:
        """Write every scheduled value at ``last_epoch``; return the lr of every group."""
        t = self.last_epoch
        lrs, values = [], []
        for i, group in enumerate(self.optimizer.param_groups):
            schedules = self._schedules_for(i)
            if i >= len(self._last_values):
                self._check_keys(i, group)  # a group added after construction
            row = {}
            for key, schedule in schedules.items():
                row[key] = float(schedule(t))
                if key != "lr":
                    _set_hyper(group, key, row[key])
            lrs.append(row["lr"] if "lr" in row else _group_values(self.optimizer, "lr")[i])
            values.append(row)
        self._last_values = values
        return lrs

    def _get_closed_form_lr(self) -> list:
        return self.get_lr()

    def get_last_values(self) -> list[dict[str, float]]:
        """Per group, the values written at the last step: ``[{"lr": ..., "momentum": ...}, ...]``."""
        return [dict(row) for row in self._last_values]

    def state_dict(self) -> dict:
        """Counters, ``interval`` and the last values (the schedules come from the constructor)."""
        skip = {"optimizer", "_shared", "_per_group"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the counters; the saved ``interval`` must match this scheduler's."""
        saved = state_dict.get("interval", self.interval)
        if saved != self.interval:
            raise ValueError(
                f"HyperparameterScheduler: the state was saved with interval={saved!r} but this "
                f"scheduler has interval={self.interval!r}; stepping per batch and per epoch give "
                "different schedules"
            )
        skip = {"optimizer", "_shared", "_per_group"}
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in skip})


def by_name(name: str, optimizer: Optimizer, **kwargs):
    """The scheduler class called ``name`` (torch's class name, any case), built on ``optimizer``.

    ``kwargs`` are the constructor's other arguments, by keyword (torch's names):

        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> by_name("steplr", opt, step_size=2, gamma=0.5).get_last_lr()
        [0.1]
        >>> by_name("WarmupLR", opt)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: name must be one of 'ChainedScheduler', 'ConstantLR', ... (any case), got 'WarmupLR'
    """
    classes = {n: globals()[n] for n in __all__ if n != "by_name"}
    return check_name("name", name, classes)(optimizer=optimizer, **kwargs)
