"""Bad input to course_lib.schedulers: a clear error at construction, naming the argument.

One table. Each row builds a scheduler through a factory that takes the module, so the same row
also records what torch's constructor does with the same input: ``"silent"`` (takes it; it fails
later, often with ZeroDivisionError, or never), ``"crash"`` (fails, but with ZeroDivisionError, a
bare TypeError or KeyError that does not name the argument) or ``"error"`` (a ValueError/TypeError
of its own).
Then the ``add_param_group`` policy and the errors at ``step()``.
"""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
import torch.optim.lr_scheduler as tsched

import course_lib.optim as copt
import course_lib.schedulers as csched
from course_lib.schedules import Constant, Cosine, Linear


def _params():
    return [torch.nn.Parameter(torch.zeros(2))]


def _sgd(groups: int = 2):
    return torch.optim.SGD(
        [{"params": _params(), "lr": 0.1 * (i + 1)} for i in range(groups)], lr=0.1, momentum=0.9
    )


ROWS = [
    # (id, factory(L, opt), error, message fragment, what torch's constructor does)
    (
        "StepLR step_size=0",
        lambda L, o: L.StepLR(o, step_size=0),
        ValueError,
        "step_size must be an integer >= 1, got 0",
        "silent",
    ),
    (
        "StepLR step_size=-3",
        lambda L, o: L.StepLR(o, step_size=-3),
        ValueError,
        "step_size",
        "silent",
    ),
    (
        "StepLR step_size=2.5",
        lambda L, o: L.StepLR(o, step_size=2.5),
        TypeError,
        "step_size must be an integer",
        "silent",
    ),
    (
        "StepLR gamma=0",
        lambda L, o: L.StepLR(o, 3, gamma=0.0),
        ValueError,
        "gamma must be a finite number > 0, got 0.0",
        "silent",
    ),
    ("StepLR gamma=-1", lambda L, o: L.StepLR(o, 3, gamma=-1.0), ValueError, "gamma", "silent"),
    (
        "MultiStepLR negative",
        lambda L, o: L.MultiStepLR(o, [-2, 5]),
        ValueError,
        r"milestones\[0\] must be an integer >= 0, got -2",
        "silent",
    ),
    (
        "MultiStepLR unsorted",
        lambda L, o: L.MultiStepLR(o, [10, 5]),
        ValueError,
        "milestones must be strictly increasing",
        "silent",
    ),
    (
        "MultiStepLR repeated",
        lambda L, o: L.MultiStepLR(o, [5, 5]),
        ValueError,
        "strictly increasing",
        "silent",
    ),
    (
        "MultiStepLR float",
        lambda L, o: L.MultiStepLR(o, [2.5]),
        TypeError,
        r"milestones\[0\] must be an integer",
        "silent",
    ),
    (
        "ConstantLR factor=0",
        lambda L, o: L.ConstantLR(o, factor=0.0),
        ValueError,
        r"factor must be a finite number in \(0, 1\]",
        "silent",
    ),
    (
        "ConstantLR factor>1",
        lambda L, o: L.ConstantLR(o, factor=1.5),
        ValueError,
        "factor",
        "error",
    ),
    (
        "ConstantLR total_iters=0",
        lambda L, o: L.ConstantLR(o, total_iters=0),
        ValueError,
        "total_iters must be an integer >= 1",
        "silent",
    ),
    (
        "LinearLR start_factor=0",
        lambda L, o: L.LinearLR(o, start_factor=0.0),
        ValueError,
        r"start_factor must be a finite number in \(0, 1\]",
        "error",
    ),
    (
        "LinearLR start_factor>1",
        lambda L, o: L.LinearLR(o, start_factor=2.0),
        ValueError,
        "start_factor",
        "error",
    ),
    (
        "LinearLR end_factor<0",
        lambda L, o: L.LinearLR(o, end_factor=-0.1),
        ValueError,
        r"end_factor must be a finite number in \[0, 1\]",
        "error",
    ),
    (
        "LinearLR total_iters=0",
        lambda L, o: L.LinearLR(o, total_iters=0),
        ValueError,
        "total_iters must be an integer >= 1",
        "silent",
    ),
    (
        "ExponentialLR gamma=0",
        lambda L, o: L.ExponentialLR(o, gamma=0.0),
        ValueError,
        "gamma must be a finite number > 0",
        "silent",
    ),
    (
        "ExponentialLR gamma=nan",
        lambda L, o: L.ExponentialLR(o, gamma=float("nan")),
        ValueError,
        "gamma",
        "silent",
    ),
    (
        "ExponentialLR gamma str",
        lambda L, o: L.ExponentialLR(o, gamma="0.9"),
        TypeError,
        "gamma must be a finite number",
        None,
    ),
    (
        "PolynomialLR total_iters=0",
        lambda L, o: L.PolynomialLR(o, total_iters=0),
        ValueError,
        "total_iters must be an integer >= 1",
        "silent",
    ),
    (
        "PolynomialLR power<0",
        lambda L, o: L.PolynomialLR(o, power=-1.0),
        ValueError,
        "power must be a finite number >= 0",
        "silent",
    ),
    (
        "CosineAnnealingLR T_max=0",
        lambda L, o: L.CosineAnnealingLR(o, T_max=0),
        ValueError,
        "T_max must be an integer >= 1, got 0",
        "silent",
    ),
    (
        "CosineAnnealingLR T_max=-10",
        lambda L, o: L.CosineAnnealingLR(o, T_max=-10),
        ValueError,
        "T_max",
        "silent",
    ),
    (
        "CosineAnnealingLR eta_min<0",
        lambda L, o: L.CosineAnnealingLR(o, 10, eta_min=-0.1),
        ValueError,
        "eta_min must be a finite number >= 0",
        "silent",
    ),
    (
        "CAWR T_0=0",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0),
        ValueError,
        "T_0 must be an integer >= 1",
        "error",
    ),
    (
        "CAWR T_mult=0",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, T_mult=0),
        ValueError,
        "T_mult must be an integer >= 1, got 0",
        "error",
    ),
    (
        "CAWR eta_min<0",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, eta_min=-1.0),
        ValueError,
        "eta_min",
        "silent",
    ),
    (
        "CyclicLR step_size_up=0",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=0),
        ValueError,
        "step_size_up must be a finite number > 0, got 0",
        "crash",
    ),
    (
        "CyclicLR step_size_down<0",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 5, step_size_down=-2),
        ValueError,
        "step_size_down",
        "silent",
    ),
    (
        "CyclicLR mode",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="triangle"),
        ValueError,
        "mode must be one of 'triangular', 'triangular2', 'exp_range', got 'triangle'",
        "error",
    ),
    (
        "CyclicLR scale_mode",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, scale_mode="epochs"),
        ValueError,
        "scale_mode must be one of",
        "silent",
    ),
    (
        "CyclicLR gamma=0",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="exp_range", gamma=0.0),
        ValueError,
        "gamma",
        "silent",
    ),
    (
        "CyclicLR base_lr<0",
        lambda L, o: L.CyclicLR(o, -0.01, 0.1),
        ValueError,
        "base_lr must be a finite number >= 0",
        "silent",
    ),
    (
        "CyclicLR max_lr list length",
        lambda L, o: L.CyclicLR(o, 0.01, [0.1, 0.2, 0.3]),
        ValueError,
        r"max_lr must be a number or a list with one value per param group \(2\), got 3",
        "error",
    ),
    (
        "CyclicLR momentum>1",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, max_momentum=1.5),
        ValueError,
        r"max_momentum must be a finite number in \[0, 1\]",
        "silent",
    ),
    (
        "CyclicLR scale_fn",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, scale_fn=0.5),
        TypeError,
        "scale_fn must be callable",
        None,
    ),
    (
        "OneCycleLR no total",
        lambda L, o: L.OneCycleLR(o, 0.1),
        ValueError,
        "total_steps, or both epochs and steps_per_epoch",
        "error",
    ),
    (
        "OneCycleLR epochs only",
        lambda L, o: L.OneCycleLR(o, 0.1, epochs=3),
        ValueError,
        "steps_per_epoch=None",
        "error",
    ),
    (
        "OneCycleLR total_steps=0",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=0),
        ValueError,
        "total_steps must be an integer >= 1",
        "error",
    ),
    (
        "OneCycleLR steps_per_epoch=0",
        lambda L, o: L.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=0),
        ValueError,
        "steps_per_epoch must be an integer >= 1",
        "error",
    ),
    (
        "OneCycleLR pct_start=0",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100, pct_start=0.0),
        ValueError,
        r"pct_start must be a finite number in \(0, 1\), got 0.0",
        "silent",
    ),
    (
        "OneCycleLR pct_start=1",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100, pct_start=1.0),
        ValueError,
        "pct_start",
        "silent",
    ),
    (
        "OneCycleLR pct_start*T<=1",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=0.1),
        ValueError,
        r"pct_start \* total_steps must be > 1",
        "crash",
    ),
    (
        "OneCycleLR three_phase pct",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100, pct_start=0.7, three_phase=True),
        ValueError,
        "three_phase=True",
        "silent",
    ),
    (
        "OneCycleLR anneal",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100, anneal_strategy="cosine"),
        ValueError,
        "anneal_strategy must be one of 'cos', 'linear'",
        "error",
    ),
    (
        "OneCycleLR max_lr=0",
        lambda L, o: L.OneCycleLR(o, 0.0, total_steps=100),
        ValueError,
        "max_lr must be a finite number > 0",
        "silent",
    ),
    (
        "OneCycleLR div_factor=0",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100, div_factor=0.0),
        ValueError,
        "div_factor must be a finite number > 0",
        "crash",
    ),
    (
        "OneCycleLR base_momentum<0",
        lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100, base_momentum=-0.1),
        ValueError,
        "base_momentum",
        "silent",
    ),
    (
        "LambdaLR not callable",
        lambda L, o: L.LambdaLR(o, 0.5),
        TypeError,
        "lr_lambda must be callable",
        "crash",
    ),
    (
        "LambdaLR list length",
        lambda L, o: L.LambdaLR(o, [abs]),
        ValueError,
        r"one per param group \(2\), got 1",
        "error",
    ),
    (
        "MultiplicativeLR not callable",
        lambda L, o: L.MultiplicativeLR(o, [abs, 3]),
        TypeError,
        r"lr_lambda\[1\] must be callable",
        "error",
    ),
    (
        "ReduceLROnPlateau factor=0",
        lambda L, o: L.ReduceLROnPlateau(o, factor=0.0),
        ValueError,
        r"factor must be a finite number in \(0, 1\), got 0.0",
        "silent",
    ),
    (
        "ReduceLROnPlateau factor=-1",
        lambda L, o: L.ReduceLROnPlateau(o, factor=-1.0),
        ValueError,
        "factor",
        "silent",
    ),
    (
        "ReduceLROnPlateau factor=1",
        lambda L, o: L.ReduceLROnPlateau(o, factor=1.0),
        ValueError,
        "factor",
        "error",
    ),
    (
        "ReduceLROnPlateau patience<0",
        lambda L, o: L.ReduceLROnPlateau(o, patience=-1),
        ValueError,
        "patience must be an integer >= 0, got -1",
        "silent",
    ),
    (
        "ReduceLROnPlateau cooldown<0",
        lambda L, o: L.ReduceLROnPlateau(o, cooldown=-2),
        ValueError,
        "cooldown must be an integer >= 0",
        "silent",
    ),
    (
        "ReduceLROnPlateau mode",
        lambda L, o: L.ReduceLROnPlateau(o, mode="minimum"),
        ValueError,
        "mode must be one of 'min', 'max'",
        "error",
    ),
    (
        "ReduceLROnPlateau threshold_mode",
        lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="relative"),
        ValueError,
        "threshold_mode must be one of 'rel', 'abs'",
        "error",
    ),
    (
        "ReduceLROnPlateau threshold<0",
        lambda L, o: L.ReduceLROnPlateau(o, threshold=-1e-3),
        ValueError,
        "threshold must be a finite number >= 0",
        "silent",
    ),
    (
        "ReduceLROnPlateau min_lr<0",
        lambda L, o: L.ReduceLROnPlateau(o, min_lr=-1e-3),
        ValueError,
        "min_lr must be a finite number >= 0",
        "silent",
    ),
    (
        "ReduceLROnPlateau min_lr list",
        lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.0]),
        ValueError,
        "min_lr must be a number or a list with one value per param group",
        "error",
    ),
    (
        "ReduceLROnPlateau eps<0",
        lambda L, o: L.ReduceLROnPlateau(o, eps=-1.0),
        ValueError,
        "eps must be a finite number >= 0",
        "silent",
    ),
    (
        "last_epoch=-2",
        lambda L, o: L.StepLR(o, 3, last_epoch=-2),
        ValueError,
        "last_epoch must be an integer >= -1, got -2",
        "crash",
    ),
    (
        "not an optimizer",
        lambda L, o: L.ExponentialLR([torch.zeros(1)], 0.9),
        TypeError,
        "optimizer must be a torch.optim.Optimizer",
        "error",
    ),
]


@pytest.mark.parametrize(
    ("factory", "error", "match", "torch_does"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_bad_argument_raises_at_construction_naming_it(factory, error, match, torch_does):
    with pytest.raises(error, match=match):
        factory(csched, _sgd())
    if torch_does == "silent":  # torch's constructor takes it without a word: ours is stricter
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            factory(tsched, _sgd())
    elif torch_does == "crash":
        with pytest.raises((ZeroDivisionError, TypeError, KeyError)):
            factory(tsched, _sgd())
    elif torch_does == "error":
        with pytest.raises((ValueError, TypeError)):
            factory(tsched, _sgd())


def test_torch_fails_late_where_ours_fails_early():
    """Two examples of the late failures the table prevents."""
    opt = _sgd()
    sched = tsched.StepLR(opt, step_size=0)
    opt.step()
    with pytest.raises(ZeroDivisionError):
        sched.step()
    opt = _sgd()
    sched = tsched.CosineAnnealingLR(opt, T_max=0)
    opt.step()
    with pytest.raises(ZeroDivisionError):
        sched.step()


def test_cycle_momentum_needs_momentum_or_betas():
    opt = copt.Adagrad(_params(), lr=0.1)
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with 'momentum'"):
        csched.CyclicLR(opt, 0.01, 0.1)
    with pytest.raises(ValueError, match="cycle_momentum"):
        csched.OneCycleLR(opt, 0.1, total_steps=10)
    csched.OneCycleLR(opt, 0.1, total_steps=10, cycle_momentum=False)  # fine without


# --- combining schedulers -----------------------------------------------------------------------


def test_sequential_lr_rejects_bad_parts():
    opt = _sgd()
    a, b = csched.LinearLR(opt, 0.1, total_iters=3), csched.ExponentialLR(opt, 0.9)
    with pytest.raises(ValueError, match="one entry fewer than schedulers"):
        csched.SequentialLR(opt, [a, b], milestones=[3, 6])
    with pytest.raises(ValueError, match=r"milestones\[0\] must be an integer >= 1, got 0"):
        csched.SequentialLR(opt, [a, b], milestones=[0])
    with pytest.raises(ValueError, match="strictly increasing"):
        csched.SequentialLR(opt, [a, b, a], milestones=[5, 2])
    with pytest.raises(
        TypeError, match=r"schedulers\[1\] must be a course_lib.schedulers scheduler"
    ):
        csched.SequentialLR(opt, [a, tsched.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        csched.SequentialLR(opt, [a, csched.ReduceLROnPlateau(opt)], milestones=[3])
    with pytest.raises(ValueError, match="another optimizer"):
        csched.SequentialLR(opt, [a, csched.ExponentialLR(_sgd(), 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="non-empty list"):
        csched.SequentialLR(opt, [], milestones=[])


@pytest.mark.parametrize(
    ("part", "error", "match"),
    [
        (
            lambda o: csched.LambdaLR(o, functools.partial(pow, 0.9)),
            TypeError,
            "LambdaLR sets absolute values",
        ),
        (lambda o: csched.CyclicLR(o, 0.01, 0.1), TypeError, "CyclicLR sets absolute values"),
        (lambda o: csched.OneCycleLR(o, 0.1, total_steps=20), TypeError, "OneCycleLR"),
        (
            lambda o: csched.CosineAnnealingWarmRestarts(o, 5),
            TypeError,
            "CosineAnnealingWarmRestarts",
        ),
        (
            lambda o: csched.CosineAnnealingLR(o, 10, eta_min=0.01),
            ValueError,
            "eta_min=0.01 is not a factor",
        ),
        (lambda o: tsched.StepLR(o, 3), TypeError, "course_lib.schedulers scheduler"),
    ],
    ids=["LambdaLR", "CyclicLR", "OneCycleLR", "CAWR", "cosine-eta_min", "torch-StepLR"],
)
def test_chained_scheduler_accepts_only_factor_schedulers(part, error, match):
    opt = _sgd()
    with pytest.raises(error, match=match):
        csched.ChainedScheduler([csched.ExponentialLR(opt, 0.9), part(opt)])


# --- steps that cannot be taken ------------------------------------------------------------------


def test_stepping_onecycle_past_total_steps_names_the_total():
    opt = _sgd()
    sched = csched.OneCycleLR(opt, 0.1, total_steps=12)
    for _ in range(12):
        opt.step()
        sched.step()
    opt.step()
    with pytest.raises(ValueError, match=r"stepped 13 times but total_steps=12"):
        sched.step()


def test_warm_restarts_epoch_must_be_non_negative():
    sched = csched.CosineAnnealingWarmRestarts(_sgd(), 5)
    with pytest.raises(ValueError, match="epoch must be a finite number >= 0"):
        sched.step(-1)


# --- add_param_group after the scheduler ---------------------------------------------------------

LATE_GROUP = [
    ("StepLR", lambda o: csched.StepLR(o, 3)),
    ("CosineAnnealingLR", lambda o: csched.CosineAnnealingLR(o, 10)),
    ("OneCycleLR", lambda o: csched.OneCycleLR(o, 0.1, total_steps=20)),
    ("CyclicLR", lambda o: csched.CyclicLR(o, 0.01, 0.1)),
    (
        "SequentialLR",
        lambda o: csched.SequentialLR(
            o, [csched.LinearLR(o, 0.5, total_iters=2), csched.ExponentialLR(o, 0.9)], [2]
        ),
    ),
    (
        "ChainedScheduler",
        lambda o: csched.ChainedScheduler([csched.StepLR(o, 2), csched.ExponentialLR(o, 0.9)]),
    ),
]


@pytest.mark.parametrize("build", [b for _, b in LATE_GROUP], ids=[n for n, _ in LATE_GROUP])
def test_group_added_after_the_scheduler_raises_a_clear_error(build):
    opt = _sgd()
    sched = build(opt)
    opt.add_param_group({"params": _params(), "lr": 0.5})
    opt.step()
    with pytest.raises(
        RuntimeError, match=r"built for 2 param group\(s\) but the optimizer now has 3"
    ):
        sched.step()


def test_hyperparameter_scheduler_schedules_a_group_added_later():
    opt = _sgd(groups=1)
    sched = csched.HyperparameterScheduler(
        opt, {"lr": Cosine(0.1, 10), "momentum": Linear(0.9, 0.8, 10)}, interval="step"
    )
    for _ in range(4):
        opt.step()
        sched.step()
    opt.add_param_group({"params": _params(), "lr": 1.0, "momentum": 0.0})
    opt.step()
    sched.step()
    new = opt.param_groups[1]
    assert new["lr"] == pytest.approx(Cosine(0.1, 10)(5))
    assert new["momentum"] == pytest.approx(0.85)
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"], new["lr"]]


def test_plateau_keeps_torchs_add_param_group_behaviour():
    opt = _sgd()
    sched = csched.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    opt.add_param_group({"params": _params(), "lr": 0.8})
    for metric in (1.0, 2.0):
        sched.step(metric)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.1, 0.4])


# --- HyperparameterScheduler arguments -----------------------------------------------------------


def _named_sgd():
    return torch.optim.SGD(
        [{"params": _params(), "name": "body"}, {"params": _params(), "name": "head", "lr": 0.5}],
        lr=0.1,
        momentum=0.9,
    )


HYPER_BAD = [
    (
        "no interval",
        lambda o: csched.HyperparameterScheduler(o, {"lr": Constant(0.1)}),
        TypeError,
        "interval",
    ),
    (
        "bad interval",
        lambda o: csched.HyperparameterScheduler(o, {"lr": Constant(0.1)}, interval="batch"),
        ValueError,
        "interval must be one of 'step', 'epoch', got 'batch'",
    ),
    (
        "unknown key",
        lambda o: csched.HyperparameterScheduler(o, {"betas": Constant(0.9)}, interval="step"),
        ValueError,
        "use 'beta1'",
    ),
    (
        "beta1 on SGD",
        lambda o: csched.HyperparameterScheduler(o, {"beta1": Constant(0.9)}, interval="step"),
        ValueError,
        r"param_groups\[0\] has no 'betas' to schedule",
    ),
    (
        "missing key",
        lambda o: csched.HyperparameterScheduler(o, {"eps": Constant(1e-8)}, interval="step"),
        ValueError,
        "has no 'eps'",
    ),
    (
        "not callable",
        lambda o: csched.HyperparameterScheduler(o, {"lr": 0.1}, interval="step"),
        TypeError,
        r"schedules\['lr'\] must be a schedule",
    ),
    (
        "not a dict",
        lambda o: csched.HyperparameterScheduler(o, [Constant(0.1)], interval="step"),
        TypeError,
        "schedules must be a dict",
    ),
    (
        "nothing",
        lambda o: csched.HyperparameterScheduler(o, {}, interval="step"),
        ValueError,
        "schedule nothing",
    ),
    (
        "unknown name",
        lambda o: csched.HyperparameterScheduler(
            o, groups={"neck": {"lr": Constant(0.1)}}, interval="step"
        ),
        ValueError,
        r"'neck' must name exactly one param group.*\['body', 'head'\]",
    ),
    (
        "index out of range",
        lambda o: csched.HyperparameterScheduler(
            o, groups={2: {"lr": Constant(0.1)}}, interval="step"
        ),
        ValueError,
        r"groups key must be an integer in \[0, 1\], got 2",
    ),
    (
        "params key",
        lambda o: csched.HyperparameterScheduler(o, {"params": Constant(0.1)}, interval="step"),
        ValueError,
        "'params' cannot be scheduled",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "match"), [r[1:] for r in HYPER_BAD], ids=[r[0] for r in HYPER_BAD]
)
def test_hyperparameter_scheduler_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build(_named_sgd())


def test_hyperparameter_scheduler_drives_any_key_per_group():
    opt = torch.optim.AdamW(
        [{"params": _params(), "name": "body"}, {"params": _params(), "name": "head"}],
        lr=1e-3,
        betas=(0.9, 0.999),
        weight_decay=0.01,
    )
    sched = csched.HyperparameterScheduler(
        opt,
        {
            "lr": Cosine(1e-3, 10),
            "beta1": Linear(0.95, 0.85, 10),
            "weight_decay": Linear(0.0, 0.1, 10),
        },
        groups={"head": {"lr": Constant(5e-3), "beta2": Linear(0.99, 0.9, 10)}},
        interval="epoch",
    )
    for _ in range(5):
        opt.step()
        sched.step()
    body, head = opt.param_groups
    assert body["lr"] == pytest.approx(5e-4)
    assert body["betas"] == pytest.approx((0.9, 0.999))
    assert body["weight_decay"] == pytest.approx(0.05)
    assert head["lr"] == 5e-3
    assert head["betas"] == pytest.approx((0.9, 0.945))  # beta1 untouched, beta2 scheduled
    assert head["weight_decay"] == 0.01  # the head's mapping replaces the shared one
    assert sched.interval == "epoch"
    assert sched.get_last_values()[1] == {"lr": 5e-3, "beta2": pytest.approx(0.945)}
    assert isinstance(sched, tsched.LRScheduler)
