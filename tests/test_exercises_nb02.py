"""Notebook 02's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
import torch
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import check_optimizer, nb02
from course_lib.exercises.solutions.nb02 import MomentumSGD

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb02.check_optimal_momentum: (9 / 11) ** 2,  # kappa = 100
    nb02.check_optimal_lr: 4 / (1 + 0.1) ** 2,  # L = 1, lambda_min = 0.01
    nb02.check_terminal_step: 0.5,  # 0.1 * (1 - 0.5) / (1 - 0.9)
    nb02.check_speedup: math.log(9 / 11) / math.log(99 / 101),  # 10.03, per further factor
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", {}, False, float("inf")))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb02.check_optimal_momentum, 9 / 11, "Not quite: that is the rate sqrt(mu*)"),
        (nb02.check_optimal_momentum, 0.9, "0.9 / 0.99 are popular defaults, not the optimum"),
        (
            nb02.check_optimal_momentum,
            0.5,
            "Not quite (0.5). Use ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2",
        ),
        (nb02.check_optimal_lr, 2.0, "that is gradient descent's limit / best step"),
        (nb02.check_optimal_lr, 2 / 1.01, "that is gradient descent's limit / best step"),
        (nb02.check_optimal_lr, 1.0, "Not quite (1). Use 4/(sqrt(L) + sqrt(l))^2 with l = L/kappa"),
        (nb02.check_terminal_step, 1.0, "that ignores the dampening"),
        (nb02.check_terminal_step, 0.1, "that is a single gradient's step"),
        (nb02.check_terminal_step, 0.05, "that is a single gradient's step"),
        (
            nb02.check_terminal_step,
            0.3,
            "Not quite (0.3). Find the fixed point of b = mu b + (1 - tau) g",
        ),
        (nb02.check_speedup, 691 / 94, "7.35 is the ratio of the step counts from the start"),
        (nb02.check_speedup, 7.4, "still include the heavy ball's start-up"),
        (nb02.check_speedup, 100.0, "the gain is not kappa itself"),
        (nb02.check_speedup, (99 / 101) / (9 / 11), "compare the logarithms of the rates"),
        (nb02.check_speedup, 5.0, "Not quite (5). Steps per factor ~ 1/(-log rate)"),
    ],
)
def test_check_rejects_typical_mistakes_with_a_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_checks_follow_their_parameters():
    assert nb02.check_optimal_momentum(((10 - 1) / (10 + 1)) ** 2, condition_number=100.0)
    assert nb02.check_optimal_momentum((math.sqrt(10) - 1) ** 2 / (math.sqrt(10) + 1) ** 2, 10.0)
    assert nb02.check_terminal_step(1.0, lr=0.1, momentum=0.9, dampening=0.0)
    assert nb02.check_speedup(math.log(0.5) / math.log(0.8), condition_number=9.0)


def test_speedup_check_counts_steps_with_the_notebooks_loop(capsys):
    # notebook 02, section 5: 691 GD steps and 94 heavy-ball steps to shrink |theta| 10^6-fold
    assert nb02.check_speedup(10.0) is True  # sqrt(kappa) is within 10 % of 10.03
    assert "10.03" in capsys.readouterr().out
    assert nb02.check_speedup(691 / 94) is False
    assert "7.35 is the ratio" in capsys.readouterr().out
    assert nb02.check_speedup(8.5) is False  # neither the limit nor the count ratio
    assert "Not quite (8.5)" in capsys.readouterr().out


# --- Exercises 5 and 6 (code): the heavy ball and Nesterov as Optimizer subclasses ----------------
# The answer key runs through check_optimizer against torch.optim.SGD; each wrong version below
# makes one typical mistake (one changed line of the answer key's step) and must get its hint.

HEAVY_BALL = {"like": "SGD", "lr": 0.1, "momentum": 0.9}
NESTEROV = {**HEAVY_BALL, "nesterov": True}


def _momentum_step(opt, group, p, read_defaults=False, old_buffer=False):
    """The answer key's update of one parameter, optionally with one mistake."""
    source = opt.defaults if read_defaults else group
    lr, mu = source["lr"], source["momentum"]
    old = opt.state[p].get("momentum_buffer")
    b = p.grad.clone() if old is None else mu * old + p.grad
    opt.state[p]["momentum_buffer"] = b
    if group["nesterov"]:
        b_used = b if not old_buffer else (torch.zeros_like(b) if old is None else old)
        p.sub_(lr * (p.grad + mu * b_used))
    else:
        p.sub_(lr * b)


class ReadsDefaults(MomentumSGD):
    """γ and μ from self.defaults: the groups' own rates (and a scheduler's changes) are ignored."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                _momentum_step(self, group, p, read_defaults=True)


class NoNoGrad(MomentumSGD):
    """step without @torch.no_grad(): the in-place update of a leaf that requires grad fails."""

    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                _momentum_step(self, group, p)


class NoSkip(MomentumSGD):
    """Parameters without a gradient are not skipped."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                _momentum_step(self, group, p)


class BufferOutsideState(MomentumSGD):
    """The buffer in an attribute of the optimizer, not in self.state[p] (state_dict loses it)."""

    @torch.no_grad()
    def step(self, closure=None):
        buffers = self.__dict__.setdefault("buffers", {})
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                old = buffers.get(p)
                buffers[p] = p.grad.clone() if old is None else group["momentum"] * old + p.grad
                p.sub_(group["lr"] * buffers[p])


class NesterovOldBuffer(MomentumSGD):
    """Nesterov along g_t + μ b_{t-1}: the look-ahead taken with the buffer before its update."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                _momentum_step(self, group, p, old_buffer=True)


class ClassicalForm(MomentumSGD):
    """The classical form v_t = μ v_{t-1} + γ g_t, θ_t = θ_{t-1} - v_t, v_t kept as the buffer."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                old = self.state[p].get("momentum_buffer", torch.zeros_like(p))
                v = group["momentum"] * old + group["lr"] * p.grad
                self.state[p]["momentum_buffer"] = v
                p.sub_(v)


class NesterovIgnored(MomentumSGD):
    """nesterov=True stepping along b_t as the heavy ball does (the same run as the old buffer)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                _momentum_step(self, {**group, "nesterov": False}, p)


class Unfinished(MomentumSGD):
    """The notebook's skeleton: the body of step is still `raise NotImplementedError`."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                raise NotImplementedError


@pytest.mark.parametrize("hyper", [HEAVY_BALL, NESTEROV], ids=["heavy ball", "nesterov"])
def test_momentum_answer_key_matches_torch_sgd_in_every_case(hyper, capsys):
    assert check_optimizer(MomentumSGD, **hyper) is True
    out = capsys.readouterr().out
    assert "Correct: your MomentumSGD matches torch.optim.SGD" in out
    assert "a changing lr" in out and "state_dict round trip" in out


def test_momentum_helper_without_mistakes_is_the_answer_key(capsys):
    class Plain(MomentumSGD):
        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in (p for p in group["params"] if p.grad is not None):
                    _momentum_step(self, group, p)

    for hyper in (HEAVY_BALL, NESTEROV):
        assert check_optimizer(Plain, **hyper) is True  # so each wrong class differs by its mistake


@pytest.mark.parametrize(
    ("cls", "hyper", "hint"),
    [
        (ReadsDefaults, HEAVY_BALL, "Group hyperparameters ignored: read lr"),
        (NoNoGrad, HEAVY_BALL, "Decorate step with @torch.no_grad()"),
        (NoSkip, HEAVY_BALL, "A parameter without a gradient (p.grad is None) must be skipped"),
        (BufferOutsideState, HEAVY_BALL, "keeps ['momentum_buffer'] in self.state[p]"),
        (ClassicalForm, HEAVY_BALL, "Classical momentum form (v = mu v + lr g, theta -= v)"),
        (NesterovOldBuffer, NESTEROV, "Nesterov with the old buffer"),
        (NesterovIgnored, NESTEROV, "nesterov ignored"),
        (Unfinished, HEAVY_BALL, "Write the body of step()"),
    ],
    ids=lambda x: x.__name__ if isinstance(x, type) else None,
)
def test_momentum_mistake_gets_its_hint(cls, hyper, hint, capsys):
    rejects_with_hint(lambda c: check_optimizer(c, **hyper), cls, hint, capsys)


def test_momentum_check_asks_for_a_class(capsys):
    assert check_optimizer(None, **HEAVY_BALL) is False
    assert "Fill in your answer" in capsys.readouterr().out
    instance = torch.optim.SGD([torch.zeros(1, requires_grad=True)])
    assert check_optimizer(instance, **HEAVY_BALL) is False  # an instance, not the class
    assert "Answer with a subclass of torch.optim.Optimizer" in capsys.readouterr().out


def test_momentum_answer_key_refuses_bad_arguments_at_construction():
    w = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -0\.1"):
        MomentumSGD(w, lr=-0.1)
    with pytest.raises(ValueError, match=r"momentum must be a finite number in \[0, 1\), got 1\.0"):
        MomentumSGD(w, momentum=1.0)
    with pytest.raises(TypeError, match="nesterov"):
        MomentumSGD(w, nesterov="yes")
