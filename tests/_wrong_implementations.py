"""The catalogue of typical wrong answers to the coding exercises, each with the hint it must get.

Every entry is a small variant of an answer in ``course_lib.exercises.solutions.reference`` that
makes ONE mistake learners make. ``OPTIMIZERS`` maps each to ``(like, hyper, phrase)``: checked with
``check_optimizer(cls, like, **hyper)`` it must fail and print ``phrase`` (a distinctive part of its
hint); ``SCHEDULES`` does the same for ``check_schedule``. tests/test_checkers.py runs them all.

The Adam entries subclass :class:`SplitAdam`, the reference Adam with its step cut into three
methods (the gradient, the moments, the update) so that each mistake replaces one of them.
"""

import math

import torch

from course_lib.exercises.solutions import reference as R


class SplitAdam(R.Adam):
    """The reference Adam in three overridable pieces (itself a right answer)."""

    def _update(self, p, group):
        g = self.gradient(p, group)
        state = self.state[p]
        if len(state) == 0:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        m, v = self.moments(state, g, group["betas"])
        self.apply(p, m, v, state["step"].item(), group)

    def gradient(self, p, group):
        g = -p.grad if group["maximize"] else p.grad
        if self.decoupled:
            p.mul_(1 - group["lr"] * group["weight_decay"])
            return g
        return g + group["weight_decay"] * p

    def moments(self, state, g, betas):
        beta1, beta2 = betas
        m = state["exp_avg"].mul_(beta1).add_(g, alpha=1 - beta1)
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        return m, v

    def apply(self, p, m, v, t, group):
        (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p.sub_(lr * m_hat / (v_hat.sqrt() + eps))


class SplitAdamW(SplitAdam):
    """SplitAdam with AdamW's decoupled decay and default weight_decay=0.01."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


class BiasAhead(SplitAdam):
    def apply(self, p, m, v, t, group):
        super().apply(p, m, v, t + 1, group)


class BiasBehind(SplitAdam):
    """state['step'] incremented after its use: the bias correction sees t - 1."""

    def apply(self, p, m, v, t, group):
        super().apply(p, m, v, t - 1, group)


class NoBiasCorrection(SplitAdam):
    def apply(self, p, m, v, t, group):
        p.sub_(group["lr"] * m / (v.sqrt() + group["eps"]))


class EpsInsideSqrt(SplitAdam):
    def apply(self, p, m, v, t, group):
        (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
        p.sub_(lr * (m / (1 - beta1**t)) / torch.sqrt(v / (1 - beta2**t) + eps))


class EpsBeforeCorrection(SplitAdam):
    def apply(self, p, m, v, t, group):
        (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
        p.sub_(lr / (1 - beta1**t) * m / ((v.sqrt() + eps) / math.sqrt(1 - beta2**t)))


class AdamDecoupled(SplitAdam):
    """Adam whose weight_decay shrinks theta (AdamW's rule) instead of the L2 gradient term."""

    decoupled = True


class AdamWCoupled(SplitAdamW):
    decoupled = False


class AdamWDecayWithoutRate(SplitAdamW):
    def gradient(self, p, group):
        p.mul_(1 - group["weight_decay"])
        return -p.grad if group["maximize"] else p.grad


class BetasSwapped(SplitAdam):
    def moments(self, state, g, betas):
        return super().moments(state, g, betas[::-1])


class Beta2ForBoth(SplitAdam):
    def moments(self, state, g, betas):
        return super().moments(state, g, (betas[1], betas[1]))


class MaximizeIgnored(SplitAdam):
    def gradient(self, p, group):
        return p.grad + group["weight_decay"] * p


class DefaultsNotGroups(SplitAdam):
    """Reads lr from self.defaults: the second group's rate and any scheduler are ignored."""

    def apply(self, p, m, v, t, group):
        super().apply(p, m, v, t, {**group, "lr": self.defaults["lr"]})


class RateSavedInInit(SplitAdam):
    """Keeps lr as an attribute from __init__ (a scheduler's change never reaches it)."""

    def __init__(self, params, lr=1e-3, **kwargs):
        super().__init__(params, lr, **kwargs)
        self.saved_lr = [group["lr"] for group in self.param_groups]

    def apply(self, p, m, v, t, group):
        i = next(i for i, g in enumerate(self.param_groups) if g is group)
        super().apply(p, m, v, t, {**group, "lr": self.saved_lr[i]})


class EagerState(SplitAdam):
    """Builds every parameter's state in __init__ (torch creates it at the first gradient)."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(
                    step=torch.tensor(0.0),
                    exp_avg=torch.zeros_like(p),
                    exp_avg_sq=torch.zeros_like(p),
                )


class StateInAttributes(SplitAdam):
    """Keeps m and v in dicts of its own: state_dict() cannot see them."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.m, self.v, self.t = {}, {}, {}

    def _update(self, p, group):
        g = self.gradient(p, group)
        beta1, beta2 = group["betas"]
        self.t[p] = self.t.get(p, 0) + 1
        self.m[p] = beta1 * self.m.get(p, 0) + (1 - beta1) * g
        self.v[p] = beta2 * self.v.get(p, 0) + (1 - beta2) * g * g
        self.apply(p, self.m[p], self.v[p], self.t[p], group)


class StepCountInAttribute(SplitAdam):
    """Saves state['step'] but counts t in an attribute of its own, which a reload loses."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.counts = {}

    def apply(self, p, m, v, t, group):
        self.counts[p] = self.counts.get(p, 0) + 1
        super().apply(p, m, v, self.counts[p], group)


class StepCountedFromOne(SplitAdam):
    """Starts state['step'] at 1 and increments it after the update: right t, wrong saved count."""

    def _update(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = torch.tensor(1.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        m, v = self.moments(state, self.gradient(p, group), group["betas"])
        self.apply(p, m, v, state["step"].item(), group)
        state["step"] += 1


class NoneGradNotSkipped(SplitAdam):
    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                self._update(p, group)


class NoNoGrad(SplitAdam):
    """step() without @torch.no_grad(): the in-place update is refused by autograd."""

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)


class RebindsParameter(R.SGD):
    """p = p - lr * g: a new tensor bound to the name p, the parameter itself never changes."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p = p - group["lr"] * p.grad


class Unfinished(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        raise NotImplementedError  # the update rule


class RaisesLater(SplitAdam):
    def apply(self, p, m, v, t, group):
        if t == 3:
            raise ValueError("something went wrong in my step")
        super().apply(p, m, v, t, group)


class WithoutMaximize(SplitAdam):
    """A right Adam whose __init__ takes no maximize (its case is skipped, the rest passes)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, betas, eps, weight_decay)

    def gradient(self, p, group):
        return p.grad + group["weight_decay"] * p


class NoClosureLoss(SplitAdam):
    """A right Adam that evaluates the closure but does not return its loss."""

    @torch.no_grad()
    def step(self, closure=None):
        super().step(closure)


class SGDPlain(R.SGD):
    """The reference SGD with the momentum direction as a method (itself a right answer)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = -p.grad if group["maximize"] else p.grad
                    p.sub_(self.direction(p, g + group["weight_decay"] * p, group))

    def direction(self, p, g, group):
        mu, tau, state = group["momentum"], group["dampening"], self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = g.clone()
        else:
            state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - tau)
        b = state["momentum_buffer"]
        return group["lr"] * (g + mu * b if group["nesterov"] else b)


class ClassicalMomentum(SGDPlain):
    """v = mu v + lr g, theta -= v: the rate folded into the buffer."""

    def direction(self, p, g, group):
        mu, tau, state = group["momentum"], group["dampening"], self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = group["lr"] * g
        else:
            state["momentum_buffer"].mul_(mu).add_(group["lr"] * g, alpha=1 - tau)
        return state["momentum_buffer"]


class DampeningIgnored(SGDPlain):
    def direction(self, p, g, group):
        return super().direction(p, g, {**group, "dampening": 0.0})


class BufferFromZero(SGDPlain):
    def direction(self, p, g, group):
        state = self.state[p]
        state.setdefault("momentum_buffer", torch.zeros_like(p))
        state["momentum_buffer"].mul_(group["momentum"]).add_(g, alpha=1 - group["dampening"])
        return group["lr"] * state["momentum_buffer"]


class NesterovIgnored(SGDPlain):
    def direction(self, p, g, group):
        return super().direction(p, g, {**group, "nesterov": False})


class NesterovOldBuffer(SGDPlain):
    def direction(self, p, g, group):
        state = self.state[p]
        old = state.get("momentum_buffer", torch.zeros_like(p)).clone()
        super().direction(p, g, {**group, "nesterov": False})
        return group["lr"] * (g + group["momentum"] * old)


class SGDDecoupled(SGDPlain):
    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = -p.grad if group["maximize"] else p.grad
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.sub_(self.direction(p, g, group))


class LazyAdagrad(R.Adagrad):
    """Adagrad with its state made at the first gradient, as Adam's is: torch's is made in __init__."""

    def __init__(self, params, lr=1e-2, eps=1e-10):
        torch.optim.Optimizer.__init__(
            self, params, dict(lr=lr, lr_decay=0.0, weight_decay=0.0, eps=eps, maximize=False)
        )

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and len(self.state[p]) == 0:
                    self.state[p].update(step=torch.tensor(0.0), sum=torch.zeros_like(p))
        super().step(closure)


class RMSpropEpsInside(R.RMSprop):
    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
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
                v = (
                    state["square_avg"]
                    .mul_(group["alpha"])
                    .addcmul_(g, g, value=1 - group["alpha"])
                )
                p.sub_(group["lr"] * g / torch.sqrt(v + group["eps"]))


class AdagradEpsInside(R.Adagrad):
    @torch.no_grad()
    def step(self, closure=None):
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
                p.sub_(rate * g / torch.sqrt(state["sum"] + group["eps"]))


ADAM = ("Adam", {"lr": 0.01})
ADAMW = ("AdamW", {"lr": 0.01})
MOMENTUM = ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1})
NESTEROV = ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True})

#: wrong class -> (like, hyper, a phrase its hint must contain)
OPTIMIZERS = {
    BiasAhead: (*ADAM, "yours uses t + 1"),
    BiasBehind: (*ADAM, "your t is one behind"),
    NoBiasCorrection: (*ADAM, "No bias correction"),
    EpsInsideSqrt: (*ADAM, "eps inside the square root"),
    EpsBeforeCorrection: (*ADAM, "eps added before the bias correction"),
    AdamDecoupled: (*ADAM, "here weight_decay is an L2 penalty"),
    AdamWCoupled: (*ADAMW, "Coupled decay"),
    AdamWDecayWithoutRate: (*ADAMW, "Decoupled decay without the rate"),
    BetasSwapped: (*ADAM, "betas swapped"),
    Beta2ForBoth: (*ADAM, "beta2 used for the first moment"),
    MaximizeIgnored: (*ADAM, "maximize ignored"),
    DefaultsNotGroups: (*ADAM, "Group hyperparameters ignored"),
    RateSavedInInit: (*ADAM, "Group hyperparameters ignored"),
    EagerState: (*ADAM, "create the state lazily"),
    StateInAttributes: (*ADAM, "keep the running quantities there"),
    StepCountInAttribute: (*ADAM, "After load_state_dict your run parts"),
    StepCountedFromOne: (*ADAM, "state['step'] is t"),
    NoneGradNotSkipped: (*ADAM, "if p.grad is None: continue"),
    NoNoGrad: (*ADAM, "Decorate step with @torch.no_grad()"),
    Unfinished: (*ADAM, "Write the body of step()"),
    RebindsParameter: ("SGD", {"lr": 0.1}, "Your step left this parameter as it was"),
    RaisesLater: (*ADAM, "raised ValueError at step 3: something went wrong"),
    ClassicalMomentum: (*MOMENTUM, "Classical momentum form"),
    DampeningIgnored: (*MOMENTUM, "dampening ignored"),
    BufferFromZero: (*MOMENTUM, "Momentum buffer started at zero"),
    NesterovIgnored: (*NESTEROV, "nesterov ignored"),
    NesterovOldBuffer: (*NESTEROV, "Nesterov with the old buffer"),
    SGDDecoupled: (*MOMENTUM, "here weight_decay is an L2 penalty"),
    RMSpropEpsInside: ("RMSprop", {"lr": 0.01}, "eps inside the square root"),
    AdagradEpsInside: ("Adagrad", {"lr": 0.1}, "eps inside the square root"),
    LazyAdagrad: ("Adagrad", {"lr": 0.1}, "makes this state (['step', 'sum']) in __init__"),
}

#: right answers with a quirk: (like, hyper, a line they must print besides "Correct")
QUIRKY = {
    SplitAdam: (*ADAM, "Correct"),
    SplitAdamW: (*ADAMW, "Correct"),
    SGDPlain: (*MOMENTUM, "Correct"),
    WithoutMaximize: (*ADAM, "skipped: your class takes no `maximize`"),
    NoClosureLoss: (*ADAM, "does not return the closure's loss"),
}


def _cosine(t, warm=10, total=100, low=0.0):
    """A right warm-up + cosine factor with the pieces the schedule mistakes change."""
    if t < warm:
        return t / warm
    x = min(t - warm, total - warm) / (total - warm)
    return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * x))


WARMUP_COSINE = ("warmup_cosine", {"warmup_steps": 10})
COSINE_MIN = ("CosineAnnealingLR", {"T_max": 100, "eta_min": 0.01})
STEP = ("StepLR", {"step_size": 30, "gamma": 0.1})

#: wrong factor function -> (like, check_schedule's keyword arguments, a phrase its hint must contain)
SCHEDULES = {
    (lambda t: 0.1 * _cosine(t)): (*WARMUP_COSINE, "returns the learning rate"),
    (lambda t: _cosine(t + 1)): (*WARMUP_COSINE, "One step early"),
    (lambda t: _cosine(max(t - 1, 0))): (*WARMUP_COSINE, "One step late"),
    (lambda t: _cosine(t, warm=11)): (*WARMUP_COSINE, "warm-up has the wrong length"),
    (lambda t: t / 10 if t < 10 else 0.5 * (1 + math.cos(math.pi * (t - 10) / 100))): (
        *WARMUP_COSINE,
        "The cosine runs over the wrong number of steps",
    ),
    (lambda t: _cosine(t, warm=0, total=100)): (
        "CosineAnnealingLR",
        {"T_max": 90},
        "The cosine runs over the wrong number of steps",
    ),
    (lambda t: _cosine(t, warm=0)): (*COSINE_MIN, "Your schedule ends at 0"),
    (lambda t: 1 + math.cos(math.pi * t / 100)): (
        "CosineAnnealingLR",
        {"T_max": 100},
        "misses the 0.5",
    ),
    (lambda t: 0.5 * (1 + math.cos(180 * t / 100))): (
        "CosineAnnealingLR",
        {"T_max": 100},
        "math.cos takes radians",
    ),
    (lambda t: 0.1**t): (*STEP, "decays at every step"),
    (lambda t: 0.1 ** (t / 30)): (*STEP, "Use integer division"),
    (lambda t: 0.1 ** (t // 31)): (*STEP, "blocks have the wrong length"),
    (lambda t: 1 / (t - 7) if t != 7 else 1 / 0): (*STEP, "raised ZeroDivisionError at step 7"),
    (lambda t: None if t == 4 else 1.0): ("constant", {}, "returned None at step 4"),
}
