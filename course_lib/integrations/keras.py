r"""Keras 3 on its torch backend beside torch itself (notebook A1).

Keras is imported on first use (:func:`keras_module`), never when this module is imported. Keras runs
on its torch backend (``KERAS_BACKEND=torch``, set before the first ``import keras``).

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

    >>> problem = Quadratic.default()
    >>> ws = torch_iterates(torch.optim.SGD, problem, steps=3, lr=0.1)
    >>> tuple(ws.shape)
    (4, 2)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib._validation import check_int, check_number

__all__ = [
    "Quadratic",
    "keras_iterates",
    "keras_lr_curve",
    "keras_mlp",
    "keras_module",
    "max_weight_difference",
    "plateau_lrs",
    "torch_iterates",
    "torch_lr_curve",
    "torch_mlp_from_keras",
]


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
