"""What every optimizer in ``course_lib.optim`` shares: checks on parameters and parameter groups.

:class:`CourseOptimizer` is ``torch.optim.Optimizer`` plus clear errors at construction and in
``add_param_group``: each message names the argument, the value and what would be valid. The update
rules themselves live one per file (``sgd.py``, ``adam.py``, ...) and read on their own.

What is checked, for the constructor's ``params`` and for every group dict:

- ``params`` is an ordered iterable (list, tuple, ``model.parameters()``, ``model.named_parameters()``)
  of tensors or of group dicts; a single tensor, a ``set`` or a bare dict is a ``TypeError``;
- it is not empty; every entry is a real floating-point leaf tensor; no tensor appears twice,
  whether in one group or in two groups;
- the hyperparameters of each group (the constructor's values, overridden by the group dict's) pass
  the optimizer's own ``_check_hyperparameters``; a group's error starts with ``param_groups[i]:``.

Not supported (a clear error instead): complex or integer parameters (``TypeError`` at construction)
and sparse gradients (``RuntimeError`` at the step that meets one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.optim import Optimizer

from course_lib._validation import check_number

__all__ = [
    "CourseOptimizer",
    "check_lr",
    "lr_as_scalar",
    "new_step_tensor",
    "reject_sparse",
    "signed_grad",
    "steps_as_tensors",
]


def check_lr(value) -> float | torch.Tensor:
    """Check a learning rate γ >= 0 given as a number or a tensor; a tensor must have 1 element.

    As in torch, ``torch.tensor(0.1)``, ``torch.tensor([0.1])`` and ``torch.tensor([[0.1]])`` are
    all accepted, and a tensor with more elements is a ``ValueError`` with torch's message:

        >>> check_lr(torch.tensor([0.1, 0.2]))
        Traceback (most recent call last):
        ...
        ValueError: Tensor lr must be 1-element, got a tensor of shape (2,)
    """
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise ValueError(f"Tensor lr must be 1-element, got a tensor of shape {tuple(value.shape)}")
    return check_number("lr", value, low=0)


def lr_as_scalar(lr: float | torch.Tensor) -> float | torch.Tensor:
    """γ as the update uses it: a number stays a number, a 1-element tensor becomes 0-d.

    torch's ``_to_scalar`` does the same at the start of every step, because in-place ops such as
    ``p.add_(g, alpha=-lr)`` take a 0-d tensor as a number but refuse a tensor of shape (1,):

        >>> lr_as_scalar(torch.tensor([0.1])).shape
        torch.Size([])
        >>> lr_as_scalar(0.1)
        0.1
    """
    if isinstance(lr, torch.Tensor) and lr.dim() != 0:
        return lr.squeeze()
    return lr


def new_step_tensor(value: float = 0.0) -> torch.Tensor:
    """A 0-d CPU tensor holding the step count, of the dtype torch's single-tensor path uses.

    torch keeps ``state["step"]`` as a float tensor: float64 when the default dtype is float64,
    float32 otherwise. Keeping the same dtype keeps ``state_dict`` interchangeable with torch.

        >>> new_step_tensor().dtype
        torch.float32
    """
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(float(value), dtype=dtype)


def steps_as_tensors(optimizer: Optimizer, keys: tuple[str, ...] = ("step",)) -> None:
    """Turn plain-number ``step`` entries (old checkpoints) into tensors, as torch's loaders do."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key in keys:
                if key in state and not torch.is_tensor(state[key]):
                    state[key] = new_step_tensor(state[key])


def reject_sparse(grad: torch.Tensor, optimizer: Optimizer) -> None:
    """Raise a clear ``RuntimeError`` for a sparse gradient (only dense gradients are supported)."""
    if grad.is_sparse:
        name = type(optimizer).__name__
        raise RuntimeError(
            f"{name} got a sparse gradient (layout {grad.layout}); course_lib.optim supports dense "
            f"gradients only: use torch.optim.SparseAdam, or torch.optim.{name} where it supports them"
        )


def signed_grad(p: torch.Tensor, maximize: bool) -> torch.Tensor:
    """The gradient g = ∇f of a parameter that has one, or −∇f when ``maximize``."""
    grad = p.grad
    if grad is None:
        raise ValueError("signed_grad needs a parameter with a gradient (see params_with_grad)")
    return -grad if maximize else grad


def _items(params, label: str, *, in_group: bool = False) -> list:
    """``params`` as a list, refusing a set, a dict, a non-iterable or (outside a group) a tensor."""
    expected = "an iterable of tensors" if in_group else "an iterable of tensors or of group dicts"
    if isinstance(params, torch.Tensor):
        if in_group:
            return [params]  # {"params": tensor} is a one-tensor group, as in torch
        raise TypeError(
            f"{label} must be {expected}, got a single Tensor; wrap it in a list: [tensor]"
        )
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            f"{label} must be an ordered collection (a list, a tuple or model.parameters()), "
            f"got a {type(params).__name__}: the order of a set changes between runs, so optimizer "
            "state and checkpoints would attach to the wrong tensors; use a list"
        )
    if isinstance(params, dict):
        raise TypeError(
            f"{label} must be {expected}, got a single dict; "
            "pass a list of group dicts: [{'params': ..., 'lr': ...}]"
        )
    if not isinstance(params, Iterable):
        raise TypeError(
            f"{label} must be {expected}, got {params!r} of type {type(params).__name__}"
        )
    return list(params)


def _grad_fn_name(tensor: torch.Tensor) -> str:
    return tensor.grad_fn.name() if tensor.grad_fn is not None else "an operation"


def _check_tensors(items: list, group_index: int) -> list[torch.Tensor]:
    """Check the entries of one group's ``params``; return the tensors (names stripped)."""
    tensors = []
    seen: dict[int, int] = {}
    for i, item in enumerate(items):
        where = f"params[{i}] of param group {group_index}"
        # model.named_parameters() gives (name, tensor) pairs; torch keeps the names.
        tensor = item[1] if isinstance(item, tuple) and len(item) == 2 else item
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"{where} must be a torch.Tensor, got {item!r} of type {type(item).__name__}"
            )
        if not (tensor.is_leaf or tensor.retains_grad):
            raise ValueError(
                f"{where} is not a leaf tensor (it was computed by {_grad_fn_name(tensor)}); an "
                "optimizer updates leaf tensors such as model.parameters() or x.detach().requires_grad_()"
            )
        if not tensor.is_floating_point():
            raise TypeError(
                f"{where} must be a real floating-point tensor, got dtype {tensor.dtype}; "
                "course_lib.optim does not support complex or integer parameters"
            )
        if id(tensor) in seen:
            raise ValueError(
                f"{where} is the same tensor as params[{seen[id(tensor)]}]; "
                "each parameter may appear only once"
            )
        seen[id(tensor)] = i
        tensors.append(tensor)
    return tensors


class CourseOptimizer(Optimizer):
    """``torch.optim.Optimizer`` that checks its parameters and every group's hyperparameters.

    Subclasses build their ``defaults`` dict (hyperparameter name -> value, torch's names),
    implement ``_check_hyperparameters(hyperparameters)``, which raises ``ValueError``/``TypeError``
    through ``course_lib._validation``, and ``update_group(group, lr)``, the rule for one group.
    :meth:`step` is shared: it evaluates the closure, then calls ``update_group`` for every group with
    γ as :func:`lr_as_scalar` gives it. Everything else (``state``, ``param_groups``,
    ``state_dict``, ``zero_grad``, hooks, pickling) is torch's own.
    """

    #: hyperparameters that checkpoints from before they existed lack, with torch's default for them
    _setstate_defaults: tuple[tuple[str, object], ...] = ()
    #: per-parameter state entries kept as tensors (older checkpoints may hold floats)
    _tensor_state_keys: tuple[str, ...] = ()

    def __init__(self, params, defaults: dict) -> None:
        self._check_hyperparameters(defaults)
        items = _items(params, "params")
        if len(items) == 0:
            raise ValueError(
                "params must contain at least one tensor or group dict, got an empty list "
                "(a model without parameters, or a generator that was already used up?)"
            )
        super().__init__(items, defaults)

    @staticmethod
    def _check_hyperparameters(hyperparameters: dict) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient; return ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self.update_group(group, lr_as_scalar(group["lr"]))
        return loss

    def update_group(self, group: dict, lr: Any) -> None:
        """Update the parameters of one group with learning rate ``lr``.

        ``lr`` is γ as :func:`lr_as_scalar` gives it: a number or a 0-d tensor, which torch's
        in-place ops take wherever they take a number (hence ``Any``: torch's stubs say float).
        """
        raise NotImplementedError

    def params_with_grad(self, group: dict) -> Iterator[torch.Tensor]:
        """The parameters of ``group`` that have a gradient, refusing a sparse one."""
        for p in group["params"]:
            if p.grad is not None:
                reject_sparse(p.grad, self)
                yield p

    def __setstate__(self, state: dict) -> None:
        """Unpickle as torch does, filling hyperparameters that older checkpoints lack."""
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self._setstate_defaults:
                group.setdefault(key, value)
        if self._tensor_state_keys:
            steps_as_tensors(self, keys=self._tensor_state_keys)

    def add_param_group(self, param_group: dict) -> None:
        """Check a group dict (tensors and hyperparameters), then add it as torch does."""
        index = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(
                f"param_groups[{index}] must be a dict with a 'params' key, "
                f"got {param_group!r} of type {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(
                f"param_groups[{index}] must have a 'params' key, got keys {list(param_group)}"
            )
        items = _items(param_group["params"], f"param_groups[{index}]['params']", in_group=True)
        tensors = _check_tensors(items, index)
        for j, group in enumerate(self.param_groups):
            ids = {id(p) for p in group["params"]}
            for i, tensor in enumerate(tensors):
                if id(tensor) in ids:
                    raise ValueError(
                        f"params[{i}] of param group {index} is already in param group {j}; "
                        "a parameter may belong to one group only"
                    )
        hyperparameters = {**self.defaults, **param_group}
        del hyperparameters["params"]
        try:
            self._check_hyperparameters(hyperparameters)
        except (TypeError, ValueError) as err:
            raise type(err)(f"param_groups[{index}]: {err}") from None
        param_group["params"] = items  # a generator can be read only once
        super().add_param_group(param_group)
