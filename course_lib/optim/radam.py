"""RAdam: Adam whose adaptive step is switched on gradually, by a variance rectification term."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["RAdam", "rectification"]


def rectification(beta2: float, t: float) -> tuple[float, float | None]:
    """(ρ_t, r_t) of RAdam's step t; r_t is None while ρ_t <= 5 (no adaptive step yet).

    With β2 = 0.999, ρ_t ≈ t over the first steps, so steps 1 to 5 are momentum steps:

        >>> [round(rectification(0.999, t)[0], 3) for t in (1, 5, 6)]
        [1.0, 4.996, 5.994]
        >>> rectification(0.999, 5)[1] is None, round(rectification(0.999, 6)[1], 4)
        (True, 0.0258)
    """
    rho_inf = 2 / (1 - beta2) - 1  # ρ_∞
    rho_t = rho_inf - 2 * t * (beta2**t) / (1 - beta2**t)
    if rho_t <= 5.0:
        return rho_t, None
    ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    return rho_t, ratio**0.5


class RAdam(CourseOptimizer):
    r"""RAdam, rectified Adam (Liu et al., 2020): ``torch.optim.RAdam``'s rule.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        g_t ← g_t + λ θ_{t-1}         L2 penalty (decoupled_weight_decay=False)
        θ_{t-1} ← (1 − γλ) θ_{t-1}    decoupled weight decay (decoupled_weight_decay=True)
        m_t = β1 m_{t-1} + (1 − β1) g_t                    first moment, m_0 = 0
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t              second moment, v_0 = 0
        m̂_t = m_t / (1 − β1^t)
        ρ_∞ = 2 / (1 − β2) − 1
        ρ_t = ρ_∞ − 2 t β2^t / (1 − β2^t)
        if ρ_t > 5:  r_t = √( (ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t) )
                     θ_t = θ_{t-1} − γ r_t m̂_t √(1 − β2^t) / (√v_t + ε)
        else:        θ_t = θ_{t-1} − γ m̂_t                 un-adapted momentum step

    γ lr, β1 β2 betas, ε eps, λ weight_decay. ρ here is the paper's length of a moving average, not
    the convergence rate ρ of docs/notation.md. Note where ε sits (as in torch): on √v_t, before the
    bias correction √(1 − β2^t) is applied.

    **Why rectify.** Adam's adaptive rate 1/√v̂_t is estimated from few gradients early on, so its
    variance is large, and that is what the usual learning-rate warm-up works around. Liu et al.
    read the exponential average v_t as a simple moving average over ρ_t gradients: ρ_t grows from
    1 at t = 1 towards ρ_∞ (1999 for β2 = 0.999; ρ_t ≈ t over the first steps). For normal
    gradients the variance of the adaptive rate is finite only when ρ_t > 4, and r_t is the ratio
    of its variance at ρ_∞ to that at ρ_t: it multiplies the adaptive step so that its variance is
    the same at every t. r_t rises from about 0.026 (t = 6) to 1 as t → ∞ (0.65 at t = 1000 with
    β2 = 0.999): a warm-up derived from β2 instead of chosen by hand.

    While ρ_t <= 5 (the first 5 steps with β2 = 0.999; the paper's Algorithm 2 writes ρ_t > 4, its
    code and torch use 5) there is no adaptive rate at all: θ moves by γ m̂_t, SGD with momentum,
    whose step is in the gradient's units rather than about γ as Adam's. :func:`rectification`
    gives (ρ_t, r_t) for any step.

    State per parameter: ``step`` (t, a 0-d float tensor), ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 0.
        decoupled_weight_decay: shrink θ directly (as AdamW) instead of adding λθ to g. Default False.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = RAdam([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # ρ_1 = 1 <= 5: a momentum step γ m̂_1 = γ g_1 = 0.1 · (2, −4)
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    _setstate_defaults = (("maximize", False), ("decoupled_weight_decay", False))
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_betas(hp["betas"])
        check_number("eps", hp["eps"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("decoupled_weight_decay", hp["decoupled_weight_decay"])
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        (beta1, beta2), eps = group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1
            t = state["step"].item()

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * weight_decay)  # θ ← (1 − γλ) θ
                else:
                    g = g.add(p, alpha=weight_decay)  # g + λ θ

            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)  # m_t = β1 m_{t-1} + (1 − β1) g
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2 v_{t-1} + (1 − β2) g²
            m_hat = m / (1 - beta1**t)

            _, r_t = rectification(beta2, t)
            if r_t is None:
                p.add_(m_hat * lr, alpha=-1.0)  # θ_t = θ_{t-1} − γ m̂_t
            else:
                adaptive = (1 - beta2**t) ** 0.5 / v.sqrt().add_(eps)  # √(1 − β2^t) / (√v_t + ε)
                p.add_(m_hat * lr * adaptive * r_t, alpha=-1.0)  # θ_t −= γ r_t m̂_t · adaptive
