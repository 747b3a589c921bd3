"""Lion: the sign of an interpolated momentum, so every coordinate moves by exactly γ."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, lr_as_scalar, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["Lion"]


class Lion(CourseOptimizer):
    r"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): ``lion_pytorch.Lion``.

    Each step, for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                        (−∇f instead when maximize)
        c_t = β1 m_{t-1} + (1 − β1) g_t          the interpolation the step uses
        θ_t = (1 − γλ) θ_{t-1} − γ sign(c_t)     decoupled weight decay, then the sign step
        m_t = β2 m_{t-1} + (1 − β2) g_t          momentum, m_0 = 0, updated after the step

    so the update direction (docs/notation.md) is d_t = sign(c_t). γ lr, β1 β2 betas, λ weight_decay.

    Why the sign changes the tuning: every coordinate with c_t ≠ 0 moves by exactly γ, whatever the
    size of its gradient, so the update has norm γ√n for n coordinates, larger than Adam's, whose
    m̂/(√v̂ + ε) is below 1 in size wherever gradients are noisy. The paper therefore advises a
    learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger, which keeps the
    decay's strength γλ about the same. There is no ε and no second moment: one state tensor per
    parameter (Adam keeps two), and no bias correction (m starts at 0 and the sign ignores its scale).

    ``decoupled_weight_decay=True`` is lion_pytorch's switch of the same name: the decay becomes
    θ ← (1 − γ_t λ / γ) θ with γ the ``lr`` given to the constructor (for every group), so λ is the
    decay per step at the start and a schedule γ_t = γ s(t) scales it by s(t) only; λ is then
    Loshchilov & Hutter's λ' (docs/notation.md). It needs the constructor's lr > 0.

    Checked step by step against lion-pytorch 0.2.5 (same defaults, argument and state names),
    which has no ``maximize``, takes ``decoupled_weight_decay`` for the whole optimizer (here it
    is a group hyperparameter), accepts β = 1 (refused here, as for Adam: β2 = 1 would keep m at 0
    forever) and a negative λ, and refuses lr = 0. Its ``use_triton`` is refused (``TypeError``).

    State per parameter: ``exp_avg`` (m).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-4.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.99).
        weight_decay: λ, >= 0, decoupled (θ ← (1 − γλ) θ). Default 0.
        decoupled_weight_decay: divide λ by the constructor's lr (see above). Default False.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0, 0.0], requires_grad=True)
        >>> opt = Lion([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # gradient (2, -4, 0): each coordinate moves by lr against its sign
        >>> w
        tensor([ 0.9000, -1.9000,  0.0000], requires_grad=True)
    """

    _setstate_defaults = (("decoupled_weight_decay", False), ("maximize", False))

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:  # decoupled_weight_decay=True with lr = 0 fails here
            self.decay_rate(group)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_betas(hp["betas"])
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("decoupled_weight_decay", hp["decoupled_weight_decay"])
        check_bool("maximize", hp["maximize"])

    def decay_rate(self, group: dict) -> Any:
        """λ as the step uses it: the group's λ, divided by the constructor's lr when decoupled."""
        if not group["decoupled_weight_decay"]:
            return group["weight_decay"]
        lr0 = lr_as_scalar(self.defaults["lr"])
        if float(lr0) <= 0:
            raise ValueError(
                f"decoupled_weight_decay=True divides weight_decay by the constructor's lr, "
                f"which must then be > 0, got lr={lr0!r}"
            )
        return group["weight_decay"] / lr0

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        beta1, beta2 = group["betas"]
        weight_decay = self.decay_rate(group)
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            m = state["exp_avg"]
            g = signed_grad(p, group["maximize"])

            if weight_decay != 0:
                p.mul_(1 - lr * weight_decay)  # θ ← (1 − γλ) θ
            c = m.mul(beta1).add_(g, alpha=1 - beta1)  # c_t = β1 m + (1 − β1) g
            p.add_(c.sign_(), alpha=-lr)  # θ ← θ − γ sign(c_t)
            m.mul_(beta2).add_(g, alpha=1 - beta2)  # m_t = β2 m + (1 − β2) g
