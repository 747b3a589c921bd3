"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, signed_grad
from course_lib.optim.foreach import check_foreach, grads_of, sgd_foreach, use_foreach

__all__ = ["SGD"]


class SGD(CourseOptimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum: ``torch.optim.SGD``'s rule.

    Each step, for every parameter θ that has a gradient (PyTorch form of momentum)::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}           (−∇f instead when maximize)
        b_t = μ b_{t-1} + (1 − τ) g_t            momentum buffer, with b_1 = g_1
        d_t = g_t + μ b_t  (Nesterov)   or   d_t = b_t  (heavy ball)
        θ_t = θ_{t-1} − γ d_t

    γ lr, μ momentum, τ dampening, λ weight_decay (L2 penalty added to the gradient), d_t the
    update direction (symbols of ``docs/notation.md``). Without momentum (μ = 0) this is plain
    gradient descent, d_t = g_t, and no state is kept. The buffer b starts as the first gradient,
    not as zero, so dampening acts from step 2 on. With τ = 0, the classical velocity form of Polyak
    and Sutskever et al., v_t = μ v_{t-1} − γ g_t, θ_t = θ_{t-1} + v_t, takes the same steps while γ
    is constant (v_t = −γ b_t); the two differ once a schedule changes γ, because PyTorch's buffer
    holds raw gradients and the new γ scales all of it at once. With ``nesterov=True`` the
    parameters are Sutskever et al.'s look-ahead point θ + μ v of their Nesterov form.

    State per parameter (only when μ ≠ 0): ``momentum_buffer`` (b).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        momentum: μ, >= 0. Default 0.
        dampening: τ, in [0, 1]. Default 0.
        weight_decay: λ, >= 0. Default 0.
        nesterov: use Nesterov momentum; needs momentum > 0 and dampening = 0. Default False.
        maximize: ascend f instead of descending it. Default False.
        foreach: None (default) for torch's rule, the multi-tensor path only when every parameter
            is on a device with foreach kernels (CUDA, ...), so the loop below on CPU; True for the
            ``torch._foreach_*`` path of ``foreach.py`` (the same rule, one call per list of
            tensors); False for the loop. Stored in the groups when given.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w**2).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    _setstate_defaults = (("nesterov", False), ("maximize", False))

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | torch.Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        if foreach is not None:  # as torch's key, but only when set: None is read as missing
            defaults["foreach"] = foreach
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("momentum", hp["momentum"], low=0)
        check_number("dampening", hp["dampening"], low=0, high=1)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_bool("nesterov", hp["nesterov"])
        check_bool("maximize", hp["maximize"])
        check_foreach(hp.get("foreach"))
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening = 0, "
                f"got momentum={hp['momentum']!r} and dampening={hp['dampening']!r}"
            )

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        if use_foreach(group.get("foreach"), group["params"], lr):
            self.update_group_foreach(group, lr)
            return
        mu, tau = group["momentum"], group["dampening"]
        weight_decay = group["weight_decay"]
        for p in self.params_with_grad(group):
            g = signed_grad(p, group["maximize"])
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)  # g + λ θ (a new tensor: p.grad stays as is)

            if mu != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.detach().clone()  # b_1 = g_1
                else:
                    buf.mul_(mu).add_(g, alpha=1 - tau)  # b_t = μ b_{t-1} + (1 − τ) g_t
                g = g.add(buf, alpha=mu) if group["nesterov"] else buf

            p.add_(g, alpha=-lr)  # θ_t = θ_{t-1} − γ g_t

    def update_group_foreach(self, group: dict, lr: Any) -> None:
        """The same rule with ``torch._foreach_*`` calls (:func:`course_lib.optim.foreach.sgd_foreach`)."""
        params = list(self.params_with_grad(group))
        momentum = group["momentum"]
        bufs = [self.state[p].get("momentum_buffer") if momentum != 0 else None for p in params]
        first = [i for i, buf in enumerate(bufs) if buf is None] if momentum != 0 else []
        sgd_foreach(
            params,
            grads_of(params),
            bufs,
            lr=lr,
            momentum=momentum,
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        for i in first:  # the other buffers were updated in place
            self.state[params[i]]["momentum_buffer"] = bufs[i]  # b_1 = g_1
