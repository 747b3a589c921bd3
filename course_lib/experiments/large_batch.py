r"""Large batches on MNIST-1D (notebook 12): the linear scaling rule, the noise scale, LARS and LAMB.

Data-parallel training with :math:`K` workers of :math:`b` examples each takes steps on a global
batch :math:`B = Kb` (DDP averages the workers' gradients into the gradient of the mean loss over
all :math:`B`). So a study of large batches needs no second process: one process with batch
:math:`B` computes the same step, and everything here runs in one.

Every run trains the course MLP for a fixed number of *epochs* (the same examples, in the same
order, for every batch size: :func:`~course_lib.experiments.wsd.batch_order` with one seed), so a
batch :math:`B` takes :math:`T = E\,n/B` steps. The rate of step :math:`t` is
:math:`\gamma_t = \gamma\,s(t)` with :func:`warmup_cosine`, a linear warm-up over the first epochs
followed by a cosine decay, applied by ``course_lib.schedulers.LambdaLR``.

- :func:`linear_rule`: Goyal et al. (2017): with :math:`\gamma_0` tuned at :math:`B_0`, use
  :math:`\gamma(B) = \gamma_0 B / B_0` (with warm-up, which the rule needs for large :math:`\gamma`).
- :func:`batch_study`: :math:`\gamma_0` tuned at :math:`B_0` on a validation split, then every
  :math:`B` twice: at the rule's rate and at a rate tuned on its own grid (the same number of
  candidates), on the same paired seeds; :meth:`BatchStudy.verdicts` says where the rule holds.
- :func:`noise_scale`: the simple gradient noise scale of McCandlish et al. (2018),
  :math:`B_\text{simple} = \operatorname{tr}\Sigma / |G|^2`, from per-example gradients
  (``torch.func``); :func:`noise_scale_study` measures it along a run.
- :func:`optimizer_study`: LARS against SGD and LAMB against Adam at one large batch, each tuned on
  a grid of the same size (``compare.tune_and_compare``), paired seeds.

Symbols as in ``docs/notation.md``: :math:`\gamma` the rate (``lr``), :math:`\mu` momentum,
:math:`B` the batch size, :math:`E` epochs, :math:`T` steps, :math:`T_w` warm-up steps.

    >>> w = Workload(epochs=2, warmup_epochs=1, hidden_sizes=(8,))
    >>> d = make_data()
    >>> m = train_run(w, d, "SGD", lr=0.05, batch_size=256, seed=0)
    >>> sorted(m)
    ['diverged', 'steps', 'test_acc', 'test_loss', 'train_loss', 'val_acc', 'val_loss']
    >>> m["steps"]
    24.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib import compare, models
from course_lib._validation import check_choice, check_int, check_number, check_sizes
from course_lib.experiments.wsd import Data, batch_order, final_metrics
from course_lib.experiments.wsd import make_data as wsd_make_data
from course_lib.optim import LARS, SGD, Adam, Lamb
from course_lib.schedulers import LambdaLR
from course_lib.training import train_step

__all__ = [
    "OPTIMIZERS",
    "BatchStudy",
    "NoiseScale",
    "Runs",
    "Trainer",
    "Verdict",
    "Workload",
    "batch_study",
    "batch_table",
    "linear_rule",
    "make_data",
    "make_optimizer",
    "noise_scale",
    "noise_scale_study",
    "optimizer_study",
    "train_run",
    "verdict_of",
    "warmup_cosine",
]

#: The optimizers :func:`make_optimizer` builds by name.
OPTIMIZERS = ("SGD", "LARS", "Adam", "LAMB")


@dataclass(frozen=True)
class Workload:
    """The training setting every run shares.

    Args:
        epochs: :math:`E`, passes over the fit set (>= 1), the same for every batch size.
        warmup_epochs: the linear warm-up, in epochs (>= 0, < ``epochs``).
        base_batch_size: :math:`B_0`, where :math:`\\gamma_0` is tuned (>= 1).
        hidden_sizes: hidden units of the course MLP.
        momentum: :math:`\\mu` of SGD and LARS, in [0, 1).
        trust_coefficient: LARS's :math:`c` (> 0).
    """

    epochs: int = 10
    warmup_epochs: int = 2
    base_batch_size: int = 32
    hidden_sizes: tuple[int, ...] = (100, 100)
    momentum: float = 0.9
    trust_coefficient: float = 0.01

    def __post_init__(self):
        check_int("epochs", self.epochs, low=1)
        check_int("warmup_epochs", self.warmup_epochs, low=0, high=self.epochs - 1)
        check_int("base_batch_size", self.base_batch_size, low=1)
        object.__setattr__(self, "hidden_sizes", check_sizes("hidden_sizes", self.hidden_sizes))
        check_number("momentum", self.momentum, low=0.0, high=1.0, high_inclusive=False)
        check_number("trust_coefficient", self.trust_coefficient, low=0.0, low_inclusive=False)


def make_data(val_fraction: float = 0.232, seed: int = 0) -> Data:
    """MNIST-1D with a validation split; the default leaves 3072 = 3 · 1024 fit examples, so every
    batch size from 32 to 1024 divides an epoch exactly (the same examples for each).

        >>> len(make_data().y_fit)
        3072
    """
    return wsd_make_data(val_fraction=val_fraction, seed=seed)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """The factor :math:`s(t)` of ``LambdaLR``: :math:`(t+1)/T_w` for :math:`t < T_w`, then
    :math:`\\tfrac12(1 + \\cos(\\pi (t - T_w)/(T - T_w)))`.

        >>> [round(warmup_cosine(t, 2, 6), 3) for t in range(6)]
        [0.5, 1.0, 1.0, 0.854, 0.5, 0.146]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (
        1.0 + math.cos(math.pi * (step - warmup_steps) / max(1, total_steps - warmup_steps))
    )


def linear_rule(lr0: float, batch_size: int, base_batch_size: int = 32) -> float:
    """Goyal et al.'s linear scaling rule, :math:`\\gamma(B) = \\gamma_0 B / B_0`.

    >>> linear_rule(0.1, 1024)
    3.2
    """
    check_number("lr0", lr0, low=0.0, low_inclusive=False)
    check_int("batch_size", batch_size, low=1)
    check_int("base_batch_size", base_batch_size, low=1)
    return lr0 * batch_size / base_batch_size


def make_optimizer(name: str, params, lr: float, workload: Workload) -> torch.optim.Optimizer:
    """``"SGD"`` and ``"LARS"`` with the workload's :math:`\\mu` (LARS with its :math:`c`),
    ``"Adam"`` and ``"LAMB"`` with their defaults; no weight decay for any."""
    kind = check_choice("name", name, OPTIMIZERS)
    if kind == "SGD":
        return SGD(params, lr=lr, momentum=workload.momentum)
    if kind == "LARS":
        return LARS(
            params, lr=lr, momentum=workload.momentum, trust_coefficient=workload.trust_coefficient
        )
    return Adam(params, lr=lr) if kind == "Adam" else Lamb(params, lr=lr)


@dataclass
class Trainer:
    """A run in progress (what :func:`train_run` does, in pieces, so a study can stop and measure)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    order: torch.Tensor
    data: Data
    step: int = 0
    diverged: bool = False

    @classmethod
    def start(
        cls, workload: Workload, data: Data, optimizer: str, lr: float, batch_size: int, seed: int
    ) -> Trainer:
        """The MLP from ``seed``, the optimizer at ``lr``, ``LambdaLR`` with :func:`warmup_cosine`."""
        n = len(data.y_fit)
        check_int("batch_size", batch_size, low=1, high=n)
        check_number("lr", lr, low=0.0, low_inclusive=False)
        model = models.MLP(hidden_sizes=workload.hidden_sizes, seed=seed)
        opt = make_optimizer(optimizer, model.parameters(), lr, workload)
        per_epoch = n // batch_size
        total = workload.epochs * per_epoch
        factor = functools.partial(
            warmup_cosine, warmup_steps=workload.warmup_epochs * per_epoch, total_steps=total
        )
        order = batch_order(n, total, batch_size, seed)
        return cls(model, opt, LambdaLR(opt, factor), order, data)

    @property
    def total_steps(self) -> int:
        r""":math:`T = E \lfloor n / B \rfloor`."""
        return len(self.order)

    def advance(self, stop: int) -> Trainer:
        """Steps ``self.step .. stop - 1``; a non-finite loss stops the run (``diverged``)."""
        check_int("stop", stop, low=self.step, high=self.total_steps)
        self.model.train()
        while self.step < stop and not self.diverged:
            idx = self.order[self.step]
            x, y = self.data.x_fit[idx], self.data.y_fit[idx]
            self.diverged = not train_step(self.model, self.optimizer, x, y).finite
            self.scheduler.step()
            self.step += 1
        return self


def train_run(
    workload: Workload, data: Data, optimizer: str, lr: float, batch_size: int, seed: int
) -> dict[str, float]:
    """One run: the MLP from ``seed``, :math:`E` epochs at batch ``batch_size``, warm-up + cosine.

    Returns ``final_metrics`` (fit loss, validation and test loss and accuracy) plus ``steps``
    (:math:`T`) and ``diverged`` (1.0 when a loss was not finite: training stopped there and the
    accuracies are those of the weights reached, about chance).
    """
    run = Trainer.start(workload, data, optimizer, lr, batch_size, seed)
    run.advance(run.total_steps)
    return {
        **final_metrics(run.model, data),
        "steps": float(run.total_steps),
        "diverged": float(run.diverged),
    }


class Runs:
    """:func:`train_run` with a memory: ``runs(optimizer, lr, batch_size, seed)`` trains once per
    distinct argument set (runs are deterministic), so studies that share runs pay for them once.
    ``trained`` counts the runs actually trained."""

    def __init__(self, workload: Workload, data: Data):
        self.workload = workload
        self.data = data
        self.cache: dict[tuple, dict[str, float]] = {}
        self.trained = 0

    def __call__(self, optimizer: str, lr: float, batch_size: int, seed: int) -> dict[str, float]:
        key = (optimizer, round(float(lr), 12), int(batch_size), int(seed))
        if key not in self.cache:
            self.cache[key] = train_run(self.workload, self.data, optimizer, lr, batch_size, seed)
            self.trained += 1
        return self.cache[key]

    def of(self, optimizer: str, batch_size: int):
        """``run(lr, seed)`` for ``compare``'s sweeps, at a fixed optimizer and batch size."""
        return functools.partial(self._lr_seed, optimizer, batch_size)

    def _lr_seed(self, optimizer: str, batch_size: int, lr: float, seed: int) -> dict[str, float]:
        return self(optimizer, lr, batch_size, seed)


@dataclass(frozen=True)
class Verdict:
    """How a batch size fares against :math:`B_0` (test accuracy, paired over seeds).

    ``status`` is ``"tie"`` (interval inside ±margin), ``"worse"`` (interval below zero: the rule
    or the tuning *breaks* there), ``"better"`` (above zero) or ``"not distinguishable"`` (the
    interval holds zero but is wider than the margin). :attr:`holds` is every status but ``"worse"``.
    """

    batch_size: int
    kind: str
    lr: float
    difference: compare.Difference
    status: str

    @property
    def holds(self) -> bool:
        return self.status != "worse"

    def __str__(self) -> str:
        d = self.difference
        return (
            f"{self.kind} B={self.batch_size} (γ={self.lr:.3g}) - B0: {d.mean:+.3f} "
            f"[{d.low:+.3f}, {d.high:+.3f}] -> {self.status}"
        )


def verdict_of(d: compare.Difference, margin: float) -> str:
    """``"tie"``, ``"worse"``, ``"better"`` or ``"not distinguishable"`` for ``d`` = config - B0."""
    check_number("margin", margin, low=0.0, low_inclusive=False)
    if d.within(margin):
        return "tie"
    if d.excludes_zero():
        return "worse" if d.mean < 0 else "better"
    return "not distinguishable"


@dataclass(frozen=True)
class BatchStudy:
    """The batch-size study (see :func:`batch_study`).

    Attributes:
        batch_sizes: the :math:`B` studied, :math:`B_0` first; seeds: the paired seeds.
        lr0: :math:`\\gamma_0`, tuned at :math:`B_0`.
        grids, sweeps: :math:`B` -> the candidate rates and their validation sweep.
        rule_lrs, tuned_lrs: :math:`B` -> the linear rule's rate and the tuned one.
        table: test metrics, configs ``"rule B=..."`` and ``"tuned B=..."`` (both at :math:`B_0`).
    """

    batch_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    lr0: float
    grids: dict
    sweeps: dict
    rule_lrs: dict
    tuned_lrs: dict
    table: compare.Table

    def difference(self, batch_size: int, kind: str = "rule") -> compare.Difference:
        """Paired test accuracy of ``kind`` (``"rule"`` / ``"tuned"``) at ``batch_size`` minus
        :math:`B_0` (tuned, which is the rule there too)."""
        check_choice("kind", kind, ("rule", "tuned"))
        check_choice("batch_size", batch_size, self.batch_sizes)
        base = f"tuned B={self.batch_sizes[0]}"
        return compare.difference(self.table, f"{kind} B={batch_size}", base, "test_acc")

    def verdicts(self, kind: str = "rule", margin: float = 0.02) -> list[Verdict]:
        """One :class:`Verdict` per :math:`B > B_0`."""
        lrs = self.rule_lrs if kind == "rule" else self.tuned_lrs
        out = []
        for b in self.batch_sizes[1:]:
            d = self.difference(b, kind)
            out.append(Verdict(b, kind, float(lrs[b]), d, verdict_of(d, margin)))
        return out

    def breaks_at(self, kind: str = "rule", margin: float = 0.02) -> int | None:
        """The smallest :math:`B` where ``kind`` is worse than :math:`B_0` (``None``: nowhere)."""
        worse = [v.batch_size for v in self.verdicts(kind, margin) if not v.holds]
        return min(worse) if worse else None


def _check_study_args(batch_sizes, base_grid, factors) -> tuple[int, ...]:
    sizes = tuple(check_int(f"batch_sizes[{i}]", b, low=1) for i, b in enumerate(batch_sizes))
    if len(sizes) < 2 or list(sizes) != sorted(set(sizes)):
        raise ValueError(f"batch_sizes must be >= 2 increasing sizes, got {list(batch_sizes)}")
    if len(tuple(factors)) != len(tuple(base_grid)):
        raise ValueError(
            f"factors must have as many entries as base_grid ({len(tuple(base_grid))}), "
            f"got {len(tuple(factors))}"
        )
    return sizes


def batch_study(
    runs: Runs,
    batch_sizes: Sequence[int],
    base_grid: Sequence[float],
    factors: Sequence[float],
    seeds: Sequence[int],
) -> BatchStudy:
    """SGD with momentum at every batch size, at the linear rule's rate and at a tuned rate.

    1. :math:`\\gamma_0` = the best of ``base_grid`` at :math:`B_0` = ``batch_sizes[0]`` (mean
       validation accuracy over ``seeds``).
    2. For each larger :math:`B`: the rule's :math:`\\gamma(B) = \\gamma_0 B/B_0`, and the best of
       the grid :math:`\\{f\\,\\gamma(B) : f \\in` ``factors`` :math:`\\}` (the same number of
       candidates as ``base_grid``: an equal tuning budget), on the same seeds.

    The test accuracy is reported, never used to choose. Runs are memoised by ``runs``, so the
    rule's run is free when 1 is among the factors.
    """
    sizes = _check_study_args(batch_sizes, base_grid, factors)
    seeds = tuple(seeds)
    b0 = sizes[0]
    sweeps = {b0: compare.best_lr(runs.of("SGD", b0), base_grid, seeds)}
    lr0 = float(sweeps[b0].best)
    grids, rule = {b0: tuple(base_grid)}, {b0: lr0}
    for b in sizes[1:]:
        rule[b] = linear_rule(lr0, b, b0)
        grids[b] = tuple(f * rule[b] for f in factors)
        sweeps[b] = compare.best_lr(runs.of("SGD", b), grids[b], seeds)
    tuned = {b: float(s.best) for b, s in sweeps.items()}
    rows = [
        {"config": f"{kind} B={b}", "seed": s, "lr": lr, **runs("SGD", lr, b, s)}
        for b in sizes
        for kind, lr in (("rule", rule[b]), ("tuned", tuned[b]))
        for s in seeds
    ]
    return BatchStudy(sizes, seeds, lr0, grids, sweeps, rule, tuned, compare.Table.from_rows(rows))


def batch_table(study: BatchStudy, margin: float = 0.02) -> str:
    """The study as text: per :math:`B`, the rates, test accuracy (mean ± std over seeds) and the
    paired difference to :math:`B_0` with its 95 % interval, for the tuned rate and the rule."""
    summary = study.table.summary(["test_acc"])
    rule = {v.batch_size: v for v in study.verdicts("rule", margin)}
    tuned = {v.batch_size: v for v in study.verdicts("tuned", margin)}
    lines = [
        f"{'B':>5} {'best γ':>7} {'rule γ':>7} {'acc tuned':>14} {'acc rule':>14}"
        f" {'tuned - B0 [95%]':>24} {'rule - B0 [95%]':>24}  rule"
    ]
    for b in study.batch_sizes:
        acc = [summary.cell(f"{k} B={b}", "test_acc").split(" [")[0] for k in ("tuned", "rule")]
        diffs = ["" if b not in v else _interval(v[b].difference) for v in (tuned, rule)]
        status = rule[b].status if b in rule else "(base)"
        lines.append(
            f"{b:>5} {study.tuned_lrs[b]:>7.3g} {study.rule_lrs[b]:>7.3g} {acc[0]:>14} "
            f"{acc[1]:>14} {diffs[0]:>24} {diffs[1]:>24}  {status}"
        )
    return "\n".join(lines)


def _interval(d: compare.Difference) -> str:
    return f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"


@dataclass(frozen=True)
class NoiseScale:
    """The simple noise scale at one point of training (McCandlish et al., 2018, eq. 2.4/2.5).

    With per-example gradients :math:`g_i` of the :math:`n` fit examples, :math:`\\bar g` their
    mean: :math:`\\operatorname{tr}\\Sigma = \\frac{n}{n-1}(\\frac1n\\sum_i |g_i|^2 - |\\bar g|^2)`
    (unbiased), :math:`|G|^2 = |\\bar g|^2 - \\operatorname{tr}\\Sigma / n` (unbiased) and
    :math:`B_\\text{simple} = \\operatorname{tr}\\Sigma / |G|^2`: the batch at which the noise of a
    batch's gradient, :math:`\\operatorname{tr}\\Sigma/B`, equals the squared signal :math:`|G|^2`.
    """

    step: int
    trace: float
    grad_sq: float
    b_simple: float


def noise_scale(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk_size: int = 1024):
    """:class:`NoiseScale` (``step`` 0) of ``model``'s cross-entropy on ``(x, y)``, from
    per-example gradients (``torch.func.vmap`` of ``grad``), accumulated over chunks.

        >>> m = models.MLP(hidden_sizes=(8,), seed=0)
        >>> ns = noise_scale(m, torch.randn(64, 40), torch.randint(0, 10, (64,)))
        >>> ns.trace > 0
        True
    """
    check_int("chunk_size", chunk_size, low=1)
    n = len(y)
    check_int("len(y)", n, low=2)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, yi):
        out = torch.func.functional_call(model, p, (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    total = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in params.items()}
    sq = 0.0
    for xs, ys in zip(x.split(chunk_size), y.split(chunk_size)):
        for k, g in per_example(params, xs, ys).items():
            total[k] += g.sum(0).double()
            sq += float(g.flatten(1).pow(2).sum(1).double().sum())
    mean_sq = sum(float(t.pow(2).sum()) for t in total.values()) / n**2
    trace = n / (n - 1) * (sq / n - mean_sq)
    grad_sq = mean_sq - trace / n
    return NoiseScale(0, trace, grad_sq, trace / grad_sq if grad_sq > 0 else math.inf)


def noise_scale_study(
    workload: Workload,
    data: Data,
    lr: float,
    seed: int,
    fractions: Sequence[float] = (0.0, 0.25, 0.5, 1.0),
    max_examples: int | None = None,
) -> list[NoiseScale]:
    """:math:`B_\\text{simple}` along a run of SGD at :math:`B_0` and rate ``lr``: at each of
    ``fractions`` of its :math:`T` steps, on the fit set (its first ``max_examples`` only, when
    given: a cheaper, noisier estimate)."""
    n = len(data.y_fit) if max_examples is None else check_int("max_examples", max_examples, low=2)
    x, y = data.x_fit[:n], data.y_fit[:n]
    run = Trainer.start(workload, data, "SGD", lr, workload.base_batch_size, seed)
    out = []
    for i, f in enumerate(fractions):
        check_number(f"fractions[{i}]", f, low=0.0, high=1.0)
        run.advance(max(run.step, round(f * run.total_steps)))
        ns = noise_scale(run.model, x, y)
        out.append(NoiseScale(run.step, ns.trace, ns.grad_sq, ns.b_simple))
    return out


def optimizer_study(
    runs: Runs,
    batch_size: int,
    grids: Mapping[str, Sequence[float]],
    seeds: Sequence[int],
    eval_seeds: Sequence[int] | None = None,
) -> compare.Comparison:
    """Each optimizer of ``grids`` (names of :data:`OPTIMIZERS`) at ``batch_size``, its rate tuned
    on its grid (all grids of one size: ``compare.tune_and_compare``'s equal budget) by mean
    validation accuracy over ``seeds``, then run at that rate on ``eval_seeds`` (default
    ``seeds``; a seed in both reuses its tuning run)."""
    for name in grids:
        check_choice("grids key", name, OPTIMIZERS)
    methods = {name: runs.of(name, batch_size) for name in grids}
    return compare.tune_and_compare(
        methods,
        dict(grids),
        tune_seeds=seeds,
        eval_seeds=seeds if eval_seeds is None else eval_seeds,
    )
