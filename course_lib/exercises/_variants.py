r"""Typical mistakes, run: the reference under a changed rule, so a learner's run can be matched to one.

``check_optimizer`` diagnoses a mismatch by running the case again with each :class:`Variant` that
applies and asking which one the learner's parameters follow. A variant is either the reference
itself with changed arguments (betas swapped, maximize or dampening dropped, the groups' own values
ignored, Adam's decay switched between coupled and decoupled) or one of the rule classes here,
plain loops that equal torch's ``Adam``/``AdamW``, ``SGD``, ``RMSprop`` and ``Adagrad`` when no flag
is set (``tests/test_checkers.py`` checks that) and make one mistake each when one is.

Notation (``docs/notation.md``): γ lr, β1 β2 betas, ε eps, λ weight_decay, μ momentum, τ dampening,
m_t ``exp_avg``, v_t ``exp_avg_sq``, b_t ``momentum_buffer``, G_t ``sum``, t ``state["step"]``.

    >>> import torch
    >>> w = torch.ones(2, requires_grad=True)
    >>> w.grad = torch.tensor([1.0, -1.0])
    >>> AdamRule([w], lr=0.1).step()
    >>> w.detach()
    tensor([0.9000, 1.1000])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch.optim import Optimizer

from course_lib.exercises._parity import Case, accepts

__all__ = ["HINTS", "AdagradRule", "AdamRule", "RMSpropRule", "SGDRule", "Variant", "variants_for"]

HINTS = {
    "bias_ahead": (
        "Bias correction one step off: torch increments state['step'] first and divides by "
        "1 - beta^t with t = 1 at the first step; yours uses t + 1."
    ),
    "bias_behind": (
        "Bias correction one step off: your t is one behind (the counter incremented after its use, "
        "so 1 - beta^0 = 0 at the first step). Increment state['step'] first, then use it."
    ),
    "no_bias": (
        "No bias correction: torch divides m_t by 1 - beta1^t and v_t by 1 - beta2^t "
        "(theta -= lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps))."
    ),
    "eps_inside": (
        "eps inside the square root: torch adds eps after taking it, sqrt(.) + eps, "
        "not sqrt(. + eps)."
    ),
    "eps_before": (
        "eps added before the bias correction: torch divides sqrt(v_t) by sqrt(1 - beta2^t) first "
        "and adds eps after, sqrt(v_t) / sqrt(1 - beta2^t) + eps, not (sqrt(v_t) + eps) / "
        "sqrt(1 - beta2^t)."
    ),
    "coupled": (
        "Coupled decay: decoupled weight decay shrinks the parameter, theta *= 1 - lr * weight_decay, "
        "before the update and leaves the gradient alone; adding weight_decay * theta to the gradient "
        "is Adam's L2 penalty."
    ),
    "decoupled": (
        "Decoupled decay: here weight_decay is an L2 penalty, grad = grad + weight_decay * theta "
        "before anything else uses the gradient; shrinking theta by 1 - lr * weight_decay is AdamW's "
        "decoupled decay."
    ),
    "decay_without_lr": (
        "Decoupled decay without the rate: torch multiplies theta by 1 - lr * weight_decay, "
        "not by 1 - weight_decay."
    ),
    "decay_ignored": (
        "weight_decay has no effect in your step: read group['weight_decay'] and apply it "
        "(see the formula in the class's documentation)."
    ),
    "betas_swapped": (
        "betas swapped: beta1 = betas[0] averages the gradient (exp_avg), "
        "beta2 = betas[1] the squared gradient (exp_avg_sq)."
    ),
    "beta2_first": (
        "beta2 used for the first moment: exp_avg decays with beta1 = betas[0], "
        "exp_avg_sq with beta2 = betas[1]."
    ),
    "beta1_second": (
        "beta1 used for the second moment: exp_avg_sq decays with beta2 = betas[1], "
        "exp_avg with beta1 = betas[0]."
    ),
    "maximize": (
        "maximize ignored: with maximize=True torch ascends, using -p.grad as the gradient "
        "(weight decay and the moments then see -p.grad)."
    ),
    "group_values": (
        "Group hyperparameters ignored: read lr (and every other hyperparameter) from each group, "
        "group['lr'], at every step, not from self.defaults or from values saved in __init__ "
        "(parameter groups and schedulers change them)."
    ),
    "classical_momentum": (
        "Classical momentum form (v = mu v + lr g, theta -= v): torch keeps b = mu b + g and steps "
        "theta -= lr b. The two agree while lr stays fixed and part when the rate changes."
    ),
    "dampening_ignored": (
        "dampening ignored: torch's buffer is b = mu b + (1 - dampening) g (after the first step)."
    ),
    "buffer_from_zero": (
        "Momentum buffer started at zero: torch sets b = g at the first step (no dampening on it), "
        "then b = mu b + (1 - dampening) g."
    ),
    "yogi_adam_v": (
        "Adam's second moment: Yogi's v is additive, v_t = v_{t-1} - (1 - beta2) "
        "sign(v_{t-1} - g_t^2) g_t^2, not Adam's v_t = beta2 v_{t-1} + (1 - beta2) g_t^2."
    ),
    "yogi_zero_init": (
        "m_0 and v_0 start at initial_accumulator (1e-6), not at 0: Yogi fills exp_avg and "
        "exp_avg_sq with it at the first gradient (torch.full_like(p, initial_accumulator))."
    ),
    "nesterov_ignored": (
        "nesterov ignored, or Nesterov with the old buffer (the same run, as torch's Nesterov has no "
        "dampening): with nesterov=True torch first updates b = mu b + g, then steps along "
        "g + mu b with the new b."
    ),
}


class AdamRule(Optimizer):
    """torch's Adam/AdamW for plain float tensors, with one flag per typical mistake.

    ``shift`` adds to t in the bias correction; ``bias_correction=False`` drops it; ``eps_inside``
    uses √(v̂_t + ε); ``eps_before`` uses (√v_t + ε)/√(1 − β2^t); ``decay_without_lr`` shrinks θ by
    1 − λ (decoupled only); ``moment_betas`` ("swapped", "beta2", "beta1") gives the averages other
    betas while the bias correction keeps the right ones.
    """

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
        decoupled_weight_decay=False,
        shift=0,
        bias_correction=True,
        eps_inside=False,
        eps_before=False,
        decay_without_lr=False,
        moment_betas=None,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)
        self.rule = dict(
            shift=shift,
            bias_correction=bias_correction,
            eps_inside=eps_inside,
            eps_before=eps_before,
            decay_without_lr=decay_without_lr,
            moment_betas=moment_betas,
        )

    @torch.no_grad()
    def step(self, closure=None):
        """One Adam step per parameter with a gradient (the rule's flags applied)."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps, lam = (
                group[k] for k in ("lr", "betas", "eps", "weight_decay")
            )
            for p in (p for p in group["params"] if p.grad is not None):
                g = -p.grad if group["maximize"] else p.grad
                state = self.state[p]
                if not state:
                    state.update(
                        step=torch.tensor(0.0, dtype=torch.float64),
                        exp_avg=torch.zeros_like(p),
                        exp_avg_sq=torch.zeros_like(p),
                    )
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - (1 if self.rule["decay_without_lr"] else lr) * lam)
                elif lam:
                    g = g + lam * p
                b_m, b_v = self._moment_betas(beta1, beta2)
                m = state["exp_avg"].mul_(b_m).add_(g, alpha=1 - b_m)
                v = state["exp_avg_sq"].mul_(b_v).addcmul_(g, g, value=1 - b_v)
                if group["amsgrad"]:
                    v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                p.sub_(self._direction(m, v, float(state["step"]), beta1, beta2, eps), alpha=lr)

    def _moment_betas(self, beta1, beta2):
        """The decay rates of m and v: (β1, β2), or the rule's mistaken pair."""
        pairs = {"swapped": (beta2, beta1), "beta2": (beta2, beta2), "beta1": (beta1, beta1)}
        return pairs.get(self.rule["moment_betas"], (beta1, beta2))

    def _direction(self, m, v, t, beta1, beta2, eps):
        """d_t = m̂_t / (√v̂_t + ε), or the rule's mistaken form of it (t = 0 divides by zero)."""
        t += self.rule["shift"]
        ones = torch.tensor((1.0, 1.0), dtype=torch.float64)
        c1, c2 = (
            torch.tensor((1 - beta1**t, 1 - beta2**t), dtype=torch.float64)
            if self.rule["bias_correction"]
            else ones
        )
        if self.rule["eps_inside"]:
            denom = (v / c2 + eps).sqrt()
        elif self.rule["eps_before"]:
            denom = (v.sqrt() + eps) / c2.sqrt()
        else:
            denom = v.sqrt() / c2.sqrt() + eps
        return m / c1 / denom


class SGDRule(Optimizer):
    """torch's SGD for plain float tensors, with one flag per typical mistake.

    ``classical``: v = μv + γg, θ −= v; ``from_zero``: b starts at 0 and is dampened at step 1;
    ``decoupled``: θ ← (1 − γλ)θ instead of g + λθ. (Nesterov along g + μ b_{t-1}, the old buffer,
    is b_t itself when τ = 0, which torch's Nesterov requires: the same run as nesterov ignored.)
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
        classical=False,
        from_zero=False,
        decoupled=False,
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
        self.rule = dict(classical=classical, from_zero=from_zero, decoupled=decoupled)

    @torch.no_grad()
    def step(self, closure=None):
        """One SGD step per parameter with a gradient (the rule's flags applied)."""
        for group in self.param_groups:
            lr, mu, tau, lam = (group[k] for k in ("lr", "momentum", "dampening", "weight_decay"))
            for p in (p for p in group["params"] if p.grad is not None):
                g = -p.grad if group["maximize"] else p.grad.clone()
                if self.rule["decoupled"]:
                    p.mul_(1 - lr * lam)
                elif lam:
                    g = g + lam * p
                if mu == 0:
                    p.sub_(g, alpha=lr)
                    continue
                p.sub_(self._direction(self.state[p], g, lr, mu, tau, group["nesterov"]))

    def _direction(self, state, g, lr, mu, tau, nesterov):
        """γ d_t: the step from the momentum buffer (b, or the classical v that holds γ already)."""
        scale = lr if self.rule["classical"] else 1.0
        old = state.get("momentum_buffer")
        if old is None:
            b = (1 - tau) * g * scale if self.rule["from_zero"] else g * scale
        else:
            b = mu * old + (1 - tau) * g * scale
        state["momentum_buffer"] = b
        d = g * scale + mu * b if nesterov else b
        return d if self.rule["classical"] else lr * d


class RMSpropRule(Optimizer):
    """torch's RMSprop for plain float tensors; ``eps_inside`` divides by √(v + ε)."""

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        maximize=False,
        *,
        eps_inside=False,
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        self.eps_inside = eps_inside

    @torch.no_grad()
    def step(self, closure=None):
        """One RMSprop step per parameter with a gradient."""
        for group in self.param_groups:
            lr, alpha, eps, lam, mu = (
                group[k] for k in ("lr", "alpha", "eps", "weight_decay", "momentum")
            )
            for p in (p for p in group["params"] if p.grad is not None):
                g = -p.grad if group["maximize"] else p.grad
                g = g + lam * p if lam else g
                state = self.state[p]
                if not state:
                    state.update(step=torch.tensor(0.0), square_avg=torch.zeros_like(p))
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
                state["step"] += 1
                v = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if group["centered"]:
                    v = v - state["grad_avg"].lerp_(g, 1 - alpha) ** 2
                avg = (v + eps).sqrt() if self.eps_inside else v.sqrt() + eps
                if mu > 0:
                    p.sub_(state["momentum_buffer"].mul_(mu).add_(g / avg), alpha=lr)
                else:
                    p.sub_(g / avg, alpha=lr)


class AdagradRule(Optimizer):
    """torch's Adagrad for plain float tensors (state made in __init__, as torch does);
    ``eps_inside`` divides by √(G + ε)."""

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
        eps_inside=False,
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
        self.eps_inside = eps_inside
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(
                    step=torch.tensor(0.0),
                    sum=torch.full_like(p, group["initial_accumulator_value"]),
                )

    @torch.no_grad()
    def step(self, closure=None):
        """One Adagrad step per parameter with a gradient."""
        for group in self.param_groups:
            lr, decay, lam, eps = (group[k] for k in ("lr", "lr_decay", "weight_decay", "eps"))
            for p in (p for p in group["params"] if p.grad is not None):
                g = -p.grad if group["maximize"] else p.grad
                g = g + lam * p if lam else g
                state = self.state[p]
                state["step"] += 1
                rate = lr / (1 + (float(state["step"]) - 1) * decay)
                G = state["sum"].addcmul_(g, g, value=1)
                std = (G + eps).sqrt() if self.eps_inside else G.sqrt() + eps
                p.sub_(g / std, alpha=rate)


class YogiRule(Optimizer):
    """course_lib's Yogi for plain float tensors (no weight decay); ``adam_v`` uses Adam's
    multiplicative v_t, ``zero_init`` starts m and v at 0 instead of ``initial_accumulator``."""

    def __init__(
        self,
        params,
        lr=1e-2,
        betas=(0.9, 0.999),
        eps=1e-3,
        initial_accumulator=1e-6,
        maximize=False,
        *,
        adam_v=False,
        zero_init=False,
    ):
        defaults = dict(
            lr=lr, betas=betas, eps=eps, initial_accumulator=initial_accumulator, maximize=maximize
        )
        super().__init__(params, defaults)
        self.rule = dict(adam_v=adam_v, zero_init=zero_init)

    @torch.no_grad()
    def step(self, closure=None):
        """One Yogi step per parameter with a gradient (the rule's flags applied)."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            a0 = 0.0 if self.rule["zero_init"] else group["initial_accumulator"]
            for p in (p for p in group["params"] if p.grad is not None):
                g, state = (-p.grad if group["maximize"] else p.grad), self.state[p]
                if not state:
                    state.update(step=torch.tensor(0.0), exp_avg=torch.full_like(p, a0))
                    state["exp_avg_sq"] = torch.full_like(p, a0)
                state["step"] += 1
                t, m, v, g2 = float(state["step"]), state["exp_avg"], state["exp_avg_sq"], g * g
                m.lerp_(g, 1 - beta1)
                if self.rule["adam_v"]:
                    v.mul_(beta2).add_(g2, alpha=1 - beta2)
                else:
                    v.addcmul_((v - g2).sign_(), g2, value=-(1 - beta2))
                denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps
                p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))


@dataclass(frozen=True)
class Variant:
    """A mistake: ``hint`` names it; ``make(factory, case, hyper)`` gives the run that makes it."""

    key: str
    make: Callable


def _rule(cls, **flags) -> Callable:
    """A variant that runs the rule class ``cls`` with ``flags`` and the reference's defaults."""

    def make(ref, case, hyper):
        base = _defaults(ref)

        def factory(groups, **kw):
            merged = {k: v for k, v in {**base, **kw}.items() if accepts(cls, k)}
            return cls(groups, **merged, **flags)

        return factory, case, hyper

    return make


@functools.lru_cache(maxsize=64)
def _defaults(ref) -> dict:
    """The reference class's defaults, read from an instance on one dummy parameter."""
    dummy = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    return dict(ref([dummy]).defaults)


def _with(**changes) -> Callable:
    """A variant that runs the reference with ``hyper`` (and the case's options) changed."""

    def make(ref, case, hyper):
        options = {k: v for k, v in case.options.items() if k not in changes}
        return ref, replace(case, options=options), {**hyper, **changes}

    return make


def _plain_groups(ref, case, hyper):
    """The run of a step that reads self.defaults: groups' own values and rate changes ignored."""
    groups = tuple((idx, {}) for idx, _ in case.groups)
    return ref, replace(case, groups=groups, lr_changes=()), hyper


def _no_decay(ref, case, hyper):
    """The run of a step that never reads weight_decay."""
    groups = tuple(
        (idx, {k: v for k, v in extra.items() if k != "weight_decay"}) for idx, extra in case.groups
    )
    options = {k: v for k, v in case.options.items() if k != "weight_decay"}
    return ref, replace(case, groups=groups, options=options), {**hyper, "weight_decay": 0.0}


def _other_decay(ref, case, hyper):
    """The reference with coupled and decoupled weight decay exchanged (torch's Adam does both)."""
    defaults = _defaults(ref)
    decoupled = bool({**defaults, **hyper}.get("decoupled_weight_decay", False))
    if ref is torch.optim.AdamW:
        ref, hyper = torch.optim.Adam, {"weight_decay": defaults["weight_decay"], **hyper}
    return ref, case, {**hyper, "decoupled_weight_decay": not decoupled}


def _betas(ref, hyper) -> list[Variant]:
    """betas swapped, β2 for both averages, β1 for both."""
    if not accepts(ref, "betas"):
        return []
    beta1, beta2 = hyper.get("betas", _defaults(ref)["betas"])
    return [
        Variant("betas_swapped", _with(betas=(beta2, beta1))),
        Variant("beta2_first", _with(betas=(beta2, beta2))),
        Variant("beta1_second", _with(betas=(beta1, beta1))),
    ]


def _rules(like: str, values: dict) -> list[Variant]:
    """The rule-class mistakes for ``like`` (``values``: the reference's defaults and ``hyper``)."""
    if like in ("Adam", "AdamW"):
        found = [
            Variant("bias_ahead", _rule(AdamRule, shift=1)),
            Variant("bias_behind", _rule(AdamRule, shift=-1)),
            Variant("no_bias", _rule(AdamRule, bias_correction=False)),
            Variant("eps_inside", _rule(AdamRule, eps_inside=True)),
            Variant("eps_before", _rule(AdamRule, eps_before=True)),
            Variant("betas_swapped", _rule(AdamRule, moment_betas="swapped")),
            Variant("beta2_first", _rule(AdamRule, moment_betas="beta2")),
            Variant("beta1_second", _rule(AdamRule, moment_betas="beta1")),
        ]
        if values.get("decoupled_weight_decay"):
            found.append(Variant("decay_without_lr", _rule(AdamRule, decay_without_lr=True)))
        return found
    if like == "SGD":
        found = [
            Variant("classical_momentum", _rule(SGDRule, classical=True)),
            Variant("buffer_from_zero", _rule(SGDRule, from_zero=True)),
            Variant("decoupled", _rule(SGDRule, decoupled=True)),
        ]
        if values.get("dampening"):
            found.append(Variant("dampening_ignored", _with(dampening=0.0)))
        if values.get("nesterov"):
            found.append(Variant("nesterov_ignored", _with(nesterov=False)))
        return found
    if like == "Yogi" and not values.get("weight_decay"):
        return [
            Variant("yogi_adam_v", _rule(YogiRule, adam_v=True)),
            Variant("yogi_zero_init", _rule(YogiRule, zero_init=True)),
        ]
    if like == "RMSprop":
        return [Variant("eps_inside", _rule(RMSpropRule, eps_inside=True))]
    if like == "Adagrad":
        return [Variant("eps_inside", _rule(AdagradRule, eps_inside=True))]
    return []


def variants_for(like: str, ref, case: Case, hyper: dict) -> list[Variant]:
    """The mistakes worth trying on ``case`` for the reference ``like`` (class ``ref``)."""
    values = {**_defaults(ref), **hyper, **case.options}
    found = []
    if values.get("maximize"):
        found.append(Variant("maximize", _with(maximize=False)))
    if case.lr_changes or any(extra for _, extra in case.groups):
        found.append(Variant("group_values", _plain_groups))
    decays = [values.get("weight_decay", 0)] + [e.get("weight_decay", 0) for _, e in case.groups]
    if any(decays):
        found.append(Variant("decay_ignored", _no_decay))
        if like in ("Adam", "AdamW", "NAdam", "RAdam"):
            decoupled = like == "AdamW" or values.get("decoupled_weight_decay")
            found.append(Variant("coupled" if decoupled else "decoupled", _other_decay))
    return found + _betas(ref, hyper) + _rules(like, values)
