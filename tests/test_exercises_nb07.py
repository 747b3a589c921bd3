"""Notebook 07's self-checks accept the reference solutions and reject typical mistakes."""

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


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb07.check_feature_extraction_parameters, 28298, "every parameter"),
        (nb07.check_feature_extraction_parameters, 3200, "bias"),
        (nb07.check_feature_extraction_parameters, 25088, "FROZEN"),
        (nb07.check_feature_extraction_parameters, 10, "requires_grad=True"),
        (nb07.check_gradual_trainable, 15562, "Off by one epoch"),
        (nb07.check_gradual_trainable, 28298, "Off by one epoch"),
        (nb07.check_gradual_trainable, 3210, "on_epoch_start"),
        (nb07.check_backbone_start_lr, 4e-4, "head's starting rate"),
        (nb07.check_backbone_start_lr, 1e-3, "PEAK"),
        (nb07.check_backbone_start_lr, 1e-4, "div_factor"),
    ],
)
def test_check_rejects_a_typical_mistake_with_a_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    assert hint in capsys.readouterr().out


def test_checks_follow_their_arguments(capsys):
    assert nb07.check_gradual_trainable(3210, epoch=0) is True
    assert nb07.check_backbone_start_lr(1e-3 / 25, head_lr=1e-3, factor=1.0) is True
    capsys.readouterr()
