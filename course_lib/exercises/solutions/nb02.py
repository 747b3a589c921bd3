r"""Answer key of notebook 02's coding exercises (momentum and Nesterov).

The notebook shows the skeletons; the tests run these classes through
:func:`course_lib.exercises.check_optimizer` against ``torch.optim.SGD``. Notation
(``docs/notation.md``): γ ``lr``, μ ``momentum``, b_t ``state["momentum_buffer"]``, g_t the
gradient.

    >>> import torch
    >>> w = torch.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = MomentumSGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     w.grad = torch.ones(2)
    ...     opt.step()
    >>> opt.state[w]["momentum_buffer"]  # b_2 = μ b_1 + g_2 = 0.9 + 1
    tensor([1.9000, 1.9000])
"""

from __future__ import annotations

import torch

from course_lib._validation import check_bool, check_number

__all__ = ["MomentumSGD"]


class MomentumSGD(torch.optim.Optimizer):
    r"""SGD with heavy-ball or Nesterov momentum in PyTorch's form (exercises 5 and 6).

    For every parameter with a gradient, at each step::

        b_1 = g_1,   b_t = μ b_{t-1} + g_t                 (state "momentum_buffer", made lazily)
        d_t = b_t                 heavy ball (nesterov=False)
        d_t = g_t + μ b_t         Nesterov's look-ahead, with the new buffer (nesterov=True)
        θ_t = θ_{t-1} − γ d_t

    The classical form v_t = μ v_{t-1} − γ g_t, θ_t = θ_{t-1} + v_t gives the same iterates while γ
    stays fixed and different ones when it changes (notebook 02, section 2).

    Args:
        params: parameters or parameter groups, as for any ``torch.optim.Optimizer``.
        lr: γ >= 0. Default 1e-3 (torch's).
        momentum: μ in [0, 1). Default 0.9.
        nesterov: step along g_t + μ b_t instead of b_t. Default False.
    """

    def __init__(self, params, lr=1e-3, momentum=0.9, nesterov=False):
        check_number("lr", lr, low=0)
        check_number("momentum", momentum, low=0, high=1, high_inclusive=False)
        check_bool("nesterov", nesterov)
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov})

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g, state = p.grad, self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = g.clone()  # b_1 = g_1
                else:
                    state["momentum_buffer"].mul_(mu).add_(g)  # b_t = μ b_{t-1} + g_t
                b = state["momentum_buffer"]
                d = g + mu * b if group["nesterov"] else b
                p.add_(d, alpha=-lr)  # θ_t = θ_{t-1} − γ d_t
        return loss
