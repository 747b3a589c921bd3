"""LAMB: Adam's direction, rescaled per tensor so each layer moves by γ times its own norm."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, new_step_tensor, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["Lamb"]


class Lamb(CourseOptimizer):
    r"""LAMB (You et al., 2020, "Large Batch Optimization for Deep Learning"): ``pytorch_optimizer.Lamb``.

    Each step t = 1, 2, ... for every parameter tensor θ (a layer's weight or bias) with a gradient::

        g_t = ∇f(θ_{t-1})                                 (−∇f instead when maximize)
        θ_{t-1} ← (1 − γλ) θ_{t-1}     decoupled weight decay (weight_decouple=True, the default)
        θ_{t-1} ← (1 − λ) θ_{t-1}      the same without γ (weight_decouple and fixed_decay)
        m_t = β1 m_{t-1} + (1 − β1) g_t                   (+ g_t instead when not grad_averaging)
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t
        u_t = m_t / (√v_t + ε)                            Adam's direction, v not bias-corrected
        u_t ← u_t + λ θ_{t-1}          the paper's decay instead (weight_decouple=False)
        trust_t = φ(‖θ_{t-1}‖) / (‖u_t‖ + ε)               φ(z) = min(z, 10); 1 if either norm is 0
        θ_t = θ_{t-1} − γ / (1 − β1^t) · trust_t · u_t    (γ alone when adam_debias)

    ‖·‖ is the Euclidean norm of the whole tensor, and the update direction (docs/notation.md) is
    d_t = trust_t u_t / (1 − β1^t). γ lr, β1 β2 betas, ε eps, λ weight_decay.

    The trust ratio: Adam's u_t has entries of size about 1 whatever the gradients' scale, so
    ‖u_t‖ ≈ √n for a tensor of n entries and Adam moves every layer by about γ√n: a large relative
    change for a layer with small weights, a tiny one for a layer with large weights. LAMB rescales
    u_t to the layer's norm, ‖trust_t u_t‖ = φ(‖θ‖) ‖u_t‖ / (‖u_t‖ + ε) ≈ ‖θ‖, so each tensor moves
    by about γ‖θ‖/(1 − β1^t): the same relative change for every layer. Training with large
    batches takes a large γ (fewer steps, each averaging more examples), and the ratio
    ‖update‖/‖θ‖ of a plain optimizer differs between layers by orders of magnitude (You, Gitman &
    Ginsburg, 2017, measured it for AlexNet), so a γ that is safe for the most sensitive layer is
    slow for the others and a larger one makes that layer diverge. Normalising per layer lets one γ
    suit them all; that is how the paper trained BERT with batches of 32k sequences in 76 minutes.
    φ caps the norm at 10 (pytorch_optimizer's ``Lamb.clamp``), so a large layer does not take huge
    steps. ``adam=True`` sets trust_t = 1 (plain Adam without v's bias correction, for comparison);
    the ratios are kept in the state either way.

    Checked step by step against pytorch-optimizer 4.1.0 (same defaults, argument and state names):
    bitwise against its per-tensor path (``foreach=False``); its default batched path computes
    m/(√v + ε) as m · 1/(√v + ε) and applies trust and γ in two products, which differs in the last
    bits. Its ``rectify``, ``degenerated_to_sgd``, ``n_sma_threshold``, ``pre_norm``,
    ``max_grad_norm`` (global gradient clipping: use ``torch.nn.utils.clip_grad_norm_``) and
    ``foreach`` are refused (``TypeError``). t is each parameter's own ``state["step"]``, as in torch;
    pytorch_optimizer counts per group, which differs only for a parameter that misses steps.

    State per parameter: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v), and the last step's
    ``weight_norm`` (φ(‖θ‖)), ``adam_norm`` (‖u_t‖) and ``trust_ratio`` (trust_t), 0-d tensors.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        betas: (β1, β2), each in [0, 1). Default (0.9, 0.999).
        weight_decay: λ, >= 0. Default 0.
        weight_decouple: shrink θ directly instead of adding λθ to u_t. Default True.
        fixed_decay: with weight_decouple, shrink by (1 − λ), not (1 − γλ). Default False.
        grad_averaging: weigh the new gradient by (1 − β1) in m. Default True.
        adam: trust_t = 1 for every tensor. Default False.
        adam_debias: no 1/(1 − β1^t) on the step (AdamD). Default False.
        eps: ε, >= 0. Default 1e-6.
        maximize: ascend f instead of descending it. Default False.

    Example:
        >>> w = torch.tensor([3.0, -4.0], requires_grad=True)  # ‖w‖ = 5
        >>> opt = Lamb([w], lr=0.1)
        >>> (w**2).sum().backward()
        >>> opt.step()  # the step has norm lr ‖w‖ / (1 − β1) = 5, along −sign(g)
        >>> w
        tensor([-0.5355, -0.4645], requires_grad=True)
    """

    #: φ's cap on ‖θ‖ in the trust ratio, as pytorch_optimizer's ``Lamb.clamp``
    clamp: float = 10.0
    _setstate_defaults = (("adam_debias", False), ("maximize", False))
    _tensor_state_keys = ("step",)

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        weight_decouple: bool = True,
        fixed_decay: bool = False,
        *,
        grad_averaging: bool = True,
        adam: bool = False,
        adam_debias: bool = False,
        eps: float = 1e-6,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_betas(betas),
            "weight_decay": weight_decay,
            "weight_decouple": weight_decouple,
            "fixed_decay": fixed_decay,
            "grad_averaging": grad_averaging,
            "adam": adam,
            "adam_debias": adam_debias,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_betas(hp["betas"])
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_number("eps", hp["eps"], low=0)
        for name in ("weight_decouple", "fixed_decay", "grad_averaging", "adam", "adam_debias"):
            check_bool(name, hp[name])
        check_bool("maximize", hp["maximize"])

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        (beta1, beta2), eps = group["betas"], group["eps"]
        weight_decay, decouple = group["weight_decay"], group["weight_decouple"]
        for p in self.params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step_tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1

            g = signed_grad(p, group["maximize"])
            if weight_decay != 0 and decouple:
                p.mul_(1 - weight_decay * (1.0 if group["fixed_decay"] else lr))  # θ ← (1 − γλ) θ
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.mul_(beta1).add_(g, alpha=1 - beta1 if group["grad_averaging"] else 1.0)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2 v + (1 − β2) g²
            u = m / v.sqrt().add_(eps)  # u_t = m_t / (√v_t + ε)
            if weight_decay != 0 and not decouple:
                u.add_(p, alpha=weight_decay)  # u_t + λ θ

            trust = self.trust_ratio(state, p, u, eps)
            t = state["step"].item()
            step: Any = lr if group["adam_debias"] else lr / (1 - beta1**t)
            p.add_(u, alpha=-step * (1.0 if group["adam"] else trust))  # θ − γ_t trust u

    def trust_ratio(self, state: dict, p: torch.Tensor, u: torch.Tensor, eps: float) -> Any:
        """φ(‖θ‖) / (‖u‖ + ε), or 1 when either norm is 0; the three numbers go into ``state``."""
        weight_norm = torch.linalg.vector_norm(p).clamp_(max=self.clamp)  # φ(‖θ‖)
        adam_norm = torch.linalg.vector_norm(u)
        if weight_norm == 0 or adam_norm == 0:
            trust = torch.ones_like(weight_norm)
        else:
            trust = weight_norm / (adam_norm + eps)
        state["weight_norm"] = weight_norm
        state["adam_norm"] = adam_norm
        state["trust_ratio"] = trust
        return trust
