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
        c_t = γ / (1 − β1^t)                               step size with m's bias correction
        θ_t = θ_{t-1} − c_t m_t / (√v_t / √(1 − β2^t) + ε)

    that is θ_t = θ_{t-1} − γ m̂_t / (√v̂_t + ε) after the decay, with m̂_t = m_t / (1 − β1^t) and
    v̂_t = v_t / (1 − β2^t). γ lr (γ_t = γ s(t) under a scheduler), β1 β2 betas, ε eps,
    λ weight_decay (notation: docs/notation.md). Unlike an L2 penalty (Adam's ``weight_decay``), the
    decay never enters m and v, so it is not rescaled by 1/√v̂: every weight shrinks by the same
    factor 1 − γλ per step. As in torch, this is :class:`Adam` with ``decoupled_weight_decay=True``
    (the same update code, in ``adam.py``), and the group key stays True when a state_dict loads.

    The decay is multiplied by the learning rate, as in torch. Loshchilov & Hutter (2019) write
    θ_t ← θ_{t-1} − η_t (α m̂_t / (√v̂_t + ε) + λ' θ_{t-1}), with α the base rate and η_t the
    schedule multiplier (this course's γ and s(t)): their per-step decay is s(t) λ', ours γ s(t) λ.
    So torch's (and this class's) λ is the paper's λ'/γ, and a paper value λ' = 1e-4 at γ = 1e-3
    is ``weight_decay=0.1`` here; changing ``lr`` changes the decay too.

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (amsgrad).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0. Default 1e-2.
        amsgrad: use the running maximum of v. Default False.
        maximize: ascend f instead of descending it. Default False.
        foreach: None (default: the loop on CPU tensors), True (the ``torch._foreach_*`` path) or
            False, as for :class:`Adam`.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w**2).sum().backward()
        >>> opt.step()  # θ ← 0.95 θ, then the Adam step of about lr = 0.1
        >>> w
        tensor([ 0.8500, -1.8000], requires_grad=True)

    With no gradient signal (m = v = 0) only the decay acts, and one step multiplies θ by exactly
    1 − γλ:

        >>> p = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
        >>> p.grad = torch.zeros_like(p)
        >>> AdamW([p], lr=0.01, weight_decay=0.5).step()
        >>> p.item() == 2.0 * (1 - 0.01 * 0.5)
        True
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
        foreach: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # AdamW always decays decoupled, whatever was loaded
            group["decoupled_weight_decay"] = True
