"""Notebook 12's self-checks accept the reference solutions and reject typical mistakes."""

import pytest
import torch
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb12


def combine(grads, sizes):
    """The reference solution of the coding exercise: weight each rank by its batch size."""
    total = sum(sizes)
    return sum(n * g for n, g in zip(sizes, grads)) / total


SOLUTIONS = {
    nb12.check_zero_state_bytes: 2_000_000,  # 8 bytes x 1e6 parameters / 4 ranks
    nb12.check_linear_scaling_lr: 0.8,  # 0.1 x (8 x 32) / 32
    nb12.check_combine_gradients: combine,
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), object(), [1, 2]))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb12.check_zero_state_bytes, 8_000_000, "That is the unsharded state"),
        (nb12.check_zero_state_bytes, 1_000_000, "two moments per parameter"),
        (nb12.check_zero_state_bytes, 4_000_000, "Stage 1 shards only the optimizer state"),
        (nb12.check_zero_state_bytes, 3, "Not quite (3). Bytes of m_t and v_t"),
        (nb12.check_linear_scaling_lr, 0.1, "DDP averages the gradients of all ranks"),
        (nb12.check_linear_scaling_lr, 0.0125, "scales the rate up with the batch"),
        (nb12.check_linear_scaling_lr, 0.4, "Not quite (0.4). Global batch = ranks x local batch"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    out = rejects_with_hint(check, wrong, hint, capsys)
    assert out.count("\n") == 1  # one hint line


def plain_average(grads, sizes):
    return torch.stack(grads).mean(0)


def sum_not_mean(grads, sizes):
    return sum(n * g for n, g in zip(sizes, grads))


def unfinished(grads, sizes):
    raise NotImplementedError


def crashes(grads, sizes):
    return grads[3]


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (plain_average, "Sizes [3, 5, 8]: that is DDP's plain average over ranks"),
        (sum_not_mean, "Sizes [8, 8]: not the whole batch's gradient"),
        (unfinished, "Write the body of your function (replace `raise NotImplementedError`)"),
        (crashes, "Your function raised IndexError for sizes [8, 8]"),
        (lambda grads, sizes: 1.0, "Return one tensor of shape (5,)"),
    ],
    ids=["plain-average", "sum", "unfinished", "crash", "not-a-tensor"],
)
def test_the_coding_check_runs_the_learners_function_and_names_what_went_wrong(fn, hint, capsys):
    rejects_with_hint(nb12.check_combine_gradients, fn, hint, capsys)


def test_the_plain_average_is_right_for_equal_batches_only(capsys):
    assert nb12.check_combine_gradients(plain_average, cases=((4, 4), (8, 8)))
    assert not nb12.check_combine_gradients(plain_average, cases=((4, 4), (2, 6)))
    capsys.readouterr()
