"""Notebook 11's self-checks accept the reference solutions and reject typical mistakes."""

import pytest
import torch
import torch.nn.functional as F
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb11


def accumulate(model, optimizer, micro_batches):
    """The reference solution of the coding exercise: weights n_b / N, one zero_grad, one step."""
    n = sum(len(y) for _, y in micro_batches)
    optimizer.zero_grad()
    for x, y in micro_batches:
        (F.cross_entropy(model(x), y) * (len(y) / n)).backward()
    optimizer.step()


SOLUTIONS = {
    nb11.check_last_window_weight: 0.04,  # 4 of 100 examples
    nb11.check_scale_after_skips: 16384,  # 65536 / 2**3 * 2
    nb11.check_bf16_spacing: 2**-7,  # 8 significant bits
    nb11.check_adam_state_bytes: 8,  # exp_avg and exp_avg_sq, 4 bytes each
    nb11.check_accumulation: accumulate,
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), object(), [1, 2]))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb11.check_last_window_weight, 0.25, "1/k = 0.25 is `loss / k`"),
        (nb11.check_last_window_weight, 1, "Weight 1 is summing the losses"),
        (nb11.check_last_window_weight, 4, "4 is n_b; the weight of a mean"),
        (nb11.check_last_window_weight, 0.1, "Not quite (0.1). The mean over all N examples"),
        (nb11.check_scale_after_skips, 8192, "8192 is after the skips; 2000 clean steps"),
        (nb11.check_scale_after_skips, 131072, "Each skipped step halves the scale first"),
        (nb11.check_scale_after_skips, 1000, "Not quite (1000). Halve 65536 once per skipped"),
        (nb11.check_bf16_spacing, 2**-8, "That is half the spacing"),
        (nb11.check_bf16_spacing, 2**-10, "That is float16's spacing"),
        (nb11.check_bf16_spacing, 2**-23, "That is float32's spacing"),
        (nb11.check_bf16_spacing, 0.01, "Not quite (0.01). With p significant bits"),
        (nb11.check_adam_state_bytes, 4, "That is one buffer; Adam keeps two"),
        (nb11.check_adam_state_bytes, 12, "That counts the weights too"),
        (nb11.check_adam_state_bytes, 16, "Not quite (16). Count Adam's buffers"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    out = rejects_with_hint(check, wrong, hint, capsys)
    assert out.count("\n") == 1  # one hint line


def summed(model, optimizer, micro_batches):
    optimizer.zero_grad()
    for x, y in micro_batches:
        F.cross_entropy(model(x), y).backward()
    optimizer.step()


def divided_by_k(model, optimizer, micro_batches):
    optimizer.zero_grad()
    for x, y in micro_batches:
        (F.cross_entropy(model(x), y) / len(micro_batches)).backward()
    optimizer.step()


def zero_grad_inside(model, optimizer, micro_batches):
    n = sum(len(y) for _, y in micro_batches)
    for x, y in micro_batches:
        optimizer.zero_grad()
        (F.cross_entropy(model(x), y) * (len(y) / n)).backward()
    optimizer.step()


def step_inside(model, optimizer, micro_batches):
    n = sum(len(y) for _, y in micro_batches)
    optimizer.zero_grad()
    for x, y in micro_batches:
        (F.cross_entropy(model(x), y) * (len(y) / n)).backward()
        optimizer.step()


def no_zero_grad(model, optimizer, micro_batches):
    n = sum(len(y) for _, y in micro_batches)
    for x, y in micro_batches:
        (F.cross_entropy(model(x), y) * (len(y) / n)).backward()
    optimizer.step()


def no_step(model, optimizer, micro_batches):
    optimizer.zero_grad()


def mse_instead(model, optimizer, micro_batches):
    optimizer.zero_grad()
    for x, y in micro_batches:
        out = model(x)
        F.mse_loss(out, F.one_hot(y, 10).to(out.dtype)).backward()
    optimizer.step()


def unfinished(model, optimizer, micro_batches):
    raise NotImplementedError


def crashes(model, optimizer, micro_batches):
    return model(torch.zeros(2, 3))


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (summed, "The loss is not divided: summing the micro-batch losses"),
        (divided_by_k, "You divided by k: right only for equal micro-batches"),
        (zero_grad_inside, "zero_grad is inside the loop"),
        (step_inside, "called optimizer.step() 3 times: step is inside the loop"),
        (no_zero_grad, "The gradient of the previous step was still in .grad"),
        (no_step, "never called optimizer.step()"),
        (mse_instead, "Zero the gradients once, backward each micro-batch's loss times n_b / N"),
        (unfinished, "Write the body of your function (replace `raise NotImplementedError`)"),
        (crashes, "Your function raised ValueError"),
    ],
    ids=[
        "sum",
        "over-k",
        "zero-grad-inside",
        "step-inside",
        "no-zero-grad",
        "no-step",
        "mse",
        "unfinished",
        "crash",
    ],
)
def test_the_coding_check_names_the_mistake(fn, hint, capsys):
    out = rejects_with_hint(nb11.check_accumulation, fn, hint, capsys)
    if fn in (summed, divided_by_k, zero_grad_inside, no_zero_grad, mse_instead):
        assert "first in features.block1.linear.weight" in out  # the first parameter that differs


def test_the_weighting_mistakes_are_distinguishable_on_the_checks_micro_batches():
    """Uneven sizes make `loss / k` differ from n_b / N (with even ones the check could not tell)."""
    assert len(set(nb11.SIZES)) > 1
    right = nb11.weighted_step([s / sum(nb11.SIZES) for s in nb11.SIZES])
    over_k = nb11.weighted_step([1 / len(nb11.SIZES)] * len(nb11.SIZES))
    assert not nb11.close(right, over_k)
