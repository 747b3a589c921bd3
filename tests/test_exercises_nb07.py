"""Notebook 07's self-checks accept the reference solutions and reject typical mistakes with a hint."""

import pytest
from _exercise_tests import answer_tests

from course_lib.exercises import nb07

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb07.check_feature_extraction_parameters: 3210,  # Linear(64 * 5 = 320, 10): 3200 + 10
    nb07.check_gradual_trainable: 27914,  # head 3210 + block3 12352 + block2 12352
    nb07.check_backbone_start_lr: 4e-5,  # (1e-2 / 10) / 25
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), float("inf"), object(), [1, 2]))


# For each typical mistake: the hint the learner must see (the whole printed line).
MISTAKES = [
    (
        nb07.check_feature_extraction_parameters,
        28298,  # every parameter of the model
        "That is every parameter: under feature extraction the backbone is frozen.",
    ),
    (
        nb07.check_feature_extraction_parameters,
        3200,  # the head's weight matrix only
        "Almost: the head's bias trains too.",
    ),
    (
        nb07.check_feature_extraction_parameters,
        25088,  # the backbone
        "That is the number of FROZEN parameters (the backbone).",
    ),
    (
        nb07.check_feature_extraction_parameters,
        10,  # the number of classes
        "Not quite (10). Count the parameters with requires_grad=True of "
        "build_strategy('feature_extraction').model.",
    ),
    (
        nb07.check_gradual_trainable,
        15562,  # epoch 1: head and block3
        "Off by one epoch: that is epoch 1. Epochs count from 0 (head only).",
    ),
    (
        nb07.check_gradual_trainable,
        28298,  # epoch 3: everything
        "Off by one epoch: that is epoch 3, when every block trains.",
    ),
    (
        nb07.check_gradual_trainable,
        3210,  # the head alone (epoch 0, two epochs off)
        "Not quite (3210). Build the strategy, call on_epoch_start(e) for e = 0..2, then count "
        "the parameters with requires_grad=True.",
    ),
    (
        nb07.check_backbone_start_lr,
        4e-4,  # the head's starting rate
        "That is the head's starting rate; the backbone's peak is 10x lower.",
    ),
    (
        nb07.check_backbone_start_lr,
        1e-3,  # the backbone's peak
        "That is the backbone's PEAK; one-cycle starts lower (warm-up).",
    ),
    (
        nb07.check_backbone_start_lr,
        1e-4,  # peak / 10 instead of / 25
        "Not quite (0.0001). One-cycle starts at max_lr / div_factor for each group.",
    ),
]


@pytest.mark.parametrize(
    ("check", "wrong", "hint"), MISTAKES, ids=[f"{c.__name__}-{w:g}" for c, w, _ in MISTAKES]
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    printed = capsys.readouterr().out
    assert printed == hint + "\n"  # exactly that hint: no "Correct", no second message
    # a hint points at the mistake without giving the answer away
    assert str(SOLUTIONS[check]) not in printed and f"{SOLUTIONS[check]:g}" not in printed


@pytest.mark.parametrize("check", list(SOLUTIONS), ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("junk", "hint"),
    [
        ("abc", "Answer with a number, got 'abc'."),
        (True, "Answer with a number, got True."),
        (float("nan"), "Answer with a finite number, got nan."),
        ([1, 2], "Answer with a number, got [1, 2]."),
    ],
)
def test_each_junk_answer_gets_its_own_hint(check, junk, hint, capsys):
    assert check(junk) is False
    assert capsys.readouterr().out == hint + "\n"


def test_checks_follow_their_arguments(capsys):
    assert nb07.check_gradual_trainable(3210, epoch=0) is True
    assert capsys.readouterr().out == (
        "Correct: 3210 (head); block3, block2 and block1 are still frozen.\n"
    )
    assert nb07.check_gradual_trainable(27914) is True
    assert (
        capsys.readouterr().out
        == "Correct: 27914 (head, block3 and block2); block1 is still frozen.\n"
    )
    assert nb07.check_gradual_trainable(28298, epoch=3) is True
    assert "every block trains" in capsys.readouterr().out
    assert nb07.check_backbone_start_lr(1e-3 / 25, head_lr=1e-3, factor=1.0) is True
    assert "Correct: 4e-05 = 0.001 / 25." in capsys.readouterr().out
    assert nb07.check_backbone_start_lr(4e-6, head_lr=1e-3, factor=1.0) is False
    assert "Not quite (4e-06)" in capsys.readouterr().out
