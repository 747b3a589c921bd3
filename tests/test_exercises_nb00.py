"""Notebook 00's self-checks accept the reference answers and reject typical wrong ones."""

import pytest
import torch
from _exercise_tests import rejects_with_hint
from torch import nn

from course_lib.exercises import nb00


def _mlp():
    return nn.Sequential(
        nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def test_reference_answers_pass(capsys):
    assert nb00.check_num_parameters(40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10, _mlp())
    assert nb00.check_grad_factor(2)
    assert nb00.check_sgd_group_keys(
        {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}
    )
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        # forgot the biases: the hint spells out weights + biases per layer
        (
            lambda a: nb00.check_num_parameters(a, _mlp()),
            40 * 100 + 100 * 100 + 100 * 10,
            "Not quite (15000). A Linear(n_in, n_out) layer holds n_in*n_out weights and n_out "
            "biases; add them up: (40*100 + 100) + (100*100 + 100) + (100*10 + 10).",
        ),
        (
            nb00.check_grad_factor,
            1,
            "Not quite: backward() does not overwrite .grad. Run the experiment in the notebook.",
        ),
        (nb00.check_grad_factor, 4, "Not quite (4.0): each backward() adds one more copy"),
        (nb00.check_grad_factor, "two", "Answer with a number, got 'two'."),
        (
            nb00.check_sgd_group_keys,
            {"lr", "betas"},
            "Not quite. Missing: ['dampening', 'maximize', 'momentum', 'nesterov', "
            "'weight_decay']; not SGD keys: ['betas']. Print optimizer.param_groups[0].keys()",
        ),
        (
            nb00.check_sgd_group_keys,
            {"lr", "momentum", "dampening", "weight_decay", "nesterov"},
            "Missing: ['maximize']; not SGD keys: none.",
        ),
    ],
)
def test_wrong_answers_print_the_hint_and_return_false(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_none_asks_to_fill_in(capsys):
    assert not nb00.check_grad_factor(None)
    assert "Fill in" in capsys.readouterr().out


def test_sgd_keys_check_agrees_with_installed_torch():
    p = nn.Parameter(torch.zeros(1))
    keys = set(torch.optim.SGD([p], lr=0.1).param_groups[0]) - {"params"}
    assert nb00.check_sgd_group_keys(keys)
