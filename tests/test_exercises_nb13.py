"""Notebook 13's self-checks accept the reference solutions and reject typical mistakes."""

import pytest
import torch
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb13
from course_lib.exercises.solutions.nb13 import state_bytes_per_param

SOLUTIONS = {
    nb13.check_step_bytes: 280_000_000,  # 7 tensors x 4 bytes x 10M
    nb13.check_state_bytes_per_param: state_bytes_per_param,
}

(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), object(), [1, 2]))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (240_000_000, "6 tensors: one is missing"),
        (320_000_000, "8 tensors: the gradient is only read"),
        (80_000_000, "That is the state's size"),
        (28, "28 bytes is per parameter"),
        (70_000_000, "That counts elements"),
        (1e6, "Not quite (1e+06). Count the tensors read and written"),
    ],
)
def test_step_bytes_rejects_a_typical_mistake_with_its_hint(wrong, hint, capsys):
    out = rejects_with_hint(nb13.check_step_bytes, wrong, hint, capsys)
    assert out.count("\n") == 1  # one hint line


def _tensors(optimizer):
    return [
        v
        for per in optimizer.state_dict()["state"].values()
        for v in per.values()
        if isinstance(v, torch.Tensor)
    ]


def _numel(optimizer):
    return sum(p.numel() for g in optimizer.param_groups for p in g["params"])


def without_step(optimizer):
    big = [t for t in _tensors(optimizer) if t.ndim > 0]
    return sum(t.numel() * t.element_size() for t in big) / _numel(optimizer)


def elements_not_bytes(optimizer):
    return sum(t.numel() for t in _tensors(optimizer)) / _numel(optimizer)


def per_tensor(optimizer):
    params = [p for g in optimizer.param_groups for p in g["params"]]
    return sum(t.numel() * t.element_size() for t in _tensors(optimizer)) / len(params)


def with_params(optimizer):
    return state_bytes_per_param(optimizer) + 4


def unfinished(optimizer):
    raise NotImplementedError


def crashes(optimizer):
    return optimizer.state_dict()["state"][0]["exp_avg"].numel()


def returns_text(optimizer):
    return "8 bytes"


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (without_step, "The step counters are missing"),
        (elements_not_bytes, "That counts elements, not bytes"),
        (per_tensor, "not by the number of parameter tensors"),
        (with_params, "That counts the parameters themselves too"),
        (unfinished, "Write the body of your function"),
        (crashes, "Your function raised KeyError on SGD (no momentum)"),
        (returns_text, "Return a number of bytes per parameter, got '8 bytes'"),
        (lambda optimizer: 8.0, "On SGD (no momentum): you return 8 bytes per parameter"),
    ],
)
def test_state_bytes_check_names_the_mistake(fn, hint, capsys):
    rejects_with_hint(nb13.check_state_bytes_per_param, fn, hint, capsys)


def test_state_bytes_check_agrees_with_step_cost_on_every_case():
    from course_lib.experiments.step_cost import state_bytes_per_param as reference

    for _, opt in nb13.exercise_optimizers():
        assert state_bytes_per_param(opt) == reference(opt)
