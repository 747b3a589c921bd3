"""Warmup-stable-decay: closed forms at the phase ends, the three cooldowns, bad inputs, torch's LambdaLR.

The pure :class:`~course_lib.schedules.WarmupStableDecay` gives the same rates as torch's own
``LambdaLR`` from :func:`~course_lib.schedules.wsd_lambda_lr` and as ``course_lib.schedulers``'
wrappers of a pure schedule, to 1e-12 relative at every step.
"""

import math
import pickle

import numpy as np
import pytest
import torch

from course_lib import schedulers as CS
from course_lib.schedules import COOLDOWNS, WarmupStableDecay, wsd, wsd_lambda_lr

SHAPES = ["linear", "cosine", "1-sqrt"]
#: h(1/2) of each cooldown
HALF = {"linear": 0.5, "cosine": 0.5, "1-sqrt": 1 - math.sqrt(0.5)}


@pytest.mark.parametrize("cooldown", SHAPES)
def test_closed_form_values_at_the_phase_boundaries(cooldown):
    s = WarmupStableDecay(
        0.2, total_steps=100, warmup_steps=10, decay_steps=20, cooldown=cooldown, final=0.02,
        start=0.01,
    )  # fmt: skip
    assert s.decay_start == 80
    assert s(0) == 0.01  # start
    assert s(5) == pytest.approx(0.01 + 0.19 / 2, rel=1e-15)  # half-way up
    assert s(10) == s(45) == s(79) == s(80) == 0.2  # stable from T_w, cooldown starts at base
    assert s(90) == pytest.approx(0.02 + 0.18 * HALF[cooldown], rel=1e-14)
    assert s(99) == pytest.approx(0.02 + 0.18 * COOLDOWNS[cooldown](19 / 20), rel=1e-14)
    assert s(100) == pytest.approx(0.02, rel=1e-15) and s(100) == s(1000)  # final held after T
    assert s(85.5) == pytest.approx(0.02 + 0.18 * COOLDOWNS[cooldown](5.5 / 20), rel=1e-14)


def test_the_three_cooldown_shapes_are_the_documented_formulas():
    x = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose([COOLDOWNS["linear"](v) for v in x], 1 - x, atol=1e-15)
    np.testing.assert_allclose(
        [COOLDOWNS["cosine"](v) for v in x], (1 + np.cos(np.pi * x)) / 2, atol=1e-15
    )
    np.testing.assert_allclose([COOLDOWNS["1-sqrt"](v) for v in x], 1 - np.sqrt(x), atol=1e-15)
    assert sorted(COOLDOWNS) == sorted(SHAPES)


@pytest.mark.parametrize("cooldown", SHAPES)
def test_rises_in_the_warmup_holds_then_falls_strictly_in_the_cooldown(cooldown):
    s = WarmupStableDecay(1.0, 60, warmup_steps=8, decay_steps=30, cooldown=cooldown, final=0.1)
    v = s.curve(61)
    assert np.all(np.diff(v[:9]) > 0)  # warm-up
    assert np.all(v[8:31] == 1.0)  # stable
    assert np.all(np.diff(v[30:61]) < 0)  # cooldown, strictly
    assert v[60] == pytest.approx(0.1) and v.min() >= 0.0


def test_one_minus_sqrt_lies_below_linear_and_cosine_crosses_it_in_the_middle():
    curves = {c: WarmupStableDecay(1.0, 100, 0, 100, cooldown=c).curve(101) for c in SHAPES}
    inner = slice(1, 100)
    assert np.all(curves["1-sqrt"][inner] < curves["linear"][inner])
    assert np.all(curves["cosine"][1:50] > curves["linear"][1:50])
    assert np.all(curves["cosine"][51:100] < curves["linear"][51:100])
    assert curves["cosine"][50] == pytest.approx(curves["linear"][50], abs=1e-15)


def test_mean_of_the_cooldown_is_one_half_one_half_and_one_third():
    n = 20_000
    means = {c: WarmupStableDecay(1.0, n, 0, n, cooldown=c).curve(n).mean() for c in SHAPES}
    assert means["linear"] == pytest.approx(0.5, abs=1e-4)
    assert means["cosine"] == pytest.approx(0.5, abs=1e-4)
    assert means["1-sqrt"] == pytest.approx(1 / 3, abs=1e-4)


def test_without_warmup_the_first_step_is_the_base_and_start_is_ignored():
    s = WarmupStableDecay(0.5, 10, decay_steps=4, start=123.0)
    assert s(0) == 0.5 and s(5) == 0.5 and s(6) == 0.5 and s(8) == pytest.approx(0.25)


def test_cooldown_over_the_whole_run_after_the_warmup_has_no_stable_phase():
    s = WarmupStableDecay(1.0, 10, warmup_steps=4, decay_steps=6)
    assert [round(s(t), 12) for t in range(11)] == [
        0.0, 0.25, 0.5, 0.75, 1.0, round(5 / 6, 12), round(4 / 6, 12), 0.5, round(2 / 6, 12),
        round(1 / 6, 12), 0.0,
    ]  # fmt: skip
    assert s.events(20) == [(4.0, "phase"), (10.0, "phase")]


@pytest.mark.parametrize(
    ("total", "expected"), [(1, 1), (3, 1), (10, 2), (12, 2), (13, 3), (100, 20), (1000, 200)]
)
def test_default_decay_steps_are_twenty_percent_rounded_half_up_at_least_one(total, expected):
    assert WarmupStableDecay(1.0, total).decay_steps == expected


def test_wsd_takes_the_cooldown_as_a_fraction_of_the_run():
    s = wsd(0.3, total_steps=10, warmup_steps=2, decay_fraction=0.25, cooldown="1-sqrt")
    assert s == WarmupStableDecay(0.3, 10, 2, 3, "1-sqrt")  # 2.5 rounds up to 3
    assert wsd(1.0, 100).decay_steps == 20 and wsd(1.0, 100, decay_fraction=1.0).decay_steps == 100


def test_events_mark_the_end_of_the_warmup_the_start_and_the_end_of_the_cooldown():
    s = WarmupStableDecay(1.0, 100, warmup_steps=10, decay_steps=20)
    assert s.events(100) == [(10.0, "phase"), (80.0, "phase")]
    assert s.events(101) == [(10.0, "phase"), (80.0, "phase"), (100.0, "phase")]
    assert s.events(10) == [] and WarmupStableDecay(1.0, 10, 0, 10).events(50) == [(10.0, "phase")]


def test_a_schedule_is_a_frozen_picklable_value():
    s = WarmupStableDecay(0.1, 100, 5, 20, "cosine", 0.001)
    assert pickle.loads(pickle.dumps(s)) == s and hash(s) == hash(pickle.loads(pickle.dumps(s)))
    with pytest.raises(AttributeError):
        s.base = 1.0  # type: ignore[misc]


BAD = [
    (lambda: WarmupStableDecay(0.1, 100, 30, 80), ValueError, r"warmup_steps \+ decay_steps must be <= total_steps=100.*warmup_steps=30 and decay_steps=80"),
    (lambda: WarmupStableDecay(0.1, 10, 0, 11), ValueError, "warmup_steps \\+ decay_steps"),
    (lambda: WarmupStableDecay(0.1, 100, cooldown="sqrt"), ValueError, "cooldown must be one of 'linear', 'cosine', '1-sqrt', got 'sqrt'"),
    (lambda: WarmupStableDecay(0.1, 100, decay_steps=0), ValueError, "decay_steps must be an integer >= 1, got 0"),
    (lambda: WarmupStableDecay(0.1, 100, decay_steps=20.0), TypeError, "decay_steps must be an integer"),
    (lambda: WarmupStableDecay(0.1, 0), ValueError, "total_steps must be an integer >= 1, got 0"),
    (lambda: WarmupStableDecay(0.1, 100, warmup_steps=-1), ValueError, "warmup_steps must be an integer >= 0, got -1"),
    (lambda: WarmupStableDecay(float("nan"), 100), ValueError, "base must be a finite number"),
    (lambda: WarmupStableDecay(0.1, 100, final=float("inf")), ValueError, "final must be a finite number"),
    (lambda: WarmupStableDecay(0.1, 100, start="0"), TypeError, "start must be a finite number"),
    (lambda: wsd(0.1, 100, decay_fraction=0.0), ValueError, r"decay_fraction must be a finite number in \(0, 1\], got 0.0"),
    (lambda: wsd(0.1, 100, decay_fraction=1.5), ValueError, "decay_fraction must be a finite number in"),
    (lambda: wsd(0.1, 10, decay_fraction=0.01), ValueError, "must round to at least 1 cooldown step"),
    (lambda: wsd(0.1, 10, warmup_steps=9, decay_fraction=0.2), ValueError, "warmup_steps \\+ decay_steps"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "error", "match"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_arguments_raise_at_construction_naming_the_argument(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_a_negative_step_raises():
    with pytest.raises(ValueError, match="step must be a finite number >= 0"):
        WarmupStableDecay(1.0, 10)(-1)


# --- the torch equivalents ------------------------------------------------------------------------

LRS = (0.1, 0.03)


def _optimizer() -> torch.optim.SGD:
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    return torch.optim.SGD([{"params": [a], "lr": LRS[0]}, {"params": [b], "lr": LRS[1]}])


def _rates(optimizer, scheduler, steps: int) -> np.ndarray:
    """The lr of every group each of ``steps`` optimizer steps uses, shape ``(steps, groups)``."""
    rows = []
    for _ in range(steps):
        rows.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return np.array(rows)


def _pure(base, cooldown, start_factor=0.05, final_factor=0.1):
    return WarmupStableDecay(
        base, 40, 6, 12, cooldown, final=final_factor * base, start=start_factor * base
    )


def _expected(cooldown, steps) -> np.ndarray:
    return np.stack([_pure(lr, cooldown).curve(steps) for lr in LRS], axis=1)


@pytest.mark.parametrize("cooldown", SHAPES)
def test_torchs_lambda_lr_gives_the_pure_schedules_rates_at_every_step(cooldown):
    opt = _optimizer()
    sched = wsd_lambda_lr(opt, 40, 6, 12, cooldown, start_factor=0.05, final_factor=0.1)
    assert type(sched) is torch.optim.lr_scheduler.LambdaLR
    np.testing.assert_allclose(_rates(opt, sched, 50), _expected(cooldown, 50), rtol=1e-12, atol=0)


@pytest.mark.parametrize("cooldown", SHAPES)
def test_course_lib_wrappers_of_the_pure_schedule_give_the_same_rates(cooldown):
    expected = _expected(cooldown, 50)
    opt = _optimizer()
    hyper = CS.HyperparameterScheduler(
        opt, groups={i: {"lr": _pure(lr, cooldown)} for i, lr in enumerate(LRS)}, interval="step"
    )
    np.testing.assert_allclose(_rates(opt, hyper, 50), expected, rtol=1e-12, atol=0)
    opt = _optimizer()
    factor = _pure(1.0, cooldown)
    lam = CS.LambdaLR(opt, factor)
    np.testing.assert_allclose(_rates(opt, lam, 50), expected, rtol=1e-12, atol=0)
    assert lam.lr_schedules()[1](45) == pytest.approx(expected[45, 1], rel=1e-12)


def test_torchs_lambda_lr_resumes_from_its_state_dict():
    opt = _optimizer()
    sched = wsd_lambda_lr(opt, 40, 6, 12, "1-sqrt")
    _rates(opt, sched, 20)
    saved = sched.state_dict()
    assert saved["lr_lambdas"][0]["cooldown"] == "1-sqrt" and saved["last_epoch"] == 20
    opt2 = _optimizer()
    resumed = wsd_lambda_lr(opt2, 40, 6, 12, "1-sqrt")
    resumed.load_state_dict(saved)
    opt2.step()
    resumed.step()  # step 21, as the uninterrupted run's next step
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    np.testing.assert_allclose(
        [g["lr"] for g in opt.param_groups], [lr * _pure(1.0, "1-sqrt", 0, 0)(21) for lr in LRS]
    )


def test_wsd_lambda_lr_refuses_bad_arguments_before_building():
    opt = _optimizer()
    with pytest.raises(ValueError, match="cooldown must be one of"):
        wsd_lambda_lr(opt, 40, cooldown="exp")
    with pytest.raises(ValueError, match=r"warmup_steps \+ decay_steps"):
        wsd_lambda_lr(opt, 10, 5, 6)
    with pytest.raises(ValueError, match="last_epoch must be an integer >= -1"):
        wsd_lambda_lr(opt, 40, last_epoch=-2)
    assert [g["lr"] for g in opt.param_groups] == list(LRS)
