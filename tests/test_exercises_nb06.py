"""Notebook 06's self-checks accept the reference solutions and reject typical mistakes."""

import pytest
from _exercise_tests import answer_tests, rejects_with_hint
from torch import nn

from course_lib.exercises import nb06

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb06.check_layerwise_lrs: [1.25e-3, 2.5e-3, 5e-3, 1e-2],
    nb06.check_no_decay_count: 7,  # 3 Linear biases + 2 LayerNorms x (weight, bias)
    nb06.check_group_lr_after_cosine: 0.005,  # 0.01 * (1 + cos(pi/2)) / 2
    nb06.check_state_dict_params: [3, 4, 5, 6, 7, 8, 9],  # after the 3 decayed weights
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), object(), [1, "x"], [float("inf")]))


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        (nb06.check_layerwise_lrs, [1e-2, 5e-3, 2.5e-3, 1.25e-3], "Reversed"),
        (nb06.check_layerwise_lrs, [1e-2, 5e-3], "one rate per block"),
        (nb06.check_layerwise_lrs, [6.25e-4, 1.25e-3, 2.5e-3, 5e-3], "Off by one power"),
        (nb06.check_layerwise_lrs, [1e-2] * 4, "multiply by 0.5"),
        (nb06.check_no_decay_count, 3, "LayerNorms' weights"),
        (nb06.check_no_decay_count, 5, "two tensors"),
        (nb06.check_no_decay_count, 3.5, "named_parameters"),
        (nb06.check_group_lr_after_cosine, 0.05, "group 0's lr"),
        (nb06.check_group_lr_after_cosine, 0.01, "every group"),
        (nb06.check_group_lr_after_cosine, 0.5, "own initial lr"),
        (nb06.check_state_dict_params, [0, 1, 2, 3, 4, 5, 6], "continue"),
        (nb06.check_state_dict_params, [2, 3, 4, 5, 6, 7, 8], "number the tensors"),
    ],
)
def test_check_rejects_a_typical_mistake_with_a_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_exercise_model_is_deterministic_and_has_the_described_layers():
    a, b = nb06.exercise_model(), nb06.exercise_model()
    assert [type(m) for m in a] == [
        nn.Linear,
        nn.LayerNorm,
        nn.ReLU,
        nn.Linear,
        nn.LayerNorm,
        nn.ReLU,
        nn.Linear,
    ]
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters()))


def test_checks_follow_their_arguments(capsys):
    assert nb06.check_layerwise_lrs([0.1, 1.0], lr=1.0, decay=0.1, num_blocks=2) is True
    assert nb06.check_group_lr_after_cosine(0.0, lrs=(1.0, 0.5), T_max=4, steps=4) is True
    capsys.readouterr()
