"""Notebook 08's self-checks accept the reference solutions and reject typical mistakes."""

import copy
import math

import pytest
import torch.nn.functional as F
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb08
from course_lib.exercises.solutions.nb08 import range_test

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb08.check_sweep_lr: math.sqrt(1e-6 * 10.0),  # the geometric midpoint, 10 ** -2.5
    nb08.check_smoothed_loss: (0.98 * 0.02 * 2.0 + 0.02 * 1.0) / (1 - 0.98**2),  # 1.4949...
    nb08.check_onecycle_momentum: 0.85,  # base_momentum at the peak rate
    nb08.check_comparison_runs: 3 * 3 * 1 + 3 * 5,  # 9 tuning runs + 15 re-trained runs
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), float("inf"), object(), [1, 2]))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        # the arithmetic midpoint (1e-6 + 10) / 2 instead of the geometric one
        (
            nb08.check_sweep_lr,
            5.0000005,
            "That is the arithmetic midpoint: the sweep is exponential",
        ),
        (
            nb08.check_sweep_lr,
            1e-3,
            "Not quite (0.001). Plug t=50, T=101 into gamma_0 (gamma_1/gamma_0)^(t/(T-1)).",
        ),
        # the raw average a_1 = 0.98 * 0.02 * 2 + 0.02 * 1, without the bias correction
        (nb08.check_smoothed_loss, 0.0592, "That is the raw average a_t: divide by 1 - beta^(t+1)"),
        (nb08.check_smoothed_loss, 1.5, "That is the plain mean; the moving average weights"),
        (nb08.check_smoothed_loss, 1.0, "Not quite (1). Run the two-line recursion by hand"),
        (nb08.check_onecycle_momentum, 0.95, "0.95 is the momentum at the start and the end"),
        (
            nb08.check_onecycle_momentum,
            0.9,
            "0.9 is the optimizer's own momentum; OneCycleLR overwrites",
        ),
        (nb08.check_onecycle_momentum, 0.5, "Not quite (0.5). Record param_groups[0]['momentum']"),
        (nb08.check_comparison_runs, 9, "That counts the tuning only"),
        (nb08.check_comparison_runs, 15, "That counts the evaluation only"),
        # tuning on every evaluation seed: 3 x 3 x 5
        (nb08.check_comparison_runs, 45, "Tuning runs on the tuning seed only"),
        (nb08.check_comparison_runs, 30, "Not quite (30). Count the tuning runs"),
    ],
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    out = rejects_with_hint(check, wrong, hint, capsys)
    assert out.count("\n") == 1  # one hint line


@pytest.mark.parametrize(
    ("check", "junk", "hint"),
    [
        (nb08.check_sweep_lr, "abc", "Answer with a number, got 'abc'."),
        (nb08.check_smoothed_loss, True, "Answer with a number, got True."),
        (nb08.check_onecycle_momentum, float("nan"), "Answer with a finite number, got nan."),
    ],
)
def test_check_says_why_an_answer_is_not_a_number(check, junk, hint, capsys):
    assert check(junk) is False
    assert capsys.readouterr().out.strip() == hint


def test_checks_follow_their_arguments(capsys):
    assert nb08.check_sweep_lr(1e-2, start_lr=1e-4, end_lr=1.0, num_iter=3, t=1) is True
    assert nb08.check_smoothed_loss(3.0, losses=(3.0,)) is True
    capsys.readouterr()


# --- the coding exercise: a range test that restores the model and the optimizer ------------------


def _range_test(
    *,
    rate="exponential",
    set_after=False,
    smooth="corrected",
    stop=True,
    restart=True,
    restore="both",
):
    """A learner's range test, right or with one of the typical mistakes."""

    def schedule(t, start_lr, end_lr, num_iter):
        if rate == "linear":
            return start_lr + (end_lr - start_lr) * t / (num_iter - 1)
        exponent = t / num_iter if rate == "over T" else t / (num_iter - 1)
        return start_lr * (end_lr / start_lr) ** exponent

    def set_rate(optimizer, lr):
        for group in optimizer.param_groups:
            group["lr"] = lr

    def range_test(model, optimizer, loader, start_lr, end_lr, num_iter, beta=0.98):
        saved = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
        lrs, smoothed, avg, best = [], [], 0.0, math.inf
        batches = (b for _ in range(num_iter) for b in loader) if restart else iter(loader)
        for t, (x, y) in zip(range(num_iter), batches):
            lr = schedule(t, start_lr, end_lr, num_iter)
            if not set_after:
                set_rate(optimizer, lr)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if set_after:
                set_rate(optimizer, lr)
            avg = beta * avg + (1 - beta) * loss.item()
            value = {"corrected": avg / (1 - beta ** (t + 1)), "raw": loss.item(), "none": avg}
            lrs.append(lr)
            smoothed.append(value[smooth])
            best = min(best, smoothed[-1])
            if stop and smoothed[-1] > 4 * best:
                break
        if restore != "nothing":
            model.load_state_dict(saved[0])
        if restore == "both":
            optimizer.load_state_dict(saved[1])
        elif restore == "lr":
            set_rate(optimizer, saved[1]["param_groups"][0]["lr"])
        return lrs, smoothed

    return range_test


@pytest.mark.parametrize("fn", [range_test, _range_test()], ids=["answer-key", "learner-style"])
def test_range_test_answer_key_passes(fn, capsys):
    assert nb08.check_range_test(fn) is True
    out = capsys.readouterr().out
    assert out.startswith(
        "Correct: the same 32 rates and smoothed losses as lr_find, stopped at lr"
    )
    assert out.endswith("on divergence, and the model and optimizer restored.\n")


RANGE_TEST_MISTAKES = {
    "linear spacing": (
        _range_test(rate="linear"),
        "The rates grow linearly: the sweep is exponential",
    ),
    "rate set after the step": (
        _range_test(set_after=True),
        "Each step used the previous step's rate (the first one the optimizer's own): set "
        "group['lr'] before optimizer.step(), not after.",
    ),
    "exponent t / T": (
        _range_test(rate="over T"),
        "The exponent is t / num_iter: use t / (num_iter - 1)",
    ),
    "unsmoothed": (
        _range_test(smooth="raw"),
        "Those are the raw batch losses: return the smoothed ones",
    ),
    "no bias correction": (
        _range_test(smooth="none"),
        "The moving average is not bias-corrected: it starts at 0",
    ),
    "no early stop": (
        _range_test(stop=False),
        "Your sweep ran all 40 steps; lr_find stopped after 32, when the smoothed loss exceeded 4 "
        "times its best so far",
    ),
    "loader not restarted": (
        _range_test(restart=False),
        "Your sweep stopped after 4 steps, when the loader ran out: start it again",
    ),
    "nothing restored": (
        _range_test(restore="nothing"),
        "The model keeps the weights of the sweep's end: save copy.deepcopy(model.state_dict())",
    ),
    "optimizer not restored": (
        _range_test(restore="model"),
        "The optimizer's lr is left at 5.88, not its own 0.05",
    ),
    "only the optimizer's rate restored": (
        _range_test(restore="lr"),
        "The optimizer's state (its momentum buffers) is the sweep's: restore "
        "optimizer.state_dict()",
    ),
}


@pytest.mark.parametrize(
    ("fn", "hint"), RANGE_TEST_MISTAKES.values(), ids=list(RANGE_TEST_MISTAKES)
)
def test_range_test_mistake_gets_its_hint(fn, hint, capsys):
    out = rejects_with_hint(nb08.check_range_test, fn, hint, capsys)
    assert out.count("\n") == 1  # one line: the hint


def test_range_test_unfinished_or_malformed_answers_say_how_to_proceed(capsys):
    def skeleton(model, optimizer, loader, start_lr, end_lr, num_iter):
        raise NotImplementedError

    assert nb08.check_range_test(skeleton) is False
    assert "Write the body of your function" in capsys.readouterr().out
    assert nb08.check_range_test(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert nb08.check_range_test(lambda *args: 3) is False
    assert (
        capsys.readouterr().out == "Return a pair (lrs, smoothed) of two lists of numbers, got 3.\n"
    )
    assert nb08.check_range_test(lambda *args: ([1.0], [])) is False
    assert "lrs has 1 values and smoothed 0" in capsys.readouterr().out


def test_reference_sweep_is_lr_find_stopping_on_divergence_after_restarting_the_loader():
    result, used = nb08.reference_sweep()
    assert result.diverged and nb08.BATCHES < len(result.lrs) < nb08.NUM_ITER
    assert used == pytest.approx(result.lrs, rel=1e-12)
    assert result.lrs == pytest.approx(nb08.sweep_lrs(1e-4, 100.0, 40)[: len(result.lrs)])
    _, opt, _ = nb08.sweep_setup()
    assert opt.state and opt.param_groups[0]["lr"] == nb08.LR  # state to restore, a rate to restore


def test_comparison_runs_check_follows_its_arguments(capsys):
    # 2 schedules x 2 candidates x 2 tuning seeds + 2 schedules x 3 evaluation seeds
    assert nb08.check_comparison_runs(14, schedules=2, candidates=2, tune_seeds=2, eval_seeds=3)
    assert "8 tuning runs on the validation split and 6 re-trained runs" in capsys.readouterr().out
    assert nb08.check_comparison_runs(24, schedules=2, candidates=2, tune_seeds=2) is False
