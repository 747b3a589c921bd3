r"""The multi-tensor ("foreach") path of SGD, Adam and AdamW: one ``torch._foreach_*`` call per list.

The single-tensor files (``sgd.py``, ``adam.py``) loop over the parameters in Python and launch a
few small operations per tensor. Here every line of the rule is one ``torch._foreach_*`` call on the
lists of all parameters of a group that share a device and a dtype: ``_foreach_mul_(bufs, μ)``
multiplies every momentum buffer by μ in one call. On a GPU a call is one kernel launch for the
whole list instead of one per tensor; on a CPU torch runs the same per-tensor kernels from C++, so
the gain is the Python overhead per tensor. The arithmetic is the single-tensor path's, operation
for operation, and equals torch's ``foreach=True`` step bit for bit (tests/test_optim_foreach.py).

Choosing the path as torch does (:func:`use_foreach`): ``foreach=True`` forces it, ``False`` forces
the loop, ``None`` (the default) takes it only when every parameter is a plain tensor on a device
with foreach kernels (CUDA, XPU, ...), so on CPU tensors ``None`` means the single-tensor loop.

    >>> w = [torch.ones(2), torch.ones(3)]
    >>> grads = [torch.full((2,), 0.5), torch.full((3,), 2.0)]
    >>> sgd_foreach(w, grads, [None, None], lr=0.1, momentum=0.0, dampening=0.0,
    ...             weight_decay=0.0, nesterov=False, maximize=False)
    >>> w
    [tensor([0.9500, 0.9500]), tensor([0.8000, 0.8000, 0.8000])]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

__all__ = [
    "adam_foreach",
    "check_foreach",
    "check_foreach_lr",
    "foreach_device_types",
    "grads_of",
    "group_by_device_and_dtype",
    "sgd_foreach",
    "use_foreach",
]

TensorList = list[torch.Tensor] | tuple[torch.Tensor, ...]  # what foreach ops take and return
TENSOR_LR_MESSAGE = "lr as a Tensor is not supported for capturable=False and foreach=True"


def check_foreach(value) -> bool | None:
    """Check the ``foreach`` switch: ``None`` (torch's default rule), ``True`` or ``False``.

    >>> check_foreach(1)
    Traceback (most recent call last):
    ...
    TypeError: foreach must be None, True or False, got 1 of type int
    """
    if value is not None and not isinstance(value, bool):
        raise TypeError(
            f"foreach must be None, True or False, got {value!r} of type {type(value).__name__}"
        )
    return value


def check_foreach_lr(lr, foreach) -> None:
    """Adam's foreach path takes γ as a number only, as torch's does without ``capturable``.

    Raises ``ValueError`` (at construction, as torch) for a tensor ``lr`` with ``foreach=True``.
    """
    if foreach and isinstance(lr, torch.Tensor):
        raise ValueError(
            f"{TENSOR_LR_MESSAGE} (course_lib has no capturable switch); pass lr as a float, "
            f"e.g. lr={float(lr)}, or use foreach=None or False"
        )


def foreach_device_types() -> tuple[str, ...]:
    """Device types with multi-tensor kernels, torch's list: CUDA, XPU, MTIA and a custom backend."""
    return ("cuda", "xpu", "mtia", torch._C._get_privateuse1_backend_name())


def use_foreach(
    foreach: bool | None, params: Iterable[torch.Tensor], lr: Any, *, tensor_lr: bool = True
) -> bool:
    """Whether a step takes the foreach path: torch's rule for ``foreach`` True, False or None.

    With ``None`` every parameter that has a gradient must be a plain ``Tensor`` or ``Parameter`` (no subclass) on a
    device of :func:`foreach_device_types`, and γ a number unless the path takes a tensor γ
    (``tensor_lr``; Adam's does not). So CPU tensors take the single-tensor loop:

        >>> w = torch.zeros(2, requires_grad=True)
        >>> w.grad = torch.ones(2)
        >>> use_foreach(None, [w], 0.1)
        False
        >>> use_foreach(True, [w], 0.1)
        True
    """
    if foreach is not None:
        return foreach
    if not tensor_lr and isinstance(lr, torch.Tensor):
        return False  # torch never switches itself onto a path that would refuse the step
    devices = foreach_device_types()
    return all(  # stops at the first CPU tensor
        type(p) in (torch.Tensor, torch.nn.Parameter) and p.device.type in devices
        for p in params
        if p.grad is not None
    )


def group_by_device_and_dtype(
    tensor_lists: Sequence[Sequence[Any]],
) -> dict[tuple[torch.device, torch.dtype], tuple[list[list[Any]], list[int]]]:
    """Split parallel lists (parameters, gradients, state, ...) by the parameters' device and dtype.

    A foreach call needs all its tensors on one device with one dtype. The result maps
    ``(device, dtype)`` of ``tensor_lists[0][i]`` to the sub-lists and the indices ``i`` they came
    from, in order; entries of the other lists (``None`` included) follow their parameter:

        >>> p = [torch.zeros(1), torch.zeros(1, dtype=torch.float64), torch.ones(2)]
        >>> groups = group_by_device_and_dtype([p, [None, None, None]])
        >>> [(dtype, indices) for (_, dtype), (_, indices) in groups.items()]
        [(torch.float32, [0, 2]), (torch.float64, [1])]
    """
    keys = [(p.device, p.dtype) for p in tensor_lists[0]]
    if len(set(keys)) <= 1:  # the usual case: one device, one dtype, nothing to split
        return {
            key: ([list(full) for full in tensor_lists], list(range(len(keys)))) for key in keys[:1]
        }
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[list[Any]], list[int]]] = {}
    for i, key in enumerate(keys):
        if key not in groups:
            groups[key] = ([[] for _ in tensor_lists], [])
        lists, indices = groups[key]
        for sub, full in zip(lists, tensor_lists, strict=True):
            sub.append(full[i])
        indices.append(i)
    return groups


def grads_of(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The gradients ∇f of parameters that all have one (``params_with_grad``'s), as a list."""
    grads = []
    for p in params:
        if p.grad is None:
            raise ValueError("grads_of needs parameters with a gradient (see params_with_grad)")
        grads.append(p.grad)
    return grads


def cpu_scalar(value: Any, tensors: TensorList) -> Any:
    """``value`` as a 0-d tensor of the tensors' dtype for float32/float64 CPU lists, else as is.

    On CPU, a foreach op given a Python number falls back to one op per tensor that wraps the
    number into a new tensor each time; given a 0-d tensor it takes the same value once, several
    times faster on many small tensors. For float32 and float64 the value enters the kernel in the
    tensors' dtype either way, so the arithmetic is the same bit for bit; float16 and bfloat16
    keep the number (their kernels compute with it in float32), and so do GPU tensors.
    """
    t = tensors[0]
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return torch.tensor(value, dtype=t.dtype)
    return value


def add_scalar_(tensors: TensorList, value: float) -> None:
    """x ← x + c for every tensor of the list (a 0-d tensor c where :func:`cpu_scalar` makes one)."""
    scalar = cpu_scalar(value, tensors)
    if isinstance(scalar, torch.Tensor):
        torch._foreach_add_(tensors, scalar, alpha=1.0)
    else:
        torch._foreach_add_(tensors, scalar)


def signed_grads(grads: list[torch.Tensor], maximize: bool) -> list[torch.Tensor]:
    """g = ∇f for every tensor, or −∇f (new tensors) when maximize."""
    return list(torch._foreach_neg(grads)) if maximize else grads


def sgd_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    momentum_buffers: list[torch.Tensor | None],
    *,
    lr: Any,
    momentum: float,
    dampening: float,
    weight_decay: Any,
    nesterov: bool,
    maximize: bool,
) -> None:
    r"""One SGD step on lists of tensors (``sgd.py``'s rule); fills ``momentum_buffers`` in place.

    For every θ of the lists, the single-tensor rule, one foreach call per line::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}           (−∇f instead when maximize)
        b_t = μ b_{t-1} + (1 − τ) g_t            momentum buffer, with b_1 = g_1
        d_t = g_t + μ b_t  (Nesterov)   or   d_t = b_t  (heavy ball)
        θ_t = θ_{t-1} − γ d_t

    ``momentum_buffers[i]`` is ``None`` before a parameter's first step with μ ≠ 0 and is replaced
    by its new buffer b_1 (the caller stores it in the state). The gradients are never changed.
    """
    groups = group_by_device_and_dtype([params, grads, momentum_buffers])
    for (device_params, device_grads, device_bufs), indices in groups.values():
        g = signed_grads(device_grads, maximize)
        if weight_decay != 0:
            g = list(torch._foreach_add(g, device_params, alpha=weight_decay))  # g + λ θ
        if momentum != 0:
            bufs = momentum_update(device_bufs, g, momentum, dampening)
            for i, buf in zip(indices, bufs, strict=True):
                momentum_buffers[i] = buf
            # d_t = g_t + μ b_t (a new list: p.grad stays as is) or d_t = b_t
            g = list(torch._foreach_add(g, bufs, alpha=momentum)) if nesterov else bufs
        torch._foreach_add_(device_params, g, alpha=-lr)  # θ_t = θ_{t-1} − γ d_t


def momentum_update(
    bufs: list[torch.Tensor | None], g: list[torch.Tensor], momentum: float, dampening: float
) -> list[torch.Tensor]:
    """b_t = μ b_{t-1} + (1 − τ) g_t for every buffer, b_1 = g_1 (a copy) where there is none yet."""
    if all(buf is not None for buf in bufs):
        ready = [buf for buf in bufs if buf is not None]  # the same list, typed as tensors
        torch._foreach_mul_(ready, cpu_scalar(momentum, ready))
        torch._foreach_add_(ready, g, alpha=1 - dampening)
        return ready
    new = []  # some parameters take their first step: one tensor at a time, as in torch
    for buf, grad in zip(bufs, g, strict=True):
        if buf is None:
            buf = grad.detach().clone()  # b_1 = g_1
        else:
            buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        new.append(buf)
    return new


def adam_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    exp_avg_sqs: list[torch.Tensor],
    max_exp_avg_sqs: list[torch.Tensor],
    state_steps: list[torch.Tensor],
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    r"""One Adam (or AdamW) step on lists of tensors (``adam.py``'s rule), state updated in place.

    For every θ of the lists, with its own step count t (``state_steps``, 0-d CPU tensors)::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        g_t ← g_t + λ θ_{t-1}         L2 penalty (decoupled_weight_decay=False)
        θ_{t-1} ← (1 − γλ) θ_{t-1}    decoupled weight decay (decoupled_weight_decay=True, = AdamW)
        m_t = β1 m_{t-1} + (1 − β1) g_t                    first moment
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t              second moment
        v_t^max = max(v_{t-1}^max, v_t)                    AMSGrad only; then v_t^max replaces v_t
        θ_t = θ_{t-1} − a_t m_t / (√v_t / √(1 − β2^t) + ε)   with a_t = γ / (1 − β1^t)

    ``max_exp_avg_sqs`` is used only when ``amsgrad`` (pass an empty list otherwise). γ must be a
    number: a tensor ``lr`` is a ``RuntimeError``, as in torch without ``capturable``.
    """
    if isinstance(lr, torch.Tensor):
        raise RuntimeError(f"{TENSOR_LR_MESSAGE}; set the group's lr to a float")
    lists = [params, grads, exp_avgs, exp_avg_sqs, state_steps]
    if amsgrad:
        lists.append(max_exp_avg_sqs)
    for tensors, _ in group_by_device_and_dtype(lists).values():
        device_params, device_grads, m, v, steps = tensors[:5]
        adam_foreach_one_device(
            device_params,
            device_grads,
            m,
            v,
            steps,
            tensors[5] if amsgrad else None,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )


def adam_foreach_one_device(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    m: list[torch.Tensor],
    v: list[torch.Tensor],
    steps: list[torch.Tensor],
    v_max: list[torch.Tensor] | None,
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    """:func:`adam_foreach` for tensors of one device and dtype (``v_max`` None: no AMSGrad)."""
    beta1, beta2 = betas
    add_scalar_(steps, 1.0)  # t ← t + 1
    g = signed_grads(grads, maximize)
    if weight_decay != 0:
        if decoupled_weight_decay:
            torch._foreach_mul_(params, 1 - lr * weight_decay)  # θ ← (1 − γλ) θ
        else:
            g = list(torch._foreach_add(g, params, alpha=weight_decay))  # g + λ θ
    torch._foreach_lerp_(m, g, 1 - beta1)  # m_t = β1 m_{t-1} + (1 − β1) g
    torch._foreach_mul_(v, cpu_scalar(beta2, v))
    torch._foreach_addcmul_(v, g, g, 1 - beta2)  # v_t = β2 v_{t-1} + (1 − β2) g²

    ts = [step.item() for step in steps]  # each parameter's own t, as plain numbers
    step_sizes = [-lr / (1 - beta1**t) for t in ts]  # −a_t = −γ / (1 − β1^t)
    bias_correction2_sqrt = [(1 - beta2**t) ** 0.5 for t in ts]  # √(1 − β2^t)
    if v_max is not None:
        torch._foreach_maximum_(v_max, v)  # v_t^max = max(v_{t-1}^max, v_t)
        v = v_max
    denom = torch._foreach_sqrt(v)
    if len(set(ts)) == 1:  # every parameter at the same t: one divisor for the whole list
        torch._foreach_div_(denom, cpu_scalar(bias_correction2_sqrt[0], denom))
    else:
        torch._foreach_div_(denom, bias_correction2_sqrt)
    add_scalar_(denom, eps)  # √v̂_t + ε
    torch._foreach_addcdiv_(params, m, denom, step_sizes)  # θ_t = θ_{t-1} − a_t m_t / denom
