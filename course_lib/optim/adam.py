"""Adam: momentum on the gradient, RMSprop-style scaling, and bias correction of both averages."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number, check_pair
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad
from course_lib.optim.foreach import (
    adam_foreach,
    check_foreach,
    check_foreach_lr,
    grads_of,
    use_foreach,
)

__all__ = ["Adam"]


def check_betas(betas) -> tuple[float, float]:
    """``betas`` as a tuple of two plain numbers, each in [0, 1) (tensor betas are not supported)."""
    betas = check_pair("betas", betas, low=0, high=1, high_inclusive=False)
    for i, beta in enumerate(betas):
        if isinstance(beta, torch.Tensor):
            raise TypeError(
                f"betas[{i}] must be a plain number in [0, 1), got a tensor {beta!r}; "
                "use float(beta) (tensor betas belong to torch's capturable path)"
            )
    return betas


class Adam(CourseOptimizer):
    r"""Adam (Kingma & Ba, 2015), with optional AMSGrad and decoupled weight decay: ``torch.optim.Adam``.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        g_t ← g_t + λ θ_{t-1}         L2 penalty (decoupled_weight_decay=False)
        θ_{t-1} ← (1 − γλ) θ_{t-1}    decoupled weight decay (decoupled_weight_decay=True, = AdamW)
        m_t = β1 m_{t-1} + (1 − β1) g_t                    first moment, m_0 = 0
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t              second moment, v_0 = 0
        v_t^max = max(v_{t-1}^max, v_t)                    AMSGrad only; then v_t^max replaces v_t below
        a_t = γ / (1 − β1^t)                               step size with m's bias correction
        θ_t = θ_{t-1} − a_t m_t / (√v_t / √(1 − β2^t) + ε)

    that is θ_t = θ_{t-1} − γ m̂_t / (√v̂_t + ε) with m̂_t = m_t / (1 − β1^t), v̂_t = v_t / (1 − β2^t),
    and the update direction (docs/notation.md) is d_t = m̂_t / (√v̂_t + ε). γ lr, β1 β2 betas,
    ε eps, λ weight_decay.

    AMSGrad as torch (and this class) implements it still divides the running maximum by the bias
    correction, √v_t^max / √(1 − β2^t): while v_t^max holds, the per-coordinate rate
    γ √(1 − β2^t) / √v_t^max grows with t, by up to 1/√(1 − β2) (about 31.6 for β2 = 0.999).
    Reddi, Kale & Kumar (2018, Algorithm 2) take v̂_t = max(v̂_{t-1}, v_t) without bias correction
    and a decaying step α_t = α/√t; there the effective rate α_t / √v̂_t never increases.

    State per parameter: ``step`` (t, a 0-d float tensor), ``exp_avg`` (m), ``exp_avg_sq`` (v) and
    ``max_exp_avg_sq`` (v^max, when amsgrad).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 0.
        amsgrad: use the running maximum of v (Reddi, Kale & Kumar, 2018). Default False.
        maximize: ascend f instead of descending it. Default False.
        decoupled_weight_decay: shrink θ directly instead of adding λθ to the gradient. Default False.
        foreach: None (default) for torch's rule, the multi-tensor path only when every parameter
            is on a device with foreach kernels (CUDA, ...) and γ is a number, so the loop below on
            CPU; True for the ``torch._foreach_*`` path of ``foreach.py`` (the same rule, one call
            per list of tensors; γ must be a number, as in torch); False for the loop. Stored in
            the groups when given.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # first step: m̂ / √v̂ = sign(g), so each coordinate moves by about lr
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _setstate_defaults = (
        ("amsgrad", False),
        ("maximize", False),
        ("decoupled_weight_decay", False),
    )
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        if foreach is not None:  # as torch's key, but only when set: None is read as missing
            defaults["foreach"] = foreach
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_betas(hp["betas"])
        check_number("eps", hp["eps"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("amsgrad", hp["amsgrad"])
        check_bool("maximize", hp["maximize"])
        check_bool("decoupled_weight_decay", hp["decoupled_weight_decay"])
        check_foreach_lr(hp["lr"], check_foreach(hp.get("foreach")))

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        if use_foreach(group.get("foreach"), group["params"], lr, tensor_lr=False):
            self.update_group_foreach(group, lr)
            return
        (beta1, beta2), eps = group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * weight_decay)  # θ ← (1 − γλ) θ
                else:
                    g = g.add(p, alpha=weight_decay)  # g + λ θ

            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)  # m_t = β1 m_{t-1} + (1 − β1) g
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2 v_{t-1} + (1 − β2) g²

            t = state["step"].item()
            bias_correction1 = 1 - beta1**t
            bias_correction2_sqrt = (1 - beta2**t) ** 0.5
            eta = lr / bias_correction1  # a_t = γ / (1 − β1^t)

            if group["amsgrad"]:
                v_max = state["max_exp_avg_sq"]
                torch.maximum(v_max, v, out=v_max)  # v_t^max = max(v_{t-1}^max, v_t)
                v = v_max
            denom = (v.sqrt() / bias_correction2_sqrt).add_(eps)  # √v̂_t + ε
            p.addcdiv_(m, denom, value=-eta)  # θ_t = θ_{t-1} − a_t m_t / denom

    def update_group_foreach(self, group: dict, lr: Any) -> None:
        """The same rule with ``torch._foreach_*`` calls (:func:`course_lib.optim.foreach.adam_foreach`)."""
        params = list(self.params_with_grad(group))
        amsgrad = group["amsgrad"]
        states = [self.state[p] for p in params]
        for p, state in zip(params, states, strict=True):  # the loop's state, made the same way
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        adam_foreach(
            params,
            grads_of(params),
            [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states],
            [state["max_exp_avg_sq"] for state in states] if amsgrad else [],
            [state["step"] for state in states],
            lr=lr,
            betas=group["betas"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=amsgrad,
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )
