r"""The measurements of the pitfalls clinic (notebook P): ten confusions from the public trackers.

Each function runs the broken snippet and its fix on a tiny deterministic problem (a linear layer
on synthetic data, :func:`tiny_model` and :func:`tiny_batches`) and returns what the notebook
prints and asserts: the rate every update used (read by :class:`RecordingSGD` inside
``optimizer.step()``), the warnings torch raised (:func:`caught`), the error messages, the weights.

1. :func:`scheduler_order`: ``scheduler.step()`` before ``optimizer.step()``.
2. :func:`amp_scheduler`: ``GradScaler`` skips a step and the scheduler steps anyway.
3. :func:`accumulation_schedule`: the scheduler stepped per micro-batch; the loss not divided.
4. :func:`warmup_plateau`: warm-up combined with ``ReduceLROnPlateau``.
5. :func:`sequential_warmup`: ``SequentialLR``'s hand-over, and a hand-written warm-up + cosine.
6. :func:`resume_schedules`: resuming without the scheduler's state; the ``initial_lr`` KeyError.
7. :func:`late_group`: ``add_param_group`` after the scheduler was built.
8. :func:`decay_split` and :func:`adam_l2_step`: weight decay on biases and norms; Adam's L2.
9. :func:`eps_placement`: Adam's :math:`\varepsilon` in torch, in Keras, inside the square root.
10. :func:`clip_before_unscale`: clipping the scaled gradient under mixed precision.

Symbols as in ``docs/notation.md``: :math:`\gamma` the learning rate (``lr``), :math:`\gamma_t` its
value at step :math:`t`, :math:`\lambda` the weight decay, :math:`\beta_1, \beta_2` and
:math:`\varepsilon` Adam's ``betas`` and ``eps``, :math:`m_t, v_t` its moments, :math:`S` the loss
scale of ``GradScaler``, :math:`c` the clipping threshold, :math:`k` the micro-batches per step.

    >>> r = scheduler_order(scheduler_first=True)
    >>> r.lrs[:2], r.expected[:2], len(r.warnings)
    ([0.05, 0.025], [0.1, 0.05], 1)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler as torch_sched
from torch.utils.data import DataLoader, TensorDataset

from course_lib import param_groups
from course_lib._validation import check_int, check_number
from course_lib.experiments.practice import inject_inf
from course_lib.training import fit

__all__ = [
    "CLASSES",
    "FEATURES",
    "PLATEAU",
    "PLATEAU_LR",
    "AmpSchedule",
    "RecordingSGD",
    "StepOrder",
    "accumulation_schedule",
    "adam_l2_step",
    "amp_loop",
    "amp_scheduler",
    "amp_with_fit",
    "caught",
    "clip_before_unscale",
    "composition_errors",
    "cosine_factor",
    "cosine_run",
    "decay_split",
    "eps_placement",
    "grad_norm",
    "keras_adam_first_step",
    "late_group",
    "linear_factor",
    "norm_model",
    "plateau_loop",
    "plateau_losses",
    "plateau_setup",
    "resume_objects",
    "resume_schedules",
    "scheduler_order",
    "sequential_reference",
    "sequential_restart",
    "sequential_warmup",
    "sgd_step",
    "summed_gradient_ratio",
    "tiny_batches",
    "tiny_loader",
    "tiny_model",
    "warmup_factor",
    "warmup_plateau",
]

#: Inputs and classes of the tiny problem.
FEATURES, CLASSES = 8, 3


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Linear:
    """A ``Linear(FEATURES, CLASSES)`` with weights drawn from its own generator (global RNG untouched).

    >>> tiny_model().weight.shape
    torch.Size([3, 8])
    """
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(FEATURES, CLASSES).to(dtype)
    with torch.no_grad():
        model.weight.copy_(0.3 * torch.randn(CLASSES, FEATURES, generator=g, dtype=dtype))
        model.bias.copy_(0.1 * torch.randn(CLASSES, generator=g, dtype=dtype))
    return model


def tiny_batches(
    n_batches: int = 6, size: int = 8, seed: int = 0, dtype: torch.dtype = torch.float32
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n_batches`` batches of ``size`` synthetic examples ``(x, y)``, the same for the same seed.

    >>> [x.shape[0] for x, _ in tiny_batches(3, 4)]
    [4, 4, 4]
    """
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(n_batches * size, FEATURES, generator=g, dtype=dtype)
    y = torch.randint(0, CLASSES, (n_batches * size,), generator=g)
    return list(zip(x.split(size), y.split(size)))


def tiny_loader(batches) -> DataLoader:
    """A loader that yields ``batches`` in order (one batch of the same size per item)."""
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    return DataLoader(TensorDataset(x, y), batch_size=len(batches[0][1]), shuffle=False)


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that records, at every ``step()``, the ``lr`` of each group the update used."""

    def __init__(self, params, lr: float = 0.1, **kwargs):
        super().__init__(params, lr=lr, **kwargs)
        self.used: list[list[float]] = []

    def step(self, closure=None):
        self.used.append([float(g["lr"]) for g in self.param_groups])
        return super().step(closure)

    @property
    def lrs(self) -> list[float]:
        """The rate of the first group at every update."""
        return [u[0] for u in self.used]


def caught(fn: Callable, *args, **kwargs) -> tuple[object, list[str]]:
    """``fn(*args, **kwargs)`` and the messages of every warning it raised (each one recorded)."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in records]


def sgd_step(model: nn.Module, optimizer, batch) -> None:
    """``zero_grad``, forward, cross-entropy, ``backward``, ``optimizer.step()``."""
    optimizer.zero_grad()
    F.cross_entropy(model(batch[0]), batch[1]).backward()
    optimizer.step()


# --- 1. the order of the two steps -----------------------------------------------------------------


@dataclass(frozen=True)
class StepOrder:
    """:func:`scheduler_order`: the rate of every update, the schedule's, and torch's warnings."""

    lrs: list[float]
    expected: list[float]
    warnings: list[str]


def scheduler_order(
    scheduler_first: bool, steps: int = 5, lr: float = 0.1, gamma: float = 0.5
) -> StepOrder:
    """A ``StepLR(step_size=1, gamma)`` loop, with ``scheduler.step()`` before (the bug) or after
    ``optimizer.step()``; the schedule is :math:`\\gamma_t = \\gamma q^t` (``q`` = torch's ``gamma``)."""
    check_int("steps", steps, low=1)
    model, batches = tiny_model(), tiny_batches(steps)
    opt = RecordingSGD(model.parameters(), lr=lr)
    sched = torch_sched.StepLR(opt, step_size=1, gamma=gamma)

    def loop():
        for batch in batches:
            if scheduler_first:
                sched.step()
            sgd_step(model, opt, batch)
            if not scheduler_first:
                sched.step()

    _, messages = caught(loop)
    return StepOrder(opt.lrs, [lr * gamma**t for t in range(steps)], messages)


# --- 2. GradScaler's skipped steps -----------------------------------------------------------------


def linear_factor(t: int, total: int) -> float:
    """:math:`1 - t/T`: a linear decay to 0 over ``total`` steps (a module-level, picklable lambda)."""
    return max(0.0, 1.0 - t / total)


@dataclass(frozen=True)
class AmpSchedule:
    """The rate of every real update, the steps the scaler skipped, the scheduler's count, the
    warnings, and the closed form :math:`\\gamma_u` of the update number :math:`u`."""

    lrs: list[float]
    skipped: list[int]
    last_epoch: int
    warnings: list[str]
    expected: list[float]


def amp_loop(model, opt, sched, scaler, batches, protected: bool) -> list[int]:
    """The fp16 loop of torch's AMP recipe; ``protected`` steps the scheduler only when
    ``scaler.update()`` did not lower the scale (the step was not skipped). Returns skipped steps."""
    skipped = []
    for t, (x, y) in enumerate(batches):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scale = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        stepped = scaler.get_scale() >= scale
        if not stepped:
            skipped.append(t)
        if stepped or not protected:
            sched.step()
    return skipped


def amp_scheduler(protected: bool, skip_at=(0, 3), steps: int = 8, lr: float = 0.1) -> AmpSchedule:
    """Gradients made ``inf`` at the steps ``skip_at`` (a hook, :func:`inject_inf`) in an fp16 loop
    with a per-step linear decay over ``steps`` updates; unprotected, the scheduler steps anyway.

    >>> r = amp_scheduler(protected=False)
    >>> r.skipped, len(r.warnings)
    ([0, 3], 1)
    """
    model, batches = tiny_model(), tiny_batches(steps)
    opt = RecordingSGD(model.parameters(), lr=lr)
    sched = torch_sched.LambdaLR(opt, lambda t: linear_factor(t, steps))
    scaler = torch.amp.GradScaler("cpu")
    handle = inject_inf(model.weight, set(skip_at))
    skipped, messages = caught(amp_loop, model, opt, sched, scaler, batches, protected)
    handle.remove()
    real = opt.lrs  # a skipped step never calls optimizer.step()
    expected = [lr * linear_factor(u, steps) for u in range(len(real))]
    return AmpSchedule(real, cast(list, skipped), int(sched.last_epoch), messages, expected)


def amp_with_fit(skip_at=(0, 3), steps: int = 8, lr: float = 0.1):
    """The same run through ``course_lib.training.fit(precision="fp16")``: its history."""
    model, batches = tiny_model(), tiny_batches(steps)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch_sched.LambdaLR(opt, lambda t: linear_factor(t, steps))
    handle = inject_inf(model.weight, set(skip_at))
    history, messages = caught(
        fit, model, opt, tiny_loader(batches), 1, device="cpu", progress=False, precision="fp16",
        scaler=torch.amp.GradScaler("cpu"), scheduler=sched, scheduler_interval="step",
    )  # fmt: skip
    handle.remove()
    return history, messages


# --- 3. accumulation: the scheduler and the loss ---------------------------------------------------


def accumulation_schedule(k: int = 3, updates: int = 12, lr: float = 0.1):
    """The rate of each optimizer step over ``k`` micro-batches, with a linear decay to 0 over
    ``updates`` steps: closed form, ``fit(accumulation_steps=k)``, and the loop that steps the
    scheduler after every micro-batch (the schedule runs :math:`k` times too fast). Returns the
    three lists of rates and the warnings the broken loop raised."""
    check_int("k", k, low=2)
    batches = tiny_batches(k * updates, size=4)
    out = {"closed form": [lr * linear_factor(u, updates) for u in range(updates)]}
    model = tiny_model()
    opt = RecordingSGD(model.parameters(), lr=lr)
    sched = torch_sched.LambdaLR(opt, lambda t: linear_factor(t, updates))
    fit(model, opt, tiny_loader(batches), 1, device="cpu", progress=False, scheduler=sched,
        scheduler_interval="step", accumulation_steps=k)  # fmt: skip
    out["fit"] = opt.lrs
    model = tiny_model()
    opt = RecordingSGD(model.parameters(), lr=lr)
    sched = torch_sched.LambdaLR(opt, lambda t: linear_factor(t, updates))

    def broken():
        for i, (x, y) in enumerate(batches):
            (F.cross_entropy(model(x), y) / k).backward()
            if (i + 1) % k == 0:
                opt.step()
                opt.zero_grad()
            sched.step()  # the bug: once per micro-batch

    _, messages = caught(broken)
    out["per micro-batch"] = opt.lrs
    return out, messages


def summed_gradient_ratio(k: int = 4) -> float:
    """:math:`\\|\\sum_b \\nabla L_b\\| / \\|\\nabla L\\|` for ``k`` equal micro-batches (it is ``k``)."""
    batches = tiny_batches(k, size=4, dtype=torch.float64)
    model = tiny_model(dtype=torch.float64)
    for x, y in batches:
        F.cross_entropy(model(x), y).backward()  # the bug: no 1/k
    summed = torch.cat([p.grad.flatten() for p in model.parameters()])  # type: ignore[union-attr]
    model.zero_grad()
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    F.cross_entropy(model(x), y).backward()
    full = torch.cat([p.grad.flatten() for p in model.parameters()])  # type: ignore[union-attr]
    return (summed.norm() / full.norm()).item()


# --- 4. warm-up and ReduceLROnPlateau ---------------------------------------------------------------


def warmup_factor(t: int, warmup: int) -> float:
    """Linear warm-up :math:`\\min(1, (t + 1) / W)` (the first update already gets :math:`\\gamma / W`)."""
    return min(1.0, (t + 1) / warmup)


def plateau_losses(epochs: int) -> list[float]:
    """Validation losses that stall from the start, improve once at epoch 3, then stall again."""
    return [1.0, 1.0, 1.0] + [0.9] * (epochs - 3)


#: The plateau exercise: epochs, optimizer steps per epoch, warm-up steps.
PLATEAU = {"epochs": 8, "steps_per_epoch": 2, "warmup": 4}
#: The base rate of the plateau experiment.
PLATEAU_LR = 0.1


def plateau_setup():
    """``(train_step, optimizer, warmup, plateau, val_losses)`` of the plateau experiment: a
    per-step ``LambdaLR`` warm-up (:func:`warmup_factor`) and ``ReduceLROnPlateau(factor=0.5,
    patience=1)`` on one :class:`RecordingSGD`; ``train_step()`` makes one optimizer step."""
    n = PLATEAU["epochs"] * PLATEAU["steps_per_epoch"]
    model, batches = tiny_model(), tiny_batches(n)
    opt = RecordingSGD(model.parameters(), lr=PLATEAU_LR)
    warm = torch_sched.LambdaLR(opt, lambda t: warmup_factor(t, PLATEAU["warmup"]))
    plateau = torch_sched.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    done = [0]

    def train_step() -> None:
        sgd_step(model, opt, batches[done[0] % n])
        done[0] += 1

    return train_step, opt, warm, plateau, plateau_losses(PLATEAU["epochs"])


def plateau_loop(mode: str, train_step, warmup, plateau, val_losses) -> None:
    r"""The epoch loop: ``"fixed"`` steps the warm-up during the first ``PLATEAU["warmup"]`` steps
    only and the plateau scheduler only after them; ``"warm-up all along"`` steps the warm-up at
    every step (each ``LambdaLR`` step writes :math:`\gamma f(t)` and erases the plateau's
    reductions); ``"plateau from the start"`` feeds the plateau scheduler during warm-up too."""
    t = 0
    for loss in val_losses:
        for _ in range(PLATEAU["steps_per_epoch"]):
            train_step()
            t += 1
            if mode == "warm-up all along" or t < PLATEAU["warmup"]:
                warmup.step()
        if mode != "fixed" or t >= PLATEAU["warmup"]:
            plateau.step(loss)


def warmup_plateau(mode: str) -> list[float]:
    """The rate of every update of :func:`plateau_loop` in ``mode``."""
    train_step, opt, warm, plateau, losses = plateau_setup()
    plateau_loop(mode, train_step, warm, plateau, losses)
    return opt.lrs


def composition_errors() -> dict[str, str]:
    """The errors of ``SequentialLR`` and ``ChainedScheduler`` given a ``ReduceLROnPlateau``."""
    out = {}
    for name in ("SequentialLR", "ChainedScheduler"):
        opt = torch.optim.SGD(tiny_model().parameters(), lr=0.1)
        warm = torch_sched.LinearLR(opt, start_factor=0.25, total_iters=3)
        plateau = torch_sched.ReduceLROnPlateau(opt)
        try:
            if name == "SequentialLR":
                torch_sched.SequentialLR(opt, [warm, plateau], milestones=[3])
            else:
                torch_sched.ChainedScheduler([warm, plateau])
            out[name] = "no error"
        except (ValueError, TypeError) as error:
            out[name] = f"{type(error).__name__}: {error}"
    return out


# --- 5. SequentialLR and a hand-written warm-up + cosine -------------------------------------------


def cosine_factor(t: int, warmup: int, total: int, start: float = 0.1) -> float:
    """The factor of ``SequentialLR([LinearLR(start_factor=start, total_iters=W),
    CosineAnnealingLR(T_max=T - W)], milestones=[W])`` at step ``t``: :math:`s + (1 - s) t / W`
    for :math:`t < W`, then :math:`\\frac12 (1 + \\cos(\\pi (t - W) / (T - W)))`; the cosine
    starts from its own step 0 at the milestone."""
    if t < warmup:
        return start + (1.0 - start) * t / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (t - warmup) / (total - warmup)))


def sequential_reference(
    warmup: int = 3, total: int = 10, lr: float = 1.0, milestones=None, start: float = 0.1
) -> tuple[list[float], list[str]]:
    """The rates of torch's ``SequentialLR`` (warm-up then cosine) for steps ``0..total``, and the
    warnings it raised."""
    opt = torch.optim.SGD(tiny_model().parameters(), lr=lr)

    def run():
        sched = torch_sched.SequentialLR(opt, [
            torch_sched.LinearLR(opt, start_factor=start, total_iters=warmup),
            torch_sched.CosineAnnealingLR(opt, T_max=total - warmup),
        ], milestones=[warmup] if milestones is None else milestones)  # fmt: skip
        lrs = []
        for _ in range(total + 1):
            lrs.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step()
        return lrs

    lrs, messages = caught(run)
    return cast(list, lrs), messages


def sequential_restart(steps: int = 9, milestone: int = 5) -> list[float]:
    """The rates of ``SequentialLR([ExponentialLR(0.5), ExponentialLR(0.9)], milestones=[5])``
    (``lr=0.1``) at steps ``0..steps - 1``: at the milestone the second scheduler starts from its
    own step 0, at the group's base rate :math:`\\gamma`, not from the rate reached so far.

    >>> [round(v, 4) for v in sequential_restart(7)]
    [0.1, 0.05, 0.025, 0.0125, 0.0063, 0.1, 0.09]
    """
    opt = torch.optim.SGD(tiny_model().parameters(), lr=0.1)
    sched = torch_sched.SequentialLR(opt, [torch_sched.ExponentialLR(opt, 0.5),
                                           torch_sched.ExponentialLR(opt, 0.9)],
                                     milestones=[milestone])  # fmt: skip
    lrs = []
    for _ in range(steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
    return lrs


def sequential_warmup(warmup: int = 3, total: int = 10) -> dict[str, list[float]]:
    """torch's ``SequentialLR`` against :func:`cosine_factor`, the same with ``milestones=[0]``
    (the cosine alone from step 0), and the hand-written cosine that counts from step 0 instead of
    from the milestone (``cos(pi * t / T)``: the peak is never reached)."""
    torch_lrs, _ = sequential_reference(warmup, total)
    zero, _ = sequential_reference(warmup, total, milestones=[0])
    steps = range(total + 1)

    def no_restart(t: int) -> float:
        return (
            cosine_factor(t, warmup, total)
            if t < warmup
            else 0.5 * (1 + math.cos(math.pi * t / total))
        )

    return {
        "SequentialLR": torch_lrs,
        "closed form": [cosine_factor(t, warmup, total) for t in steps],
        "SequentialLR, milestones=[0]": zero,
        "cosine over T - W from step 0": [
            0.5 * (1 + math.cos(math.pi * min(t, total - warmup) / (total - warmup))) for t in steps
        ],
        "cosine counted from 0": [no_restart(t) for t in steps],
    }


# --- 6. resuming ------------------------------------------------------------------------------------


def cosine_run(steps_before: int, steps_after: int, restore=None, lr: float = 0.1):
    """A momentum-SGD run with a per-step cosine over ``steps_before + steps_after`` steps.

    ``restore`` (None: one run without a break) is ``"all"`` (model, optimizer and scheduler
    ``state_dict``), ``"no scheduler"`` (a fresh scheduler after loading model and optimizer) or
    ``"last_epoch"`` (a fresh optimizer and ``CosineAnnealingLR(last_epoch=n - 1)``). Returns the
    rates of the updates after the break, the final weights, and the error message if one was raised.
    """
    total = steps_before + steps_after
    batches = tiny_batches(total)
    model = tiny_model()
    opt = RecordingSGD(model.parameters(), lr=lr, momentum=0.9)
    sched = torch_sched.CosineAnnealingLR(opt, T_max=total)
    for batch in batches[: steps_before if restore else total]:
        sgd_step(model, opt, batch)
        sched.step()
    if restore is None:
        return opt.lrs[steps_before:], model.weight.detach().clone(), None
    saved = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
    }
    model = tiny_model()
    model.load_state_dict(saved["model"])
    opt = RecordingSGD(model.parameters(), lr=lr, momentum=0.9)
    try:
        sched = resume_objects(opt, saved, restore, total, steps_before)
    except KeyError as error:
        return [], model.weight.detach().clone(), str(error.args[0])
    for batch in batches[steps_before:]:
        sgd_step(model, opt, batch)
        sched.step()
    return opt.lrs, model.weight.detach().clone(), None


def resume_objects(opt, saved, restore: str, total: int, steps_before: int):
    """The scheduler of a resumed run, with ``opt`` restored from ``saved`` as ``restore`` names."""
    if restore == "last_epoch":  # no optimizer state: its groups lack "initial_lr"
        return torch_sched.CosineAnnealingLR(opt, T_max=total, last_epoch=steps_before - 1)
    sched = torch_sched.CosineAnnealingLR(opt, T_max=total)
    opt.load_state_dict(saved["optimizer"])
    if restore == "all":
        sched.load_state_dict(saved["scheduler"])
    return sched


def resume_schedules(steps_before: int = 4, steps_after: int = 4) -> dict[str, tuple]:
    """:func:`cosine_run` for the uninterrupted run and each way of resuming."""
    return {
        name: cosine_run(steps_before, steps_after, restore)
        for name, restore in [("uninterrupted", None), ("all three state_dicts", "all"),
                              ("without the scheduler's", "no scheduler"),
                              ("fresh optimizer, last_epoch=n-1", "last_epoch")]
    }  # fmt: skip


# --- 7. a group added after the scheduler -----------------------------------------------------------


def late_group(scheduler: str, steps: int = 3, head_lr: float = 1.0) -> list[float] | str:
    """The ``lr`` of a group added with ``add_param_group`` one step after the scheduler was built,
    over the next ``steps`` steps, or the error ``scheduler.step()`` raised.

    ``scheduler`` names a torch scheduler built on a first group with :math:`\\gamma = 0.1`:
    ``"StepLR"`` (:math:`q = 0.5` per step), ``"LambdaLR"`` (:math:`0.5^t`), ``"CosineAnnealingLR"``
    (:math:`T = 4`) or ``"LinearLR"`` (from 0.5 over 2 steps); or ``"course_lib LambdaLR"``.
    """
    from course_lib import schedulers as ours

    model, head = tiny_model(), nn.Linear(CLASSES, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    makers = {
        "StepLR": lambda: torch_sched.StepLR(opt, step_size=1, gamma=0.5),
        "LambdaLR": lambda: torch_sched.LambdaLR(opt, lambda t: 0.5**t),
        "CosineAnnealingLR": lambda: torch_sched.CosineAnnealingLR(opt, T_max=4),
        "LinearLR": lambda: torch_sched.LinearLR(opt, start_factor=0.5, total_iters=2),
        "course_lib LambdaLR": lambda: ours.LambdaLR(opt, lambda t: 0.5**t),
    }
    sched = makers[scheduler]()
    opt.step()
    sched.step()
    opt.add_param_group({"params": list(head.parameters()), "lr": head_lr})
    out = []
    try:
        for _ in range(steps):
            opt.step()
            sched.step()
            out.append(float(opt.param_groups[1]["lr"]))
    except (ValueError, RuntimeError) as error:
        return f"{type(error).__name__}: {error}"
    return out


# --- 8. weight decay on biases and norms; Adam's L2 ------------------------------------------------


def norm_model() -> nn.Sequential:
    """A small block with a LayerNorm: Linear(8, 16), LayerNorm(16), ReLU, Linear(16, 3)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(FEATURES, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, CLASSES)
    )


def decay_split(model: nn.Module, groups) -> dict[str, int]:
    """How many tensors and entries get weight decay among the model's biases and norm parameters
    (:func:`course_lib.param_groups.is_no_decay`) and among its other weights, given ``groups``
    (the argument an optimizer gets: parameters or group dicts; a bare list gets the default
    ``weight_decay`` of the group, here taken as decayed)."""
    groups = list(groups)
    if groups and not isinstance(groups[0], dict):
        groups = [{"params": groups, "weight_decay": 1.0}]
    decayed = {id(p) for g in groups if g.get("weight_decay", 0.0) > 0 for p in g["params"]}
    owners = {id(p): m for m in model.modules() for p in m.parameters(recurse=False)}
    out = {"no-decay tensors decayed": 0, "no-decay entries decayed": 0, "weights decayed": 0}
    for name, p in model.named_parameters():
        if id(p) not in decayed:
            continue
        if param_groups.is_no_decay(name, p, owners[id(p)]):
            out["no-decay tensors decayed"] += 1
            out["no-decay entries decayed"] += p.numel()
        else:
            out["weights decayed"] += 1
    return out


def adam_l2_step(
    weight_decay: float, decoupled: bool, lr: float = 1e-3, theta: float = 0.5
) -> float:
    """How far one Adam step moves a weight :math:`\\theta` whose loss gradient is 0.

    Adam's ``weight_decay`` adds :math:`\\lambda\\theta` to the gradient, so :math:`m_1 = (1 -
    \\beta_1) \\lambda\\theta`, :math:`\\hat v_1 = \\lambda^2\\theta^2` and the step is
    :math:`\\gamma \\lambda\\theta / (\\lambda|\\theta| + \\varepsilon) \\approx \\gamma`, whatever
    :math:`\\lambda`; AdamW's decoupled decay moves it by :math:`\\gamma\\lambda\\theta`.
    """
    check_number("weight_decay", weight_decay, low=0.0)
    p = torch.nn.Parameter(torch.tensor([theta], dtype=torch.float64))
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls([p], lr=lr, weight_decay=weight_decay)
    p.grad = torch.zeros_like(p)
    opt.step()
    return abs(theta - p.item())


# --- 9. epsilon -------------------------------------------------------------------------------------


def keras_adam_first_step(
    grad: float, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-7, t: int = 1
):
    """The step of Keras 3's Adam (``keras/src/optimizers/adam.py``) at step ``t`` of a constant
    gradient: :math:`\\gamma \\frac{\\sqrt{1 - \\beta_2^t}}{1 - \\beta_1^t} m_t / (\\sqrt{v_t} +
    \\varepsilon)`, i.e. torch's form with :math:`\\varepsilon / \\sqrt{1 - \\beta_2^t}`."""
    b1, b2 = betas
    m = grad * (1 - b1**t)
    v = grad**2 * (1 - b2**t)
    alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    return alpha * m / (math.sqrt(v) + eps)


def eps_placement(grad: float, eps: float = 1e-8, lr: float = 1e-3) -> dict[str, float]:
    """Adam's first step :math:`\\gamma\\, d_1` on a weight with gradient ``grad``: torch's
    :math:`\\hat m / (\\sqrt{\\hat v} + \\varepsilon)` (run through ``torch.optim.Adam``), Keras's
    (:func:`keras_adam_first_step`, the same ``eps``), and :math:`\\hat m / \\sqrt{\\hat v +
    \\varepsilon}` (:math:`\\varepsilon` inside the root)."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=lr, eps=eps)
    p.grad = torch.full_like(p, grad)
    opt.step()
    return {
        "torch": -p.item(),
        "keras": keras_adam_first_step(grad, lr, eps=eps),
        "inside the root": lr * grad / math.sqrt(grad**2 + eps),
    }


# --- 10. clipping before unscale_ -------------------------------------------------------------------


def grad_norm(model: nn.Module) -> float:
    """:math:`\\|g\\|` over all of ``model``'s gradients."""
    return (
        torch.cat([cast(torch.Tensor, p.grad).flatten() for p in model.parameters()]).norm().item()
    )


def clip_before_unscale(max_norm: float = 0.1, seed: int = 0) -> dict[str, float]:
    """One fp16 batch with a ``GradScaler``: the scale :math:`S`, the norm of :math:`S g`, of
    :math:`g`, and the norm of the gradient the optimizer gets when ``clip_grad_norm_(c)`` runs
    before and after ``scaler.unscale_``."""
    check_number("max_norm", max_norm, low=0.0, low_inclusive=False)
    out: dict[str, float] = {"max_norm": max_norm}
    for order in ("before", "after"):
        model = tiny_model(seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu")
        x, y = tiny_batches(1, size=32, seed=seed)[0]
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        out["scale"], out["scaled norm"] = float(scaler.get_scale()), grad_norm(model)
        if order == "before":
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        scaler.unscale_(opt)
        if order == "after":
            out["true norm"] = grad_norm(model)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        out[f"clipped {order} unscale_"] = grad_norm(model)
    return out
