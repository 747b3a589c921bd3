r"""The measurements of notebook 13 (what a step costs): state memory, step time, memory bandwidth.

Pure compute (unit-tested; no plotting, no ipywidgets). Three questions, each answered by a
measurement and by a model of the update rule that the measurement is checked against:

- **Memory.** :func:`state_bytes_per_param` reads an optimizer's ``state_dict()`` after a step;
  :func:`expected_state` predicts the same bytes, key by key, from the update rule (Adam keeps
  :math:`m_t` and :math:`v_t`, two full-size tensors: 8 bytes per float32 parameter; Adafactor keeps
  a row and a column of :math:`v_t` per matrix). :func:`state_table` does it for every optimizer of
  the course on one model.
- **Time against the number of tensors.** :func:`race` times several step functions in turns (each
  repeat runs every candidate once, in a rotating order, so a busy machine slows them alike) and
  :func:`Race.ratio` gives the median of the per-repeat ratios. :func:`make_params` splits a fixed
  number of elements into ``count`` tensors: a single-tensor loop pays a Python and kernel-launch
  overhead per tensor, a ``foreach`` step one per list.
- **Bandwidth.** One step reads and writes at least :func:`update_traffic` bytes: the parameter
  (read, written), the gradient (read) and each of the :math:`k` full-size state tensors (read,
  written), :math:`(3 + 2k)` tensors of ``numel`` elements. Divided by the step's time it is the
  achieved bandwidth; :func:`triad_bandwidth` measures what the memory allows with the in-place triad
  :math:`a \leftarrow a + s\,b` (read two, write one: the access pattern of SGD's own step
  :math:`\theta \leftarrow \theta - \gamma g`).

Times are seconds from ``time.perf_counter``; only ratios measured in one run are meant to be
compared, never a time against a number written down elsewhere.

    >>> w = torch.zeros(1000, requires_grad=True)
    >>> opt = optim.Adam([w])
    >>> w.grad = torch.ones(1000); opt.step()
    >>> state_bytes_per_param(opt)  # exp_avg and exp_avg_sq: 2 x 4 bytes, plus one 4-byte step
    8.004
    >>> update_traffic(2, 1000)  # Adam: read theta, g, m, v; write theta, m, v
    28000
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib import optim
from course_lib._validation import check_callable, check_int, check_name, check_number
from course_lib.experiments.after_adam import STATE_OPTIMIZERS, muon_param_groups, tensor_bytes

__all__ = [
    "STATE_LABELS",
    "Race",
    "Ratio",
    "Roofline",
    "StateRow",
    "Timing",
    "adam_update",
    "bytes_per_step",
    "cpp_compiler",
    "expected_state",
    "fresh_inductor_cache",
    "full_state_tensors",
    "make_params",
    "measured_state",
    "median_time",
    "per_tensor_overhead",
    "race",
    "roofline",
    "state_bytes_per_param",
    "state_table",
    "tensor_sweep",
    "time_call",
    "triad_bandwidth",
    "update_traffic",
]

#: The optimizers of the state table (notebook 09's list without LBFGS, whose history of past steps
#: grows with the number of line-search iterations, so it has no fixed bytes per parameter).
STATE_LABELS: tuple[str, ...] = tuple(label for label in STATE_OPTIMIZERS if label != "LBFGS")

Clock = Callable[[], float]

# --- state memory ---------------------------------------------------------------------------------


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def measured_state(optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes of ``optimizer.state_dict()["state"]`` per state name, summed over the parameters.

    >>> w = torch.zeros(3, requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = torch.ones(3); opt.step()
    >>> measured_state(opt)
    {'momentum_buffer': 12}
    """
    out: dict[str, int] = {}
    for per_param in optimizer.state_dict()["state"].values():
        for key, value in per_param.items():
            out[key] = out.get(key, 0) + tensor_bytes(value)
    return out


def state_bytes_per_param(optimizer: torch.optim.Optimizer) -> float:
    """Bytes of optimizer state per parameter: :func:`measured_state` over the elements optimized.

    Counts every tensor of the state (``step`` counters included) after at least one step; the
    elements are those of every parameter in ``optimizer.param_groups``.
    """
    numel = sum(p.numel() for p in _params(optimizer))
    if numel == 0:
        raise ValueError("optimizer must hold at least one parameter element, got none")
    return sum(measured_state(optimizer).values()) / numel


_SCALAR = "scalar"
_FULL = "full"
# What the update rule keeps per parameter tensor: state name -> its size. Flags of the group add
# names (see _state_sizes): SGD's momentum buffer only when momentum != 0, AMSGrad's running max.
_RULES: dict[str, dict[str, str]] = {
    "SGD": {},
    "Adagrad": {"step": _SCALAR, "sum": _FULL},
    "RMSprop": {"step": _SCALAR, "square_avg": _FULL},
    "Adam": {"step": _SCALAR, "exp_avg": _FULL, "exp_avg_sq": _FULL},
    "AdamW": {"step": _SCALAR, "exp_avg": _FULL, "exp_avg_sq": _FULL},
    "NAdam": {"step": _SCALAR, "mu_product": _SCALAR, "exp_avg": _FULL, "exp_avg_sq": _FULL},
    "Adadelta": {"step": _SCALAR, "square_avg": _FULL, "acc_delta": _FULL},
    "Adamax": {"step": _SCALAR, "exp_avg": _FULL, "exp_inf": _FULL},
    "RAdam": {"step": _SCALAR, "exp_avg": _FULL, "exp_avg_sq": _FULL},
    "Adafactor": {"step": _SCALAR},
    "Muon": {"momentum_buffer": _FULL},
    "Lion": {"exp_avg": _FULL},
    "Yogi": {"step": _SCALAR, "exp_avg": _FULL, "exp_avg_sq": _FULL},
    "Lamb": {
        **{"step": _SCALAR, "exp_avg": _FULL, "exp_avg_sq": _FULL},
        **{"weight_norm": _SCALAR, "adam_norm": _SCALAR, "trust_ratio": _SCALAR},
    },
    "LARS": {"momentum_buffer": _FULL},
    "AdamWScheduleFree": {"z": _FULL, "exp_avg_sq": _FULL},
}


def _state_sizes(kind: str, group: Mapping, p: torch.Tensor) -> dict[str, int]:
    """Elements of each state tensor the rule of ``kind`` keeps for ``p`` (in ``group``)."""
    rule = dict(_RULES[kind])
    if kind == "SGD" and group["momentum"] != 0:
        rule["momentum_buffer"] = _FULL
    if kind in ("Adam", "AdamW") and group["amsgrad"]:
        rule["max_exp_avg_sq"] = _FULL
    if kind == "RMSprop" and group["momentum"] > 0:
        rule["momentum_buffer"] = _FULL
    if kind == "RMSprop" and group["centered"]:
        rule["grad_avg"] = _FULL
    sizes = {key: p.numel() if size == _FULL else 1 for key, size in rule.items()}
    if kind == "Adafactor" and p.ndim >= 2:  # a row and a column of v_t (per leading index)
        sizes["row_var"] = p.numel() // p.shape[-1]
        sizes["col_var"] = p.numel() // p.shape[-2]
    elif kind == "Adafactor":
        sizes["variance"] = p.numel()
    return sizes


def expected_state(optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """The bytes :func:`measured_state` finds, predicted from the update rule of ``optimizer``.

    Full-size tensors (a moment, a buffer) take the parameter's element size per element; scalars
    (``step``, NAdam's ``mu_product``, Lamb's norms) one float of the default dtype. Works for the
    course's optimizers and torch's classes of the same names.

        >>> w = torch.zeros(4, 6, requires_grad=True)
        >>> expected_state(optim.Adafactor([w]))  # rows 4 + columns 6 floats, not 24
        {'step': 4, 'row_var': 16, 'col_var': 24}
    """
    kind = check_name("optimizer", type(optimizer).__name__, {k: k for k in _RULES})
    scalar = torch.empty((), dtype=torch.get_default_dtype()).element_size()
    out: dict[str, int] = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, numel in _state_sizes(kind, group, p).items():
                size = scalar if _RULES[kind].get(key) == _SCALAR else p.element_size()
                out[key] = out.get(key, 0) + numel * size
    return out


def full_state_tensors(optimizer: torch.optim.Optimizer) -> int:
    """:math:`k`, the full-size state tensors per parameter of ``optimizer``'s rule (first group).

    >>> w = torch.zeros(2, requires_grad=True)
    >>> full_state_tensors(optim.Adam([w], amsgrad=True))  # m, v and the running max of v
    3
    """
    kind = check_name("optimizer", type(optimizer).__name__, {k: k for k in _RULES})
    group = optimizer.param_groups[0]
    p = group["params"][0]
    sizes = _state_sizes(kind, group, p)
    return sum(1 for numel in sizes.values() if numel == p.numel() and p.numel() > 1)


@dataclass(frozen=True)
class StateRow:
    """One optimizer's state after one step: measured and predicted bytes over ``params`` elements."""

    label: str
    params: int
    measured: dict[str, int]
    expected: dict[str, int]
    scalars: tuple[str, ...] = ()
    torch_measured: dict[str, int] | None = None

    @property
    def bytes_per_param(self) -> float:
        return sum(self.measured.values()) / self.params

    @property
    def tensor_bytes_per_param(self) -> float:
        """Bytes per parameter without the scalars (``step`` counters, NAdam's and Lamb's scalars)."""
        return sum(v for k, v in self.measured.items() if k not in self.scalars) / self.params


def _make_optimizers(
    label: str, model: nn.Module, torch_class: bool
) -> list[torch.optim.Optimizer]:
    name, hyper = STATE_OPTIMIZERS[label]
    if name == "Muon":  # Muon takes the hidden matrices, AdamW the rest (notebook 09)
        muon, adamw = muon_param_groups(model)
        return [optim.Muon(muon), optim.AdamW(adamw)]
    if torch_class:
        return [getattr(torch.optim, name)(model.parameters(), **hyper)]
    return [optim.by_name(name, model.parameters(), **hyper)]


def _one_step(opts: Sequence[torch.optim.Optimizer], model: nn.Module, batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    x = torch.randn(batch, first.in_features, generator=g)
    y = torch.randint(0, 2, (batch,), generator=g)
    for o in opts:
        if hasattr(o, "train"):
            o.train()  # Schedule-Free keeps its train/eval switch
    F.cross_entropy(model(x), y).backward()
    for o in opts:
        o.step()


def _state_row(make_model, label: str, batch: int, seed: int) -> StateRow:
    runs = []
    for torch_class in (False, True):
        if torch_class and not hasattr(torch.optim, STATE_OPTIMIZERS[label][0]):
            break
        if torch_class and STATE_OPTIMIZERS[label][0] == "Muon":
            break
        torch.manual_seed(seed)
        model = make_model()
        opts = _make_optimizers(label, model, torch_class)
        _one_step(opts, model, batch, seed)
        runs.append(
            [_merge(measured_state(o) for o in opts), _merge(expected_state(o) for o in opts)]
        )
    params = sum(p.numel() for p in model.parameters())
    scalars = tuple(k for o in opts for k, v in _RULES[type(o).__name__].items() if v == _SCALAR)
    torch_measured = runs[1][0] if len(runs) > 1 else None
    return StateRow(
        label, params, runs[0][0], runs[0][1], tuple(sorted(set(scalars))), torch_measured
    )


def _merge(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = out.get(key, 0) + value
    return out


def state_table(
    make_model: Callable[[], nn.Module],
    labels: Sequence[str] = STATE_LABELS,
    *,
    batch: int = 8,
    seed: int = 0,
) -> list[StateRow]:
    """The state of each optimizer of ``labels`` (:data:`STATE_LABELS`) after one step.

    ``make_model()`` must start with an ``nn.Linear`` (its ``in_features`` size the random batch) and
    have at least two outputs. Each row holds our optimizer's :func:`measured_state`, its
    :func:`expected_state`, and torch's measured state where torch has the class.

        >>> rows = state_table(lambda: nn.Sequential(nn.Linear(8, 4)), ["SGD", "Adam"])
        >>> [(r.label, r.params, r.bytes_per_param) for r in rows]
        [('SGD', 36, 0.0), ('Adam', 36, 8.222222222222221)]
    """
    for label in labels:
        check_name("labels", label, {k: k for k in STATE_LABELS})
    return [_state_row(make_model, label, batch, seed) for label in labels]


# --- timing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds per call, one sample per repeat."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass(frozen=True)
class Ratio:
    """Per-repeat ratios ``t_a / t_b`` of two candidates timed in turns, and their median."""

    a: str
    b: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _check_timing_args(warmup: int, repeats: int, number: int) -> None:
    check_int("warmup", warmup, low=0)
    check_int("repeats", repeats, low=1)
    check_int("number", number, low=1)


def _timed(fn: Callable[[], object], number: int, clock: Clock) -> float:
    start = clock()
    for _ in range(number):
        fn()
    return (clock() - start) / number


def time_call(
    fn: Callable[[], object],
    *,
    warmup: int = 3,
    repeats: int = 7,
    number: int = 1,
    clock: Clock = time.perf_counter,
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` samples of ``number`` calls each.

    Each sample is the mean seconds per call over its ``number`` calls; ``fn`` runs
    ``warmup + repeats * number`` times in all.

        >>> ticks = iter(range(100))
        >>> time_call(lambda: None, warmup=1, repeats=3, clock=lambda: next(ticks) ** 2).samples
        (1.0, 5.0, 9.0)
    """
    check_callable("fn", fn)
    _check_timing_args(warmup, repeats, number)
    for _ in range(warmup):
        fn()
    return Timing(tuple(_timed(fn, number, clock) for _ in range(repeats)))


def median_time(
    fn: Callable[[], object], *, warmup: int = 3, repeats: int = 7, clock: Clock = time.perf_counter
) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` calls after ``warmup`` (:func:`time_call`)."""
    return time_call(fn, warmup=warmup, repeats=repeats, clock=clock).median


@dataclass(frozen=True)
class Race:
    """The samples of several candidates timed in turns (:func:`race`)."""

    timings: dict[str, Timing]

    def ratio(self, a: str, b: str) -> Ratio:
        """Per-repeat ``t_a / t_b`` (the same repeat: the same load on the machine)."""
        ta = check_name("a", a, self.timings).samples
        tb = check_name("b", b, self.timings).samples
        return Ratio(a, b, tuple(x / y for x, y in zip(ta, tb, strict=True)))


def race(
    fns: Mapping[str, Callable[[], object]],
    *,
    warmup: int = 3,
    repeats: int = 7,
    number: int = 1,
    clock: Clock = time.perf_counter,
) -> Race:
    """Time every candidate of ``fns`` in turns: each repeat runs each once, in a rotating order.

    ``warmup`` untimed rounds first. The rotation (A B C, B C A, ...) spreads a slow moment of a
    shared machine over all candidates, so per-repeat ratios (:meth:`Race.ratio`) stay meaningful.

        >>> ticks = iter(range(100))
        >>> r = race({"a": lambda: None, "b": lambda: None}, warmup=0, repeats=2,
        ...          clock=lambda: next(ticks))
        >>> r.timings["a"].samples, r.ratio("a", "b").samples
        ((1.0, 1.0), (1.0, 1.0))
    """
    if not fns:
        raise ValueError("fns must hold at least one candidate, got an empty mapping")
    for name, fn in fns.items():
        check_callable(f"fns[{name!r}]", fn)
    _check_timing_args(warmup, repeats, number)
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(_timed(fns[name], number, clock))
    return Race({name: Timing(tuple(samples[name])) for name in names})


# --- tensors and bandwidth ------------------------------------------------------------------------


def make_params(total: int, count: int, *, seed: int = 0) -> list[torch.Tensor]:
    """``count`` float32 leaf tensors of ``total // count`` elements each, gradients already set.

    >>> ps = make_params(1000, 10)
    >>> len(ps), ps[0].shape, ps[0].grad.shape, ps[0].requires_grad
    (10, torch.Size([100]), torch.Size([100]), True)
    """
    check_int("count", count, low=1)
    check_int("total", total, low=count)
    g = torch.Generator().manual_seed(seed)
    params = []
    for _ in range(count):
        p = torch.randn(total // count, generator=g).requires_grad_()
        p.grad = torch.randn(total // count, generator=g) * 1e-3
        params.append(p)
    return params


def update_traffic(state_tensors: int, numel: int, *, dtype: torch.dtype = torch.float32) -> int:
    r"""The least bytes one elementwise step moves: :math:`(3 + 2k)` tensors of ``numel`` elements.

    Read :math:`\theta` and :math:`g`, write :math:`\theta`; read and write each of the :math:`k`
    full-size state tensors. Every extra pass over memory (an eager kernel per operation) adds more.
    """
    check_int("state_tensors", state_tensors, low=0)
    check_int("numel", numel, low=0)
    return (3 + 2 * state_tensors) * numel * torch.empty((), dtype=dtype).element_size()


def bytes_per_step(
    name: str,
    numel: int,
    *,
    dtype: torch.dtype = torch.float32,
    momentum: float = 0.0,
    amsgrad: bool = False,
) -> int:
    """:func:`update_traffic` of torch's ``SGD``, ``Adam`` or ``AdamW`` (``name``, any case).

    SGD keeps a buffer when ``momentum != 0``; Adam and AdamW keep :math:`m_t, v_t` (and the running
    max of :math:`v_t` with ``amsgrad``).

        >>> bytes_per_step("SGD", 10), bytes_per_step("sgd", 10, momentum=0.9), bytes_per_step("adamw", 10)
        (120, 200, 280)
    """
    kind = check_name("name", name, {"SGD": "SGD", "Adam": "Adam", "AdamW": "Adam"})
    check_number("momentum", momentum, low=0.0)
    k = (momentum != 0) if kind == "SGD" else 2 + bool(amsgrad)
    return update_traffic(int(k), numel, dtype=dtype)


def triad_bandwidth(
    numel: int = 10_000_000,
    *,
    dtype: torch.dtype = torch.float32,
    warmup: int = 1,
    repeats: int = 7,
) -> float:
    r"""Bytes per second of the in-place triad :math:`a \leftarrow a + s\,b` on ``numel`` elements.

    It reads :math:`a` and :math:`b` and writes :math:`a`: 3 element sizes per element, the median of
    ``repeats`` timings. Large ``numel`` (well beyond the last cache) measures main memory.
    """
    check_int("numel", numel, low=1)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(numel, generator=g, dtype=dtype), torch.rand(numel, generator=g, dtype=dtype)
    seconds = median_time(lambda: a.add_(b, alpha=1e-7), warmup=warmup, repeats=repeats)
    return 3 * numel * a.element_size() / seconds


@dataclass(frozen=True)
class Roofline:
    """Steps on large tensors timed in turns with the triad (:func:`roofline`)."""

    numel: int
    traffic: dict[str, int]
    race: Race
    triad_bytes: int

    def fraction(self, name: str) -> Ratio:
        """Per repeat, the step's achieved bytes/s (``traffic / t``) over the triad's bytes/s."""
        step_bytes = check_name("name", name, self.traffic)
        ratio = self.race.ratio("triad", name)
        samples = tuple(r * step_bytes / self.triad_bytes for r in ratio.samples)
        return Ratio(name, "triad", samples)

    def bandwidth(self, name: str) -> float:
        """The median achieved bytes per second of ``name`` (``"triad"`` for the triad's own)."""
        if name == "triad":
            return self.triad_bytes / self.race.timings["triad"].median
        return self.traffic[name] / check_name("name", name, self.race.timings).median


def roofline(
    steps: Mapping[str, tuple[Callable[[], object], int]],
    numel: int,
    *,
    warmup: int = 2,
    repeats: int = 7,
    seed: int = 0,
) -> Roofline:
    r"""Time each step of ``steps`` (name -> (step function, bytes it must move)) with the triad.

    The triad :math:`a \leftarrow a + s\,b` runs on two float32 tensors of ``numel`` elements, in
    the same :func:`race` as the steps, so every repeat compares a step with the memory's speed at
    that moment. :meth:`Roofline.fraction` is then the fraction of the bandwidth each step reaches.
    """
    check_int("numel", numel, low=1)
    if "triad" in steps:
        raise ValueError("steps must not use the name 'triad' (the triad's own), got it")
    g = torch.Generator().manual_seed(seed)
    a, b = torch.rand(numel, generator=g), torch.rand(numel, generator=g)
    fns: dict[str, Callable[[], object]] = {"triad": lambda: a.add_(b, alpha=1e-7)}
    fns.update({name: fn for name, (fn, _) in steps.items()})
    timed = race(fns, warmup=warmup, repeats=repeats)
    traffic = {name: nbytes for name, (_, nbytes) in steps.items()}
    return Roofline(numel, traffic, timed, 3 * numel * a.element_size())


def adam_update(
    p: torch.Tensor,
    g: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    step: torch.Tensor,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    r"""One Adam step on plain tensors, in place: the rule of :class:`course_lib.optim.Adam`.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        \theta_t = \theta_{t-1} - \gamma\,\frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t)} + \varepsilon}

    ``step`` is :math:`t` as a 0-d tensor (so a compiled version reads it instead of baking it in).
    Eagerly every operation is one pass over memory; ``torch.compile`` fuses them into one.

        >>> p, g = torch.ones(3), torch.full((3,), 0.5)
        >>> m, v = torch.zeros(3), torch.zeros(3)
        >>> adam_update(p, g, m, v, torch.tensor(1.0), lr=0.1); p  # the first step moves by lr
        tensor([0.9000, 0.9000, 0.9000])
    """
    bias1 = 1 - beta1**step
    bias2_sqrt = (1 - beta2**step).sqrt()
    m.lerp_(g, 1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    p.addcdiv_(m, (v.sqrt() / bias2_sqrt).add_(eps).mul_(bias1), value=-lr)


def tensor_sweep(
    make_optimizers: Mapping[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]],
    counts: Sequence[int],
    total: int,
    *,
    warmup: int = 2,
    repeats: int = 7,
    seed: int = 0,
) -> dict[int, Race]:
    """Step time against the number of tensors: ``total`` elements split into each of ``counts``.

    For every count, each candidate of ``make_optimizers`` (name -> a function building an optimizer
    on a list of tensors) gets its own :func:`make_params` (same values) and all are timed in one
    :func:`race`. The total work per element is the same at every count; what grows with the count
    is the per-tensor overhead.

        >>> sweep = tensor_sweep({"sgd": lambda ps: optim.SGD(ps, lr=0.1)}, [1, 4], 64, repeats=2)
        >>> sorted(sweep), len(sweep[4].timings["sgd"].samples)
        ([1, 4], 2)
    """
    if not make_optimizers:
        raise ValueError("make_optimizers must hold at least one candidate, got an empty mapping")
    out = {}
    for count in counts:
        check_int("counts[i]", count, low=1, high=total)
        steps = {
            name: make(make_params(total, count, seed=seed)).step
            for name, make in make_optimizers.items()
        }
        out[count] = race(steps, warmup=warmup, repeats=repeats)
    return out


def per_tensor_overhead(sweep: Mapping[int, Race], name: str, total: int) -> float:
    """The cost of one more tensor in elements of work: how many elements the same time updates.

    From the fewest and the most tensors of ``sweep``: the extra time per extra tensor over the time
    per element of the one-tensor step (a ratio of two times measured in one run).
    """
    few, many = min(sweep), max(sweep)
    if few == many:
        raise ValueError(f"sweep must hold two counts at least, got {sorted(sweep)}")
    t_few = sweep[few].timings[name].median
    t_many = sweep[many].timings[name].median
    per_tensor = (t_many - t_few) / (many - few)
    return per_tensor / (t_few / total)


def cpp_compiler() -> str | None:
    """The C++ compiler ``torch.compile`` builds CPU kernels with (``$CXX`` or g++), or None.

    Inductor writes a compiled function as C++ and builds it; on a machine without a compiler the
    first call fails, so notebook 13 skips its torch.compile section there and says why.
    """
    from torch._inductor import config

    for name in config.cpp.cxx:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@contextlib.contextmanager
def fresh_inductor_cache() -> Iterator[str]:
    """Run ``torch.compile``'s compilations in a new temporary cache folder, then remove it.

    ``TORCHINDUCTOR_CACHE_DIR`` points to the folder inside the block and is put back afterwards;
    compile *and use* the compiled function inside the block (a later call may touch the cache).
    Nothing is left on disk, and no kernel cached by an earlier run is reused: torch 2.13's shared
    cache can hand a kernel generated for one CPU instruction set to a run with
    ``ATEN_CPU_CAPABILITY=default``, where it fails to build.

        >>> with fresh_inductor_cache() as folder:
        ...     os.environ["TORCHINDUCTOR_CACHE_DIR"] == folder
        True
        >>> os.path.exists(folder)
        False
    """
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    folder = tempfile.mkdtemp(prefix="course_inductor_")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = before
        shutil.rmtree(folder, ignore_errors=True)
