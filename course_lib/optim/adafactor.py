"""Adafactor: a second moment stored as row and column averages, a relative step size, update clipping."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad

__all__ = ["Adafactor"]


def check_eps(eps) -> tuple[float | None, float]:
    """``eps`` as a pair (ε1, ε2): ε1 None (the dtype's machine epsilon) or >= 0, ε2 >= 0."""
    if not isinstance(eps, (tuple, list)) or len(eps) != 2:
        raise TypeError(
            f"eps must be a pair (eps1, eps2) of numbers (eps1 may be None), got {eps!r}"
        )
    if eps[0] is not None:
        try:
            check_number("eps[0]", eps[0], low=0)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{err} (or None: the dtype's machine epsilon)") from None
    check_number("eps[1]", eps[1], low=0)
    return (eps[0], eps[1])


def second_moment(state: dict, g: torch.Tensor, weight: float, eps1: float) -> torch.Tensor:
    """v̂_t, updating the factors R, C (a tensor of 2 or more dims) or the full v (fewer dims)."""
    if g.dim() > 1:
        row_mean = torch.norm(g, dim=-1, keepdim=True).square_().div_(g.size(-1))  # mean_j g_ij²
        col_mean = torch.norm(g, dim=-2, keepdim=True).square_().div_(g.size(-2))  # mean_i g_ij²
        row_var, col_var = state["row_var"], state["col_var"]
        row_var.lerp_(row_mean, weight)  # R_t = β2_t R_{t-1} + (1 − β2_t) mean_j g²
        col_var.lerp_(col_mean, weight)  # C_t = β2_t C_{t-1} + (1 − β2_t) mean_i g²
        v_hat = row_var @ col_var  # R C^T, an n×m matrix made only now, for this step
        return v_hat.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))  # / max(mean R, ε1)
    variance = state["variance"]
    variance.lerp_(g * g, weight)  # v_t = β2_t v_{t-1} + (1 − β2_t) g²
    return variance.clone()


class Adafactor(CourseOptimizer):
    r"""Adafactor (Shazeer & Stern, 2018), as ``torch.optim.Adafactor`` implements it.

    Adam's second moment v has one number per parameter. For an n×m matrix Adafactor keeps only
    the average of g² over each row and over each column, R_t (n numbers) and C_t (m numbers), and
    rebuilds a rank-1 estimate v̂ from them when it needs it: n + m floats of state instead of n·m
    (for a 1024×1024 matrix, 2048 instead of about a million). Each step t = 1, 2, ... for every
    parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                   (−∇f instead when maximize)
        β2_t = 1 − t^ω                                      ω = beta2_decay (−0.8): β2_1 = 0, β2_t → 1
        r_t = min(γ, 1/√t)                                  relative step size
        a_t = max(ε2, RMS(θ_{t-1})) · r_t                   step size, relative to θ's own scale
        θ_{t-1} ← (1 − γλ) θ_{t-1}                          decoupled weight decay
        R_t = β2_t R_{t-1} + (1 − β2_t) mean_j (g_t ⊙ g_t)  row averages, R_0 = 0  (n × 1)
        C_t = β2_t C_{t-1} + (1 − β2_t) mean_i (g_t ⊙ g_t)  column averages, C_0 = 0  (1 × m)
        v̂_t = R_t C_t / max(mean(R_t), ε1)                 = R C^T / sum(R) with sums, as the paper
        U_t = g_t / max(√v̂_t, ε1)
        d_t = U_t / max(1, RMS(U_t) / d)                    update clipping at threshold d
        θ_t = θ_{t-1} − a_t d_t

    RMS(x) = ‖x‖_2 / √numel(x); γ lr, λ weight_decay, d_t the update direction (docs/notation.md);
    ``d`` is the clipping threshold (not d_t). v̂ is exact whenever g² is itself a rank-1 outer
    product; in general it is the rank-1 matrix with the right row and column sums. β2_t starts at 0
    and grows, so the averages need no bias correction: after the first step R_1 and C_1 are exactly
    the first gradient's. The clipping caps the RMS of the update at d, which keeps a step small
    when a slowly updated v̂ still underestimates g² (β2_t near 1). A tensor of more than two dims is
    factored over its last two (R and C hold one vector per leading index); one of fewer dims keeps
    the full v_t (``variance``), as Adam would, with v̂_t = v_t.

    **How torch's version differs from the paper** (torch's docstring says so too): the paper
    has no γ and uses r_t = min(10⁻², 1/√t); torch caps r_t by γ instead (default γ = 1e-2, the
    paper's value) and uses γ for decoupled weight decay, which the paper does not have. The paper
    adds ε1 = 1e-30 to g² inside R and C; torch keeps R and C of g² alone and uses ε1 as the floors
    above, with ε1 = None meaning the dtype's machine epsilon (1.19e-7 in float32; torch takes it
    from the first parameter with a gradient in the group, and so does this class). torch averages
    where the paper sums (the same v̂) and has no first moment (the paper's β1 option).

    State per parameter: ``step`` (t, a 0-d float tensor); ``row_var`` (R, shape ``(..., n, 1)``) and
    ``col_var`` (C, ``(..., 1, m)``) for 2 or more dims, ``variance`` (v, θ's shape) for fewer.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the cap of the relative step size r_t and the scale of the decay (a float or a
            1-element tensor), >= 0. Default 1e-2.
        beta2_decay: ω in β2_t = 1 − t^ω, <= 0. Default −0.8.
        eps: (ε1, ε2): ε1 None or >= 0, ε2 >= 0. Default (None, 1e-3).
        d: the clipping threshold of the update's RMS, >= 1. Default 1.
        weight_decay: λ, >= 0. Default 0.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.ones(2, 3, requires_grad=True)
        >>> opt = Adafactor([w])
        >>> (w * torch.arange(6.0).reshape(2, 3)).sum().backward()
        >>> opt.step()  # a_1 = max(ε2, RMS(θ)) · min(γ, 1) = 0.01
        >>> sorted(opt.state[w]), opt.state[w]["row_var"].shape, opt.state[w]["col_var"].shape
        (['col_var', 'row_var', 'step'], torch.Size([2, 1]), torch.Size([1, 3]))
        >>> w.detach()  # the entry with g = 0 stays
        tensor([[1.0000, 0.9920, 0.9877],
                [0.9895, 0.9898, 0.9903]])
        >>> round(((w.detach() - 1) ** 2).mean().sqrt().item(), 4)  # a_1 RMS(U_1), RMS(U_1) < d
        0.0094
    """

    _setstate_defaults = (("maximize", False),)
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": check_eps(eps),
            "d": d,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("beta2_decay", hp["beta2_decay"], high=0)
        check_eps(hp["eps"])
        check_number("d", hp["d"], low=1)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        eps1, eps2 = group["eps"]
        weight_decay, d = group["weight_decay"], group["d"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                self._init_state(state, p)
            if eps1 is None:  # once per group and step, from the first parameter, as in torch
                eps1 = torch.finfo(p.dtype).eps
            g = signed_grad(p, group["maximize"])
            state["step"] += 1
            t = state["step"].item()

            one_minus_beta2 = t ** group["beta2_decay"]  # 1 − β2_t = t^ω
            r = min(lr, 1 / (t**0.5))  # r_t = min(γ, 1/√t)
            a = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * r  # a_t
            if weight_decay != 0:
                p.mul_(1 - lr * weight_decay)  # θ ← (1 − γλ) θ

            v_hat = second_moment(state, g, one_minus_beta2, eps1)
            u = v_hat.clamp_(min=eps1 * eps1).rsqrt_().mul_(g)  # U = g / max(√v̂, ε1)
            clip = max(1.0, u.norm(2).item() / ((u.numel() ** 0.5) * d))  # max(1, RMS(U)/d)
            p.add_(u, alpha=-a / clip)  # θ_t = θ_{t-1} − a_t U / clip

    @staticmethod
    def _init_state(state: dict, p: torch.Tensor) -> None:
        """``step`` = 0 and zero factors (2 or more dims) or a zero ``variance``."""
        state["step"] = new_step_tensor(0.0)
        grad = p.grad
        assert grad is not None  # params_with_grad gives only parameters with a gradient
        if grad.dim() > 1:
            state["row_var"] = grad.new_zeros((*grad.shape[:-1], 1))  # R: (..., n, 1)
            state["col_var"] = grad.new_zeros(
                (*grad.shape[:-2], 1, grad.shape[-1])
            )  # C: (..., 1, m)
        else:
            state["variance"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
