"""NAdam: Adam with a Nesterov-style look-ahead on the first moment."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["NAdam"]


class NAdam(CourseOptimizer):
    r"""NAdam (Dozat, 2016) with its momentum schedule: ``torch.optim.NAdam``'s rule.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        g_t ← g_t + λ θ_{t-1}         L2 penalty (decoupled_weight_decay=False)
        θ_{t-1} ← (1 − γλ) θ_{t-1}    decoupled weight decay (decoupled_weight_decay=True)
        μ_t = β1 (1 − ½ · 0.96^(t ψ))                      momentum schedule
        Π_t = μ_1 μ_2 ... μ_t                              ``mu_product``
        m_t = β1 m_{t-1} + (1 − β1) g_t                    first moment, m_0 = 0
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t              second moment, v_0 = 0
        r_t = √(v_t / (1 − β2^t)) + ε
        θ_t = θ_{t-1} − γ (1 − μ_t) / (1 − Π_t) · g_t / r_t
                      − γ μ_{t+1} / (1 − Π_t μ_{t+1}) · m_t / r_t

    The last line is Adam's step with m̂ replaced by a mix of the current gradient and the
    momentum one step ahead (the Nesterov look-ahead). γ lr, β1 β2 betas, ε eps,
    λ weight_decay, ψ momentum_decay.

    State per parameter: ``step`` (t) and ``mu_product`` (Π_t), both 0-d float tensors, ``exp_avg``
    (m) and ``exp_avg_sq`` (v). Like torch, Π_t is multiplied in the precision of its tensor
    (float32 unless the default dtype is float64, or the parameter's dtype after ``load_state_dict``).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 2e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 0.
        momentum_decay: ψ, >= 0. Default 4e-3.
        decoupled_weight_decay: shrink θ directly (as AdamW) instead of adding λθ to g. Default False.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = NAdam([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # ≈ lr from the gradient term, plus ≈ 0.0056 from the look-ahead momentum
        >>> w
        tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    _setstate_defaults = (("maximize", False), ("decoupled_weight_decay", False))
    _tensor_state_keys = ("step", "mu_product")

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
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
        check_number("momentum_decay", hp["momentum_decay"], low=0)
        check_bool("decoupled_weight_decay", hp["decoupled_weight_decay"])
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        (beta1, beta2), eps = group["betas"], group["eps"]
        weight_decay, psi = group["weight_decay"], group["momentum_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["mu_product"] = new_step_tensor(1.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1
            t = state["step"].item()
            bias_correction2 = 1 - beta2**t

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * weight_decay)  # θ ← (1 − γλ) θ
                else:
                    g = g.add(p, alpha=weight_decay)  # g + λ θ

            mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))  # μ_t
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))  # μ_{t+1}
            state["mu_product"] *= mu  # Π_t = Π_{t-1} μ_t, in the tensor's precision
            mu_product = state["mu_product"].item()

            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)  # m_t = β1 m_{t-1} + (1 − β1) g
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2 v_{t-1} + (1 − β2) g²
            denom = v.div(bias_correction2).sqrt().add_(eps)  # r_t = √(v_t / (1 − β2^t)) + ε

            p.addcdiv_(g, denom, value=-lr * (1.0 - mu) / (1.0 - mu_product))
            p.addcdiv_(m, denom, value=(-lr * mu_next) / (1.0 - mu_product * mu_next))
