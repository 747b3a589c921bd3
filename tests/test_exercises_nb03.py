"""Reference solutions of notebook 03's exercises: the checks accept them, and for typical mistakes
they say what went wrong (the hint text is asserted, not only the False)."""

import math

import pytest
import torch

from course_lib.exercises import check_optimizer, nb03
from course_lib.exercises.solutions.nb03 import MyAdagrad, MyYogi, yogi_v
from course_lib.experiments.theory import second_moments
from course_lib.widgets import adaptive as wa


def test_uncorrected_first_step_accepts_the_reference(capsys):
    reference = (1 - 0.9) / math.sqrt(1 - 0.999)
    assert nb03.check_uncorrected_first_step(reference)
    assert nb03.check_uncorrected_first_step(3.16)
    assert nb03.check_uncorrected_first_step(-3.162)  # the sign of g does not matter
    assert "Correct: (1-β1)/√(1-β2) = 3.162" in capsys.readouterr().out
    # The exercise's answer is what the bias-correction explorer computes.
    assert wa.bias_correction(0.9, 0.999).first_step_ratio == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (1.0, "That is the corrected step"),  # forgot to drop the correction
        (0.1, "that is m_1/g. Divide by √v_1"),  # forgot the denominator
        (10.0, "Not quite (10). Write m_1 and v_1"),  # 1/√(1-β2) with β2 = 0.99 by mistake
        (31.6, "Not quite (31.6). Write m_1 and v_1"),  # 1/√(1-β2) without (1-β1)
        ("3,16", "Answer with a number, got '3,16'"),  # unparsable text is not a crash
    ],
)
def test_uncorrected_first_step_explains_typical_mistakes(wrong, hint, capsys):
    assert nb03.check_uncorrected_first_step(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_adagrad_rate_accepts_the_reference(capsys):
    assert nb03.check_adagrad_rate(0.1 / math.sqrt(100 * 2.0**2))
    assert "Correct: G_100 = 100·4 = 400" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (0.01, "That is the step γ·g/√G"),  # multiplied by g
        (0.05, "the sum holds squared gradients, G = t·g² = 400"),  # summed g, not g²
        (0.1, "Not quite (0.1). G_t adds g² every step"),  # forgot the accumulator
    ],
)
def test_adagrad_rate_explains_typical_mistakes(wrong, hint, capsys):
    assert nb03.check_adagrad_rate(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_rotation_invariant_accepts_the_reference_in_any_spelling(capsys):
    assert nb03.check_rotation_invariant({"SGD", "Momentum"})
    assert nb03.check_rotation_invariant(["sgd", " momentum"])
    assert "Correct: SGD and momentum only add multiples of gradients" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ({"SGD"}, "one method whose losses do not change under rotation is missing"),
        ({"SGD", "Momentum", "Adam"}, "['adam'] divide every coordinate by its own √v or √G"),
        ({"Adagrad", "RMSprop"}, "['adagrad', 'rmsprop'] divide every coordinate"),
        ({"Lion"}, "Unknown names ['lion']"),
        ("SGD", "Answer with a set of names"),
        (3, "Answer with a set of names"),
    ],
)
def test_rotation_invariant_explains_wrong_sets(wrong, hint, capsys):
    assert nb03.check_rotation_invariant(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


@pytest.mark.parametrize(
    "check",
    [nb03.check_uncorrected_first_step, nb03.check_adagrad_rate, nb03.check_rotation_invariant],
)
def test_checks_ask_for_an_answer_and_never_raise(check, capsys):
    assert check(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert check(object()) is False
    assert check(float("nan")) is False


@pytest.mark.parametrize(
    ("check", "answer", "praise"),
    [
        (nb03.check_preconditioned_condition_number, 50.0, "Correct: 50."),
        (nb03.check_rare_feature_rate_ratio, 10.0, "Correct: √(400/4) = 10."),
        (nb03.check_adadelta_first_step, math.sqrt(1e-6 / 0.1), "Correct: √(ε/(1-ρ)) = 0.003162"),
        (nb03.check_yogi_update, yogi_v, "Correct: after the burst your v is"),
    ],
)
def test_new_checks_accept_the_reference_and_ask_for_an_answer(check, answer, praise, capsys):
    assert check(answer) is True
    assert praise in capsys.readouterr().out
    assert check(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    for junk in ("abc", True, float("nan")):
        assert check(junk) is False
    assert "Answer with" in capsys.readouterr().out


def _unfinished(v, g, beta2):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb03.check_preconditioned_condition_number, 1.0, "1 is the aligned case"),
        (nb03.check_preconditioned_condition_number, 7.0, "Compute diag(H) of R diag(L, ℓ) Rᵀ"),
        (nb03.check_rare_feature_rate_ratio, 100.0, "divides by the square root of G"),
        (nb03.check_rare_feature_rate_ratio, 0.1, "that is common over rare"),
        (nb03.check_adadelta_first_step, 1e-3, "√ε is the numerator"),
        (nb03.check_adadelta_first_step, 1.0, "would be a step of γ = 1"),
        (nb03.check_yogi_update, lambda v, g, b: b * v + (1 - b) * g * g, "gives Adam's v"),
        (
            nb03.check_yogi_update,
            lambda v, g, b: v + (1 - b) * g * g,
            "moves v by (1-β2)·g² towards",
        ),
        (nb03.check_yogi_update, _unfinished, "Write the body of yogi_v"),
        (nb03.check_yogi_update, lambda v, g: v, "yogi_v raised TypeError"),
    ],
)
def test_new_checks_explain_typical_mistakes(check, wrong, hint, capsys):
    assert check(wrong) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_preconditioning_exercise_matches_the_computed_condition_number():
    import numpy as np

    from course_lib.experiments import adaptive, theory

    H = theory.hessian(adaptive.race_landscape("rotated quadratic"), (0.0, 0.0))
    kappa = theory.preconditioned_condition_number(H, np.diag(np.diag(H)))
    assert nb03.check_preconditioned_condition_number(kappa)


# --- Exercises 8 and 9 (code): AdaGrad and Yogi as Optimizer subclasses ---------------------------
# The answer keys run through check_optimizer (against torch.optim.Adagrad and
# course_lib.optim.Yogi); each wrong version makes one typical mistake and must get its hint.


def _adagrad_update(opt, group, p, eps_inside=False, count_steps=True):
    """The answer key's AdaGrad update of one parameter, optionally with one mistake."""
    state = opt.state[p]
    if count_steps:
        state["step"] += 1
    G = state["sum"].addcmul_(p.grad, p.grad)
    denom = (G + group["eps"]).sqrt() if eps_inside else G.sqrt() + group["eps"]
    p.sub_(group["lr"] * p.grad / denom)


def _adagrad(name, **mistake):
    """MyAdagrad with ``mistake`` in its update."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                _adagrad_update(self, group, p, **mistake)

    return type(name, (MyAdagrad,), {"step": step})


class LazyAdagrad(torch.optim.Optimizer):
    """AdaGrad with its state made at the first gradient (as Adam's is), not in __init__ (torch)."""

    def __init__(self, params, lr=1e-2, eps=1e-10):
        super().__init__(params, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in (p for p in group["params"] if p.grad is not None):
                if not self.state[p]:
                    self.state[p].update(step=torch.tensor(0.0), sum=torch.zeros_like(p))
                _adagrad_update(self, group, p)


def _yogi(name, adam_v=False, swap_betas=False, zero_init=False):
    """MyYogi with Adam's multiplicative v_t, with β1 and β2 exchanged, or with m_0 = v_0 = 0."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"][::-1] if swap_betas else group["betas"]
            for p in (p for p in group["params"] if p.grad is not None):
                state, g = self.state[p], p.grad
                if not state:
                    a0 = 0.0 if zero_init else group["initial_accumulator"]
                    state.update(step=torch.tensor(0.0), exp_avg=torch.full_like(p, a0))
                    state["exp_avg_sq"] = torch.full_like(p, a0)
                state["step"] += 1
                t, m, v = state["step"].item(), state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                if adam_v:
                    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                else:
                    v.sub_((1 - beta2) * torch.sign(v - g * g) * g * g)
                denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
                p.addcdiv_(m, denom, value=-group["lr"] / (1 - beta1**t))

    return type(name, (MyYogi,), {"step": step})


class UnfinishedAdagrad(MyAdagrad):
    """The notebook's skeleton: the body of step is still `raise NotImplementedError`."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                raise NotImplementedError


@pytest.mark.parametrize(
    ("cls", "like"), [(MyAdagrad, "Adagrad"), (MyYogi, "Yogi")], ids=["Adagrad", "Yogi"]
)
def test_adaptive_answer_key_matches_its_reference_in_every_case(cls, like, capsys):
    assert check_optimizer(cls, like=like, lr=0.1) is True
    out = capsys.readouterr().out
    assert f"Correct: your {cls.__name__} matches" in out
    assert "a late gradient" in out and "state_dict round trip" in out


def test_mistake_helpers_without_a_mistake_are_the_answer_keys():
    assert check_optimizer(_adagrad("Plain"), like="Adagrad", lr=0.1)
    assert check_optimizer(_yogi("Plain"), like="Yogi", lr=0.1)


@pytest.mark.parametrize(
    ("cls", "like", "hint"),
    [
        (_adagrad("EpsInside", eps_inside=True), "Adagrad", "eps inside the square root"),
        (_adagrad("NoStepCount", count_steps=False), "Adagrad", "state['step'] is t"),
        (LazyAdagrad, "Adagrad", "makes this state (['step', 'sum']) in __init__ for every"),
        (UnfinishedAdagrad, "Adagrad", "Write the body of step()"),
        (_yogi("SwappedBetas", swap_betas=True), "Yogi", "betas swapped: beta1 = betas[0]"),
        (_yogi("AdamV", adam_v=True), "Yogi", "Adam's second moment: Yogi's v is additive"),
        (_yogi("ZeroInit", zero_init=True), "Yogi", "m_0 and v_0 start at initial_accumulator"),
    ],
    ids=lambda x: x.__name__ if isinstance(x, type) else None,
)
def test_adaptive_mistake_gets_its_hint(cls, like, hint, capsys):
    assert check_optimizer(cls, like=like, lr=0.1) is False
    out = capsys.readouterr().out
    assert hint in out and "Correct" not in out


def test_yogi_answer_key_of_exercise_7_is_the_recurrence():
    grads = [1.0] * 20 + [5.0] * 3 + [0.5] * 30
    _, expected = second_moments(grads, beta2=0.9)
    v = 0.0
    for g, want in zip(grads, expected):
        v = yogi_v(v, g, 0.9)
        assert v == pytest.approx(want, rel=1e-12)
    assert nb03.check_yogi_update(yogi_v)


def test_adaptive_answer_keys_refuse_bad_arguments_at_construction():
    w = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"eps must be a finite number >= 0, got -1"):
        MyAdagrad(w, eps=-1)
    with pytest.raises(ValueError, match=r"betas\[1\] must be a finite number in \[0, 1\), got 1"):
        MyYogi(w, betas=(0.9, 1))
