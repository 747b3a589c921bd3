"""Adamax: Adam with the second moment replaced by an exponentially weighted infinity norm."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["Adamax"]


class Adamax(CourseOptimizer):
    r"""Adamax (Kingma & Ba, 2015, §7.1): ``torch.optim.Adamax``'s rule.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        g_t ← g_t + λ θ_{t-1}                              L2 penalty (weight_decay)
        m_t = β1 m_{t-1} + (1 − β1) g_t                    first moment, m_0 = 0
        u_t = max(β2 u_{t-1}, |g_t| + ε)                   infinity norm, u_0 = 0
        θ_t = θ_{t-1} − γ / (1 − β1^t) · m_t / u_t

    so the update direction (docs/notation.md) is d_t = m̂_t / u_t with m̂_t = m_t / (1 − β1^t).
    γ lr, β1 β2 betas, ε eps, λ weight_decay.

    Where u comes from: Adam scales by the L2 average (v_t)^(1/2) of past gradients. Using the Lp
    version, v_t = β2^p v_{t-1} + (1 − β2^p) |g_t|^p, and letting p → ∞ gives
    u_t = lim (v_t)^(1/p) = max(|g_t|, β2 |g_{t-1}|, ..., β2^(t-1) |g_1|) = max(β2 u_{t-1}, |g_t|):
    the largest recent gradient, with older ones discounted by β2 per step. The limit needs no bias
    correction (a max is not pulled towards u_0 = 0 as an average is), so only m is corrected.
    torch (and this class) adds ε inside the max, which keeps u_t >= ε > 0; the paper has no ε.

    State per parameter: ``step`` (t, a 0-d float tensor), ``exp_avg`` (m), ``exp_inf`` (u).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 2e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 0.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adamax([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # first step: m̂ / u = g / |g| = sign(g), so each coordinate moves by lr
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _setstate_defaults = (("maximize", False),)
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_betas(hp["betas"])
        check_number("eps", hp["eps"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
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
                state["exp_inf"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)  # g + λ θ

            m, u = state["exp_avg"], state["exp_inf"]
            m.lerp_(g, 1 - beta1)  # m_t = β1 m_{t-1} + (1 − β1) g
            torch.maximum(u.mul_(beta2), g.abs().add_(eps), out=u)  # u_t = max(β2 u, |g| + ε)

            bias_correction1 = 1 - beta1 ** state["step"].item()
            p.addcdiv_(m, u, value=-(lr / bias_correction1))  # θ −= γ / (1 − β1^t) · m_t / u_t
