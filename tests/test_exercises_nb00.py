"""Notebook 00's self-checks accept the reference answers and reject typical wrong ones."""

import torch
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


def test_wrong_answers_get_hints_not_exceptions(capsys):
    assert not nb00.check_num_parameters(40 * 100 + 100 * 100 + 100 * 10, _mlp())  # forgot biases
    assert "biases" in capsys.readouterr().out
    assert not nb00.check_grad_factor(1)
    assert "overwrite" in capsys.readouterr().out
    assert not nb00.check_grad_factor("two")
    assert not nb00.check_sgd_group_keys({"lr", "betas"})
    assert "Missing" in capsys.readouterr().out


def test_none_asks_to_fill_in(capsys):
    assert not nb00.check_grad_factor(None)
    assert "Fill in" in capsys.readouterr().out


def test_sgd_keys_check_agrees_with_installed_torch():
    p = nn.Parameter(torch.zeros(1))
    keys = set(torch.optim.SGD([p], lr=0.1).param_groups[0]) - {"params"}
    assert nb00.check_sgd_group_keys(keys)
