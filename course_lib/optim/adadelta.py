"""Adadelta: a per-coordinate step whose size comes from past steps, with no learning rate needed."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad

__all__ = ["Adadelta"]


class Adadelta(CourseOptimizer):
    r"""Adadelta (Zeiler, 2012): ``torch.optim.Adadelta``'s rule.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        g_t ← g_t + λ θ_{t-1}                              L2 penalty (weight_decay)
        v_t = ρ v_{t-1} + (1 − ρ) g_t ⊙ g_t                average of squared gradients, v_0 = 0
        d_t = √(D_{t-1} + ε) / √(v_t + ε) ⊙ g_t            the update direction
        D_t = ρ D_{t-1} + (1 − ρ) d_t ⊙ d_t                average of squared updates, D_0 = 0
        θ_t = θ_{t-1} − γ d_t

    γ lr, ρ rho, ε eps, λ weight_decay. Here ρ is Adadelta's decay rate (Zeiler's ρ, torch's
    ``rho``), not the convergence rate ρ of docs/notation.md. v_t is the paper's E[g²]_t and D_t its
    accumulator E[Δx²]_t of squared updates; √(· + ε) is the paper's RMS[·].

    **No learning rate.** Zeiler's argument is about units. If θ is measured in metres and f in
    joules, the gradient g has units J/m, so plain SGD's step γ g has the wrong units unless γ
    carries m²/J; Newton's step H⁻¹g has the units of θ, as a step should. Adadelta's ratio
    RMS[Δx]_{t-1} / RMS[g]_t has units m / (J/m), that of an inverse curvature, so d_t is measured
    in metres like θ, and the paper uses no learning rate at all: γ = 1, torch's default. torch's
    ``lr`` only scales the step afterwards; the accumulator D keeps the unscaled d_t either way.

    D starts at 0, so the first steps have size about √ε / √(1 − ρ) per coordinate whatever the
    gradient's scale (√(1e-6) / √0.1 ≈ 0.0032 by default): ε sets how fast the steps can grow.

    State per parameter: ``step`` (t, a 0-d float tensor), ``square_avg`` (v), ``acc_delta`` (D).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, a factor on every step (a float or a 1-element tensor), >= 0. Default 1.0 (the paper).
        rho: ρ, the decay rate of both averages, in [0, 1]. Default 0.9.
        eps: ε, >= 0. Default 1e-6.
        weight_decay: λ, >= 0. Default 0.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -200.0], requires_grad=True)
        >>> opt = Adadelta([w])
        >>> (w**2).sum().backward()
        >>> opt.step()  # both coordinates move by √ε / √(1 − ρ), though g differs 200-fold
        >>> w
        tensor([   0.9968, -199.9968], requires_grad=True)
    """

    _setstate_defaults = (("maximize", False),)
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("rho", hp["rho"], low=0, high=1)
        check_number("eps", hp["eps"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        rho, eps, weight_decay = group["rho"], group["eps"], group["weight_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["acc_delta"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)  # g + λ θ

            v, acc = state["square_avg"], state["acc_delta"]
            v.mul_(rho).addcmul_(g, g, value=1 - rho)  # v_t = ρ v_{t-1} + (1 − ρ) g²
            rms_g = v.add(eps).sqrt_()  # √(v_t + ε)
            d = acc.add(eps).sqrt_()  # √(D_{t-1} + ε)
            d.div_(rms_g).mul_(g)  # d_t = √(D_{t-1} + ε) / √(v_t + ε) ⊙ g_t
            acc.mul_(rho).addcmul_(d, d, value=1 - rho)  # D_t = ρ D_{t-1} + (1 − ρ) d²
            p.add_(d, alpha=-lr)  # θ_t = θ_{t-1} − γ d_t
