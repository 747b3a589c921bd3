r"""The experiments of notebook 11 (the training loop in practice) on MNIST-1D.

Each function measures one thing the notebook states, with ``course_lib.training``'s loop
(:func:`~course_lib.training.fit`, :func:`~course_lib.training.accumulate_step`) and torch's own
machinery (``torch.autocast``, ``torch.amp.GradScaler``, ``torch.nn.utils.clip_grad_norm_``):

- gradient accumulation: :func:`accumulation_gap` (``k`` micro-batches against one ``k`` times larger
  batch), :func:`accumulation_pitfalls` (summing the micro-batch losses, and ``loss / k`` with
  uneven micro-batches), :func:`scheduler_lrs` (the scheduler steps per optimizer step);
- clipping: :func:`train_run` with ``max_grad_norm`` (divergence and ``history.grad_norm``) and
  :func:`clip_directions` (by norm keeps the direction, by value does not);
- mixed precision: :func:`autocast_dtypes` (what runs in bfloat16), :func:`scaler_skip` (an inf
  injected into a gradient: the skipped step), :func:`unprotected_loop` (a loop that steps the
  scheduler after a skipped step), :func:`scaled_clipping` (clipping before ``unscale_``);
- low-precision optimizer state: :func:`low_precision_adam` (Adam on bfloat16 weights and state,
  :func:`spacing` of the numbers at a weight);
- full checkpoints: :func:`resume_check` (a run stopped mid-epoch and resumed, bit for bit).

Symbols as in ``docs/notation.md``: :math:`\gamma` the learning rate (``lr``), :math:`g` the
gradient of the mean loss, :math:`c` the clipping threshold (``max_grad_norm``), :math:`S` the loss
scale of ``GradScaler``, :math:`n_b` the examples of micro-batch :math:`b` and
:math:`N = \sum_b n_b`.

    >>> d = make_data()
    >>> r = train_run(d, seed=0, lr=0.1, epochs=1, hidden_sizes=(16,))
    >>> r.metrics["diverged"], sorted(r.metrics)
    (0.0, ['diverged', 'failed', 'test_acc', 'train_loss', 'val_acc'])
"""

from __future__ import annotations

import functools
import math
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import models
from course_lib._validation import check_choice, check_int, check_number, check_sizes
from course_lib.averaging import AveragedModel, get_ema_multi_avg_fn
from course_lib.experiments.wsd import Data, make_data
from course_lib.optim import SGD, Adam
from course_lib.training import History, accumulate_step, evaluate, fit

__all__ = [
    "FAILED_BELOW",
    "OPTIMIZERS",
    "AccumulationPitfalls",
    "Data",
    "ResumeCheck",
    "RunResult",
    "ScaledClipping",
    "ScalerSkip",
    "StepRecorder",
    "UnprotectedLoop",
    "accumulation_gap",
    "accumulation_pitfalls",
    "adam_update",
    "autocast_dtypes",
    "clip_directions",
    "decay_scheduler",
    "flat_grad",
    "grad_norm",
    "grad_vector",
    "inject_inf",
    "linear_decay",
    "low_precision_adam",
    "lr_series",
    "make_data",
    "make_loaders",
    "make_optimizer",
    "max_param_diff",
    "output_weight",
    "practice_run",
    "relative_error",
    "resume_check",
    "run_metrics",
    "same_state",
    "scaled_clipping",
    "scaler_skip",
    "scheduler_lrs",
    "spacing",
    "split_batch",
    "state_bytes_per_parameter",
    "train_run",
    "unprotected_loop",
]

#: The optimizers :func:`train_run` builds by name (course_lib's, equal to torch's).
OPTIMIZERS = ("sgd", "adam")

#: A run "failed" when it diverged or ends with a validation accuracy below this (chance is 0.1 on
#: MNIST-1D's ten classes): a blown-up network whose units all died is finite but has learnt nothing.
FAILED_BELOW = 0.2


def make_loaders(
    data: Data, batch_size: int, seed: int, *, dtype: torch.dtype = torch.float32
) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Training (shuffled by its own generator seeded with ``seed``), validation and test loaders.

    >>> train, val, test = make_loaders(make_data(), 100, seed=0)
    >>> len(train), len(val.dataset), len(test.dataset)
    (32, 800, 1000)
    """
    check_int("batch_size", batch_size, low=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    fit_set = TensorDataset(data.x_fit.to(dtype), data.y_fit)
    train = DataLoader(fit_set, batch_size=batch_size, shuffle=True, generator=g)
    val = DataLoader(TensorDataset(data.x_val.to(dtype), data.y_val), batch_size=1000)
    test = DataLoader(TensorDataset(data.x_test.to(dtype), data.y_test), batch_size=1000)
    return train, val, test


def make_optimizer(name: str, model: nn.Module, lr: float, momentum: float = 0.0):
    """course_lib's ``SGD`` (with ``momentum`` :math:`\\mu`) or ``Adam`` on all of ``model``."""
    check_choice("optimizer", name, OPTIMIZERS)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    if name == "sgd":
        return SGD(model.parameters(), lr=lr, momentum=momentum)
    return Adam(model.parameters(), lr=lr)


@dataclass(frozen=True)
class RunResult:
    """One :func:`train_run`: the trained ``model``, its ``history`` and final ``metrics``
    (``val_acc``, ``test_acc``, ``train_loss`` of the last epoch, ``diverged`` 0 or 1 (a non-finite
    loss), ``failed`` 0 or 1 (diverged or below :data:`FAILED_BELOW`); ``nan`` scores after a
    divergence); ``ema_val_acc`` / ``ema_test_acc`` too with an EMA."""

    model: nn.Module
    history: History
    metrics: dict


def run_metrics(model: nn.Module, history: History, val, test, ema=None) -> dict:
    """Final metrics of a run (``nan`` scores when it diverged)."""
    if history.diverged:
        nan = math.nan
        out = {"val_acc": nan, "test_acc": nan, "train_loss": nan, "diverged": 1.0, "failed": 1.0}
        return {**out, **({"ema_val_acc": nan, "ema_test_acc": nan} if ema is not None else {})}
    out = {
        "val_acc": evaluate(model, val)["accuracy"],
        "test_acc": evaluate(model, test)["accuracy"],
        "train_loss": history.train_loss[-1],
        "diverged": 0.0,
    }
    out["failed"] = float(out["val_acc"] < FAILED_BELOW)
    if ema is not None:
        out["ema_val_acc"] = evaluate(ema, val)["accuracy"]
        out["ema_test_acc"] = evaluate(ema, test)["accuracy"]
    return out


def train_run(
    data: Data,
    seed: int,
    *,
    lr: float,
    epochs: int,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    batch_size: int = 100,
    hidden_sizes: Sequence[int] = (100, 100),
    ema_decay: float | None = None,
    **fit_options,
) -> RunResult:
    """The course's MLP trained by :func:`~course_lib.training.fit` on the fit split.

    ``seed`` fixes the initialisation and the batch order (so runs with the same seed are paired);
    ``fit_options`` go to ``fit`` (``max_grad_norm``, ``precision``, ``accumulation_steps``, ...).
    With ``ema_decay`` :math:`\\beta`, ``fit`` also keeps an EMA of the weights,
    :math:`\\bar\\theta_t = \\beta \\bar\\theta_{t-1} + (1 - \\beta) \\theta_t`.
    A divergence (non-finite loss) is caught: ``metrics["diverged"] = 1``.
    """
    check_int("epochs", epochs, low=1)
    model = models.MLP(hidden_sizes=check_sizes("hidden_sizes", hidden_sizes), seed=seed)
    opt = make_optimizer(optimizer, model, lr, momentum)
    ema = None
    if ema_decay is not None:
        check_number("ema_decay", ema_decay, low=0.0, high=1.0, high_inclusive=False)
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay))
    train, val, test = make_loaders(data, batch_size, seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="diverged at step", category=RuntimeWarning)
        history = fit(
            model, opt, train, epochs, val_loader=val, device="cpu", progress=False, ema=ema,
            **fit_options,
        )  # fmt: skip
    return RunResult(model, history, run_metrics(model, history, val, test, ema))


# --------------------------------------------------------------------------------------------------
# Gradient accumulation
# --------------------------------------------------------------------------------------------------


def max_param_diff(a: nn.Module, b: nn.Module) -> float:
    """:math:`\\max_i |\\theta^a_i - \\theta^b_i|` over all parameters of two models of one shape."""
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def accumulation_gap(
    data: Data,
    *,
    k: int = 4,
    batch_size: int = 100,
    steps: int = 5,
    dtype: torch.dtype = torch.float64,
    lr: float = 0.1,
    momentum: float = 0.9,
    seed: int = 0,
) -> float:
    """Max parameter difference between ``fit(accumulation_steps=k)`` on batches of
    ``batch_size / k`` and plain ``fit`` on batches of ``batch_size``, after ``steps`` steps.

    Both loaders draw the same permutation of the examples every epoch, so each window of ``k``
    micro-batches holds exactly the examples of one large batch; in exact arithmetic the two runs
    are the same (SGD with momentum :math:`\\mu`), so the difference is rounding only. (Over many
    steps training amplifies rounding differences, a ReLU that flips at one step changes the
    next ones: the check is meant for a few steps.)

        >>> accumulation_gap(make_data(), k=2, batch_size=400, dtype=torch.float64) < 1e-12
        True
    """
    check_int("k", k, low=1)
    check_int("steps", steps, low=1)
    if batch_size % k:
        raise ValueError(f"batch_size must be a multiple of k={k}, got {batch_size}")
    runs = []
    for size, micro in ((batch_size, 1), (batch_size // k, k)):
        model = models.MLP(seed=seed).to(dtype)
        opt = SGD(model.parameters(), lr=lr, momentum=momentum)
        train, _, _ = make_loaders(data, size, seed, dtype=dtype)
        epochs = -(-steps * batch_size // len(data.y_fit))
        fit(model, opt, train, epochs, device="cpu", progress=False, accumulation_steps=micro,
            max_steps=steps)  # fmt: skip
        runs.append(model)
    return max_param_diff(*runs)


def grad_vector(model: nn.Module) -> torch.Tensor:
    """All of ``model``'s gradients as one flat vector (parameters without a gradient left out)."""
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def lr_series(history: History) -> list[float]:
    """Group 0's learning rate of every recorded step."""
    return [float(v) for v in history.series("lr") if v is not None]


def output_weight(model: nn.Module) -> torch.Tensor:
    """The weight of the course MLP's output layer, ``model.classifier.linear.weight``."""
    return cast(nn.Linear, cast(nn.Sequential, model.classifier).linear).weight


def split_batch(x: torch.Tensor, y: torch.Tensor, sizes: Sequence[int]) -> list[tuple]:
    """``(x, y)`` cut into consecutive micro-batches of the given sizes (which must sum to ``len(y)``).

    >>> [len(t) for _, t in split_batch(torch.zeros(5, 2), torch.zeros(5), [2, 3])]
    [2, 3]
    """
    sizes = check_sizes("sizes", sizes)
    if sum(sizes) != len(y):
        raise ValueError(f"sizes must sum to the batch's {len(y)} examples, got {list(sizes)}")
    return list(zip(torch.split(x, list(sizes)), torch.split(y, list(sizes))))


def flat_grad(model: nn.Module, batches: Sequence[tuple], weights: Sequence[float]) -> torch.Tensor:
    """The gradient of :math:`\\sum_b w_b L_b` (``L_b`` the mean cross-entropy of micro-batch ``b``),
    accumulated by one ``backward`` per micro-batch, as one flat vector."""
    model.zero_grad(set_to_none=True)
    for (x, y), w in zip(batches, weights):
        (F.cross_entropy(model(x), y) * w).backward()
    return grad_vector(model)


@dataclass(frozen=True)
class AccumulationPitfalls:
    """Gradients of one batch of ``sizes`` micro-batches against the gradient :math:`g` of its mean
    loss: ``exact_error`` (weights :math:`n_b/N`, what ``accumulate_step`` does), ``sum_ratio``
    (:math:`\\|\\sum_b g_b\\| / \\|g\\|` with even micro-batches: summing, not averaging),
    ``naive_error`` (weights :math:`1/k` with the uneven ``sizes``), all relative errors
    :math:`\\|\\hat g - g\\| / \\|g\\|`; ``naive_cosine`` the cosine of the naive gradient with
    :math:`g`; ``naive_weights`` / ``exact_weights`` the weights each micro-batch's loss got."""

    sizes: tuple[int, ...]
    exact_error: float
    sum_ratio: float
    naive_error: float
    naive_cosine: float
    exact_weights: tuple[float, ...]
    naive_weights: tuple[float, ...]


def relative_error(g_hat: torch.Tensor, g: torch.Tensor) -> float:
    """:math:`\\|\\hat g - g\\| / \\|g\\|`."""
    return ((g_hat - g).norm() / g.norm()).item()


def accumulation_pitfalls(
    data: Data, sizes: Sequence[int] = (32, 32, 32, 4), *, seed: int = 0
) -> AccumulationPitfalls:
    """Measure the two accumulation bugs on the course's MLP at initialisation (float64).

    With micro-batch means :math:`L_b` the mean loss of the :math:`N` examples is
    :math:`L = \\sum_b \\frac{n_b}{N} L_b`. Summing (:math:`\\sum_b L_b`) gives :math:`k g` when the
    :math:`k` micro-batches are even; :math:`\\frac1k \\sum_b L_b` is right only then: with uneven
    ones it over-weights the examples of the small micro-batch (the last batch of an epoch, or
    sequences with fewer tokens).

        >>> p = accumulation_pitfalls(make_data(), (3, 1))
        >>> p.exact_error < 1e-12, round(p.sum_ratio, 6), p.naive_error > 0.01
        (True, 2.0, True)
    """
    sizes = check_sizes("sizes", sizes)
    k, n = len(sizes), sum(sizes)
    model = models.MLP(seed=seed).double()
    x, y = data.x_fit[:n].double(), data.y_fit[:n]
    g = flat_grad(model, [(x, y)], [1.0])
    uneven = split_batch(x, y, sizes)
    exact_w = tuple(s / n for s in sizes)
    exact = flat_grad(model, uneven, exact_w)
    naive = flat_grad(model, uneven, [1.0 / k] * k)
    m = n - n % k  # the largest prefix that k even micro-batches cover
    g_even = flat_grad(model, [(x[:m], y[:m])], [1.0])
    summed = flat_grad(model, split_batch(x[:m], y[:m], [m // k] * k), [1.0] * k)
    return AccumulationPitfalls(
        sizes,
        relative_error(exact, g),
        (summed.norm() / g_even.norm()).item(),
        relative_error(naive, g),
        F.cosine_similarity(naive, g, dim=0).item(),
        exact_w,
        tuple([1.0 / k] * k),
    )


def decay_scheduler(opt: torch.optim.Optimizer, steps: int):
    """The linear decay :math:`\\gamma_t = \\gamma \\max(0, 1 - t/T)` over ``steps`` :math:`= T` steps
    as torch's ``LambdaLR`` (the factor a pure function of the step)."""
    return torch.optim.lr_scheduler.LambdaLR(opt, functools.partial(linear_decay, steps=steps))


def linear_decay(t: int, steps: int) -> float:
    """:math:`\\max(0, 1 - t/T)`, the factor of :func:`decay_scheduler`."""
    return max(0.0, 1.0 - t / steps)


def scheduler_lrs(data: Data, *, k: int = 4, steps: int = 12, lr: float = 0.1) -> dict:
    """The rate of every optimizer step under :func:`decay_scheduler` over ``steps`` steps: ``fit``
    with ``accumulation_steps=k`` (the scheduler steps once per optimizer step), against a loop that
    steps it after every micro-batch (the schedule runs ``k`` times too fast).

    Returns ``{"closed form": [...], "fit": [...], "per micro-batch": [...]}``, one rate per
    optimizer step; the closed form is :math:`\\gamma_t = \\gamma (1 - t/T)`.

        >>> r = scheduler_lrs(make_data(), k=2, steps=4)
        >>> r["fit"] == r["closed form"], r["per micro-batch"]
        (True, [0.1, 0.05, 0.0, 0.0])
    """
    check_int("k", k, low=1)
    check_int("steps", steps, low=2)
    closed = [lr * linear_decay(t, steps) for t in range(steps)]
    train, _, _ = make_loaders(data, 25, seed=0)
    model = models.MLP(seed=0)
    opt = SGD(model.parameters(), lr=lr)
    h = fit(model, opt, train, 1, device="cpu", progress=False, accumulation_steps=k,
            scheduler=decay_scheduler(opt, steps), scheduler_interval="step", max_steps=steps)  # fmt: skip
    model = models.MLP(seed=0)
    opt = SGD(model.parameters(), lr=lr)
    sched = decay_scheduler(opt, steps)
    per_micro, batches = [], iter(train)
    for _ in range(steps):
        per_micro.append(opt.param_groups[0]["lr"])
        accumulate_step(model, opt, [next(batches) for _ in range(k)])
        for _ in range(k):  # the bug: one scheduler.step() per micro-batch
            sched.step()
    return {"closed form": closed, "fit": lr_series(h), "per micro-batch": per_micro}


# --------------------------------------------------------------------------------------------------
# Clipping
# --------------------------------------------------------------------------------------------------


def clip_directions(
    data: Data, *, max_norm: float = 0.1, clip_value: float = 0.01, seed: int = 0
) -> dict:
    """The gradient of one batch of 100 at initialisation, clipped by norm (``clip_grad_norm_``) and
    by value (``clip_grad_value_``): norms and cosines with the unclipped gradient.

    By norm, :math:`g \\leftarrow g \\min(1, c / \\|g\\|)` rescales the whole vector: the cosine is 1.
    By value, :math:`g_i \\leftarrow \\max(-c, \\min(c, g_i))` cuts the large entries only: the
    direction turns.

        >>> r = clip_directions(make_data())
        >>> round(r["cosine by norm"], 6), r["cosine by value"] < 1
        (1.0, True)
    """
    check_number("max_norm", max_norm, low=0.0, low_inclusive=False)
    check_number("clip_value", clip_value, low=0.0, low_inclusive=False)
    batch = [(data.x_fit[:100], data.y_fit[:100])]
    g = flat_grad(models.MLP(seed=seed), batch, [1.0])
    by_norm, by_value = models.MLP(seed=seed), models.MLP(seed=seed)
    for m in (by_norm, by_value):
        flat_grad(m, batch, [1.0])
    torch.nn.utils.clip_grad_norm_(by_norm.parameters(), max_norm)
    torch.nn.utils.clip_grad_value_(by_value.parameters(), clip_value)
    out = {
        "norm": g.norm().item(),
        "fraction of entries above the value": (g.abs() > clip_value).double().mean().item(),
    }
    for name, m in (("by norm", by_norm), ("by value", by_value)):
        c = grad_vector(m)
        out[f"norm {name}"] = c.norm().item()
        out[f"cosine {name}"] = F.cosine_similarity(c.double(), g.double(), dim=0).item()
    return out


# --------------------------------------------------------------------------------------------------
# Mixed precision
# --------------------------------------------------------------------------------------------------


def autocast_dtypes(data: Data, dtype: torch.dtype = torch.bfloat16) -> dict[str, str]:
    """The dtype of each layer's output, and of the loss, in a forward pass under
    ``torch.autocast("cpu", dtype)``: matrix products run in the low precision, the loss in float32.

        >>> autocast_dtypes(make_data())["loss (cross_entropy)"]
        'torch.float32'
    """
    model = models.MLP(seed=0)
    seen: dict[str, str] = {"input": str(data.x_fit.dtype)}
    hooks = [
        m.register_forward_hook(
            lambda mod, args, out, name=name: seen.update({name: str(out.dtype)})
        )
        for name, m in model.named_modules()
        if not list(m.children())
    ]
    with torch.autocast("cpu", dtype=dtype):
        loss = F.cross_entropy(model(data.x_fit[:100]), data.y_fit[:100])
    for h in hooks:
        h.remove()
    seen["loss (cross_entropy)"] = str(loss.dtype)
    seen["parameters"] = str(next(model.parameters()).dtype)
    return seen


def inject_inf(param: torch.Tensor, at: set[int]):
    """A hook on ``param`` that turns its gradient into ``inf`` at the backward calls numbered
    ``at`` (0-based, counted from now); returns the handle (``.remove()`` it afterwards)."""
    calls = [0]

    def hook(grad: torch.Tensor) -> torch.Tensor:
        n, calls[0] = calls[0], calls[0] + 1
        return torch.full_like(grad, math.inf) if n in at else grad

    return param.register_hook(hook)


class StepRecorder:
    """A ``fit`` callback recording after each optimizer step: how far the weights moved
    (:math:`\\max_i |\\Delta\\theta_i|`), the scaler's scale and the scheduler's ``last_epoch``."""

    def __init__(self, model: nn.Module, scaler=None):
        self.scaler = scaler
        self.previous = [p.detach().clone() for p in model.parameters()]
        self.moved: list[float] = []
        self.scale: list[float] = []
        self.last_epoch: list[int] = []

    def on_step_end(self, state) -> None:
        now = [p.detach().clone() for p in state.model.parameters()]
        self.moved.append(max((a - b).abs().max().item() for a, b in zip(now, self.previous)))
        self.previous = now
        if self.scaler is not None:
            self.scale.append(float(self.scaler.get_scale()))
        if state.scheduler is not None:
            self.last_epoch.append(int(state.scheduler.last_epoch))


@dataclass(frozen=True)
class ScalerSkip:
    """:func:`scaler_skip`: ``history``, per step ``moved`` (max weight change), ``scale`` after
    the step, ``lrs`` (the rate each step used) and ``last_epoch`` (the scheduler's count), and the
    ``warnings`` torch raised during the run."""

    history: History
    moved: list[float]
    scale: list[float]
    lrs: list[float]
    last_epoch: list[int]
    warnings: list[str]


def scaler_skip(data: Data, *, skip_at: int = 3, steps: int = 8, lr: float = 0.05) -> ScalerSkip:
    """``fit(precision="fp16")`` with an inf injected into one gradient at step ``skip_at``.

    ``GradScaler`` finds the inf in ``unscale_``, skips ``optimizer.step()`` and halves the scale
    :math:`S \\leftarrow S/2`; ``fit`` records the step in ``history.skipped_steps`` and does not step
    the scheduler for it, so the next real update gets the rate the skipped one would have had.
    """
    check_int("steps", steps, low=2)
    check_int("skip_at", skip_at, low=0, high=steps - 1)
    model = models.MLP(seed=0)
    opt = SGD(model.parameters(), lr=lr)
    sched = decay_scheduler(opt, steps)
    scaler = torch.amp.GradScaler("cpu")
    recorder = StepRecorder(model, scaler)
    train, _, _ = make_loaders(data, 100, seed=0)
    handle = inject_inf(output_weight(model), {skip_at})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, opt, train, 1, device="cpu", progress=False, precision="fp16",
                scaler=scaler, scheduler=sched, scheduler_interval="step", max_steps=steps,
                callbacks=[recorder])  # fmt: skip
    handle.remove()
    messages = [str(w.message) for w in caught]
    return ScalerSkip(
        h, recorder.moved, recorder.scale, lr_series(h), recorder.last_epoch, messages
    )


@dataclass(frozen=True)
class UnprotectedLoop:
    """:func:`unprotected_loop`: the rate each update used, which steps ``GradScaler`` skipped,
    the scheduler's final ``last_epoch`` and the ``warnings`` torch raised."""

    lrs: list[float]
    skipped: list[int]
    last_epoch: int
    warnings: list[str]


def unprotected_loop(data: Data, *, skip_at: int = 0, steps: int = 8, lr: float = 0.05):
    """The loop of torch's AMP recipe with a per-step scheduler stepped unconditionally::

        scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update(); scheduler.step()

    An inf in the gradient at step ``skip_at`` makes ``scaler.step`` skip ``optimizer.step()``,
    but ``scheduler.step()`` runs anyway: every later update uses the rate of one step later than
    its own. When the very first step is skipped, torch's scheduler notices (it counts
    ``optimizer.step()`` calls) and warns "Detected call of `lr_scheduler.step()` before
    `optimizer.step()`".
    """
    model = models.MLP(seed=0)
    opt = SGD(model.parameters(), lr=lr)
    sched = decay_scheduler(opt, steps)
    scaler = torch.amp.GradScaler("cpu")
    train, _, _ = make_loaders(data, 100, seed=0)
    handle, lrs, skipped = inject_inf(output_weight(model), {skip_at}), [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for t, (x, y) in zip(range(steps), train):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.float16):
                loss = F.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scale = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if scaler.get_scale() < scale:
                skipped.append(t)
            else:
                lrs.append(opt.param_groups[0]["lr"])
            sched.step()
    handle.remove()
    return UnprotectedLoop(lrs, skipped, int(sched.last_epoch), [str(w.message) for w in caught])


@dataclass(frozen=True)
class ScaledClipping:
    """:func:`scaled_clipping`: the loss ``scale`` :math:`S`, the gradient norm as ``backward`` leaves
    it (``scaled_norm`` :math:`= S\\|g\\|`) and after ``unscale_`` (``true_norm``), and the norm of
    the gradient the optimizer would use when clipping to ``max_norm`` before (``clipped_before``)
    and after (``clipped_after``) ``unscale_``."""

    scale: float
    scaled_norm: float
    true_norm: float
    max_norm: float
    clipped_before: float
    clipped_after: float


def grad_norm(model: nn.Module) -> float:
    """:math:`\\|g\\|`, the 2-norm of all of ``model``'s gradients together."""
    return grad_vector(model).norm().item()


def scaled_clipping(data: Data, *, max_norm: float = 1.0) -> ScaledClipping:
    """Clip a float16 gradient before and after ``scaler.unscale_``.

    ``scaler.scale(loss).backward()`` leaves :math:`S g` in ``.grad``. Clipping that to :math:`c`
    and unscaling gives a gradient of norm :math:`c/S` (when :math:`S\\|g\\| > c`): a threshold off
    by the factor :math:`S`. Unscaling first clips :math:`g` itself.

        >>> r = scaled_clipping(make_data())
        >>> r.scaled_norm / r.true_norm
        65536.0
    """
    check_number("max_norm", max_norm, low=0.0, low_inclusive=False)
    model = models.MLP(seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(data.x_fit[:100]), data.y_fit[:100])
    scaler.scale(loss).backward()
    scale, scaled = float(scaler.get_scale()), grad_norm(model)
    saved = [cast(torch.Tensor, p.grad).clone() for p in model.parameters()]
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # the bug: clip S g
    scaler.unscale_(opt)
    before = grad_norm(model)
    for p, g in zip(model.parameters(), saved):  # the right order: unscale (g = S g / S), clip
        p.grad = g / scale
    true = grad_norm(model)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    return ScaledClipping(scale, scaled, true, max_norm, before, grad_norm(model))


# --------------------------------------------------------------------------------------------------
# Low-precision optimizer state
# --------------------------------------------------------------------------------------------------


def spacing(theta: torch.Tensor, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """The spacing (ulp) of the numbers of ``dtype`` at ``theta``: :math:`\\epsilon\\, 2^{e - 1}` for
    :math:`|\\theta| = m 2^e`, :math:`m \\in [\\frac12, 1)`, with :math:`\\epsilon` the spacing at 1
    (``torch.finfo(dtype).eps``: :math:`2^{-7}` for bfloat16's 8 significant bits).

        >>> spacing(torch.tensor([1.0, 0.1]))
        tensor([0.0078, 0.0005])
    """
    _, e = torch.frexp(theta.float())
    return torch.ldexp(torch.full_like(theta, torch.finfo(dtype).eps, dtype=torch.float32), e - 1)


def adam_update(opt: torch.optim.Optimizer, p: torch.Tensor) -> torch.Tensor:
    """:math:`\\gamma d_t = \\gamma \\hat m_t / (\\sqrt{\\hat v_t} + \\varepsilon)` of the last step of
    Adam on ``p``, computed in float32 from its state (the update the rounding competes with)."""
    group = next(g for g in opt.param_groups if any(q is p for q in g["params"]))
    state, (beta1, beta2) = opt.state[p], group["betas"]
    t = float(state["step"])
    m_hat = state["exp_avg"].float() / (1 - beta1**t)
    v_hat = state["exp_avg_sq"].float() / (1 - beta2**t)
    return group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])


def state_bytes_per_parameter(opt: torch.optim.Optimizer) -> float:
    """Bytes of the tensors in ``opt.state_dict()["state"]`` per parameter (step counters included).

    >>> p = torch.zeros(10, requires_grad=True); o = torch.optim.Adam([p])
    >>> p.grad = torch.ones(10); o.step(); state_bytes_per_parameter(o)
    8.4
    """
    n = sum(p.numel() for g in opt.param_groups for p in g["params"])
    total = sum(
        t.numel() * t.element_size()
        for s in opt.state_dict()["state"].values()
        for t in s.values()
        if isinstance(t, torch.Tensor)
    )
    return total / n


def low_precision_adam(
    data: Data, seed: int, *, dtype: torch.dtype, lr: float = 1e-3, epochs: int = 3
) -> dict[str, float]:
    """Adam on the course's MLP with weights, gradients and state all in ``dtype``.

    Each step adds :math:`-\\gamma d_t` to :math:`\\theta` (:math:`d_t = \\hat m_t / (\\sqrt{\\hat
    v_t} + \\varepsilon)`) and rounds to ``dtype``; an entry whose gradient is non-zero but whose
    weight does not move lost its update to rounding. Returns ``lost`` (the fraction of such
    entries over all steps), ``predicted`` (the fraction with :math:`|\\gamma d_t|` below half the
    :func:`spacing` at :math:`\\theta`, the rounding rule), ``train_loss`` (the mean batch loss of
    the last epoch), ``val_acc`` and ``state_bytes`` per parameter.
    """
    check_int("epochs", epochs, low=1)
    model = models.MLP(seed=seed).to(dtype)
    opt = Adam(model.parameters(), lr=lr)
    train, val, _ = make_loaders(data, 100, seed, dtype=dtype)
    counts = {"lost": 0, "predicted": 0, "live": 0}
    for _ in range(epochs):
        losses = []
        for x, y in train:
            before = [p.detach().clone() for p in model.parameters()]
            losses.append(accumulate_step(model, opt, [(x, y)]).loss)
            for p, b in zip(model.parameters(), before):
                live = cast(torch.Tensor, p.grad) != 0
                small = adam_update(opt, p).abs() < spacing(b, dtype) / 2
                counts["lost"] += int((live & (p.detach() == b)).sum())
                counts["predicted"] += int((live & small).sum())
                counts["live"] += int(live.sum())
    return {
        "lost": counts["lost"] / counts["live"],
        "predicted": counts["predicted"] / counts["live"],
        "train_loss": sum(losses) / len(losses),
        "val_acc": evaluate(model, val)["accuracy"],
        "state_bytes": state_bytes_per_parameter(opt),
    }


# --------------------------------------------------------------------------------------------------
# Full checkpoints
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumeCheck:
    """:func:`resume_check`: where the first run stopped (``stopped_step``; ``stopped_batch`` of
    ``batches_per_epoch`` in the 0-based epoch ``stopped_epoch``), what each part of the resumed run equals bit for bit, and the steps the
    scaler skipped (``skipped``; a growing scale overflows now and then)."""

    stopped_step: int
    stopped_epoch: int
    stopped_batch: int
    batches_per_epoch: int
    same: dict[str, bool]
    skipped: list[int]
    steps: int


def practice_run(data: Data, *, epochs: int, k: int, path=None, resume_from=None, max_steps=None):
    """One run with every option on: fp16 with a ``GradScaler`` whose scale doubles every 8 clean
    steps (so it overflows and skips now and then), an EMA, accumulation over ``k`` batches of 25,
    clipping to :math:`c = 1`, a per-step cosine schedule; returns (model, ema, scaler, history)."""
    model = models.MLP(seed=0)
    opt = Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    scaler = torch.amp.GradScaler("cpu", growth_interval=8)
    train, val, _ = make_loaders(data, 25, seed=0)
    history = fit(model, opt, train, epochs, val_loader=val, device="cpu", progress=False,
                  scheduler=sched, scheduler_interval="step", precision="fp16", scaler=scaler,
                  ema=ema, accumulation_steps=k, max_grad_norm=1.0, checkpoint_path=path,
                  resume_from=resume_from, max_steps=max_steps)  # fmt: skip
    return model, ema, scaler, history


def same_state(a, b) -> bool:
    """Whether two ``state_dict``-like mappings hold equal values (tensors bit for bit)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, torch.Tensor):
            if not (isinstance(y, torch.Tensor) and torch.equal(x, y)):
                return False
        elif x != y:
            return False
    return True


def resume_check(data: Data, *, stop_at: int = 50, epochs: int = 2, k: int = 3) -> ResumeCheck:
    """Train with every option on for ``epochs`` epochs in one go, and again stopped after
    ``stop_at`` optimizer steps (mid-epoch) with a checkpoint in a temporary folder, then resumed
    from it with freshly built objects; compare everything at the end."""
    check_int("stop_at", stop_at, low=1)
    full = practice_run(data, epochs=epochs, k=k)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.pt"
        _, _, _, first = practice_run(data, epochs=epochs, k=k, path=path, max_steps=stop_at)
        stopped = torch.load(path, weights_only=True)
        resumed = practice_run(data, epochs=epochs, k=k, path=path, resume_from=path)
    h_full, h_res = full[3].to_dict(), resumed[3].to_dict()
    same = {
        "weights": same_state(full[0].state_dict(), resumed[0].state_dict()),
        "EMA": same_state(full[1].state_dict(), resumed[1].state_dict()),
        "scaler": same_state(full[2].state_dict(), resumed[2].state_dict()),
        "history": h_full == h_res,
    }
    n_batches = math.ceil(len(data.y_fit) / 25)
    skipped = list(full[3].skipped_steps)
    return ResumeCheck(
        first.steps, stopped["epoch"], stopped["batch"], n_batches, same, skipped, full[3].steps
    )
