"""Notebook 06's self-checks accept the reference solutions and reject typical mistakes."""

import pytest
from _exercise_tests import answer_tests, rejects_with_hint
from torch import nn

from course_lib.exercises import nb06
from course_lib.exercises.solutions.nb06 import layerwise_groups
from course_lib.param_groups import layerwise_lr

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb06.check_layerwise_lrs: [1.25e-3, 2.5e-3, 5e-3, 1e-2],
    nb06.check_no_decay_count: 7,  # 3 Linear biases + 2 LayerNorms x (weight, bias)
    nb06.check_group_lr_after_cosine: 0.005,  # 0.01 * (1 + cos(pi/2)) / 2
    nb06.check_state_dict_params: [3, 4, 5, 6, 7, 8, 9],  # after the 3 decayed weights
    nb06.check_layerwise_groups: layerwise_groups,  # the coding exercise's answer key
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


def _blocks(model):
    """The parameters of each block (a Linear and the layers after it), input first."""
    blocks = []
    for module in model:
        if isinstance(module, nn.Linear):
            blocks.append([])
        blocks[-1].extend(module.parameters())
    return blocks


def decay_from_the_bottom(model, lr, decay):
    return [{"params": ps, "lr": lr * decay**i} for i, ps in enumerate(_blocks(model))]


def head_not_at_full_lr(model, lr, decay):
    blocks = _blocks(model)
    return [{"params": ps, "lr": lr * decay ** (len(blocks) - i)} for i, ps in enumerate(blocks)]


def lr_to_the_power_k(model, lr, decay):
    blocks = _blocks(model)
    return [{"params": ps, "lr": lr ** (len(blocks) - 1 - i)} for i, ps in enumerate(blocks)]


def product_to_the_power_k(model, lr, decay):
    blocks = _blocks(model)
    return [
        {"params": ps, "lr": (lr * decay) ** (len(blocks) - 1 - i)} for i, ps in enumerate(blocks)
    ]


def lr_forgotten(model, lr, decay):
    blocks = _blocks(model)
    return [{"params": ps, "lr": decay ** (len(blocks) - 1 - i)} for i, ps in enumerate(blocks)]


def norms_forgotten(model, lr, decay):
    linears = [m for m in model if isinstance(m, nn.Linear)]
    n = len(linears)
    return [
        {"params": m.parameters(), "lr": lr * decay ** (n - 1 - i)} for i, m in enumerate(linears)
    ]


def head_twice(model, lr, decay):
    return [*layerwise_groups(model, lr, decay), {"params": model[6].parameters(), "lr": lr}]


def every_layer_a_block(model, lr, decay):
    layers = [m for m in model if list(m.parameters())]
    n = len(layers)
    return [
        {"params": m.parameters(), "lr": lr * decay ** (n - 1 - i)} for i, m in enumerate(layers)
    ]


def fixed_numbers(model, lr, decay):
    return layerwise_groups(model, 1e-2, 0.5)


def unfinished(model, lr, decay):
    raise NotImplementedError  # your code here


def crashes(model, lr, decay):
    return [{"params": model.head.parameters(), "lr": lr}]


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (decay_from_the_bottom, "Decay applied from the bottom: the input block has the full lr"),
        (head_not_at_full_lr, "The head is not at the full rate"),
        (lr_to_the_power_k, "not lr**k"),
        (product_to_the_power_k, "not (lr * decay)**k"),
        (lr_forgotten, "decay**k alone: multiply it by lr"),
        (
            norms_forgotten,
            "4 parameter(s) in no group: 1.weight, 1.bias, 4.weight, 4.bias. The optimizer would "
            "never train them",
        ),
        (head_twice, "Parameter 6.weight is in groups 2 and 3: torch refuses"),
        (every_layer_a_block, "a LayerNorm belongs to the block of the Linear layer before it"),
        (fixed_numbers, "with lr=0.1, decay=0.8 your function gives the same rates"),
        (unfinished, "Write the body of layerwise_groups (replace `raise NotImplementedError`)"),
        (crashes, "Your function raised AttributeError"),
        (lambda model, lr, decay: 3, "Return a list of group dicts, got int"),
        (lambda model, lr, decay: [{"lr": lr}], "each with a 'params' list and an 'lr'"),
    ],
    ids=[
        "bottom",
        "head",
        "lr-power",
        "product-power",
        "no-lr",
        "missing",
        "duplicated",
        "per-layer",
        "fixed",
        "unfinished",
        "crash",
        "not-a-list",
        "no-params",
    ],
)
def test_layerwise_check_names_the_typical_mistake(fn, hint, capsys):
    rejects_with_hint(nb06.check_layerwise_groups, fn, hint, capsys)


def test_layerwise_check_agrees_with_course_lib_and_leaves_the_model_alone(capsys):
    model = nb06.exercise_model()
    ours = layerwise_groups(model, 1e-2, 0.5)
    theirs = layerwise_lr(model, nb06.EXERCISE_BLOCKS, lr=1e-2, decay=0.5)
    assert [[id(p) for p in g["params"]] for g in ours] == [
        [id(p) for p in g["params"]] for g in theirs
    ]
    assert [g["lr"] for g in ours] == [g["lr"] for g in theirs] == [2.5e-3, 5e-3, 1e-2]
    # a plain list of parameters is one group at the default rate: every parameter at lr
    assert nb06.check_layerwise_groups(lambda model, lr, decay: list(model.parameters())) is False
    assert "Every parameter has lr 0.01" in capsys.readouterr().out
