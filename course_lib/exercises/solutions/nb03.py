r"""Answer key of notebook 03's coding exercises (adaptive methods).

The notebook shows the skeletons; the tests run these through the checkers: :class:`MyAdagrad`
against ``torch.optim.Adagrad`` and :class:`MyYogi` against ``course_lib.optim.Yogi`` (itself equal
to pytorch-optimizer's Yogi) with :func:`course_lib.exercises.check_optimizer`, and :func:`yogi_v`
with :func:`course_lib.exercises.nb03.check_yogi_update`. Notation (``docs/notation.md``): γ ``lr``,
ε ``eps``, β1 β2 ``betas``, G_t ``state["sum"]``, m_t ``exp_avg``, v_t ``exp_avg_sq``, t ``step``.

    >>> import torch
    >>> w = torch.tensor([3.0, -4.0], requires_grad=True)
    >>> opt = MyAdagrad([w], lr=0.1)
    >>> w.grad = torch.tensor([2.0, -1.0])
    >>> opt.step()  # G_1 = g², so each coordinate moves by γ g/|g| = 0.1
    >>> w.detach()
    tensor([ 2.9000, -3.9000])
"""

from __future__ import annotations

import math

import torch

from course_lib._validation import check_number, check_pair

__all__ = ["MyAdagrad", "MyYogi", "yogi_v"]


def yogi_v(v: float, g: float, beta2: float) -> float:
    """Exercise 7: Yogi's v_t = v_{t-1} − (1 − β2) sign(v_{t-1} − g_t²) g_t² (sign(0) = 0)."""
    g2 = g * g
    sign = (v > g2) - (v < g2)
    return v - (1 - beta2) * sign * g2


class MyAdagrad(torch.optim.Optimizer):
    r"""AdaGrad (exercise 8), as ``torch.optim.Adagrad`` with ``lr_decay=0`` and no weight decay.

    For every parameter with a gradient::

        t ← t + 1                               (state "step")
        G_t = G_{t-1} + g_t ⊙ g_t               (state "sum", G_0 = 0)
        θ_t = θ_{t-1} − γ g_t / (√G_t + ε)

    Like torch's Adagrad (and unlike its Adam), the state of every parameter is made in
    ``__init__``, before any gradient, so ``state_dict()`` holds ``sum`` from the start.

    Args:
        params: parameters or parameter groups.
        lr: γ >= 0. Default 1e-2.
        eps: ε >= 0, added after the square root. Default 1e-10.
    """

    def __init__(self, params, lr=1e-2, eps=1e-10):
        check_number("lr", lr, low=0)
        check_number("eps", eps, low=0)
        super().__init__(params, {"lr": lr, "eps": eps})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = torch.tensor(0.0)
                self.state[p]["sum"] = torch.zeros_like(p)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] += 1
                state["sum"].addcmul_(p.grad, p.grad)  # G_t = G_{t-1} + g_t²
                p.addcdiv_(p.grad, state["sum"].sqrt() + group["eps"], value=-group["lr"])
        return loss


class MyYogi(torch.optim.Optimizer):
    r"""Yogi (exercise 9), as ``course_lib.optim.Yogi`` without weight decay.

    For every parameter with a gradient, with m_0 = v_0 = ``initial_accumulator``::

        t ← t + 1                                               (state "step")
        m_t = β1 m_{t-1} + (1 − β1) g_t                         (state "exp_avg")
        v_t = v_{t-1} − (1 − β2) sign(v_{t-1} − g_t²) g_t²      (state "exp_avg_sq")
        θ_t = θ_{t-1} − γ/(1 − β1^t) · m_t / (√v_t / √(1 − β2^t) + ε)

    Args:
        params: parameters or parameter groups.
        lr: γ >= 0. Default 1e-2.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε >= 0. Default 1e-3 (Yogi's, larger than Adam's).
        initial_accumulator: m_0 and v_0, >= 0. Default 1e-6.
    """

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-3, initial_accumulator=1e-6):
        check_number("lr", lr, low=0)
        check_pair("betas", betas, low=0, high=1, high_inclusive=False)
        check_number("eps", eps, low=0)
        check_number("initial_accumulator", initial_accumulator, low=0)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "initial_accumulator": initial_accumulator,
        }
        super().__init__(params, defaults)

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
                g, state = p.grad, self.state[p]
                if len(state) == 0:  # made lazily, at the parameter's first gradient
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.full_like(p, group["initial_accumulator"])
                    state["exp_avg_sq"] = torch.full_like(p, group["initial_accumulator"])
                state["step"] += 1
                t = state["step"].item()
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.sub_((1 - beta2) * torch.sign(v - g * g) * g * g)
                denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        return loss
