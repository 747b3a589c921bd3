"""One factory per concept: ``course_lib.optim.by_name`` and ``course_lib.schedulers.by_name``."""

from __future__ import annotations

import pytest
import torch

import course_lib.optim as optim
import course_lib.schedulers as schedulers

OPTIMIZERS = [n for n in optim.__all__ if n != "by_name"]
SCHEDULERS = [n for n in schedulers.__all__ if n != "by_name"]


def params(shape=(2,)):
    return [torch.zeros(shape, requires_grad=True)]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optim_by_name_builds_the_class_in_any_case(name):
    for spelling in (name, name.lower(), name.upper()):
        # Muon takes matrices only
        opt = optim.by_name(spelling, params((2, 2) if name == "Muon" else (2,)), lr=0.05)
        assert type(opt) is getattr(optim, name)
        assert opt.param_groups[0]["lr"] == 0.05


def test_optim_by_name_passes_every_hyperparameter_and_checks_it():
    opt = optim.by_name("SGD", params(), lr=0.1, momentum=0.9, nesterov=True)
    assert opt.defaults["nesterov"] is True and opt.defaults["momentum"] == 0.9
    with pytest.raises(ValueError, match=r"^momentum must be a finite number >= 0"):
        optim.by_name("sgd", params(), momentum=-1)


@pytest.mark.parametrize("bad", ["Sophia", "", "S GD", None, 3])
def test_optim_by_name_refuses_an_unknown_name_listing_the_valid_ones(bad):
    listed = ", ".join(repr(n) for n in sorted(OPTIMIZERS, key=str.lower))
    with pytest.raises(ValueError, match=r"^name must be one of ") as info:
        optim.by_name(bad, params())
    assert listed in str(info.value) and repr(bad) in str(info.value)


KWARGS = {
    "LambdaLR": {"lr_lambda": lambda t: 0.5**t},
    "MultiplicativeLR": {"lr_lambda": lambda t: 0.5},
    "StepLR": {"step_size": 2},
    "MultiStepLR": {"milestones": [2, 4]},
    "ConstantLR": {},
    "LinearLR": {},
    "ExponentialLR": {"gamma": 0.5},
    "PolynomialLR": {},
    "CosineAnnealingLR": {"T_max": 4},
    "CosineAnnealingWarmRestarts": {"T_0": 3},
    "CyclicLR": {"base_lr": 0.01, "max_lr": 0.1},
    "OneCycleLR": {"max_lr": 0.1, "total_steps": 10},
    "ReduceLROnPlateau": {},
    "HyperparameterScheduler": {"schedules": {"lr": lambda t: 0.1 / (1 + t)}, "interval": "step"},
}


def with_children(name, opt):
    if name == "SequentialLR":
        children = [schedulers.ConstantLR(opt), schedulers.ExponentialLR(opt, 0.9)]
        return {"schedulers": children, "milestones": [2]}
    if name == "ChainedScheduler":
        return {"schedulers": [schedulers.ConstantLR(opt), schedulers.ExponentialLR(opt, 0.9)]}
    return KWARGS[name]


@pytest.mark.parametrize("name", SCHEDULERS)
def test_schedulers_by_name_builds_what_the_class_builds(name):
    ours = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    direct = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    built = schedulers.by_name(name.lower(), ours, **with_children(name, ours))
    reference = getattr(schedulers, name)(optimizer=direct, **with_children(name, direct))
    assert type(built) is type(reference)
    for _ in range(3):
        for opt, s in ((ours, built), (direct, reference)):
            opt.step()
            s.step(1.0) if name == "ReduceLROnPlateau" else s.step()
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in direct.param_groups]


def test_every_scheduler_class_has_example_arguments_here():
    assert sorted(SCHEDULERS) == sorted([*KWARGS, "SequentialLR", "ChainedScheduler"])


def test_schedulers_by_name_refuses_an_unknown_name_listing_the_valid_ones():
    opt = torch.optim.SGD(params(), lr=0.1)
    with pytest.raises(
        ValueError, match=r"^name must be one of 'ChainedScheduler', 'ConstantLR', "
    ):
        schedulers.by_name("WarmupLR", opt)
