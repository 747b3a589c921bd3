r"""Answer key: plain from-scratch optimizers and ``LambdaLR`` factors, as a learner would write them.

Each optimizer is a ``torch.optim.Optimizer`` subclass in the style the coding exercises ask for:
``@torch.no_grad()`` on ``step(closure=None)``, hyperparameters read from each group at every step,
state created lazily in ``self.state[p]`` under torch's names (``step``, ``momentum_buffer``,
``sum``, ``square_avg``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``, ``mu_product``), the loss
of the closure returned. ``tests/test_checkers.py`` runs each through ``check_optimizer`` against
the class named in :data:`LIKE`, and each factor through ``check_schedule`` (:data:`SCHEDULES`).
Notation of ``docs/notation.md``: γ lr, μ momentum, τ dampening, λ weight_decay, β1 β2 betas, ε eps,
α RMSprop's alpha, g_t the gradient, t ``state["step"]``.

    >>> from course_lib.exercises import check_optimizer
    >>> check_optimizer(Adam, like="Adam", lr=0.01)  # doctest: +ELLIPSIS
    Correct: your Adam matches torch.optim.Adam on 110 steps over 7 cases (...).
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = [
    "LIKE",
    "SCHEDULES",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "NAdam",
    "RMSprop",
    "Yogi",
    "cosine_annealing_factor",
    "one_cycle_factor",
    "step_lr_factor",
    "warmup_cosine_factor",
]


def _closure_loss(closure):
    """The closure's loss, evaluated with autograd on (as torch's optimizers do), or None."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class SGD(torch.optim.Optimizer):
    """b_t = μ b_{t-1} + (1 − τ) g_t (b_1 = g_1); d_t = g_t + μ b_t (Nesterov) or b_t; θ −= γ d_t.

    g_t is the gradient (−gradient when maximize) plus λθ.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0.0,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
        *,
        maximize=False,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            mu, tau = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if group["maximize"] else p.grad
                g = g + group["weight_decay"] * p
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.clone()
                    else:
                        state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - tau)
                    b = state["momentum_buffer"]
                    g = g + mu * b if group["nesterov"] else b
                p.add_(g, alpha=-group["lr"])
        return loss


class Adagrad(torch.optim.Optimizer):
    """G_t = G_{t-1} + g_t²; θ −= γ_t g_t / (√G_t + ε) with γ_t = γ / (1 + (t − 1) lr_decay).

    torch creates Adagrad's state in ``__init__`` (step 0, G_0 = initial_accumulator_value) for
    every parameter, so this one does too.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        *,
        maximize=False,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            eps=eps,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = torch.tensor(0.0)
                self.state[p]["sum"] = torch.full_like(p, group["initial_accumulator_value"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if group["maximize"] else p.grad
                g = g + group["weight_decay"] * p
                state = self.state[p]
                state["step"] += 1
                rate = group["lr"] / (1 + (state["step"].item() - 1) * group["lr_decay"])
                state["sum"].addcmul_(g, g)
                p.addcdiv_(g, state["sum"].sqrt() + group["eps"], value=-rate)
        return loss


class RMSprop(torch.optim.Optimizer):
    """v_t = α v_{t-1} + (1 − α) g_t²; θ −= γ g_t / (√v_t + ε) (no momentum, not centered)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            alpha = group["alpha"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if group["maximize"] else p.grad
                g = g + group["weight_decay"] * p
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0)
                    state["square_avg"] = torch.zeros_like(p)
                state["step"] += 1
                v = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
                p.addcdiv_(g, v.sqrt() + group["eps"], value=-group["lr"])
        return loss


class Adam(torch.optim.Optimizer):
    """m_t = β1 m + (1 − β1) g_t, v_t = β2 v + (1 − β2) g_t²; θ −= γ m̂_t / (√v̂_t + ε).

    m̂_t = m_t / (1 − β1^t), v̂_t = v_t / (1 − β2^t); AMSGrad uses max(v^max, v_t) for v_t.
    weight_decay is the L2 penalty g_t + λθ (AdamW below decouples it).
    """

    decoupled = False

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        *,
        maximize=False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p, group):
        (beta1, beta2), lr, lam = group["betas"], group["lr"], group["weight_decay"]
        g = -p.grad if group["maximize"] else p.grad
        if self.decoupled:
            p.mul_(1 - lr * lam)
        else:
            g = g + lam * p
        state = self.state[p]
        if len(state) == 0:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"].item()
        m = state["exp_avg"].mul_(beta1).add_(g, alpha=1 - beta1)
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if group["amsgrad"]:
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
        p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← (1 − γλ)θ before the update; λ defaults to 0.01."""

    decoupled = True

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class NAdam(torch.optim.Optimizer):
    """Adam with a Nesterov look-ahead and the momentum schedule μ_t = β1 (1 − ½·0.96^{t ψ}).

    ψ = momentum_decay; with Π_t = μ_1 ⋯ μ_t (``mu_product``):
    θ −= γ (1 − μ_t)/(1 − Π_t) · g_t / D + γ μ_{t+1}/(1 − Π_t μ_{t+1}) · m_t / D,
    D = √(v_t / (1 − β2^t)) + ε.
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        *,
        maximize=False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p, group):
        (beta1, beta2), lr, psi = group["betas"], group["lr"], group["momentum_decay"]
        g = -p.grad if group["maximize"] else p.grad
        g = g + group["weight_decay"] * p
        state = self.state[p]
        if len(state) == 0:
            state["step"] = torch.tensor(0.0)
            state["mu_product"] = torch.tensor(1.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"].item()
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        product = state["mu_product"].item()
        m = state["exp_avg"].lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v / (1 - beta2**t)).sqrt() + group["eps"]
        p.addcdiv_(g, denom, value=-lr * (1 - mu) / (1 - product))
        p.addcdiv_(m, denom, value=-lr * mu_next / (1 - product * mu_next))


class Yogi(torch.optim.Optimizer):
    """Adam with the additive second moment v_t = v − (1 − β2) sign(v − g_t²) g_t².

    m_0 = v_0 = initial_accumulator; θ −= γ/(1 − β1^t) · m_t / (√v_t / √(1 − β2^t) + ε);
    decoupled weight decay θ ← (1 − γλ)θ (course_lib.optim.Yogi's default).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        betas=(0.9, 0.999),
        initial_accumulator=1e-6,
        weight_decay=0.0,
        eps=1e-3,
        maximize=False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            initial_accumulator=initial_accumulator,
            weight_decay=weight_decay,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            (beta1, beta2), lr = group["betas"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.full_like(p, group["initial_accumulator"])
                    state["exp_avg_sq"] = torch.full_like(p, group["initial_accumulator"])
                state["step"] += 1
                t = state["step"].item()
                g = -p.grad if group["maximize"] else p.grad
                p.mul_(1 - lr * group["weight_decay"])
                m = state["exp_avg"].lerp_(g, 1 - beta1)
                v = state["exp_avg_sq"]
                v.sub_((1 - beta2) * torch.sign(v - g * g) * g * g)
                denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        return loss


#: each reference class and the ``like`` (and hyperparameters) it is checked against
LIKE: dict[type, tuple[str, dict]] = {
    SGD: ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": False}),
    Adagrad: ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    RMSprop: ("RMSprop", {"lr": 0.01}),
    Adam: ("Adam", {"lr": 0.01}),
    AdamW: ("AdamW", {"lr": 0.01}),
    NAdam: ("NAdam", {"lr": 0.01}),
    Yogi: ("Yogi", {"lr": 0.01}),
}


def warmup_cosine_factor(t: int, warmup_steps: int = 10, total_steps: int = 100) -> float:
    """s(t) = t/T_w during the warm-up, then ½(1 + cos(π (t − T_w)/(T − T_w))), 0 after T."""
    if t < warmup_steps:
        return t / warmup_steps
    x = min(t - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * x))


def step_lr_factor(t: int, step_size: int = 30, gamma: float = 0.1) -> float:
    """s(t) = q^⌊t / step_size⌋ (torch's StepLR, q = gamma)."""
    return gamma ** (t // step_size)


def cosine_annealing_factor(t: int, T_max: int = 100, eta_min: float = 0.0, base_lr: float = 0.1):
    """s(t) = γ_min/γ + (1 − γ_min/γ) ½(1 + cos(π t / T_max)) (torch's CosineAnnealingLR)."""
    low = eta_min / base_lr
    return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * t / T_max))


def one_cycle_factor(
    t: int,
    total_steps: int = 100,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """OneCycleLR's rate over its max_lr: cosine from 1/div up to 1, then down to 1/(div · final).

    The peak is at step pct_start · T − 1 and the end at T − 1, as torch's OneCycleLR places them.
    """
    start, end = 1 / div_factor, 1 / (div_factor * final_div_factor)
    peak = float(pct_start * total_steps) - 1
    if t <= peak:
        low, high, x = start, 1.0, t / peak
    else:
        low, high, x = 1.0, end, (t - peak) / (total_steps - 1 - peak)
    return high + (low - high) / 2 * (1 + math.cos(math.pi * x))


#: each factor, the ``like`` it matches and check_schedule's keyword arguments for it
SCHEDULES: dict[Callable, tuple[str, dict]] = {
    warmup_cosine_factor: ("warmup_cosine", {"warmup_steps": 10}),
    step_lr_factor: ("StepLR", {"step_size": 30, "gamma": 0.1}),
    cosine_annealing_factor: ("CosineAnnealingLR", {"T_max": 100}),
    one_cycle_factor: ("OneCycleLR", {"max_lr": 0.1}),
}
