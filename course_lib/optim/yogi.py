"""Yogi: Adam with an additive second moment, which can grow the effective rate only slowly."""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["Yogi"]


class Yogi(CourseOptimizer):
    r"""Yogi (Zaheer et al., 2018, "Adaptive Methods for Nonconvex Optimization"): ``pytorch_optimizer.Yogi``.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                (−∇f instead when maximize)
        θ_{t-1} ← (1 − γλ) θ_{t-1}       decoupled weight decay (weight_decouple=True, the default)
        θ_{t-1} ← (1 − λ) θ_{t-1}        the same without γ (weight_decouple and fixed_decay)
        g_t ← g_t + λ θ_{t-1}            L2 penalty instead (weight_decouple=False)
        m_t = β1 m_{t-1} + (1 − β1) g_t                  first moment, as Adam's
        v_t = v_{t-1} − (1 − β2) sign(v_{t-1} − g_t²) g_t²   additive second moment
        θ_t = θ_{t-1} − γ / (1 − β1^t) · m_t / (√v_t / √(1 − β2^t) + ε)

    with m_0 = v_0 = ``initial_accumulator`` (1e-6, not 0), g_t² = g_t ⊙ g_t and the update
    direction d_t = m_t / ((1 − β1^t)(√v_t / √(1 − β2^t) + ε)). γ lr, β1 β2 betas, ε eps,
    λ weight_decay.

    Adam's second moment is multiplicative, v_t = β2 v_{t-1} + (1 − β2) g_t², that is
    v_t = v_{t-1} − (1 − β2)(v_{t-1} − g_t²): it closes the fraction 1 − β2 of the gap to g_t²
    each step. After a burst of large gradients, once they are small again (g_t² ≪ v), Adam's v
    shrinks by the factor β2 per step and the effective rate γ/√v_t grows fast, possibly faster than
    the gradients can be trusted. Yogi moves v by (1 − β2) g_t² toward g_t², whatever the gap: it
    still rises quickly when gradients grow, but when they shrink it falls by only (1 − β2) g_t²
    per step, so the effective rate grows slowly; the sign keeps v > 0 while it falls (by
    (1 − β2) g² < g² < v). The paper also takes a larger ε (1e-3, the default) than Adam's 1e-8.

    Checked step by step against pytorch-optimizer 4.1.0 (the same defaults, argument names and
    state names). One difference: t here is each parameter's own ``state["step"]`` as in torch's
    optimizers, where pytorch_optimizer counts steps per group (``group["step"]``); the two agree
    unless a parameter misses gradients on some steps. Its ``foreach`` switch and extra keyword
    arguments (such as ``adam_debias``) are refused (``TypeError``).

    State per parameter: ``step`` (t, a 0-d float tensor), ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-2.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        initial_accumulator: m_0 and v_0, >= 0. Default 1e-6.
        weight_decay: λ, >= 0. Default 0.
        weight_decouple: shrink θ directly instead of adding λθ to the gradient. Default True.
        fixed_decay: with weight_decouple, shrink by (1 − λ), not (1 − γλ). Default False.
        eps: ε, >= 0. Default 1e-3.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Yogi([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # first step: m̂ / (√v̂ + ε) is about sign(g), so each coordinate moves by about lr
        >>> w
        tensor([ 0.9001, -1.9000], requires_grad=True)
    """

    _setstate_defaults = (("maximize", False),)
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        initial_accumulator: float = 1e-6,
        weight_decay: float = 0.0,
        weight_decouple: bool = True,
        fixed_decay: bool = False,
        eps: float = 1e-3,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "initial_accumulator": initial_accumulator,
            "weight_decay": weight_decay,
            "weight_decouple": weight_decouple,
            "fixed_decay": fixed_decay,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_betas(hp["betas"])
        check_number("initial_accumulator", hp["initial_accumulator"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("weight_decouple", hp["weight_decouple"])
        check_bool("fixed_decay", hp["fixed_decay"])
        check_number("eps", hp["eps"], low=0)
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        (beta1, beta2), eps = group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["exp_avg"] = torch.full_like(p, group["initial_accumulator"])
                state["exp_avg_sq"] = torch.full_like(p, group["initial_accumulator"])
            state["step"] += 1

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                if not group["weight_decouple"]:
                    g = g.add(p, alpha=weight_decay)  # g + λ θ
                elif group["fixed_decay"]:
                    p.mul_(1 - weight_decay)  # θ ← (1 − λ) θ
                else:
                    p.mul_(1 - weight_decay * lr)  # θ ← (1 − γλ) θ

            m, v = state["exp_avg"], state["exp_avg_sq"]
            g2 = g.mul(g)
            m.lerp_(g, 1 - beta1)  # m_t = β1 m_{t-1} + (1 − β1) g
            v.addcmul_((v - g2).sign_(), g2, value=-(1 - beta2))  # v − (1 − β2) sign(v − g²) g²

            t = state["step"].item()
            bias_correction2_sqrt = math.sqrt(1 - beta2**t)
            denom = v.sqrt().div_(bias_correction2_sqrt).add_(eps)  # √v̂_t + ε
            p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))  # θ − γ/(1 − β1^t) · m / denom
