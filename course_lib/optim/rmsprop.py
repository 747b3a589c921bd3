"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad

__all__ = ["RMSprop"]


class RMSprop(CourseOptimizer):
    r"""RMSprop (Hinton's lecture 6e, 2012; centered form from Graves, 2013): ``torch.optim.RMSprop``'s rule.

    Each step for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}                  (−∇f instead when maximize)
        v_t = α v_{t-1} + (1 − α) g_t ⊙ g_t            EMA of squared gradients, v_0 = 0
        m_t = α m_{t-1} + (1 − α) g_t                  EMA of gradients (centered only), m_0 = 0
        r_t = √(v_t − m_t ⊙ m_t) + ε   (centered)   or   r_t = √v_t + ε
        b_t = μ b_{t-1} + g_t / r_t   and   θ_t = θ_{t-1} − γ b_t      (momentum μ > 0, b_0 = 0)
        θ_t = θ_{t-1} − γ g_t / r_t                                    (μ = 0)

    so the update direction (docs/notation.md, θ_t = θ_{t-1} − γ d_t) is d_t = g_t / r_t, or b_t
    with momentum. γ lr, α alpha, ε eps, λ weight_decay, μ momentum. There is no bias correction:
    v starts at 0, so v_1 = (1 − α) g_1 ⊙ g_1 and, for ε → 0 without momentum or centering, the
    first step is θ_1 = θ_0 − γ sign(g_1) / √(1 − α): every coordinate moves by γ / √(1 − α)
    (10 γ for α = 0.99), whatever the size of its gradient.

    State per parameter: ``step`` (a 0-d float tensor), ``square_avg`` (v), ``grad_avg`` (m, when
    centered) and ``momentum_buffer`` (b, when momentum > 0).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-2.
        alpha: α, the smoothing constant, in [0, 1]. Default 0.99.
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 0.
        momentum: μ, >= 0. Default 0.
        centered: normalise by the estimated variance instead of the raw second moment. Default False.
        maximize: ascend f instead of descending it (keyword only here: torch's ``capturable`` and
            ``foreach``, which stand before it in torch's signature, are left out). Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = RMSprop([w], lr=0.01, alpha=0.75)
        >>> (w**2).sum().backward()
        >>> opt.step()  # g = (2, -4); v_1 = 0.25 g², so θ moves by -lr·sign(g)/√0.25 = ∓0.02
        >>> w
        tensor([ 0.9800, -1.9800], requires_grad=True)
        >>> float(w.grad[1] / w.grad[0])  # the gradients differed by 2x, the steps did not
        -2.0
    """

    _setstate_defaults = (("momentum", 0), ("centered", False), ("maximize", False))
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("alpha", hp["alpha"], low=0, high=1)
        check_number("eps", hp["eps"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_number("momentum", hp["momentum"], low=0)
        check_bool("centered", hp["centered"])
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        alpha, eps, mu = group["alpha"], group["eps"], group["momentum"]
        weight_decay = group["weight_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            # Also when momentum or centered is switched on mid-run (torch raises a KeyError).
            if mu > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["centered"] and "grad_avg" not in state:
                state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)  # g + λ θ

            v = state["square_avg"]
            v.mul_(alpha).addcmul_(g, g, value=1 - alpha)  # v_t = α v_{t-1} + (1 − α) g²
            if group["centered"]:
                m = state["grad_avg"]
                m.lerp_(g, 1 - alpha)  # m_t = α m_{t-1} + (1 − α) g
                d = v.addcmul(m, m, value=-1).sqrt_()  # √(v_t − m_t²)
            else:
                d = v.sqrt()
            d.add_(eps)

            if mu > 0:
                b = state["momentum_buffer"]
                b.mul_(mu).addcdiv_(g, d)  # b_t = μ b_{t-1} + g / d
                p.add_(b, alpha=-lr)  # θ_t = θ_{t-1} − γ b_t
            else:
                p.addcdiv_(g, d, value=-lr)  # θ_t = θ_{t-1} − γ g / d
