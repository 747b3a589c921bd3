"""LARS: SGD with momentum whose gradient is rescaled per weight matrix by ‖θ‖ / ‖g‖."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, signed_grad

__all__ = ["LARS"]


class LARS(CourseOptimizer):
    r"""LARS (You, Gitman & Ginsburg, 2017, "Large Batch Training of Convolutional Networks").

    The rule of ``pytorch_optimizer.LARS``: each step, for every parameter θ with a gradient::

        g_t = ∇f(θ_{t-1})                               (−∇f instead when maximize)
        for a matrix or larger (θ.ndim > 1) only:
            trust_t = c ‖θ_{t-1}‖ / (‖g_t‖ + λ ‖θ_{t-1}‖)   the layer's local rate; 1 if a norm is 0
            g_t ← trust_t (g_t + λ θ_{t-1})                 weight decay, then the rescaling
        b_t = μ b_{t-1} + (1 − τ) g_t                   momentum buffer, b_0 = 0
        d_t = g_t + μ b_t  (Nesterov)   or   d_t = b_t  (heavy ball);  d_t = g_t when μ = 0
        θ_t = θ_{t-1} − γ d_t

    ‖·‖ is the Euclidean norm of the whole tensor. γ lr, μ momentum, τ dampening, λ weight_decay,
    c trust_coefficient, d_t the update direction (docs/notation.md).

    The trust ratio: ‖trust_t (g + λθ)‖ ≈ c‖θ‖, so each weight matrix moves by about γc‖θ‖ per
    step (before momentum), a fixed fraction of its own size, whatever its gradient's size. With
    large batches one wants a large γ, but the ratio ‖g‖/‖θ‖ differs between layers by orders of
    magnitude (the paper measured it for AlexNet), so plain SGD with a γ large enough for most layers
    makes the others diverge; rescaling per layer is how the paper trained AlexNet and ResNet-50 with
    batches of 8k-32k images. Vectors and scalars (biases, batch-norm scales) are excluded, as is
    common practice: they take plain SGD steps with no weight decay and no rescaling.

    Two differences from ``torch.optim.SGD``'s momentum: the buffer starts at b_0 = 0 (torch starts it
    at the first gradient), so dampening acts from the first step on; and here weight decay is
    applied only to matrices. Checked step by step against pytorch-optimizer 4.1.0 (same defaults,
    argument and state names), whose ``foreach`` switch is refused (``TypeError``). Unlike it,
    ``nesterov=True`` with momentum 0 is refused (it would be ignored).

    State per parameter (only when μ > 0): ``momentum_buffer`` (b).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        weight_decay: λ, >= 0 (matrices only). Default 0.
        momentum: μ, in [0, 1). Default 0.9.
        dampening: τ, in [0, 1). Default 0.
        trust_coefficient: c, >= 0. Default 1e-3.
        nesterov: use Nesterov momentum; needs momentum > 0. Default False.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([[3.0, -4.0]], requires_grad=True)  # ‖w‖ = 5, a 1x2 matrix
        >>> opt = LARS([w], lr=1.0, momentum=0.0, trust_coefficient=0.1)
        >>> (w**2).sum().backward()  # g = 2w, ‖g‖ = 10: trust = 0.1 · 5 / 10
        >>> opt.step()  # the step has norm lr · c ‖w‖ = 0.5
        >>> w
        tensor([[ 2.7000, -3.6000]], requires_grad=True)
    """

    _setstate_defaults = (("nesterov", False), ("maximize", False))

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        dampening: float = 0.0,
        trust_coefficient: float = 1e-3,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "dampening": dampening,
            "trust_coefficient": trust_coefficient,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_number("momentum", hp["momentum"], low=0, high=1, high_inclusive=False)
        check_number("dampening", hp["dampening"], low=0, high=1, high_inclusive=False)
        check_number("trust_coefficient", hp["trust_coefficient"], low=0)
        check_bool("nesterov", hp["nesterov"])
        check_bool("maximize", hp["maximize"])
        if hp["nesterov"] and hp["momentum"] == 0:
            raise ValueError("nesterov=True requires momentum > 0, got momentum=0")

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        for p in self.params_with_grad(group):
            g = signed_grad(p, group["maximize"])
            if p.ndim > 1:
                trust = self.trust_ratio(p, g, weight_decay, group["trust_coefficient"])
                g = g.add(p, alpha=weight_decay).mul_(trust)  # trust (g + λ θ)
            if momentum > 0:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)  # b_0 = 0
                b = state["momentum_buffer"]
                b.mul_(momentum).add_(g, alpha=1 - group["dampening"])  # b = μ b + (1 − τ) g
                g = g.add(b, alpha=momentum) if group["nesterov"] else b  # d_t
            p.add_(g, alpha=-lr)  # θ_t = θ_{t-1} − γ d_t

    @staticmethod
    def trust_ratio(p: torch.Tensor, g: torch.Tensor, weight_decay: float, coefficient: float):
        """c ‖θ‖ / (‖g‖ + λ‖θ‖) as a 0-d tensor, or 1 when ‖θ‖ or the denominator is 0."""
        param_norm = torch.linalg.vector_norm(p)
        denominator = torch.linalg.vector_norm(g) + weight_decay * param_norm
        if param_norm > 0 and denominator > 0:
            return coefficient * param_norm / denominator
        return torch.ones_like(param_norm)
