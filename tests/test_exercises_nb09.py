"""Notebook 09's self-checks accept the reference solutions and reject typical mistakes."""

import pytest
import torch
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb09


def lion_step(param, grad, exp_avg, *, lr, betas, weight_decay):
    """The reference solution of the coding exercise."""
    beta1, beta2 = betas
    param.mul_(1 - lr * weight_decay)
    param.add_(torch.sign(beta1 * exp_avg + (1 - beta1) * grad), alpha=-lr)
    exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)


def lion_step_beta1_momentum(param, grad, exp_avg, *, lr, betas, weight_decay):
    lion_step(param, grad, exp_avg, lr=lr, betas=(betas[0], betas[0]), weight_decay=weight_decay)


def lion_step_no_decay(param, grad, exp_avg, *, lr, betas, weight_decay):
    lion_step(param, grad, exp_avg, lr=lr, betas=betas, weight_decay=0.0)


def lion_step_momentum_first(param, grad, exp_avg, *, lr, betas, weight_decay):
    beta1, beta2 = betas
    exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)
    param.mul_(1 - lr * weight_decay)
    param.add_(torch.sign(beta1 * exp_avg + (1 - beta1) * grad), alpha=-lr)


def unfinished(param, grad, exp_avg, *, lr, betas, weight_decay):
    raise NotImplementedError


def broken(param, grad, exp_avg, *, lr, betas, weight_decay):
    return param.foo


SOLUTIONS = {
    nb09.check_adafactor_bytes: 4 * (1024 + 4096) / (1024 * 4096),
    nb09.check_radam_first_step: 6,
    nb09.check_lion_decay: 0.1,
    nb09.check_lion_step: lion_step,
}

(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(
    {k: v for k, v in SOLUTIONS.items() if k is not nb09.check_lion_step},
    junk=("abc", True, float("nan"), object()),
)


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (
            nb09.check_adafactor_bytes,
            (1024 + 4096) / (1024 * 4096),
            "That counts numbers, not bytes",
        ),
        (nb09.check_adafactor_bytes, 8.0, "8 bytes is a full Adam state"),
        (nb09.check_adafactor_bytes, 1.0, "Not quite (1). Count the numbers in R and C"),
        (nb09.check_radam_first_step, 5, "rho_5 = "),
        (nb09.check_radam_first_step, 199, "That is rho_infinity"),
        (nb09.check_radam_first_step, 50, "Not quite (50). Evaluate rho_t"),
        (nb09.check_lion_decay, 0.001, "That divides"),
        (nb09.check_lion_decay, 0.5, "Not quite (0.5). Solve"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    out = rejects_with_hint(check, wrong, hint, capsys)
    assert out.count("\n") == 1


def test_lion_checker_runs_the_learners_step_and_accepts_the_reference(capsys):
    assert nb09.check_lion_step(lion_step) is True
    assert "Correct: 20 steps equal course_lib.optim.Lion's" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (lion_step_beta1_momentum, "uses beta2, not beta1"),
        (lion_step_no_decay, "the weight decay is missing"),
        (lion_step_momentum_first, "the likely mistake is updating m before taking the sign"),
        (broken, "Your function raised AttributeError"),
        (unfinished, "Fill in your answer (write the body of lion_step)"),
    ],
)
def test_lion_checker_names_the_mistake_and_never_raises(fn, hint, capsys):
    out = rejects_with_hint(nb09.check_lion_step, fn, hint, capsys)
    assert out.count("\n") == 1


def test_lion_checker_asks_for_a_function(capsys):
    assert nb09.check_lion_step(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert nb09.check_lion_step(0.5) is False
    assert "Answer with a function" in capsys.readouterr().out


def test_checks_follow_their_arguments(capsys):
    assert nb09.check_adafactor_bytes(4 * 20 / 100, rows=10, cols=10) is True
    assert nb09.check_lion_decay(0.03, ratio=3) is True
    capsys.readouterr()
