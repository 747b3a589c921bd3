"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

import torch

from course_lib.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): ``torch.optim.AdamW``'s rule, i.e. Adam with decoupled decay.

    Each step t = 1, 2, ... for every parameter θ that has a gradient::

        g_t = ∇f(θ_{t-1})                                  (−∇f instead when maximize)
        θ_{t-1} ← (1 − γλ) θ_{t-1}                         decoupled weight decay
        m_t = β1 m_{t-1} + (1 − β1) g_t                    first moment, m_0 = 0
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t              second moment, v_0 = 0
        v_t^max = max(v_{t-1}^max, v_t)                    AMSGrad only; then v_t^max replaces v_t below
        η_t = γ / (1 − β1^t)
        θ_t = θ_{t-1} − η_t m_t / (√v_t / √(1 − β2^t) + ε)

    γ lr, β1 β2 betas, ε eps, λ weight_decay. Unlike an L2 penalty (Adam's ``weight_decay``), the
    decay never enters m and v, so it is not rescaled by 1/√v̂: every weight shrinks by the same
    factor 1 − γλ per step. As in torch, this is :class:`Adam` with ``decoupled_weight_decay=True``
    (the same update code, in ``adam.py``), and the group key stays True when a state_dict loads.

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (amsgrad).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 1e-2.
        amsgrad: use the running maximum of v. Default False.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w**2).sum().backward()
        >>> opt.step()  # θ ← 0.95 θ, then the Adam step of about lr = 0.1
        >>> w
        tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # AdamW always decays decoupled, whatever was loaded
            group["decoupled_weight_decay"] = True
