"""Reference solutions of notebook 04's exercises: the checks accept them, reject mistakes."""

import pytest
import torch
from _exercise_tests import rejects_with_hint

from course_lib.exercises import check_optimizer, nb04
from course_lib.exercises.solutions.nb04 import MyAdam, MyAdamW


def test_l2_weight_decay_reference_gives_identical_sgd_iterates():
    """The reference answer (2e-3) is checked against SGD itself, not only against the checker."""
    w_penalty = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    w_decay = torch.nn.Parameter(w_penalty.detach().clone())
    opt_p = torch.optim.SGD([w_penalty], lr=0.1)
    opt_d = torch.optim.SGD([w_decay], lr=0.1, weight_decay=2e-3)
    target = torch.tensor([0.3, 0.1, -0.4], dtype=torch.float64)
    for _ in range(20):
        for w, opt, extra in ((w_penalty, opt_p, True), (w_decay, opt_d, False)):
            loss = ((w - target) ** 2).sum() + (1e-3 * (w**2).sum() if extra else 0.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert torch.allclose(w_penalty, w_decay, rtol=0, atol=1e-14)
    assert nb04.check_l2_weight_decay(2e-3)


def test_adamw_shrink_reference_matches_adamw():
    w = torch.nn.Parameter(torch.tensor([2.0]))
    opt = torch.optim.AdamW([w], lr=1e-3, weight_decay=1e-2)
    w.grad = torch.zeros(1)  # no gradient: only the decoupled decay acts
    opt.step()
    assert w.item() == pytest.approx(2.0 * (1 - 1e-5), rel=1e-7)
    assert nb04.check_adamw_shrink(1 - 1e-5)
    assert nb04.check_adamw_shrink(0.99999)


def test_adam_l2_ratio_accepts_the_reference():
    assert nb04.check_adam_l2_ratio(10 / 0.01)


def test_dropout_scale_reference_matches_nn_dropout():
    torch.manual_seed(0)
    out = torch.nn.Dropout(p=0.2).train()(torch.ones(1000))
    kept = out[out > 0]
    assert torch.allclose(kept, torch.full_like(kept, 1.25))
    assert nb04.check_dropout_scale(1.25)


@pytest.mark.parametrize(
    "check",
    [
        nb04.check_l2_weight_decay,
        nb04.check_adamw_shrink,
        nb04.check_adam_l2_ratio,
        nb04.check_dropout_scale,
    ],
)
def test_checks_ask_for_an_answer_and_never_raise(check, capsys):
    assert check(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert check("a lot") is False
    assert check(True) is False
    assert check(float("inf")) is False


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        # the penalty written (λ/2)‖θ‖², forgetting that c‖θ‖² has no ½
        (nb04.check_l2_weight_decay, 1e-3, "right for the penalty (λ/2)‖θ‖²"),
        (nb04.check_l2_weight_decay, 5e-4, "the factor goes the other way"),
        (nb04.check_l2_weight_decay, 0.0, "Write the gradient of 1e-3·‖θ‖²"),
        (nb04.check_l2_weight_decay, 2.0, "Not quite (2)"),
        # γλ itself instead of 1 − γλ; the decay not multiplied by the rate
        (nb04.check_adamw_shrink, 1e-5, "That is γλ, the fraction removed"),
        (nb04.check_adamw_shrink, 0.99, "multiplies the decay by the learning rate"),
        (nb04.check_adamw_shrink, 1.0, "θ ← (1 - γλ)θ"),
        (nb04.check_adamw_shrink, 0.9, "Not quite (0.9)"),
        (nb04.check_adam_l2_ratio, 1e-3, "That is the inverse"),
        (nb04.check_adam_l2_ratio, 1.0, "That would be AdamW"),
        (nb04.check_adam_l2_ratio, 1e6, "divides by √v̂, not by v̂"),
        (nb04.check_adam_l2_ratio, 100.0, "λθ included, by √v̂"),
        (nb04.check_dropout_scale, 0.8, "PyTorch scales the kept ones UP"),
        (nb04.check_dropout_scale, 1.0, "that is eval mode"),
        (nb04.check_dropout_scale, 0.2, "keeps the expected activation unchanged"),
        (nb04.check_dropout_scale, 5.0, "Not quite (5)"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


# --- Exercise 5 (code): AdamW from the given Adam, by overriding its decay step -------------------
# The given MyAdam must be torch's Adam (L2 decay); the answer key MyAdamW torch's AdamW. Each wrong
# version is a typical wrong apply_decay and must get that mistake's hint from check_optimizer.

ADAMW = {"like": "AdamW", "weight_decay": 0.1}


def _decay(name, body):
    """MyAdam whose apply_decay is ``body(p, grad, lr, weight_decay)``."""
    return type(name, (MyAdam,), {"apply_decay": lambda self, p, g, lr, wd: body(p, g, lr, wd)})


def _without_rate(p, grad, lr, weight_decay):
    p.mul_(1 - weight_decay)  # θ ← (1 − λ)θ: the rate left out
    return grad


def apply_decay(p, grad, lr, weight_decay):  # the skeleton's method, left unfinished
    raise NotImplementedError


def test_given_adam_is_torch_adam_with_l2_decay(capsys):
    assert check_optimizer(MyAdam, like="Adam", weight_decay=0.1) is True
    out = capsys.readouterr().out
    assert "Correct: your MyAdam matches torch.optim.Adam" in out
    assert "weight decay" in out and "maximize" in out  # both options were exercised


def test_adamw_answer_key_is_torch_adamw(capsys):
    assert check_optimizer(MyAdamW, **ADAMW) is True
    assert "Correct: your MyAdamW matches torch.optim.AdamW" in capsys.readouterr().out
    assert MyAdamW([torch.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 1e-2  # AdamW's


@pytest.mark.parametrize(
    ("cls", "hint"),
    [
        (MyAdam, "Coupled decay: decoupled weight decay shrinks the parameter"),  # left as L2
        (_decay("WithoutRate", _without_rate), "Decoupled decay without the rate"),
        (_decay("NoDecay", lambda p, g, lr, wd: g), "weight_decay has no effect in your step"),
        (_decay("Unfinished", apply_decay), "Write the body of apply_decay()"),
    ],
    ids=lambda x: x.__name__ if isinstance(x, type) else None,
)
def test_adamw_mistake_gets_its_hint(cls, hint, capsys):
    rejects_with_hint(lambda c: check_optimizer(c, **ADAMW), cls, hint, capsys)


def test_given_adam_refuses_bad_arguments_at_construction():
    w = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"weight_decay must be a finite number >= 0, got -0\.1"):
        MyAdam(w, weight_decay=-0.1)
    with pytest.raises(TypeError, match="betas must be a tuple of two numbers"):
        MyAdamW(w, betas=0.9)
