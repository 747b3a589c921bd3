r"""Answer key of notebook 04's coding exercise (AdamW from Adam), and the Adam it starts from.

The notebook gives :class:`MyAdam` (Adam with an L2 penalty, as
``torch.optim.Adam(weight_decay=λ)``) whose weight decay is one named piece,
:meth:`MyAdam.apply_decay`; the exercise overrides that piece to make AdamW. The tests run
:class:`MyAdamW` through :func:`course_lib.exercises.check_optimizer` against ``torch.optim.AdamW``.
Notation (``docs/notation.md``): γ ``lr``, λ ``weight_decay``, β1 β2 ``betas``, ε ``eps``,
m_t ``exp_avg``, v_t ``exp_avg_sq``, t ``step``.

    >>> import torch
    >>> w = torch.tensor([2.0], requires_grad=True)
    >>> opt = MyAdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = torch.zeros(1)  # no gradient: only the decay acts, θ ← (1 − γλ) θ
    >>> opt.step()
    >>> w.detach()
    tensor([1.9000])
"""

from __future__ import annotations

import torch

from course_lib._validation import check_bool, check_number, check_pair

__all__ = ["MyAdam", "MyAdamW"]


class MyAdam(torch.optim.Optimizer):
    r"""Adam with L2 weight decay, as ``torch.optim.Adam`` (no AMSGrad).

    For every parameter with a gradient g_t (−g_t when ``maximize``)::

        g_t ← apply_decay(θ_{t-1}, g_t)       L2 here: g_t + λ θ_{t-1}
        m_t = β1 m_{t-1} + (1 − β1) g_t,   v_t = β2 v_{t-1} + (1 − β2) g_t²
        θ_t = θ_{t-1} − γ/(1 − β1^t) · m_t / (√v_t / √(1 − β2^t) + ε)

    Args:
        params: parameters or parameter groups.
        lr: γ >= 0. Default 1e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε >= 0. Default 1e-8.
        weight_decay: λ >= 0. Default 0.
        maximize: ascend instead of descend. Default False.
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False
    ):
        check_number("lr", lr, low=0)
        check_pair("betas", betas, low=0, high=1, high_inclusive=False)
        check_number("eps", eps, low=0)
        check_number("weight_decay", weight_decay, low=0)
        check_bool("maximize", maximize)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def apply_decay(self, p, grad, lr, weight_decay):
        """L2 penalty: the decay joins the gradient, g_t + λ θ_{t-1}, and goes into m_t and v_t."""
        return grad + weight_decay * p

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:  # made lazily, at the parameter's first gradient
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"].item()
                g = -p.grad if group["maximize"] else p.grad
                g = self.apply_decay(p, g, lr, group["weight_decay"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)  # m_t
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t
                denom = v.sqrt() / (1 - beta2**t) ** 0.5 + eps  # √v̂_t + ε
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))  # θ_t = θ_{t-1} - γ d_t
        return loss


class MyAdamW(MyAdam):
    """AdamW: :class:`MyAdam` with decoupled weight decay, as ``torch.optim.AdamW``."""

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, maximize=False
    ):
        super().__init__(params, lr, betas, eps, weight_decay, maximize)

    def apply_decay(self, p, grad, lr, weight_decay):
        """Decoupled: θ_{t-1} ← (1 − γλ) θ_{t-1} in place; the gradient is left alone."""
        p.mul_(1 - lr * weight_decay)
        return grad
