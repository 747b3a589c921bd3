r"""The experiments of notebook 09 (after Adam): state memory, Adafactor, RAdam, Lion, a fair benchmark.

Pure compute (unit-tested; no plotting, no ipywidgets). Every optimizer is built with
:func:`course_lib.optim.by_name`, so each one is the course's own.

- :func:`state_memory`: the bytes of optimizer state per parameter, measured from each optimizer's
  ``state_dict()`` after one step on a model with matrices and biases (:data:`STATE_OPTIMIZERS`).
- :func:`factored_second_moment`: Adafactor's rank-1 estimate of a non-negative matrix
  :math:`V \in \mathbb{R}^{n\times m}` from its row sums :math:`R = V 1_m` and column sums
  :math:`C = 1_n^\top V`,

  .. math:: \hat V = \frac{R\, C}{1_n^\top R},

  :math:`n + m` numbers instead of :math:`nm`; :func:`compare_factored` measures how close it is.
- :func:`radam_rho`, :func:`radam_rectification`, :func:`first_adaptive_step`: RAdam's length of
  the approximated simple moving average (the paper's :math:`\rho_t`, not the course's rate
  :math:`\rho`) and its rectification :math:`r_t`.
- :func:`train_run`: one training run of a :class:`Method` on a :class:`Workload` that records the
  validation accuracy every ``eval_every`` steps and the CPU seconds spent in training steps;
  :func:`steps_to_target` reads the first step at which a target is reached.
- :func:`tune`, :func:`benchmark`: the AlgoPerf-style protocol (Dahl et al., 2023): the same number
  of trials per method on a validation split, a target set from the baseline's reach, time to
  target over evaluation seeds; :func:`performance_profile` summarises it.

    >>> rho_inf, rho_6 = radam_rho(10**9, 0.999), radam_rho(6, 0.999)
    >>> round(rho_inf), round(rho_6, 2), first_adaptive_step(0.999)
    (1999, 5.99, 6)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import compare, optim, param_groups, schedules
from course_lib._validation import check_int, check_number
from course_lib.data import Split

__all__ = [
    "STATE_OPTIMIZERS",
    "BenchmarkResult",
    "FactoredFit",
    "Method",
    "Run",
    "StateMemory",
    "Workload",
    "benchmark",
    "compare_factored",
    "factored_second_moment",
    "first_adaptive_step",
    "muon_param_groups",
    "performance_profile",
    "pick_trial",
    "radam_rectification",
    "radam_rho",
    "second_moment",
    "state_bytes",
    "state_memory",
    "steps_to_target",
    "tensor_bytes",
    "train_run",
    "tune",
    "update_rms",
]

#: Every optimizer of the course for the state table: label -> (class name, hyperparameters).
#: ``"Muon"`` means Muon on the hidden matrices and AdamW on the rest (Muon takes 2-D tensors only).
STATE_OPTIMIZERS: dict[str, tuple[str, dict]] = {
    "SGD": ("SGD", {"lr": 0.01}),
    "SGD + momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "Adagrad": ("Adagrad", {}),
    "RMSprop": ("RMSprop", {}),
    "Adam": ("Adam", {}),
    "AMSGrad": ("Adam", {"amsgrad": True}),
    "AdamW": ("AdamW", {}),
    "NAdam": ("NAdam", {}),
    "Adadelta": ("Adadelta", {}),
    "Adamax": ("Adamax", {}),
    "RAdam": ("RAdam", {}),
    "Adafactor": ("Adafactor", {}),
    "Muon": ("Muon", {}),
    "Lion": ("Lion", {}),
    "Yogi": ("Yogi", {}),
    "Lamb": ("Lamb", {}),
    "LARS": ("LARS", {}),
    "AdamWScheduleFree": ("AdamWScheduleFree", {}),
    "LBFGS": ("LBFGS", {}),
}


def tensor_bytes(obj) -> int:
    """Bytes of every tensor in ``obj`` (a tensor, or lists / tuples / dicts holding tensors)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(o) for o in obj)
    if isinstance(obj, dict):
        return sum(tensor_bytes(o) for o in obj.values())
    return 0


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held by the tensors of ``optimizer.state_dict()["state"]`` (``step`` counters included).

    Example:
        >>> w = torch.zeros(10, requires_grad=True)
        >>> opt = optim.Adam([w])
        >>> w.grad = torch.ones(10); opt.step()
        >>> state_bytes(opt)  # exp_avg and exp_avg_sq, 10 float32 each, and a float32 step
        84
    """
    return tensor_bytes(optimizer.state_dict()["state"])


def _is_matrix(name: str, param: torch.Tensor) -> bool:
    return param.ndim == 2


def muon_param_groups(model: nn.Module, **adamw_hyper) -> tuple[list[dict], list[dict]]:
    """Muon's groups and AdamW's groups: 2-D weights inside ``model.features``, then the rest.

    The hidden matrices (``features.*`` with two dimensions) go to Muon; biases, the classifier
    (the output layer) and any non-2-D tensor (convolution kernels) go to AdamW with
    ``adamw_hyper``. Either list is empty when nothing matches (a CNN has no 2-D hidden weight).
    Built with :func:`course_lib.param_groups.split` (notebook 06).
    """
    rule = param_groups.Rule(prefix="features", predicate=_is_matrix, name="muon")
    groups = param_groups.split(
        model, [rule], rest={"name": "adamw", **adamw_hyper}, allow_empty=True
    )
    muon = [
        {k: v for k, v in g.items() if k != "name"}
        for g in groups
        if g["name"] == "muon" and g["params"]
    ]
    adamw = [
        {k: v for k, v in g.items() if k != "name"}
        for g in groups
        if g["name"] == "adamw" and g["params"]
    ]
    return muon, adamw


def _make_optimizers(name: str, model: nn.Module, hyper: Mapping) -> list[torch.optim.Optimizer]:
    """``[by_name(name, ...)]``, or for ``"Muon"`` a Muon on the hidden matrices plus an AdamW."""
    hyper = dict(hyper)
    if name != "Muon":
        return [optim.by_name(name, model.parameters(), **hyper)]
    adamw_keys = ("lr", "weight_decay")
    muon, adamw = muon_param_groups(model, **{k: hyper[k] for k in adamw_keys if k in hyper})
    out = [optim.by_name("Muon", muon, **hyper)] if muon else []
    return [*out, *([optim.by_name("AdamW", adamw)] if adamw else [])]


@dataclass(frozen=True)
class StateMemory:
    """One optimizer's state after one step: ``bytes`` over ``params`` parameters."""

    label: str
    optimizer: str
    params: int
    bytes: int

    @property
    def bytes_per_param(self) -> float:
        return self.bytes / self.params


def _one_step(opts: list[torch.optim.Optimizer], model: nn.Module, x, y) -> None:
    def closure():
        for o in opts:
            o.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    if any(type(o).__name__ == "LBFGS" for o in opts):
        for o in opts:
            o.step(closure)  # LBFGS re-evaluates the loss inside its step
        return
    closure()
    for o in opts:
        o.step()


def state_memory(
    make_model: Callable[[], nn.Module],
    labels: Sequence[str] | None = None,
    *,
    batch: int = 32,
    seed: int = 0,
) -> list[StateMemory]:
    """The state bytes of each optimizer of :data:`STATE_OPTIMIZERS` after one step on ``make_model()``.

    The model sees one random batch of ``batch`` inputs (its ``in_features``) and class labels; LBFGS
    takes its step through a closure (up to its ``max_iter`` = 20 iterations, filling its history of
    past steps and gradient changes). Schedule-Free AdamW is put in train mode first.

    Example:
        >>> rows = state_memory(lambda: nn.Sequential(nn.Linear(8, 4)), ["SGD", "Adam"])
        >>> [(r.label, r.params, r.bytes) for r in rows]
        [('SGD', 36, 0), ('Adam', 36, 296)]
    """
    labels = list(STATE_OPTIMIZERS) if labels is None else list(labels)
    rows = []
    for label in labels:
        name, hyper = STATE_OPTIMIZERS[label]
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = make_model()
        first = next(m for m in model.modules() if isinstance(m, nn.Linear))
        x = torch.randn(batch, first.in_features, generator=g)
        out_features = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
        y = torch.randint(0, out_features, (batch,), generator=g)
        opts = _make_optimizers(name, model, hyper)
        _set_mode(opts, "train")
        _one_step(opts, model, x, y)
        total = sum(p.numel() for p in model.parameters())
        rows.append(StateMemory(label, name, total, sum(state_bytes(o) for o in opts)))
    return rows


# --- Adafactor's factored second moment -----------------------------------------------------------


def factored_second_moment(v: torch.Tensor) -> torch.Tensor:
    r"""Adafactor's rank-1 estimate :math:`\hat V = R C / (1^\top R)` of a non-negative matrix.

    :math:`R` are the row sums (a column), :math:`C` the column sums (a row). It is exact when
    :math:`V` has rank one (Shazeer & Stern, 2018, show it minimises the I-divergence to :math:`V`
    among rank-1 non-negative matrices).

    Example:
        >>> v = torch.tensor([[1.0], [2.0]]) @ torch.tensor([[3.0, 4.0]])
        >>> torch.allclose(factored_second_moment(v), v)
        True
    """
    if v.ndim != 2:
        raise ValueError(f"v must be a matrix (2-D), got shape {tuple(v.shape)}")
    if (v < 0).any():
        raise ValueError("v must be non-negative (a second moment)")
    row = v.sum(dim=1, keepdim=True)
    col = v.sum(dim=0, keepdim=True)
    return row @ col / row.sum()


@dataclass(frozen=True)
class FactoredFit:
    """How close the factored estimate is to the full second moment of one matrix.

    ``median_ratio_error``: median over entries of :math:`|\\hat v / v - 1|`; ``log_corr``: the
    correlation of :math:`\\log \\hat v` and :math:`\\log v`; ``update_cosine``: the cosine between
    the updates :math:`g/\\sqrt{v}` and :math:`g/\\sqrt{\\hat v}` for the last gradient :math:`g`;
    ``full_numbers`` / ``factored_numbers``: :math:`nm` and :math:`n + m`.
    """

    shape: tuple[int, int]
    median_ratio_error: float
    log_corr: float
    update_cosine: float
    full_numbers: int
    factored_numbers: int


def compare_factored(
    v: torch.Tensor, grad: torch.Tensor, estimate: torch.Tensor | None = None, eps: float = 1e-30
) -> FactoredFit:
    """Compare ``v`` with an estimate of it (default :func:`factored_second_moment` ``(v)``) and the
    updates the two give ``grad``; pass e.g. ``torch.full_like(v, v.mean())`` to score another one."""
    vh = factored_second_moment(v) if estimate is None else estimate
    ratio = (vh + eps) / (v + eps)
    logs = torch.stack([torch.log(v + eps).flatten(), torch.log(vh + eps).flatten()])
    u_full = (grad / (v + eps).sqrt()).flatten()
    u_fact = (grad / (vh + eps).sqrt()).flatten()
    n, m = v.shape
    return FactoredFit(
        (n, m),
        float((ratio - 1).abs().median()),
        float(torch.corrcoef(logs)[0, 1]),
        float(F.cosine_similarity(u_full, u_fact, dim=0)),
        n * m,
        n + m,
    )


def second_moment(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, steps: int, seed: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    r"""The running mean :math:`v = \frac1k \sum_k g_k^2` over ``steps`` minibatch gradients.

    The gradients are taken at the model's current parameters (no update), batches drawn with
    ``seed``. Returns ``(v, last_grad)``, both by parameter name.
    """
    g = torch.Generator().manual_seed(seed)
    v = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    last = {}
    for _ in range(steps):
        idx = torch.randint(0, len(y), (batch_size,), generator=g)
        model.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        for n, p in model.named_parameters():
            if p.grad is not None:
                v[n] += p.grad.detach() ** 2 / steps
                last[n] = p.grad.detach().clone()
    return v, last


# --- RAdam's rectification ------------------------------------------------------------------------


def radam_rho(t: int, beta2: float) -> float:
    r"""RAdam's :math:`\rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t)`, :math:`\rho_\infty = 2/(1-\beta_2) - 1`.

    The length of the simple moving average that the EMA :math:`v_t` approximates after ``t`` steps
    (the paper's notation).
    """
    check_int("t", t, low=1)
    check_number("beta2", beta2, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    rho_inf = 2 / (1 - beta2) - 1
    b = beta2**t
    return rho_inf - 2 * t * b / (1 - b)


def radam_rectification(t: int, beta2: float) -> float:
    r"""RAdam's :math:`r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}`.

    ``0.0`` while :math:`\rho_t \le 5` (the step is then un-adapted SGD with momentum, as torch does).
    """
    rho_inf = 2 / (1 - beta2) - 1
    rho = radam_rho(t, beta2)
    if rho <= 5:
        return 0.0
    return math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))


def first_adaptive_step(beta2: float) -> int:
    """The first step ``t`` with :math:`\\rho_t > 5`: from there RAdam divides by :math:`\\sqrt{v_t}`."""
    t = 1
    while radam_rho(t, beta2) <= 5:
        t += 1
    return t


# --- Workloads, methods and one training run ------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A model, a step budget :math:`T` and how often the validation accuracy is measured.

    ``model`` and ``model_kwargs`` go to :func:`course_lib.models.build_model`; the CNN sees inputs
    with a channel axis. ``warmup_fraction`` of :math:`T` is the warm-up :math:`T_w` of the methods
    that warm up.
    """

    name: str
    model: str
    model_kwargs: Mapping = field(default_factory=dict)
    steps: int = 500
    batch_size: int = 128
    eval_every: int = 10
    warmup_fraction: float = 0.05

    def make_model(self, seed: int) -> nn.Module:
        from course_lib.models import build_model

        return build_model(self.model, seed=seed, **dict(self.model_kwargs))

    @property
    def warmup_steps(self) -> int:
        return max(1, round(self.warmup_fraction * self.steps))


#: How a method's rate moves over the run: ``"warmup_cosine"`` (linear warm-up over :math:`T_w`,
#: cosine to 0 at :math:`T`), ``"warmup"`` (warm-up, then constant), ``"constant"``, and
#: ``"schedule_free"`` (constant; :math:`T_w` passed to the optimizer as ``warmup_steps``).
SCHEDULES = ("warmup_cosine", "warmup", "constant", "schedule_free")


@dataclass(frozen=True)
class Method:
    """An optimizer (a :func:`course_lib.optim.by_name` name, or ``"Muon"`` for Muon + AdamW), its
    fixed hyperparameters, the candidate rates ``lrs`` its tuning tries, and its schedule."""

    optimizer: str
    lrs: tuple[float, ...]
    hyper: Mapping = field(default_factory=dict)
    schedule: str = "warmup_cosine"

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not self.lrs or any(not lr > 0 for lr in self.lrs):
            raise ValueError(f"lrs must be a non-empty tuple of rates > 0, got {self.lrs!r}")


def _multiplier(method: Method, workload: Workload) -> Callable[[int], float]:
    """The schedule's multiplier :math:`s(t)` (:math:`\\gamma_t = \\gamma\\, s(t)`)."""
    if method.schedule == "warmup_cosine":
        return schedules.warmup_cosine(1.0, workload.warmup_steps, workload.steps)
    if method.schedule == "warmup":
        return schedules.linear_warmup(1.0, workload.warmup_steps)
    return schedules.Constant(1.0)


def _set_mode(opts: Sequence[torch.optim.Optimizer], mode: str) -> None:
    """Call ``train()`` / ``eval()`` on the optimizers that have them (Schedule-Free's switch)."""
    for o in opts:
        switch = getattr(o, mode, None)
        if callable(switch):
            switch()


@dataclass(frozen=True)
class Run:
    """One run: the validation accuracy at ``steps`` and the training CPU seconds spent by then."""

    workload: str
    method: str
    lr: float
    seed: int
    steps: tuple[int, ...]
    val_acc: tuple[float, ...]
    cpu_seconds: tuple[float, ...]
    diverged: bool

    @property
    def final_val_acc(self) -> float:
        return self.val_acc[-1] if self.val_acc and not self.diverged else math.nan

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc) if self.val_acc else math.nan


def steps_to_target(run: Run, target: float) -> tuple[int, float] | None:
    """``(step, cpu_seconds)`` of the first evaluation with validation accuracy >= ``target``.

    ``None`` when the run never reached it.

    Example:
        >>> r = Run("w", "m", 0.1, 0, (10, 20, 30), (0.5, 0.7, 0.8), (0.1, 0.2, 0.3), False)
        >>> steps_to_target(r, 0.7), steps_to_target(r, 0.9)
        ((20, 0.2), None)
    """
    for step, acc, cpu in zip(run.steps, run.val_acc, run.cpu_seconds):
        if acc >= target:
            return step, cpu
    return None


def _val_acc(model: nn.Module, xv: torch.Tensor, yv: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        acc = float((model(xv).argmax(dim=1) == yv).float().mean())
    model.train()
    return acc


def _batches(n: int, batch_size: int, generator: torch.Generator):
    while True:
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i : i + batch_size]


def _prep(workload: Workload, x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1) if workload.model == "cnn" else x


def _step(opts, base, factor: float, model: nn.Module, x, y, idx) -> float:
    """One step of every optimizer in ``opts`` at the rates ``base`` times ``factor``; the loss."""
    for o, lrs in zip(opts, base):
        for group, lr0 in zip(o.param_groups, lrs):
            group["lr"] = lr0 * factor
    loss = F.cross_entropy(model(x[idx]), y[idx])
    for o in opts:
        o.zero_grad(set_to_none=True)
    loss.backward()
    for o in opts:
        o.step()
    return loss.item()


def train_run(
    workload: Workload,
    method: Method,
    lr: float,
    fit: Split,
    val: tuple,
    seed: int,
    label: str = "",
) -> Run:
    """Train ``workload``'s model with ``method`` at rate ``lr`` for :math:`T` steps from ``seed``.

    The model is initialised and the batches drawn from ``seed`` (the caller's RNG is untouched);
    every ``eval_every`` steps the validation accuracy is measured (Schedule-Free in eval mode).
    Only the training steps are timed (``time.process_time``). A non-finite loss stops the run.
    """
    x, y = _prep(workload, fit.x_train), fit.y_train
    xv, yv = _prep(workload, val[0]), val[1]
    hyper = {"lr": lr, **dict(method.hyper)}
    if method.schedule == "schedule_free":
        hyper["warmup_steps"] = workload.warmup_steps
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = workload.make_model(seed)
        opts = _make_optimizers(method.optimizer, model, hyper)
        base = [[g["lr"] for g in o.param_groups] for o in opts]
        s = _multiplier(method, workload)
        batches = _batches(len(y), workload.batch_size, torch.Generator().manual_seed(seed))
        steps, accs, cpus, cpu, diverged = [], [], [], 0.0, False
        _set_mode(opts, "train")
        for t in range(workload.steps):
            start = time.process_time()
            loss = _step(opts, base, s(t), model, x, y, next(batches))
            cpu += time.process_time() - start
            if not math.isfinite(loss):
                diverged = True
                break
            if (t + 1) % workload.eval_every == 0:
                _set_mode(opts, "eval")
                steps.append(t + 1)
                accs.append(_val_acc(model, xv, yv))
                cpus.append(cpu)
                _set_mode(opts, "train")
    name = label or method.optimizer
    return Run(workload.name, name, lr, seed, tuple(steps), tuple(accs), tuple(cpus), diverged)


# --- Tuning and the benchmark ---------------------------------------------------------------------


def pick_trial(trials: Sequence[Run], target: float) -> Run:
    """The trial that reaches ``target`` in the fewest steps (ties: the higher final accuracy).

    When no trial reaches it, the one with the highest final validation accuracy.
    """

    def key(run: Run):
        hit = steps_to_target(run, target)
        final = run.final_val_acc if math.isfinite(run.final_val_acc) else -1.0
        return (0, hit[0], -final) if hit else (1, 0, -final)

    return min(trials, key=key)


def tune(workload: Workload, method: Method, fit: Split, val: tuple, seed: int, label: str = ""):
    """One trial per candidate rate of ``method`` on the validation split (the tuning budget)."""
    return [train_run(workload, method, lr, fit, val, seed, label) for lr in method.lrs]


@dataclass(frozen=True)
class BenchmarkResult:
    """Everything :func:`benchmark` measured, keyed by ``(workload name, method name)``.

    ``targets``: each workload's target validation accuracy; ``trials``: the tuning runs; ``lrs``:
    the rate each method's tuning picked; ``runs``: the evaluation runs, one per seed; ``aliases``:
    methods that are another method on a workload (Muon with no 2-D hidden weight is AdamW).
    """

    workloads: tuple[Workload, ...]
    methods: tuple[str, ...]
    baseline: str
    targets: dict[str, float]
    trials: dict[tuple[str, str], list[Run]]
    lrs: dict[tuple[str, str], float]
    runs: dict[tuple[str, str], list[Run]]
    aliases: dict[tuple[str, str], str]

    def workload(self, name: str) -> Workload:
        return next(w for w in self.workloads if w.name == name)

    def table(self, workload: str) -> compare.Table:
        """One row per (method, seed): ``steps`` and ``cpu_s`` to the target, ``reached``,
        ``final_val_acc``. A run that missed the target counts :math:`T` + ``eval_every`` steps and
        its whole CPU time (both lower bounds of its time to target)."""
        w, target, rows = self.workload(workload), self.targets[workload], []
        for method in self.methods:
            for run in self.runs[(workload, method)]:
                hit = steps_to_target(run, target)
                total_cpu = run.cpu_seconds[-1] if run.cpu_seconds else math.nan
                steps, cpu = hit if hit else (w.steps + w.eval_every, total_cpu)
                rows.append(
                    {"config": method, "seed": run.seed, "steps": float(steps), "cpu_s": cpu,
                     "reached": float(hit is not None), "final_val_acc": run.final_val_acc}
                )  # fmt: skip
        return compare.Table.from_rows(rows)

    def median_steps(self, workload: str, method: str) -> float:
        """Median over seeds of the steps to the target (``inf`` when most runs missed it)."""
        hits = [steps_to_target(r, self.targets[workload]) for r in self.runs[(workload, method)]]
        return float(np.median([h[0] if h else math.inf for h in hits]))

    def times(self) -> dict[str, dict[str, float]]:
        """``{workload: {method: median steps to target}}``, the input of the performance profile."""
        return {
            w.name: {m: self.median_steps(w.name, m) for m in self.methods} for w in self.workloads
        }


def _has_hidden_matrix(workload: Workload) -> bool:
    return bool(muon_param_groups(workload.make_model(0))[0])


def benchmark(
    workloads: Sequence[Workload],
    methods: Mapping[str, Method],
    split: Split,
    val: tuple,
    *,
    tune_seed: int,
    seeds: Sequence[int],
    baseline: str = "AdamW",
    target_fraction: float = 0.9,
) -> BenchmarkResult:
    """The AlgoPerf-style protocol on each workload.

    1. Every method gets the same budget: one trial per candidate rate (``len(method.lrs)``, the
       same for all), on ``tune_seed``, judged on the validation split ``val``.
    2. The target is ``target_fraction`` times the best final validation accuracy of the baseline's
       trials (the baseline's reach).
    3. Each method keeps the trial that reaches the target soonest (:func:`pick_trial`) and runs it
       on the evaluation ``seeds``.

    Muon on a workload without 2-D hidden weights (a CNN) would train AdamW alone with the baseline's
    grid: it is recorded as an alias of the baseline instead of being run again.
    """
    check_number("target_fraction", target_fraction, low=0.0, high=1.0, low_inclusive=False)
    budgets = {len(m.lrs) for m in methods.values()}
    if len(budgets) != 1:
        raise ValueError(f"every method needs the same number of trials, got {budgets}")
    targets: dict[str, float] = {}
    trials: dict[tuple[str, str], list[Run]] = {}
    lrs: dict[tuple[str, str], float] = {}
    runs: dict[tuple[str, str], list[Run]] = {}
    aliases: dict[tuple[str, str], str] = {}
    for w in workloads:
        for name, method in methods.items():
            same = methods[baseline].lrs == method.lrs and name != baseline
            if method.optimizer == "Muon" and same and not _has_hidden_matrix(w):
                aliases[(w.name, name)] = baseline
            else:
                trials[(w.name, name)] = tune(w, method, split, val, tune_seed, name)
        reach = [r.final_val_acc for r in trials[(w.name, baseline)] if not r.diverged]
        targets[w.name] = target_fraction * max(reach)
        for name, method in methods.items():
            if (w.name, name) not in aliases:
                best = pick_trial(trials[(w.name, name)], targets[w.name])
                lrs[(w.name, name)] = best.lr
                runs[(w.name, name)] = [
                    train_run(w, method, best.lr, split, val, s, name) for s in seeds
                ]
            else:
                trials[(w.name, name)] = trials[(w.name, baseline)]
    for key, other in aliases.items():
        lrs[key], runs[key] = lrs[(key[0], other)], runs[(key[0], other)]
    return BenchmarkResult(
        tuple(workloads), tuple(methods), baseline, targets, trials, lrs, runs, aliases
    )


def performance_profile(
    times: Mapping[str, Mapping[str, float]], taus: Sequence[float]
) -> dict[str, np.ndarray]:
    r"""The fraction of workloads each method solves within :math:`\tau` times the best time.

    With :math:`t_{m,w}` the time of method :math:`m` on workload :math:`w` (``inf``: not solved),
    :math:`P_m(\tau) = \frac{1}{|W|}\,\#\{w : t_{m,w} \le \tau \min_{m'} t_{m',w}\}` (Dolan & Moré,
    2002; AlgoPerf's scoring, Dahl et al., 2023).

    Example:
        >>> p = performance_profile({"a": {"x": 10, "y": 20}, "b": {"x": 45, "y": 15}}, [1, 2])
        >>> p["x"].tolist(), p["y"].tolist()
        ([0.5, 0.5], [0.5, 1.0])
    """
    methods = sorted({m for row in times.values() for m in row})
    grid = np.asarray(taus, dtype=float)
    out = {m: np.zeros(len(grid)) for m in methods}
    for row in times.values():
        best = min(row.values())
        for m in methods:
            t = row.get(m, math.inf)
            if math.isfinite(best) and math.isfinite(t):
                out[m] += (t <= grid * best) / len(times)
    return out


def update_rms(optimizer: torch.optim.Optimizer) -> float:
    r"""The root mean square of Adam's step direction :math:`d_t = \hat m_t/(\sqrt{\hat v_t}+\varepsilon)`.

    Read from the state of an ``Adam``/``AdamW`` after a step, over all its parameters. Lion's
    direction :math:`\mathrm{sign}(\cdot)` has RMS 1 (every coordinate moves by :math:`\gamma`).
    """
    total, count = 0.0, 0
    for group in optimizer.param_groups:
        b1, b2 = group["betas"]
        for p in group["params"]:
            st = optimizer.state.get(p)
            if not st:
                continue
            t = float(st["step"])
            d = (st["exp_avg"] / (1 - b1**t)) / (
                (st["exp_avg_sq"] / (1 - b2**t)).sqrt() + group["eps"]
            )
            total += float((d**2).sum())
            count += d.numel()
    return math.sqrt(total / count)
