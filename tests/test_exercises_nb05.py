"""Notebook 05's self-checks accept the reference solutions and reject typical mistakes."""

import math

import pytest
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib import schedules as S
from course_lib.exercises import nb05
from course_lib.exercises.solutions.nb05 import warmup_inverse_sqrt_factor

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb05.check_onecycle_peak_step: 49,  # pct_start * T - 1 = 0.25 * 200 - 1
    nb05.check_cosine_t_max: 800,  # 20 epochs x 40 batches
    nb05.check_warmup_lr: 0.23,  # 0.5 * (0.1 + 0.9 * 4 / 10)
    nb05.check_plateau_arguments: {
        "factor": 0.2,
        "patience": 4,
        "threshold": 1e-3,
        "threshold_mode": "abs",
    },
    nb05.check_inverse_sqrt_lambda: warmup_inverse_sqrt_factor,  # the coding exercise's answer key
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", [1, 2], True, float("nan"), object()))


def test_plateau_check_accepts_an_explicit_mode_and_the_solution_drives_torch_like_sklearn():
    import torch

    answer = {**SOLUTIONS[nb05.check_plateau_arguments], "mode": "min"}
    assert nb05.check_plateau_arguments(answer) is True
    # the accepted arguments really give sklearn's rule: lr / 5 after 5 epochs without a
    # decrease of at least tol
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **answer)
    lrs = []
    for loss in [1.0, 1.0005, 0.9995, 1.0, 1.2, 0.9991, 0.5]:
        sched.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2]


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb05.check_onecycle_peak_step, 50, "Off by one"),
        (nb05.check_onecycle_peak_step, 150, "going UP"),
        (nb05.check_onecycle_peak_step, 10, "Plot one_cycle"),
        (nb05.check_cosine_t_max, 20, "once per EPOCH"),
        (nb05.check_cosine_t_max, 40, "one epoch of batches"),
        (nb05.check_cosine_t_max, 799, "Off by one"),
        (nb05.check_cosine_t_max, 1000, "in total"),
        (nb05.check_warmup_lr, 0.2, "starts at 0"),
        (nb05.check_warmup_lr, 0.275, "Off by one"),
        (nb05.check_warmup_lr, 0.5, "still inside"),
        (nb05.check_warmup_lr, 0.3, "Interpolate"),
        (
            nb05.check_plateau_arguments,
            {"factor": 0.2, "patience": 5, "threshold": 1e-3, "threshold_mode": "abs"},
            "EXCEED",
        ),
        (
            nb05.check_plateau_arguments,
            {"factor": 5, "patience": 4, "threshold": 1e-3, "threshold_mode": "abs"},
            "MULTIPLIES",
        ),
        (
            nb05.check_plateau_arguments,
            {"factor": 0.2, "patience": 4, "threshold": 1e-3, "threshold_mode": "rel"},
            "'rel'",
        ),
        (
            nb05.check_plateau_arguments,
            {
                "factor": 0.2,
                "patience": 4,
                "threshold": 1e-3,
                "threshold_mode": "abs",
                "mode": "max",
            },
            "go DOWN",
        ),
        (nb05.check_plateau_arguments, {"factor": 0.2, "patience": 4}, "missing"),
        (nb05.check_plateau_arguments, {"factor": 0.2, "min_lr": 0}, "Unknown"),
    ],
)
def test_check_rejects_a_typical_mistake_with_a_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_checks_follow_their_arguments(capsys):
    assert nb05.check_onecycle_peak_step(29, total_steps=100, pct_start=0.3) is True
    assert "step 29 = pct_start * total_steps - 1" in capsys.readouterr().out
    assert nb05.check_onecycle_peak_step(30, total_steps=100, pct_start=0.3) is False
    assert "Off by one" in capsys.readouterr().out
    # 1000 examples in batches of 256: 4 batches per epoch (the last one short), 10 epochs
    assert nb05.check_cosine_t_max(30, n_train=1000, batch_size=256, epochs=10) is False
    assert "How many optimizer steps" in capsys.readouterr().out
    assert nb05.check_cosine_t_max(10, n_train=1000, batch_size=256, epochs=10) is False
    assert "once per EPOCH" in capsys.readouterr().out
    assert nb05.check_cosine_t_max(40, n_train=1000, batch_size=256, epochs=10) is True
    assert "10 epochs x 4 batches = 40" in capsys.readouterr().out
    assert nb05.check_warmup_lr(0.1, lr=1.0, start_factor=0.1, total_iters=5, step=0) is True
    assert "Correct" in capsys.readouterr().out
    assert nb05.check_warmup_lr(0.28, lr=1.0, start_factor=0.1, total_iters=5, step=0) is False
    assert "Off by one" in capsys.readouterr().out
    answer = {"factor": 0.2, "patience": 9, "threshold": 0.01, "threshold_mode": "abs"}
    assert nb05.check_plateau_arguments(answer, n_iter_no_change=10, tol=0.01) is True
    assert "patience=9" in capsys.readouterr().out
    answer = {**answer, "patience": 10, "threshold": 1e-3}
    assert nb05.check_plateau_arguments(answer, n_iter_no_change=10, tol=0.01) is False
    out = capsys.readouterr().out
    assert "EXCEED" in out and "patience=9" in out and "sklearn's tol is 0.01" in out


@pytest.mark.parametrize(
    ("check", "junk", "hint"),
    [
        (nb05.check_onecycle_peak_step, "fifty", "Answer with a number, got 'fifty'"),
        (nb05.check_cosine_t_max, float("inf"), "Answer with a finite number"),
        (nb05.check_warmup_lr, True, "Answer with a number, got True"),
        (nb05.check_plateau_arguments, [0.2, 4], "Answer with a dict of keyword arguments"),
    ],
)
def test_check_says_what_kind_of_answer_it_needs(check, junk, hint, capsys):
    rejects_with_hint(check, junk, hint, capsys)


# The coding exercise: warm-up then inverse square root as a LambdaLR factor (check_schedule).
def returns_the_rate(t):
    return 0.1 * warmup_inverse_sqrt_factor(t)


def warmup_one_step_early(t):
    return min(1.0, (t + 1) / 10) if t < 10 else warmup_inverse_sqrt_factor(t)


def unscaled_decay(t):
    return t / 10 if t < 10 else 1 / math.sqrt(t)


def inverse_not_sqrt(t):
    return t / 10 if t < 10 else 10 / t


def no_warmup_branch(t):
    return math.sqrt(10 / t)


def unfinished(t):
    raise NotImplementedError  # your code here


@pytest.mark.parametrize(
    ("fn", "hints"),
    [
        (returns_the_rate, ["Step 1 is wrong", "Your function returns the learning rate"]),
        (warmup_one_step_early, ["Step 0 is wrong: LambdaLR gives lr 0.01", "One step early"]),
        (unscaled_decay, ["Step 10 is wrong", "Scale it by sqrt(T_w)"]),
        (inverse_not_sqrt, ["Step 11 is wrong", "the inverse SQUARE ROOT is sqrt(T_w / t)"]),
        (no_warmup_branch, ["raised ZeroDivisionError at step 0", "use it only from t = T_w on"]),
        (unfinished, ["Write the body of your function (replace `raise NotImplementedError`)"]),
        ("abc", ["Answer with a function of the step"]),
    ],
    ids=["rate", "early", "unscaled", "inverse", "zero-division", "unfinished", "junk"],
)
def test_inverse_sqrt_check_names_the_first_wrong_step_and_the_mistake(fn, hints, capsys):
    out = rejects_with_hint(nb05.check_inverse_sqrt_lambda, fn, hints[0], capsys)
    assert all(h in out for h in hints), out


def test_inverse_sqrt_answer_key_passes_and_is_the_closed_form(capsys):
    assert nb05.check_inverse_sqrt_lambda(warmup_inverse_sqrt_factor) is True
    assert "Correct: all 101 rates match" in capsys.readouterr().out
    assert nb05.check_inverse_sqrt_lambda(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    schedule = S.InverseSqrt(0.1, warmup_steps=10)
    assert [0.1 * warmup_inverse_sqrt_factor(t) for t in (0, 5, 10, 40)] == pytest.approx(
        [schedule(t) for t in (0, 5, 10, 40)], rel=1e-12
    )
    assert schedule(10) == 0.1 and schedule(40) == pytest.approx(0.05)
