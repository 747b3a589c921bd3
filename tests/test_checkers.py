"""check_optimizer and check_schedule: right answers pass, each typical mistake gets its own hint.

The wrong answers are the catalogue in tests/_wrong_implementations.py; the right ones are
course_lib.exercises.solutions.reference and torch's own classes.
"""

import pytest
import torch
from _exercise_tests import rejects_with_hint
from _wrong_implementations import OPTIMIZERS, QUIRKY, SCHEDULES

import course_lib.optim
from course_lib.exercises import check_optimizer, check_schedule
from course_lib.exercises._variants import AdagradRule, AdamRule, RMSpropRule, SGDRule, YogiRule
from course_lib.exercises.checkers import COURSE_OPTIMIZERS, TORCH_OPTIMIZERS
from course_lib.exercises.solutions import reference

HYPER = {like: hyper for like, hyper in reference.LIKE.values()}


def _name(x) -> str:
    return getattr(x, "__name__", str(x))


@pytest.mark.parametrize("cls", list(reference.LIKE), ids=_name)
def test_check_optimizer_accepts_reference_solutions(cls, capsys):
    like, hyper = reference.LIKE[cls]
    assert check_optimizer(cls, like=like, **hyper) is True
    out = capsys.readouterr().out
    assert f"Correct: your {cls.__name__} matches" in out
    assert "two groups, a late gradient, a changing lr, weight decay, maximize" in out


@pytest.mark.parametrize("like", TORCH_OPTIMIZERS)
def test_check_optimizer_accepts_torch_optim_own_classes(like, capsys):
    hyper = HYPER.get(like, {})  # the reference solutions' arguments: torch's run is then reused
    assert check_optimizer(getattr(torch.optim, like), like=like, **hyper) is True
    assert f"matches torch.optim.{like} on " in capsys.readouterr().out


@pytest.mark.parametrize("like", COURSE_OPTIMIZERS)
def test_check_optimizer_accepts_course_lib_optimizers_torch_lacks(like, capsys):
    assert check_optimizer(getattr(course_lib.optim, like), like=like) is True
    assert f"matches course_lib.optim.{like}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("rule", "like", "hyper"),
    [
        (AdamRule, "Adam", {"lr": 0.01, "amsgrad": True, "decoupled_weight_decay": True}),
        (SGDRule, "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}),
        (SGDRule, "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (RMSpropRule, "RMSprop", {"momentum": 0.5, "centered": True}),
        (AdagradRule, "Adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1}),
        (YogiRule, "Yogi", {"lr": 0.1, "initial_accumulator": 1e-3}),
    ],
    ids=lambda x: _name(x) if isinstance(x, type) else None,
)
def test_diagnosis_rules_without_a_mistake_equal_torch(rule, like, hyper, capsys):
    """The rule classes that reproduce mistakes are the reference's rule when no flag is set."""
    assert check_optimizer(rule, like=like, **hyper) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("cls", list(OPTIMIZERS), ids=_name)
def test_check_optimizer_gives_its_hint_for_each_wrong_implementation(cls, capsys):
    like, hyper, phrase = OPTIMIZERS[cls]
    rejects_with_hint(lambda c: check_optimizer(c, like=like, **hyper), cls, phrase, capsys)


@pytest.mark.parametrize("cls", list(QUIRKY), ids=_name)
def test_check_optimizer_passes_right_answers_with_a_quirk_and_says_so(cls, capsys):
    like, hyper, line = QUIRKY[cls]
    assert check_optimizer(cls, like=like, **hyper) is True
    out = capsys.readouterr().out
    assert line in out and "Correct" in out


def test_check_optimizer_names_case_step_parameter_and_values_of_the_first_mismatch(capsys):
    from _wrong_implementations import EpsInsideSqrt

    assert check_optimizer(EpsInsideSqrt, like="Adam", lr=0.01) is False
    out = capsys.readouterr().out
    assert 'Case "one group", step 1, parameter' in out
    assert "the parameter differs." in out and "expected [" in out and "got      [" in out


def test_check_optimizer_asks_for_an_answer_when_given_none_or_junk(capsys):
    assert check_optimizer(None, like="Adam") is False
    assert "Fill in your answer (replace None)" in capsys.readouterr().out
    assert (
        check_optimizer(
            reference.Adam(  # an instance, not the class
                [torch.zeros(1, requires_grad=True)]
            ),
            like="Adam",
        )
        is False
    )
    assert "Answer with a subclass of torch.optim.Optimizer" in capsys.readouterr().out


def test_check_optimizer_names_the_unfinished_method_when_it_is_not_step(capsys):
    class HalfWritten(reference.SGD):
        def step(self, closure=None):
            self.direction()

        def direction(self):
            raise NotImplementedError  # the learner's part

    assert check_optimizer(HalfWritten, like="SGD", lr=0.1) is False
    out = capsys.readouterr().out
    assert "Write the body of direction() (replace `raise NotImplementedError`)" in out


def test_check_optimizer_refuses_an_unknown_like_with_the_valid_names():
    with pytest.raises(ValueError, match=r"like must be one of .*'Adam'.*'Yogi'.*got 'Adamm'"):
        check_optimizer(reference.Adam, like="Adamm")


def test_check_optimizer_lets_the_reference_refuse_bad_hyperparameters():
    with pytest.raises(ValueError, match="Invalid learning rate"):
        check_optimizer(reference.Adam, like="Adam", lr=-1.0)


@pytest.mark.parametrize("fn", list(reference.SCHEDULES), ids=_name)
def test_check_schedule_accepts_reference_solutions(fn, capsys):
    like, hyper = reference.SCHEDULES[fn]
    assert check_schedule(fn, like=like, **hyper) is True
    assert "Correct: all" in capsys.readouterr().out


@pytest.mark.parametrize("fn", list(SCHEDULES), ids=lambda f: SCHEDULES[f][2])
def test_check_schedule_gives_its_hint_for_each_wrong_factor(fn, capsys):
    like, hyper, phrase = SCHEDULES[fn]
    out = rejects_with_hint(lambda f: check_schedule(f, like=like, **hyper), fn, phrase, capsys)
    if "raised" not in phrase and "returned" not in phrase:
        assert out.startswith("Step ") and "wants" in out


def test_check_schedule_says_how_to_proceed_for_none_unfinished_and_junk(capsys):
    def unfinished(t):
        raise NotImplementedError  # the factor

    assert check_schedule(None, warmup_steps=10) is False
    assert "Fill in your answer (replace None)" in capsys.readouterr().out
    assert check_schedule(unfinished, warmup_steps=10) is False
    assert "Write the body of your function" in capsys.readouterr().out
    assert check_schedule(0.5, warmup_steps=10) is False
    assert "Answer with a function of the step" in capsys.readouterr().out


def test_check_schedule_refuses_an_unknown_like_and_names_missing_arguments():
    with pytest.raises(ValueError, match=r"like must be one of .*'StepLR'.*'warmup_cosine'"):
        check_schedule(lambda t: 1.0, like="cosine_with_warmup")
    with pytest.raises(TypeError, match=r"warmup_cosine.*warmup_steps"):
        check_schedule(lambda t: 1.0, like="warmup_cosine")
