r"""Bridges to other frameworks, for the appendices: Keras 3 (A1), Lightning and Optuna (A2).

Nothing here imports Keras, Lightning or Optuna at import time: each is imported on first use, so
``import course_lib.integrations`` stays cheap and the Keras appendix never pays for Lightning.

**Keras 3 (notebook A1).** Keras runs on its torch backend (``KERAS_BACKEND=torch``, set before the first
``import keras``; :func:`keras_module` checks it). Small helpers put Keras and torch side by side:

- :class:`Quadratic`: a tiny problem :math:`f(w) = \tfrac{s}{2} w^\top A w - s\,b^\top w` with gradient
  :math:`g(w) = s\,(A w - b)`; the scale :math:`s` makes gradients as small as we like (Adam's
  :math:`\varepsilon` only matters then).
- :func:`torch_iterates` / :func:`keras_iterates`: run an optimizer on such a problem and return the
  iterates :math:`w_0, w_1, \dots, w_T`, optionally with the learning rate (and Adam's :math:`\varepsilon`)
  changed before every step.
- :func:`torch_lr_curve`, :func:`keras_lr_curve`: the learning rate that step :math:`t = 0, 1, \dots`
  uses, from a torch scheduler or a Keras ``LearningRateSchedule``.
- :func:`plateau_lrs`: replay torch's ``ReduceLROnPlateau`` on a recorded sequence of metric values.
- :func:`keras_mlp`, :func:`torch_mlp_from_keras`, :func:`max_weight_difference`: the same MLP in both
  frameworks, with identical weights (Keras stores a ``Dense`` kernel as :math:`W^\top`).

**Lightning (notebook A2).** :class:`CourseLitModule` trains a classifier; its ``configure_optimizers``
builds course_lib parameter groups, an optimizer and a scheduler, and returns Lightning's dict with
``"interval": "step"`` (or ``"epoch"``, with a ``"monitor"`` for ``ReduceLROnPlateau``).
:class:`LRRecorder` records every group's learning rate right before every optimizer step (it needs no
logger, unlike Lightning's ``LearningRateMonitor``); :func:`quiet_trainer` builds a ``Trainer`` that
writes nothing (no logger, no checkpoints, a temporary ``default_root_dir``).

**Optuna (notebook A2).** :class:`MNIST1DObjective` is an objective ``trial -> validation accuracy``
that tunes the learning rate :math:`\gamma` (log scale), the schedule (constant / cosine / one-cycle)
and the weight decay :math:`\lambda` (log scale) of an MLP on MNIST-1D, reports every epoch for
pruning, and never looks at the test set. :func:`train_mnist1d` trains one configuration (used by the
objective and to re-train the best one on several seeds).

    >>> problem = Quadratic.default()
    >>> ws = torch_iterates(torch.optim.SGD, problem, steps=3, lr=0.1)
    >>> tuple(ws.shape)
    (4, 2)
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_lib._validation import check_choice, check_int, check_number

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "TRAIN_SCHEDULES",
    "CourseLitModule",  # noqa: F822 - built on first use, see __getattr__
    "LRRecorder",  # noqa: F822 - built on first use, see __getattr__
    "MNIST1DObjective",
    "OptunaPruning",  # noqa: F822 - built on first use, see __getattr__
    "Quadratic",
    "TrainResult",
    "keras_iterates",
    "keras_lr_curve",
    "keras_mlp",
    "keras_module",
    "make_scheduler",
    "max_weight_difference",
    "plateau_lrs",
    "quiet_trainer",
    "tensor_loader",
    "torch_iterates",
    "torch_lr_curve",
    "torch_mlp_from_keras",
    "train_mnist1d",
]


# --------------------------------------------------------------------------------------------------
# Keras on the torch backend
# --------------------------------------------------------------------------------------------------


def keras_module():
    """Import Keras on its torch backend and return the module.

    ``KERAS_BACKEND`` is read once, at Keras's first import; if it is unset it is set to ``"torch"``
    here. If Keras was already imported with another backend, a ``RuntimeError`` says how to fix it.

    Returns:
        the ``keras`` module.

    Example:
        >>> keras_module().backend.backend()
        'torch'
    """
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    backend = keras.backend.backend()
    if backend != "torch":
        raise RuntimeError(
            f"Keras runs on the {backend!r} backend; set os.environ['KERAS_BACKEND'] = 'torch' "
            "before the first `import keras` (restart the kernel)"
        )
    return keras


@dataclass(frozen=True)
class Quadratic:
    r"""A quadratic :math:`f(w) = s\,(\tfrac12 w^\top A w - b^\top w)`; calling it gives the gradient.

    .. math:: g(w) = \nabla f(w) = s\,(A w - b), \qquad w^\star = A^{-1} b

    Args:
        A: symmetric positive definite matrix, shape ``(d, d)``.
        b: vector, shape ``(d,)``.
        scale: :math:`s > 0`; a small :math:`s` gives small gradients with the same minimiser.

    Example:
        >>> q = Quadratic.default(scale=2.0)
        >>> q(torch.zeros(2))
        tensor([-2.,  4.])
    """

    A: torch.Tensor
    b: torch.Tensor
    scale: float = 1.0

    def __post_init__(self):
        if not isinstance(self.A, torch.Tensor) or self.A.ndim != 2:
            raise TypeError(f"A must be a 2-D tensor, got {self.A!r}")
        if self.A.shape[0] != self.A.shape[1]:
            raise ValueError(f"A must be square, got shape {tuple(self.A.shape)}")
        if not isinstance(self.b, torch.Tensor) or self.b.shape != (self.A.shape[0],):
            raise ValueError(f"b must be a tensor of shape ({self.A.shape[0]},), got {self.b!r}")
        check_number("scale", self.scale, low=0.0, low_inclusive=False)

    @classmethod
    def default(cls, scale: float = 1.0) -> Quadratic:
        """The 2-D problem of notebook A1: ``A = [[3, .5], [.5, 1]]``, ``b = [1, -2]``."""
        return cls(torch.tensor([[3.0, 0.5], [0.5, 1.0]]), torch.tensor([1.0, -2.0]), scale)

    @property
    def start(self) -> torch.Tensor:
        """The starting point used by the iterate helpers: ``(2, 2, ...)``."""
        return torch.full((self.A.shape[0],), 2.0)

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return self.scale * (self.A @ w - self.b)

    def loss(self, w: torch.Tensor) -> torch.Tensor:
        """The value :math:`f(w)`."""
        return self.scale * (0.5 * w @ self.A @ w - self.b @ w)


def _check_per_step(name: str, values, steps: int):
    if values is None:
        return None
    values = [float(v) for v in values]
    if len(values) < steps:
        raise ValueError(f"{name} must hold at least steps={steps} values, got {len(values)}")
    return values


def torch_iterates(
    optimizer_class,
    grad_fn: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    *,
    start: torch.Tensor | None = None,
    lrs: Sequence[float] | None = None,
    eps_schedule: Callable[[int], float] | None = None,
    **hyper,
) -> torch.Tensor:
    r"""Run a torch optimizer on a gradient field; return the iterates :math:`w_0, \dots, w_T`.

    Before step :math:`t = 1, \dots, T` the group's ``lr`` is set to ``lrs[t - 1]`` (when given) and its
    ``eps`` to ``eps_schedule(t)`` (when given), so a per-step learning rate or :math:`\varepsilon_t` can
    be imposed. (A constant ``eps`` is an ordinary optimizer argument in ``hyper``.)

    Args:
        optimizer_class: e.g. ``torch.optim.SGD`` or ``course_lib.optim.Adam``.
        grad_fn: :math:`w \mapsto g(w)`, e.g. a :class:`Quadratic`.
        steps: :math:`T \ge 0`.
        start: :math:`w_0`; default ``grad_fn.start`` when it has one.
        lrs: optional learning rate of each step.
        eps_schedule: optional function of the 1-based step giving :math:`\varepsilon_t`.
        **hyper: the optimizer's arguments (``lr=0.1, momentum=0.9``).

    Returns:
        tensor of shape ``(T + 1, d)``; row 0 is :math:`w_0`.

    Example:
        >>> ws = torch_iterates(torch.optim.SGD, Quadratic.default(), 2, lr=0.1)
        >>> ws[1]
        tensor([1.4000, 1.5000])
    """
    steps = check_int("steps", steps, low=0)
    lrs = _check_per_step("lrs", lrs, steps)
    w = torch.nn.Parameter(_start(grad_fn, start).clone())
    optimizer = optimizer_class([w], **hyper)
    out = [w.detach().clone()]
    for t in range(1, steps + 1):
        group = optimizer.param_groups[0]
        if lrs is not None:
            group["lr"] = lrs[t - 1]
        if eps_schedule is not None:
            group["eps"] = float(eps_schedule(t))
        w.grad = grad_fn(w.detach()).clone()
        optimizer.step()
        out.append(w.detach().clone())
    return torch.stack(out)


def _start(grad_fn, start) -> torch.Tensor:
    if start is not None:
        return torch.as_tensor(start, dtype=torch.float32)
    if hasattr(grad_fn, "start"):
        return grad_fn.start
    raise TypeError("start is required when grad_fn has no .start attribute")


def keras_iterates(
    optimizer,
    grad_fn: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    *,
    start: torch.Tensor | None = None,
    lrs: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""Run a Keras optimizer (torch backend) on a gradient field; return :math:`w_0, \dots, w_T`.

    Each step calls ``optimizer.apply([g], [w])`` with :math:`g = ` ``grad_fn(w)``; with ``lrs`` the
    optimizer's ``learning_rate`` is set to ``lrs[t - 1]`` before step :math:`t` (not possible when
    the optimizer was built with a ``LearningRateSchedule``: that one reads ``optimizer.iterations``).

    Args:
        optimizer: a fresh ``keras.optimizers.Optimizer`` (it is built on the new variable).
        grad_fn: :math:`w \mapsto g(w)`.
        steps: :math:`T \ge 0`.
        start: :math:`w_0`; default ``grad_fn.start``.
        lrs: optional learning rate of each step.

    Returns:
        tensor of shape ``(T + 1, d)``, float32.

    Example:
        >>> keras = keras_module()
        >>> ws = keras_iterates(keras.optimizers.SGD(0.1), Quadratic.default(), 2)
        >>> ws[1]
        tensor([1.4000, 1.5000])
    """
    keras = keras_module()
    steps = check_int("steps", steps, low=0)
    lrs = _check_per_step("lrs", lrs, steps)
    w = keras.Variable(_start(grad_fn, start).clone())
    out = [w.value.detach().clone()]
    for t in range(1, steps + 1):
        if lrs is not None:
            optimizer.learning_rate = lrs[t - 1]
        grad = grad_fn(w.value.detach().clone())
        optimizer.apply([grad], [w])
        out.append(w.value.detach().clone())
    return torch.stack(out)


def torch_lr_curve(make_scheduler: Callable, steps: int, lr: float = 1.0) -> np.ndarray:
    """The learning rate each of ``steps`` optimizer steps uses under a torch-style scheduler.

    A dummy parameter and ``torch.optim.SGD(lr=lr)`` are made; ``make_scheduler(optimizer)`` builds the
    scheduler; then ``lr`` is read before each ``optimizer.step(); scheduler.step()``.

    Args:
        make_scheduler: ``optimizer -> scheduler``.
        steps: number of steps (>= 0).
        lr: the optimizer's base learning rate.

    Returns:
        float64 array of shape ``(steps,)``.

    Example:
        >>> from functools import partial
        >>> torch_lr_curve(partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5), 5)
        array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    """
    steps = check_int("steps", steps, low=0)
    check_number("lr", lr, low=0.0)
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=lr)
    scheduler = make_scheduler(optimizer)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.asarray(out, dtype=np.float64)


def keras_lr_curve(schedule, steps: int) -> np.ndarray:
    """``schedule(t)`` for ``t = 0 .. steps - 1`` as float64; Keras's optimizer uses ``schedule(iterations)``.

    Args:
        schedule: a ``keras.optimizers.schedules.LearningRateSchedule`` (or any ``step -> value``).
        steps: number of steps (>= 0).

    Example:
        >>> keras = keras_module()
        >>> keras_lr_curve(keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5), 3)
        array([1.  , 0.5 , 0.25])
    """
    steps = check_int("steps", steps, low=0)
    return np.asarray([float(schedule(t)) for t in range(steps)], dtype=np.float64)


def plateau_lrs(values: Sequence[float], lr: float, scheduler_class=None, **kwargs) -> np.ndarray:
    """Replay a plateau scheduler on recorded metric values: the lr in force during each epoch.

    Epoch :math:`e` trains with ``lrs[e]``; then ``scheduler.step(values[e])`` may lower it.

    Args:
        values: the monitored metric after each epoch (e.g. Keras's ``history["val_loss"]``).
        lr: the starting learning rate.
        scheduler_class: default ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
        **kwargs: the scheduler's arguments (``factor``, ``patience``, ``threshold``, ...).

    Returns:
        float64 array, one learning rate per value.

    Example:
        >>> plateau_lrs([1.0, 1.0, 1.0, 1.0], lr=1.0, factor=0.5, patience=1)
        array([1. , 1. , 1. , 0.5])
    """
    check_number("lr", lr, low=0.0)
    scheduler_class = scheduler_class or torch.optim.lr_scheduler.ReduceLROnPlateau
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=lr)
    scheduler = scheduler_class(optimizer, **kwargs)
    out = []
    for v in values:
        out.append(optimizer.param_groups[0]["lr"])
        scheduler.step(float(v))
    return np.asarray(out, dtype=np.float64)


def keras_mlp(
    sizes: Sequence[int] = (40, 100, 100, 10),
    seed: int = 0,
    names: Sequence[str] | None = None,
    model_name: str = "mlp",
):
    """A Keras MLP: ``Dense`` layers with ReLU between them, logits out; weights drawn from ``seed``.

    Args:
        sizes: input size, hidden sizes, number of outputs (at least two entries).
        seed: seed of ``keras.utils.set_random_seed`` before the layers are built.
        names: one name per ``Dense`` layer (variables are then ``model_name/name/kernel``).
        model_name: the model's name (first part of every variable path).

    Returns:
        a built ``keras.Sequential``.

    Example:
        >>> [v.path for v in keras_mlp((4, 3, 2), names=["body", "head"]).trainable_variables]
        ['mlp/body/kernel', 'mlp/body/bias', 'mlp/head/kernel', 'mlp/head/bias']
    """
    keras = keras_module()
    sizes = [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least 2 entries (in, out), got {sizes}")
    check_int("seed", seed, low=0)
    n_layers = len(sizes) - 1
    names = list(names) if names is not None else [f"dense_{i}" for i in range(n_layers)]
    if len(names) != n_layers:
        raise ValueError(f"names must hold {n_layers} names (one per Dense layer), got {names}")
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((sizes[0],))]
    for i, (n_out, name) in enumerate(zip(sizes[1:], names)):
        act = "relu" if i < n_layers - 1 else None
        layers.append(keras.layers.Dense(n_out, activation=act, name=name))
    return keras.Sequential(layers, name=model_name)


def _dense_layers(keras_model) -> list:
    return [layer for layer in keras_model.layers if hasattr(layer, "kernel")]


def torch_mlp_from_keras(keras_model) -> nn.Sequential:
    """The same MLP in torch (``Linear`` + ``ReLU``) with the Keras model's weights copied in.

    Keras's ``Dense`` computes :math:`x K + b` with the kernel :math:`K` of shape ``(in, out)``; torch's
    ``Linear`` computes :math:`x W^\\top + b` with :math:`W` of shape ``(out, in)``; so :math:`W = K^\\top`.

    Example:
        >>> net = torch_mlp_from_keras(keras_mlp((4, 3, 2)))
        >>> net
        Sequential(
          (0): Linear(in_features=4, out_features=3, bias=True)
          (1): ReLU()
          (2): Linear(in_features=3, out_features=2, bias=True)
        )
    """
    dense = _dense_layers(keras_model)
    if not dense:
        raise ValueError("keras_model has no Dense layers")
    modules: list[nn.Module] = []
    for i, layer in enumerate(dense):
        kernel = layer.kernel.value.detach()
        lin = nn.Linear(kernel.shape[0], kernel.shape[1])
        with torch.no_grad():
            lin.weight.copy_(kernel.T)
            lin.bias.copy_(layer.bias.value.detach())
        modules.append(lin)
        if i < len(dense) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def max_weight_difference(keras_model, torch_model: nn.Module) -> float:
    """Largest absolute difference between matching weights of a Keras MLP and its torch copy.

    Example:
        >>> km = keras_mlp((4, 3, 2))
        >>> max_weight_difference(km, torch_mlp_from_keras(km))
        0.0
    """
    dense = _dense_layers(keras_model)
    linear = [m for m in torch_model.modules() if isinstance(m, nn.Linear)]
    if len(dense) != len(linear):
        raise ValueError(f"{len(dense)} Dense layers but {len(linear)} Linear layers")
    diff = 0.0
    for d, lin in zip(dense, linear):
        diff = max(diff, (d.kernel.value.detach() - lin.weight.detach().T).abs().max().item())
        diff = max(diff, (d.bias.value.detach() - lin.bias.detach()).abs().max().item())
    return diff


# --------------------------------------------------------------------------------------------------
# Schedulers for Lightning's configure_optimizers
# --------------------------------------------------------------------------------------------------

#: The schedules :func:`make_scheduler` knows (``"constant"`` means no scheduler).
SCHEDULES = ("constant", "cosine", "onecycle", "warmup_cosine", "plateau")


def _schedulers_module():
    from course_lib import schedulers  # imported late: it is only needed when a scheduler is built

    return schedulers


def _cosine(optimizer, total_steps: int, final_fraction: float = 0.0):
    lr_scheduler = _schedulers_module()
    base = min(g["lr"] for g in optimizer.param_groups)
    return lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=total_steps, eta_min=final_fraction * base
    )


def _onecycle(optimizer, total_steps: int, pct_start: float = 0.3):
    lr_scheduler = _schedulers_module()
    max_lr = [g["lr"] for g in optimizer.param_groups]
    return lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start
    )


def _warmup_cosine(optimizer, total_steps: int, warmup_fraction: float = 0.1):
    lr_scheduler = _schedulers_module()
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
    lr_scheduler = _schedulers_module()
    return lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
    )


_BUILDERS = {
    "cosine": _cosine,
    "onecycle": _onecycle,
    "warmup_cosine": _warmup_cosine,
    "plateau": _plateau,
}


def make_scheduler(name: str, **kwargs) -> Callable | None:
    r"""A picklable ``(optimizer, total_steps) -> scheduler`` factory for :class:`CourseLitModule`.

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
        name: one of :data:`SCHEDULES`.
        **kwargs: the options of that row (``final_fraction``, ``pct_start``, ``warmup_fraction``,
            ``factor``, ``patience``, ``threshold``, ``threshold_mode``).

    Example:
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> type(make_scheduler("cosine")(opt, 100)).__name__
        'CosineAnnealingLR'
    """
    check_choice("name", name, SCHEDULES)
    if name == "constant":
        if kwargs:
            raise TypeError(f"make_scheduler('constant') takes no options, got {sorted(kwargs)}")
        return None
    return functools.partial(_BUILDERS[name], **kwargs)


def _is_plateau(scheduler) -> bool:
    # course_lib.schedulers.ReduceLROnPlateau subclasses torch's
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


# --------------------------------------------------------------------------------------------------
# Lightning: classes built on first use (Lightning is imported only then)
# --------------------------------------------------------------------------------------------------

_LIGHTNING_NAMES = ("CourseLitModule", "LRRecorder", "OptunaPruning")


def __getattr__(name: str):
    """Build the Lightning classes on first access (PEP 562), so importing this module is cheap."""
    if name in _LIGHTNING_NAMES:
        _build_lightning_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_lightning_classes() -> None:
    import lightning.pytorch as pl

    from course_lib import optim as course_optim

    class CourseLitModule(pl.LightningModule):
        r"""A LightningModule whose ``configure_optimizers`` uses course_lib groups and schedulers.

        ``configure_optimizers`` does, in order::

            groups    = make_groups(model)            # or model.parameters()
            optimizer = optimizer_class(groups, **optimizer_kwargs)
            scheduler = make_scheduler(optimizer, T)  # T = trainer.estimated_stepping_batches
                                                      #     ("step") or trainer.max_epochs ("epoch")
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "interval": interval,
                                     "frequency": 1, "monitor": monitor}}  # monitor: plateau only

        With ``interval="step"`` Lightning calls ``scheduler.step()`` after every optimizer step, so
        :math:`\gamma_t` is the schedule at :math:`t` = the number of optimizer steps taken.
        The loss is the cross-entropy; each validation epoch logs ``val_loss`` and ``val_acc`` (the
        monitor of a plateau scheduler) and appends them, with the mean ``train_loss`` of the epoch,
        to ``self.history`` (sanity-check runs are not recorded).

        Args:
            model: the network, ``x -> logits``.
            optimizer_class: default ``course_lib.optim.SGD``.
            optimizer_kwargs: e.g. ``{"lr": 0.1, "momentum": 0.9}``.
            make_groups: ``model -> list of group dicts`` (e.g. a ``functools.partial`` of
                ``course_lib.param_groups.no_decay_groups``); ``None`` for one group.
            make_scheduler: ``(optimizer, T) -> scheduler`` (see :func:`make_scheduler`) or ``None``.
            interval: ``"step"`` or ``"epoch"``.
            monitor: the logged metric a ``ReduceLROnPlateau`` watches.

        Example:
            >>> module = CourseLitModule(nn.Linear(40, 10), optimizer_kwargs={"lr": 0.1},
            ...                          make_scheduler=make_scheduler("cosine"))
            >>> module.interval
            'step'
        """

        def __init__(
            self,
            model: nn.Module,
            *,
            optimizer_class=None,
            optimizer_kwargs: Mapping | None = None,
            make_groups: Callable | None = None,
            make_scheduler: Callable | None = None,
            interval: str = "step",
            monitor: str = "val_loss",
        ):
            super().__init__()
            if not isinstance(model, nn.Module):
                raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
            self.model = model
            self.optimizer_class = optimizer_class or course_optim.SGD
            self.optimizer_kwargs = dict(optimizer_kwargs or {})
            self.make_groups = make_groups
            self.make_scheduler = make_scheduler
            self.interval = check_choice("interval", interval, ("step", "epoch"))
            if not isinstance(monitor, str):
                raise TypeError(f"monitor must be a metric name (str), got {monitor!r}")
            self.monitor = monitor
            self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
            self._train_sum = 0.0
            self._train_n = 0
            self._val = [0.0, 0, 0]  # loss sum, correct, count

        def forward(self, x):
            return self.model(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.model(x), y)
            self._train_sum += loss.detach().item() * len(y)
            self._train_n += len(y)
            return loss

        def on_train_epoch_end(self):
            if self._train_n:
                self.history["train_loss"].append(self._train_sum / self._train_n)
            self._train_sum, self._train_n = 0.0, 0

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.model(x)
            self._val[0] += F.cross_entropy(logits, y, reduction="sum").item()
            self._val[1] += int((logits.argmax(dim=1) == y).sum())
            self._val[2] += len(y)

        def on_validation_epoch_end(self):
            loss_sum, correct, n = self._val
            self._val = [0.0, 0, 0]
            if not n:
                return
            val_loss, val_acc = loss_sum / n, correct / n
            self.log("val_loss", val_loss, prog_bar=True)
            self.log("val_acc", val_acc, prog_bar=True)
            if not self.trainer.sanity_checking:
                self.history["val_loss"].append(val_loss)
                self.history["val_acc"].append(val_acc)

        def configure_optimizers(self):
            groups = (
                self.make_groups(self.model)
                if self.make_groups is not None
                else self.model.parameters()
            )
            optimizer = self.optimizer_class(groups, **self.optimizer_kwargs)
            if self.make_scheduler is None:
                return optimizer
            if self.interval == "step":
                total = int(self.trainer.estimated_stepping_batches)
            else:
                total = int(self.trainer.max_epochs)
            scheduler = self.make_scheduler(optimizer, total)
            config = {"scheduler": scheduler, "interval": self.interval, "frequency": 1}
            if _is_plateau(scheduler):
                if self.interval != "epoch":
                    raise ValueError(
                        "interval must be 'epoch' for ReduceLROnPlateau (it watches "
                        f"{self.monitor!r}, computed once per validation epoch), got 'step'"
                    )
                config["monitor"] = self.monitor
            return {"optimizer": optimizer, "lr_scheduler": config}

    class LRRecorder(pl.Callback):
        """Records a hyperparameter of every group right before every optimizer step.

        Unlike Lightning's ``LearningRateMonitor`` it needs no logger and is not thinned by
        ``log_every_n_steps``: ``values[t, i]`` is the value group ``i`` used at optimizer step ``t``
        (the hook is ``on_before_optimizer_step``, so with gradient accumulation it fires once per
        optimizer step, not per batch).

        Args:
            key: the group key to record (``"lr"``, ``"momentum"``, ``"betas"``, ...).
            index: for a pair such as ``betas``, which element to record (0 for
                :math:`\\beta_1`); ignored for numbers.

        Example:
            >>> rec = LRRecorder(key="betas", index=0)
            >>> rec.values.shape
            (0, 0)
        """

        def __init__(self, key: str = "lr", index: int = 0):
            super().__init__()
            if not isinstance(key, str):
                raise TypeError(f"key must be a param-group key (str), got {key!r}")
            self.key = key
            self.index = check_int("index", index, low=0)
            self._rows: list[list[float]] = []

        def _value(self, group) -> float:
            value = group[self.key]
            if isinstance(value, (tuple, list)):
                value = value[self.index]
            return float(value)

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            self._rows.append([self._value(g) for g in optimizer.param_groups])

        @property
        def values(self) -> np.ndarray:
            """Array of shape ``(steps, groups)``."""
            if not self._rows:
                return np.zeros((0, 0))
            return np.asarray(self._rows, dtype=np.float64)

    class OptunaPruning(pl.Callback):
        """Reports a validation metric to an Optuna trial after every epoch; stops a pruned run.

        After ``trainer.fit`` check ``pruned_at`` (``None`` or the epoch) and raise
        ``optuna.TrialPruned`` from the objective (raising inside Lightning's loop is avoided).

        Args:
            trial: the ``optuna.Trial``.
            monitor: a key of ``pl_module.history`` (``"val_acc"`` or ``"val_loss"``).
        """

        def __init__(self, trial, monitor: str = "val_acc"):
            super().__init__()
            self.trial = trial
            self.monitor = monitor
            self.pruned_at: int | None = None

        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            values = pl_module.history.get(self.monitor) or []
            if not values:
                return
            epoch = len(values) - 1
            self.trial.report(float(values[-1]), step=epoch)
            if self.trial.should_prune():
                self.pruned_at = epoch
                trainer.should_stop = True

    for cls in (CourseLitModule, LRRecorder, OptunaPruning):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
        globals()[cls.__name__] = cls


def quiet_trainer(root_dir, max_epochs: int, callbacks: Sequence = (), **kwargs):
    """A Lightning ``Trainer`` on one CPU that writes no file and prints no progress bar.

    ``logger=False`` (Lightning would create ``lightning_logs/``), ``enable_checkpointing=False``
    (it would save ``.ckpt`` files), ``default_root_dir=root_dir`` (pass a ``TemporaryDirectory``),
    no progress bar, no model summary, no sanity-check validation. ``kwargs`` override any of them.

    Args:
        root_dir: a temporary folder.
        max_epochs: epochs to train (>= 1).
        callbacks: Lightning callbacks.

    Returns:
        ``lightning.pytorch.Trainer``.
    """
    import lightning.pytorch as pl

    check_int("max_epochs", max_epochs, low=1)
    options = {
        "max_epochs": max_epochs,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "default_root_dir": str(root_dir),
        "callbacks": list(callbacks),
    }
    options.update(kwargs)
    return pl.Trainer(**options)


# --------------------------------------------------------------------------------------------------
# Training one configuration on MNIST-1D, and the Optuna objective
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_mnist1d` returns: final metrics, per-epoch history, per-step learning rates.

    ``lrs[t, i]`` is the learning rate of group ``i`` at optimizer step ``t`` (from :class:`LRRecorder`).
    """

    val_acc: float
    val_loss: float
    test_acc: float | None
    history: dict = field(repr=False)
    lrs: np.ndarray = field(repr=False)
    pruned_at: int | None = None


def tensor_loader(x, y, batch_size: int | None = None, seed: int | None = None):
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
    if seed is None:
        sampler = torch.utils.data.SequentialSampler(dataset)
        batch_size = 1000 if batch_size is None else batch_size
    else:
        check_int("seed", seed, low=0)
        generator = torch.Generator().manual_seed(seed)
        sampler = torch.utils.data.RandomSampler(dataset, generator=generator)
        batch_size = 100 if batch_size is None else batch_size
    check_int("batch_size", batch_size, low=1)
    batches = torch.utils.data.BatchSampler(sampler, batch_size, drop_last=False)
    return torch.utils.data.DataLoader(dataset, batch_size=None, sampler=batches)


#: Optimizers :func:`train_mnist1d` knows, with their fixed arguments (the rate and decay are tuned).
OPTIMIZERS = ("adamw", "sgd")
TRAIN_SCHEDULES = ("constant", "cosine", "onecycle", "warmup_cosine")


def train_mnist1d(
    lr: float,
    schedule: str,
    weight_decay: float,
    *,
    split,
    val: tuple,
    epochs: int,
    seed: int = 0,
    optimizer: str = "adamw",
    batch_size: int = 100,
    hidden_sizes: Sequence[int] = (100, 100),
    callbacks: Sequence = (),
    evaluate_test: bool = False,
) -> TrainResult:
    r"""Train the course's MLP on MNIST-1D with Lightning: no-decay groups and a per-step schedule.

    Model ``course_lib.models.MLP(hidden_sizes, seed=seed)``; groups
    ``course_lib.param_groups.no_decay_groups(model, \lambda)`` (weights decay by :math:`\lambda`,
    biases do not); optimizer ``course_lib.optim.AdamW(lr=\gamma)`` (the course's MLP recipe in
    ``course_lib.models.RECIPES["mlp"]``) or ``SGD(lr=\gamma, momentum=0.9)``; the schedule
    :func:`make_scheduler` ``(schedule)`` stepped after every batch (``interval="step"``).
    Seeded: weights and batch order depend only on ``seed``. Nothing is written to disk.

    Args:
        lr: :math:`\gamma > 0` (the peak for one-cycle, the start for cosine).
        schedule: ``"constant"``, ``"cosine"``, ``"onecycle"`` or ``"warmup_cosine"``.
        weight_decay: :math:`\lambda \ge 0`.
        split: a ``course_lib.data.Split`` (its training part is trained on).
        val: ``(x_val, y_val)``, validated after every epoch.
        epochs: number of epochs (>= 1).
        seed: seed of the weights and of the batch order.
        optimizer: ``"adamw"`` or ``"sgd"``.
        batch_size: training batch size.
        hidden_sizes: the MLP's hidden layers.
        callbacks: extra Lightning callbacks (e.g. :class:`OptunaPruning`).
        evaluate_test: also compute the test accuracy (for the final report only, never for tuning).

    Returns:
        :class:`TrainResult` with the last epoch's ``val_acc`` and ``val_loss``.
    """
    import tempfile

    from course_lib import models, param_groups
    from course_lib import optim as course_optim

    check_number("lr", lr, low=0.0, low_inclusive=False)
    check_choice("schedule", schedule, TRAIN_SCHEDULES)
    check_number("weight_decay", weight_decay, low=0.0)
    check_int("epochs", epochs, low=1)
    check_int("seed", seed, low=0)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_int("batch_size", batch_size, low=1)
    if optimizer == "adamw":
        optimizer_class, kwargs = course_optim.AdamW, {"lr": lr}
    else:
        optimizer_class, kwargs = course_optim.SGD, {"lr": lr, "momentum": 0.9}
    model = models.MLP(split.num_features, split.num_classes, hidden_sizes, seed=seed)
    module = _lightning("CourseLitModule")(
        model,
        optimizer_class=optimizer_class,
        optimizer_kwargs=kwargs,
        make_groups=functools.partial(param_groups.no_decay_groups, weight_decay=weight_decay),
        make_scheduler=make_scheduler(schedule),
        interval="step",
    )
    recorder = _lightning("LRRecorder")()
    train = tensor_loader(split.x_train, split.y_train, batch_size, seed)
    val_loader = tensor_loader(val[0], val[1])
    with tempfile.TemporaryDirectory() as root:
        trainer = quiet_trainer(root, epochs, callbacks=[recorder, *callbacks])
        trainer.fit(module, train, val_loader)
    test_acc = None
    if evaluate_test:
        model.eval()
        with torch.no_grad():
            test_acc = (model(split.x_test).argmax(1) == split.y_test).double().mean().item()
    pruned_at = next((c.pruned_at for c in callbacks if hasattr(c, "pruned_at")), None)
    history = {k: list(v) for k, v in module.history.items()}
    val_acc = history["val_acc"][-1] if history["val_acc"] else math.nan
    val_loss = history["val_loss"][-1] if history["val_loss"] else math.nan
    return TrainResult(val_acc, val_loss, test_acc, history, recorder.values, pruned_at)


def _lightning(name: str):
    """One of the Lightning classes, built first if needed (code inside this module cannot rely on
    the module-level ``__getattr__``, which only serves attribute access from outside)."""
    if name not in globals():
        _build_lightning_classes()
    return globals()[name]


@dataclass(frozen=True)
class MNIST1DObjective:
    r"""Optuna objective: validation accuracy of the course's MLP on MNIST-1D for a trial's choices.

    The search space (each trial draws one point):

    .. math:: \gamma \sim \mathrm{LogUniform}[\gamma_{lo}, \gamma_{hi}], \quad
              \text{schedule} \in \{\text{constant}, \text{cosine}, \text{onecycle}\}, \quad
              \lambda \sim \mathrm{LogUniform}[\lambda_{lo}, \lambda_{hi}]

    Each trial runs :func:`train_mnist1d` and returns the validation accuracy after the last epoch.
    The accuracy after every epoch is reported to the trial, so a pruner may stop a poor trial early
    (``optuna.TrialPruned`` is raised). The test set is never used. A run whose loss became NaN
    counts as accuracy 0 (a bad result, not an error).

    Args:
        split: the training data (a ``Split``; only its training part is used).
        val: ``(x_val, y_val)``, e.g. from ``course_lib.compare.holdout``.
        epochs: epochs per trial.
        seed: the seed of every trial (same weights and batch order: trials differ only by
            their hyperparameters).
        optimizer: ``"adamw"`` (default, the course's MLP recipe) or ``"sgd"``.
        lr_range, weight_decay_range: the log-uniform ranges.
        schedules: the schedule choices.
        batch_size: training batch size.

    Example:
        >>> import optuna
        >>> from course_lib import data, compare
        >>> fit_split, val = compare.holdout(data.subset(data.mnist1d(), 200), 0.25)
        >>> objective = MNIST1DObjective(fit_split, val, epochs=1)
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study(direction="maximize",
        ...                             sampler=optuna.samplers.TPESampler(seed=0))
        >>> study.optimize(objective, n_trials=1)
        >>> sorted(study.best_params)
        ['lr', 'schedule', 'weight_decay']
    """

    split: object = field(repr=False)
    val: tuple = field(repr=False)
    epochs: int = 8
    seed: int = 0
    optimizer: str = "adamw"
    lr_range: tuple[float, float] = (1e-4, 1e-1)
    weight_decay_range: tuple[float, float] = (1e-5, 1e-1)
    schedules: tuple[str, ...] = ("constant", "cosine", "onecycle")
    batch_size: int = 100

    def __post_init__(self):
        check_int("epochs", self.epochs, low=1)
        check_int("seed", self.seed, low=0)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_int("batch_size", self.batch_size, low=1)
        for name in ("lr_range", "weight_decay_range"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise TypeError(f"{name} must be a pair (low, high), got {value!r}")
            lo, hi = value
            check_number(f"{name}[0]", lo, low=0.0, low_inclusive=False)
            check_number(f"{name}[1]", hi, low=lo, low_inclusive=False)
            object.__setattr__(self, name, (lo, hi))
        if isinstance(self.schedules, str) or not self.schedules:
            raise ValueError(
                f"schedules must be a non-empty sequence of names, got {self.schedules!r}"
            )
        for s in self.schedules:
            check_choice("schedules", s, TRAIN_SCHEDULES)
        object.__setattr__(self, "schedules", tuple(self.schedules))

    def __call__(self, trial) -> float:
        import optuna

        lr = trial.suggest_float("lr", *self.lr_range, log=True)
        schedule = trial.suggest_categorical("schedule", list(self.schedules))
        weight_decay = trial.suggest_float("weight_decay", *self.weight_decay_range, log=True)
        pruning = _lightning("OptunaPruning")(trial, monitor="val_acc")
        result = train_mnist1d(
            lr,
            schedule,
            weight_decay,
            split=self.split,
            val=self.val,
            epochs=self.epochs,
            seed=self.seed,
            optimizer=self.optimizer,
            batch_size=self.batch_size,
            callbacks=[pruning],
        )
        if result.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {result.pruned_at}")
        if not math.isfinite(result.val_loss):
            return 0.0
        return result.val_acc
