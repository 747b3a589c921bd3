r"""The parity grid behind ``check_optimizer``: run two optimizers on the same gradients, find where they part.

Four tiny float64 parameters (shapes (3, 2), (2,), (4,), (1,)) get gradients drawn once per run from a
fixed seed, ``p.grad = g_t`` (no model), at four scales (1, 1e-3, 1e-8, 10) so that ε's place in a
denominator shows (a gradient of 1e-8 makes :math:`\sqrt{v_t}` comparable to ε = 1e-8). A
:class:`Case` says which groups, options and events (a late gradient, a changed rate, a state_dict
round trip) a run has; :func:`run_case` records every parameter and state entry after each step, and
:func:`first_mismatch` compares two records step by step.

    >>> import torch
    >>> case = Case("one group", steps=3)
    >>> want = run_case(torch.optim.Adam, case, {"lr": 0.1})
    >>> got = run_case(torch.optim.Adam, case, {"lr": 0.1})
    >>> first_mismatch(want, got) is None
    True
    >>> first_mismatch(want, run_case(torch.optim.Adam, case, {"lr": 0.2})).what
    'parameter'
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "SHAPES",
    "Case",
    "Mismatch",
    "Record",
    "accepts",
    "all_close",
    "close",
    "first_mismatch",
    "records_match",
    "run_case",
    "start_params",
]

SHAPES: tuple[tuple[int, ...], ...] = ((3, 2), (2,), (4,), (1,))
GRAD_SCALES: tuple[float, ...] = (1.0, 1e-3, 1e-8, 10.0)
RTOL = 1e-10


@dataclass(frozen=True)
class Case:
    """One run of the grid.

    ``groups``: the parameter indices of each group and that group's own hyperparameters (over the
    constructor's); ``options``: constructor arguments added to ``hyper``; ``late``: the index of a
    parameter whose gradient stays None for the first ``late_steps`` steps; ``lr_changes``: step ->
    factor applied to every group's ``lr`` before that step (as a scheduler would); ``resume_at``:
    after this step the state_dict moves into a new optimizer on cloned parameters.
    """

    name: str
    steps: int = 25
    groups: tuple[tuple[tuple[int, ...], dict], ...] = (((0, 1, 2, 3), {}),)
    options: dict = field(default_factory=dict)
    late: int | None = None
    late_steps: int = 0
    lr_changes: tuple[tuple[int, float], ...] = ()
    resume_at: int | None = None
    seed: int = 0


@dataclass
class Record:
    """What a run left after each step: ``params[t][i]``, ``states[t][i]`` (a dict, empty when none).

    ``error`` is ``(step, exception)`` when the run stopped on an exception (``step`` 0: in the
    constructor).
    """

    params: list[list[torch.Tensor]] = field(default_factory=list)
    states: list[list[dict]] = field(default_factory=list)
    error: tuple[int, BaseException] | None = None


@dataclass(frozen=True)
class Mismatch:
    """The first difference: ``step`` (1-based), parameter ``index``, ``what`` ("parameter",
    "state['exp_avg']", "state keys", "no state"), the two values."""

    step: int
    index: int
    what: str
    expected: Any
    got: Any


def accepts(cls, name: str) -> bool:
    """Whether ``cls(params, name=...)`` is allowed by the signature of ``cls.__init__``."""
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return True
    if name in parameters:
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _data(seed: int, steps: int) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """Initial parameters and ``steps`` gradients per parameter, float64, from ``seed``."""
    gen = torch.Generator().manual_seed(1234 + seed)
    start = [torch.randn(shape, generator=gen, dtype=torch.float64) for shape in SHAPES]
    grads = [
        [
            scale * torch.randn(shape, generator=gen, dtype=torch.float64)
            for shape, scale in zip(SHAPES, GRAD_SCALES)
        ]
        for _ in range(steps)
    ]
    return start, grads


def start_params(case: Case) -> list[torch.Tensor]:
    """The parameters a run of ``case`` starts from (before its first step)."""
    return _data(case.seed, case.steps)[0]


def _build(factory: Callable, case: Case, hyper: dict, params: list[torch.Tensor]):
    """``factory(groups, **hyper, **case.options)`` with the case's groups over ``params``."""
    groups = [{"params": [params[i] for i in idx], **extra} for idx, extra in case.groups]
    return factory(groups, **{**hyper, **case.options})


def _snapshot(opt, params: list[torch.Tensor]) -> list[dict]:
    """Each parameter's state as plain copies (tensors cloned, numbers as they are)."""
    out = []
    for p in params:
        state = opt.state.get(p, {}) if hasattr(opt.state, "get") else {}
        out.append(
            {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}
        )
    return out


def _resume(factory: Callable, case: Case, hyper: dict, opt, params: list[torch.Tensor]):
    """A new optimizer on cloned parameters that loads ``opt``'s state_dict (deep-copied)."""
    saved = copy.deepcopy(opt.state_dict())
    params = [p.detach().clone().requires_grad_(True) for p in params]
    fresh = _build(factory, case, hyper, params)
    fresh.load_state_dict(saved)
    return fresh, params


def run_case(factory: Callable, case: Case, hyper: dict) -> Record:
    """Run ``case`` with the optimizer ``factory(groups, **hyper)``; exceptions end the record."""
    start, grads = _data(case.seed, case.steps)
    params = [p.clone().requires_grad_(True) for p in start]
    record = Record()
    step = 0
    try:
        opt = _build(factory, case, hyper, params)
        for step in range(1, case.steps + 1):
            for at, factor in case.lr_changes:
                if at == step:
                    for group in opt.param_groups:
                        group["lr"] = group["lr"] * factor
            for i, p in enumerate(params):
                late = i == case.late and step <= case.late_steps
                p.grad = None if late else grads[step - 1][i]  # fresh per run
            opt.step()
            record.params.append([p.detach().clone() for p in params])
            record.states.append(_snapshot(opt, params))
            if step == case.resume_at:
                opt, params = _resume(factory, case, hyper, opt, params)
    except Exception as error:  # the learner's code may raise anything: keep where and what
        record.error = (step, error)
    return record


def close(expected, got, rtol: float = RTOL) -> bool:
    """Equal to ``rtol`` relative to the larger of each value and the tensor's largest entry."""
    if isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor):
        if (
            got.shape == expected.shape
            and got.dtype == expected.dtype
            and torch.equal(got, expected)
        ):
            return True
    elif not isinstance(got, torch.Tensor) and not isinstance(expected, torch.Tensor):
        try:
            return abs(float(expected) - float(got)) <= rtol * max(1.0, abs(float(expected)))
        except (TypeError, ValueError):
            return expected == got
    try:
        want = torch.as_tensor(expected, dtype=torch.float64)
        have = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    if want.numel() == 1 and have.numel() == 1:
        want, have = want.reshape(()), have.reshape(())
    if want.shape != have.shape:
        return False
    both_nan = torch.isnan(want) & torch.isnan(have)
    scale = want.abs().max() if want.numel() else torch.tensor(0.0, dtype=torch.float64)
    tol = rtol * (want.abs() + scale) + 1e-300
    diff = (want - have).abs()
    return bool(((diff <= tol) | both_nan | (want == have)).all())


def all_close(pairs: list[tuple[Any, Any]], rtol: float = RTOL) -> bool:
    """Whether every ``(expected, got)`` pair is :func:`close`, float64 tensors checked in one go.

    The tensors are concatenated and compared with each one's own scale (``segment_reduce``), a
    dozen operations per step instead of a few per tensor; anything else goes through :func:`close`.
    """
    batch, rest = [], []
    for want, have in pairs:
        same = isinstance(want, torch.Tensor) and isinstance(have, torch.Tensor)
        if same and want.dtype == have.dtype == torch.float64 and want.shape == have.shape:
            if want.numel():
                batch.append((want.reshape(-1), have.reshape(-1)))
        else:
            rest.append((want, have))
    if batch:
        w = torch.cat([x for x, _ in batch])
        g = torch.cat([y for _, y in batch])
        lengths = torch.tensor([x.numel() for x, _ in batch])
        size = w.abs()
        scale = torch.segment_reduce(size, "max", lengths=lengths).repeat_interleave(lengths)
        if not bool(((w - g).abs() <= rtol * (size + scale)).all()):
            if not all(close(x, y, rtol) for x, y in batch):  # NaN on both sides passes here
                return False
    return all(close(x, y, rtol) for x, y in rest)


def _state_mismatch(step: int, i: int, want: dict, have: dict) -> Mismatch | None:
    """The first difference between two state dicts of one parameter."""
    if not want and have:
        return Mismatch(step, i, "no state", {}, sorted(have))
    if set(want) != set(have):
        return Mismatch(step, i, "state keys", sorted(want), sorted(have))
    for key in want:
        if not close(want[key], have[key]):
            return Mismatch(step, i, f"state[{key!r}]", want[key], have[key])
    return None


def _step_pairs(want: Record, got: Record, t: int) -> list[tuple[Any, Any]] | None:
    """Step ``t``'s parameters and state entries side by side; None when the state keys differ."""
    pairs = list(zip(want.params[t], got.params[t]))
    for ws, gs in zip(want.states[t], got.states[t]):
        if set(ws) != set(gs):
            return None
        pairs.extend((ws[k], gs[k]) for k in ws)
    return pairs


def first_mismatch(want: Record, got: Record) -> Mismatch | None:
    """The first step and parameter where ``got`` leaves ``want`` (parameters first, then state).

    A record that stopped early (an exception) is compared over the steps it has; the caller reports
    its error.
    """
    for t, (wp, gp) in enumerate(zip(want.params, got.params), start=1):
        pairs = _step_pairs(want, got, t - 1)
        if pairs is not None and all_close(pairs):
            continue
        for i, (w, g) in enumerate(zip(wp, gp)):
            if not close(w, g):
                return Mismatch(t, i, "parameter", w, g)
        for i, (ws, gs) in enumerate(zip(want.states[t - 1], got.states[t - 1])):
            found = _state_mismatch(t, i, ws, gs)
            if found is not None:
                return found
    return None


def records_match(a: Record, b: Record, upto: int, rtol: float = 1e-8) -> bool:
    """Whether two records agree (to ``rtol``) over the first ``upto`` steps they share.

    Parameters must agree, and so must every state entry whose key both records have (a run that
    keeps its state elsewhere is compared on its parameters). Once the parameters agree on being
    NaN or infinite (a division by zero), the later steps are not compared.
    """
    n = min(upto, len(a.params), len(b.params))
    if n == 0:
        return False
    for t in range(n):
        if not all_close(list(zip(a.params[t], b.params[t])), rtol):
            return False
        if not all(bool(torch.isfinite(x).all()) for x in a.params[t]):
            return True  # both broke down at the same step in the same way: nothing more to see
        shared = [
            (sa[k], sb[k])
            for sa, sb in zip(a.states[t], b.states[t])
            for k in sa.keys() & sb.keys()
        ]
        if not all_close(shared, rtol):
            return False
    return True
