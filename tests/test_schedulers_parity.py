"""course_lib.schedulers against torch.optim.lr_scheduler, step by step.

Each case builds the same scheduler twice, once from ``torch.optim.lr_scheduler`` and once from
``course_lib.schedulers`` (the factories take the module, so the code is literally the same), on
three param groups with different lrs, with torch's SGD (momentum) and course_lib's Adam, and
the momentum-cycling ones (CyclicLR, OneCycleLR) with all four of torch's and course_lib's SGD and
Adam. After construction and after every ``optimizer.step();
scheduler.step()`` it compares every group's lr, ``get_last_lr()``, the momentum or beta1 and
beta2, to 1e-12 relative. Then the documented differences, one test each.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings

import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as tsched

import course_lib.optim as copt
import course_lib.schedulers as csched
from course_lib.schedules import Cosine, Join, Linear, OneCycle, Scaled

REL = 1e-12
ABS = 1e-18
LRS = (0.1, 0.05, 0.3)

OPTIMIZERS = {
    "torch.SGD": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
    "torch.Adam": lambda g: torch.optim.Adam(g, lr=0.1, betas=(0.9, 0.99)),
    "course.SGD": lambda g: copt.SGD(g, lr=0.1, momentum=0.9),
    "course.Adam": lambda g: copt.Adam(g, lr=0.1, betas=(0.9, 0.99)),
}


def _groups():
    # No gradients: optimizer.step() runs (and marks the optimizer as stepped, which torch's
    # schedulers check) but updates nothing, which keeps the grid fast; schedules ignore gradients.
    params = [torch.nn.Parameter(torch.full((2,), float(i + 1))) for i in range(len(LRS))]
    return [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]


def _every_third(t):
    return 0.9 if t % 3 else 1.05


def _warm(t):
    return min(1.0, (t + 1) / 6)


def _half_per_cycle(x):
    return 0.5 ** (x - 1)


def _decay_iter(x):
    return 0.99**x


def _snapshot(opt, sched):
    rows = []
    for g in opt.param_groups:
        beta1, beta2 = g["betas"] if "betas" in g else (g["momentum"], None)
        rows.append((g["lr"], beta1, beta2))
    return rows, list(sched.get_last_lr())


def _trace(module, factory, optimizer, steps):
    opt = OPTIMIZERS[optimizer](_groups())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's SequentialLR/ChainedScheduler notes
        sched = factory(module, opt)
        out = [_snapshot(opt, sched)]
        for _ in range(steps):
            opt.step()
            sched.step()
            out.append(_snapshot(opt, sched))
    return out


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=REL, abs_tol=ABS)


def _assert_same_traces(theirs, ours):
    assert len(theirs) == len(ours)
    for t, ((rows_t, last_t), (rows_o, last_o)) in enumerate(zip(theirs, ours)):
        for g, (rt, ro) in enumerate(zip(rows_t, rows_o)):
            for name, a, b in zip(("lr", "momentum/beta1", "beta2"), rt, ro):
                assert _close(a, b), f"step {t}, group {g}, {name}: torch {a!r}, ours {b!r}"
        assert len(last_t) == len(last_o)
        for g, (a, b) in enumerate(zip(last_t, last_o)):
            assert _close(a, b), f"step {t}, group {g}, get_last_lr: torch {a!r}, ours {b!r}"


CASES = [
    ("StepLR-7-0.5", lambda L, o: L.StepLR(o, step_size=7, gamma=0.5), 40),
    ("StepLR-1-0.9", lambda L, o: L.StepLR(o, step_size=1, gamma=0.9), 25),
    ("StepLR-3-growth", lambda L, o: L.StepLR(o, step_size=3, gamma=1.5), 20),
    ("MultiStepLR", lambda L, o: L.MultiStepLR(o, milestones=[3, 10, 11], gamma=0.3), 30),
    ("MultiStepLR-at-0", lambda L, o: L.MultiStepLR(o, milestones=[0, 5], gamma=0.5), 10),
    ("ConstantLR", lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=6), 20),
    ("ConstantLR-defaults", lambda L, o: L.ConstantLR(o), 10),
    ("ConstantLR-factor1", lambda L, o: L.ConstantLR(o, factor=1.0, total_iters=3), 6),
    ("LinearLR", lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=0.7, total_iters=13), 30),
    (
        "LinearLR-to-0",
        lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=10),
        20,
    ),
    ("LinearLR-defaults", lambda L, o: L.LinearLR(o), 10),
    ("ExponentialLR", lambda L, o: L.ExponentialLR(o, gamma=0.93), 60),
    ("ExponentialLR-growth", lambda L, o: L.ExponentialLR(o, gamma=1.1), 30),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, total_iters=17, power=2.5), 30),
    ("PolynomialLR-linear", lambda L, o: L.PolynomialLR(o, total_iters=5), 12),
    ("PolynomialLR-sqrt", lambda L, o: L.PolynomialLR(o, total_iters=10, power=0.5), 15),
    ("CosineAnnealingLR-past-end", lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), 45),
    ("CosineAnnealingLR-7", lambda L, o: L.CosineAnnealingLR(o, T_max=7), 30),
    ("CosineAnnealingLR-1", lambda L, o: L.CosineAnnealingLR(o, T_max=1), 6),
    ("CosineAnnealingLR-50", lambda L, o: L.CosineAnnealingLR(o, T_max=50, eta_min=0.02), 120),
    (
        "CAWR-Tmult2",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3),
        60,
    ),
    ("CAWR-Tmult1", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5), 23),
    (
        "CAWR-Tmult3",
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3, eta_min=0.01),
        60,
    ),
    (
        "CyclicLR-triangular-groups",
        lambda L, o: L.CyclicLR(o, 0.01, [0.1, 0.2, 0.3], step_size_up=5, step_size_down=3),
        40,
    ),
    ("CyclicLR-triangular2", lambda L, o: L.CyclicLR(o, 0.01, 0.1, 4, mode="triangular2"), 50),
    (
        "CyclicLR-exp_range",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 5, 3, mode="exp_range", gamma=0.97),
        50,
    ),
    (
        "CyclicLR-no-momentum",
        lambda L, o: L.CyclicLR(o, [0.01, 0.02, 0.03], 0.2, 3, cycle_momentum=False),
        20,
    ),
    (
        "CyclicLR-scale_fn-cycle",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 3, scale_fn=_half_per_cycle),
        30,
    ),
    (
        "CyclicLR-scale_fn-iterations",
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, 3, scale_fn=_decay_iter, scale_mode="iterations"),
        30,
    ),
    (
        "CyclicLR-momentum-groups",
        lambda L, o: L.CyclicLR(
            o, 0.01, 0.1, 4, base_momentum=[0.7, 0.8, 0.85], max_momentum=[0.9, 0.95, 0.99]
        ),
        20,
    ),
    ("OneCycleLR-cos-groups", lambda L, o: L.OneCycleLR(o, [0.1, 0.2, 0.3], total_steps=40), 39),
    (
        "OneCycleLR-linear",
        lambda L, o: L.OneCycleLR(o, 0.5, epochs=5, steps_per_epoch=8, anneal_strategy="linear"),
        39,
    ),
    (
        "OneCycleLR-three-phase-cos",
        lambda L, o: L.OneCycleLR(o, 0.4, total_steps=50, pct_start=0.25, three_phase=True),
        49,
    ),
    (
        "OneCycleLR-three-phase-linear",
        lambda L, o: L.OneCycleLR(
            o, 0.4, total_steps=31, three_phase=True, anneal_strategy="linear"
        ),
        30,
    ),
    (
        "OneCycleLR-no-momentum",
        lambda L, o: L.OneCycleLR(o, 1.0, total_steps=20, cycle_momentum=False, div_factor=10.0),
        19,
    ),
    (
        "OneCycleLR-momenta-divs",
        lambda L, o: L.OneCycleLR(
            o,
            0.3,
            total_steps=25,
            base_momentum=[0.8, 0.85, 0.7],
            max_momentum=0.97,
            div_factor=5.0,
            final_div_factor=100.0,
            pct_start=0.4,
        ),
        24,
    ),
    ("LambdaLR", lambda L, o: L.LambdaLR(o, functools.partial(pow, 0.9)), 20),
    (
        "LambdaLR-per-group",
        lambda L, o: L.LambdaLR(o, [_warm, functools.partial(pow, 0.8), _every_third]),
        15,
    ),
    ("MultiplicativeLR", lambda L, o: L.MultiplicativeLR(o, _every_third), 25),
    (
        "SequentialLR-warmup-cosine",
        lambda L, o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, total_iters=5), L.CosineAnnealingLR(o, 20, 1e-3)], [5]
        ),
        40,
    ),
    (
        "SequentialLR-three",
        lambda L, o: L.SequentialLR(
            o, [L.ConstantLR(o, 0.5, 3), L.ExponentialLR(o, 0.9), L.StepLR(o, 4)], [4, 12]
        ),
        40,
    ),
    (
        "SequentialLR-linear-multistep",
        lambda L, o: L.SequentialLR(
            o, [L.LinearLR(o, 0.2, total_iters=4), L.MultiStepLR(o, [3, 6], 0.5)], [4]
        ),
        16,
    ),
    (
        "SequentialLR-warmup-restarts",
        lambda L, o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, total_iters=3), L.CosineAnnealingWarmRestarts(o, 4, 2)], [3]
        ),
        30,
    ),
    (
        "ChainedScheduler-const-exp-cos",
        lambda L, o: L.ChainedScheduler(
            [L.ConstantLR(o, 0.5, 3), L.ExponentialLR(o, 0.9), L.CosineAnnealingLR(o, 30)]
        ),
        30,
    ),
    (
        "ChainedScheduler-step-linear",
        lambda L, o: L.ChainedScheduler([L.StepLR(o, 4, 0.5), L.LinearLR(o, 0.25, 1.0, 6)]),
        20,
    ),
    (
        "ChainedScheduler-multistep-poly",
        lambda L, o: L.ChainedScheduler([L.MultiStepLR(o, [2, 5]), L.PolynomialLR(o, 8, 2.0)]),
        14,
    ),
    (
        "ChainedScheduler-mult-exp",
        lambda L, o: L.ChainedScheduler(
            [L.MultiplicativeLR(o, _every_third), L.ExponentialLR(o, 0.95)]
        ),
        15,
    ),
]


def _plateau(**kwargs):
    return lambda L, o: L.ReduceLROnPlateau(o, **kwargs)


PLATEAU_CASES = [
    ("min-rel", dict(mode="min", patience=2, threshold=1e-2)),
    ("min-abs", dict(mode="min", patience=1, threshold=1e-3, threshold_mode="abs")),
    ("max-rel", dict(mode="max", patience=2, factor=0.5)),
    ("max-abs", dict(mode="max", patience=0, threshold=0.01, threshold_mode="abs", factor=0.5)),
    ("min-cooldown", dict(mode="min", patience=1, cooldown=3, factor=0.5)),
    ("max-cooldown-abs", dict(mode="max", patience=1, cooldown=2, threshold_mode="abs")),
    ("min_lr-scalar", dict(patience=0, factor=0.3, min_lr=0.01)),
    ("min_lr-per-group", dict(patience=0, factor=0.3, min_lr=[0.02, 0.001, 0.05])),
    ("eps-large", dict(patience=0, factor=0.9, eps=0.004)),
    ("defaults", dict()),
]


def _metrics(mode: str, n: int = 60) -> list[float]:
    """Improves for 10 steps, then plateaus with small wiggles and one late improvement."""
    out = []
    for t in range(n):
        value = 1.0 / (1 + t) if t < 10 else 0.09 + 0.001 * ((7 * t) % 5) / 5
        if t == 35:
            value = 0.05
        out.append(value if mode == "min" else -value)
    return out


def _plateau_trace(module, kwargs, optimizer):
    opt = OPTIMIZERS[optimizer](_groups())
    sched = module.ReduceLROnPlateau(opt, **kwargs)
    out = [_snapshot(opt, sched)]
    for value in _metrics(kwargs.get("mode", "min")):
        opt.step()
        sched.step(value)
        out.append(_snapshot(opt, sched))
    return out


def _grid():
    """Momentum-cycling cases on all four optimizers, the others on torch's SGD and our Adam."""
    for name, factory, steps in CASES:
        cycling = name.startswith(("CyclicLR", "OneCycleLR"))
        for optimizer in OPTIMIZERS if cycling else ("torch.SGD", "course.Adam"):
            yield pytest.param(factory, steps, optimizer, id=f"{name}-{optimizer}")


@pytest.mark.parametrize(("factory", "steps", "optimizer"), list(_grid()))
def test_scheduler_matches_torch_step_by_step(factory, steps, optimizer):
    theirs = _trace(tsched, factory, optimizer, steps)
    ours = _trace(csched, factory, optimizer, steps)
    _assert_same_traces(theirs, ours)


@pytest.mark.parametrize("optimizer", ["torch.SGD", "course.Adam"])
@pytest.mark.parametrize("kwargs", [c[1] for c in PLATEAU_CASES], ids=[c[0] for c in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_torch(kwargs, optimizer):
    theirs = _plateau_trace(tsched, kwargs, optimizer)
    ours = _plateau_trace(csched, kwargs, optimizer)
    _assert_same_traces(theirs, ours)
    lrs = [row[0][0] for row, _ in ours]
    assert lrs[-1] < lrs[0], "the metric plateaus, so the lr must have been reduced"


def test_ours_inside_torch_sequentiallr_match_torch():
    def factory(inner):
        def build(_, o):
            parts = [inner.LinearLR(o, 0.1, total_iters=5), inner.CosineAnnealingLR(o, 20, 1e-3)]
            return tsched.SequentialLR(o, parts, milestones=[5])

        return build

    theirs = _trace(None, factory(tsched), "torch.SGD", 40)
    ours = _trace(None, factory(csched), "torch.SGD", 40)
    _assert_same_traces(theirs, ours)


# --- classes and signatures ------------------------------------------------------------------------

NAMES = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
]


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(csched, name)).parameters
    theirs = inspect.signature(getattr(tsched, name)).parameters
    assert list(ours) == list(theirs)
    for key, p in theirs.items():
        assert ours[key].default == p.default, key
        assert ours[key].kind == p.kind, key


@pytest.mark.parametrize("name", [*NAMES, "HyperparameterScheduler"])
def test_every_class_is_a_torch_lrscheduler(name):
    assert issubclass(getattr(csched, name), tsched.LRScheduler)


def test_reduce_lr_on_plateau_is_torchs_class_for_lightning():
    opt = torch.optim.SGD(_groups(), lr=0.1)
    assert isinstance(csched.ReduceLROnPlateau(opt), tsched.ReduceLROnPlateau)


# --- the documented differences --------------------------------------------------------------------


def _sgd(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


def _run(module, build, steps, lr=1.0):
    opt = _sgd(lr)
    sched = build(module, opt)
    for _ in range(steps):
        opt.step()
        sched.step()
    return opt, sched


def test_onecycle_holds_final_value_at_total_steps_where_torch_extrapolates():
    def build(L, o):
        return L.OneCycleLR(o, 1.0, total_steps=100, anneal_strategy="linear")

    theirs, _ = _run(tsched, build, 100)
    ours, sched = _run(csched, build, 100)
    assert theirs.param_groups[0]["lr"] < 0  # torch: the extrapolated linear phase goes negative
    assert ours.param_groups[0]["lr"] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)
    assert ours.param_groups[0]["momentum"] == 0.95
    ours.step()
    with pytest.raises(ValueError, match="total_steps=100"):
        sched.step()


def test_warm_restarts_epoch_argument_finds_the_restart_exactly():
    def build(L, o):
        return L.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=10, eta_min=0.01)

    # restarts at 1, 11, 111: step(111) is the first step of a cycle of length 1000
    theirs_opt, theirs = _run(tsched, build, 0)
    ours_opt, ours = _run(csched, build, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs.step(111)
        ours.step(111)
    assert theirs_opt.param_groups[0]["lr"] == pytest.approx(0.01)  # torch: log() floors to 2
    assert ours_opt.param_groups[0]["lr"] == 1.0
    assert (ours.T_cur, ours.T_i) == (0, 1000)


def test_warm_restarts_fractional_epochs_match_torch():
    def trace(module):
        opt, sched = _run(module, lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, 2, 0.01), 0)
        out = []
        for epoch in range(8):
            for i in range(4):
                opt.step()
                sched.step(epoch + i / 4)
                out.append((opt.param_groups[0]["lr"], sched.T_cur, sched.T_i))
        sched.step()  # continues from the last fractional epoch, as torch does
        out.append((opt.param_groups[0]["lr"], sched.T_cur, sched.T_i))
        return out

    for (a, ca, ia), (b, cb, ib) in zip(trace(tsched), trace(csched), strict=True):
        assert _close(a, b)
        assert ca == pytest.approx(cb, abs=1e-12)
        assert ia == ib


def test_chained_cosine_past_t_max_keeps_the_product_where_torch_adds_the_base():
    def build(L, o):
        return L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.CosineAnnealingLR(o, T_max=4)])

    theirs, _ = _run(tsched, build, 6)
    ours, _ = _run(csched, build, 6)
    product = 0.9**6 * (1 + math.cos(math.pi * 6 / 4)) / 2
    assert ours.param_groups[0]["lr"] == pytest.approx(product, rel=1e-12)
    assert abs(theirs.param_groups[0]["lr"] - product) > 1e-3


def test_hand_edited_lr_is_overwritten_by_the_closed_form():
    opt, sched = _run(csched, lambda L, o: L.ExponentialLR(o, 0.5), 2)
    opt.param_groups[0]["lr"] = 123.0
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.5**3
    opt_t, sched_t = _run(tsched, lambda L, o: L.ExponentialLR(o, 0.5), 2)
    opt_t.param_groups[0]["lr"] = 123.0
    opt_t.step()
    sched_t.step()
    assert opt_t.param_groups[0]["lr"] == 61.5  # torch's recursion continues from the edit


# --- HyperparameterScheduler reproduces torch's schedules from pure ones ---------------------------


@pytest.mark.parametrize("optimizer", ["torch.SGD", "course.SGD", "torch.Adam", "course.Adam"])
def test_hyperparameter_scheduler_reproduces_sequential_and_onecycle(optimizer):
    """Warm-up + cosine for lr (= torch's SequentialLR) and one-cycle momentum (= OneCycleLR's)."""
    opt_t = OPTIMIZERS[optimizer](_groups())
    seq = tsched.SequentialLR(
        opt_t,
        [tsched.LinearLR(opt_t, 0.1, total_iters=5), tsched.CosineAnnealingLR(opt_t, 20)],
        [5],
    )
    opt_o = OPTIMIZERS[optimizer](_groups())
    key = "beta1" if "betas" in opt_o.defaults else "momentum"
    groups = {
        i: {
            "lr": Join((Scaled(Linear(0.1, 1.0, 5), lr), Cosine(lr, 20, periodic=True)), (5,)),
            key: OneCycle(0.95, 0.85, 0.95, total_steps=30),
        }
        for i, lr in enumerate(LRS)
    }
    hyper = csched.HyperparameterScheduler(opt_o, groups=groups, interval="step")
    ref_opt = OPTIMIZERS[optimizer](_groups())
    ref_cycle = tsched.OneCycleLR(ref_opt, 1.0, total_steps=30)
    for t in range(30):
        for g_t, g_o, g_r in zip(opt_t.param_groups, opt_o.param_groups, ref_opt.param_groups):
            assert _close(g_t["lr"], g_o["lr"]), t
            beta = (lambda g: g["betas"][0]) if key == "beta1" else (lambda g: g["momentum"])
            assert _close(beta(g_r), beta(g_o)), t
        for o in (opt_t, opt_o, ref_opt):
            o.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            seq.step()
        hyper.step()
        ref_cycle.step()
    assert hyper.get_last_lr() == [g["lr"] for g in opt_o.param_groups]


def test_constructing_with_last_epoch_writes_the_closed_form_of_the_next_step():
    def build(module):
        opt = _sgd(0.1)
        opt.param_groups[0]["initial_lr"] = 0.1  # as after loading a checkpoint
        module.StepLR(opt, step_size=3, gamma=0.5, last_epoch=4)
        return opt.param_groups[0]["lr"]

    assert build(csched) == 0.05  # step 5: 0.1 * 0.5 ** (5 // 3)
    assert build(tsched) == 0.1  # torch's recursion keeps the group's lr


def test_ours_inside_torchs_chained_scheduler_last_one_wins():
    opt, _ = _run(
        None,
        lambda _, o: tsched.ChainedScheduler(
            [csched.StepLR(o, 2, 0.5), csched.ExponentialLR(o, 0.9)]
        ),
        4,
    )
    assert opt.param_groups[0]["lr"] == pytest.approx(0.9**4)  # not 0.5 ** 2 * 0.9 ** 4
    opt, _ = _run(
        None,
        lambda _, o: csched.ChainedScheduler(
            [csched.StepLR(o, 2, 0.5), csched.ExponentialLR(o, 0.9)]
        ),
        4,
    )
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5**2 * 0.9**4)


@pytest.mark.parametrize(
    "name",
    [
        "StepLR-7-0.5",
        "LinearLR",
        "CosineAnnealingLR-past-end",
        "CAWR-Tmult2",
        "CyclicLR-exp_range",
        "OneCycleLR-three-phase-cos",
        "LambdaLR-per-group",
        "MultiplicativeLR",
        "SequentialLR-three",
    ],
)
def test_lr_schedules_give_the_stepped_values_without_stepping(name):
    _, factory, steps = next(c for c in CASES if c[0] == name)
    trace = _trace(csched, factory, "torch.SGD", steps)
    fresh = factory(csched, OPTIMIZERS["torch.SGD"](_groups()))
    for g, schedule in enumerate(fresh.lr_schedules()):
        stepped = [rows[g][0] for rows, _ in trace]
        np.testing.assert_allclose(schedule.curve(steps + 1), stepped, rtol=1e-15)
