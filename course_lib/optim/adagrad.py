"""AdaGrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad

__all__ = ["Adagrad"]


class Adagrad(CourseOptimizer):
    r"""AdaGrad (Duchi, Hazan & Singer, 2011): ``torch.optim.Adagrad``'s rule.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}               (−∇f instead when maximize)
        γ_t = γ / (1 + (t − 1) δ)                    decayed learning rate
        G_t = G_{t-1} + g_t ⊙ g_t                    sum of squared gradients, G_0 = G_init
        θ_t = θ_{t-1} − γ_t g_t / (√G_t + ε)

    so the update direction (docs/notation.md, θ_t = θ_{t-1} − γ_t d_t) is d_t = g_t / (√G_t + ε).
    γ lr, δ lr_decay, λ weight_decay, G_init initial_accumulator_value, ε eps. Coordinates with a
    large gradient history take small steps; since G_t never decreases, the per-coordinate rate
    γ_t / (√G_t + ε) never increases.

    State per parameter: ``step`` (t, a 0-d float tensor) and ``sum`` (G). As in torch, this state is
    created in the constructor for every parameter (and lazily for groups added later), and G starts
    at the constructor's ``initial_accumulator_value``: a group dict may not set a different one.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-2.
        lr_decay: δ, >= 0. Default 0.
        weight_decay: λ, >= 0. Default 0.
        initial_accumulator_value: G_init, >= 0. Default 0.
        eps: ε, added to √G_t, >= 0. Default 1e-10.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Adagrad([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # first step: g / √(g²) = sign(g), so each coordinate moves by lr
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _setstate_defaults = (("maximize", False),)
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("lr_decay", hp["lr_decay"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_number("initial_accumulator_value", hp["initial_accumulator_value"], low=0)
        check_number("eps", hp["eps"], low=0)
        check_bool("maximize", hp["maximize"])

    def add_param_group(self, param_group: dict) -> None:
        """Check and add a group; its ``initial_accumulator_value`` must equal the constructor's."""
        value = (
            param_group.get("initial_accumulator_value") if isinstance(param_group, dict) else None
        )
        default = self.defaults["initial_accumulator_value"]
        if value is not None and value != default:
            raise ValueError(
                f"param_groups[{len(self.param_groups)}]: initial_accumulator_value cannot be set per "
                f"group (torch.optim.Adagrad starts every group at the constructor's value {default!r}), "
                f"got {value!r}"
            )
        super().add_param_group(param_group)

    def _init_state(self, p: torch.Tensor) -> None:
        state = self.state[p]
        state["step"] = new_step_tensor(0.0)
        value = self.defaults["initial_accumulator_value"]
        state["sum"] = torch.full_like(p, value, memory_format=torch.preserve_format)

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        lr_decay, eps = group["lr_decay"], group["eps"]
        weight_decay = group["weight_decay"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:  # a group added after construction
                self._init_state(p)
            state["step"] += 1
            t = state["step"].item()

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)  # g + λ θ
            eta = lr / (1 + (t - 1) * lr_decay)  # γ_t = γ / (1 + (t − 1) δ)

            state["sum"].addcmul_(g, g, value=1)  # G_t = G_{t-1} + g²
            std = state["sum"].sqrt().add_(eps)  # √G_t + ε
            p.addcdiv_(g, std, value=-eta)  # θ_t = θ_{t-1} − γ_t g / (√G_t + ε)
