"""course_lib.schedules: closed forms, hand-checked values, joins, purity, validation."""

from __future__ import annotations

import dataclasses
import functools
import math
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from course_lib import schedules as S
from course_lib.schedules import (
    Constant,
    Cosine,
    CosineWarmRestarts,
    Cyclic,
    Exponential,
    InverseSqrt,
    InvScaling,
    Linear,
    MultiStepDecay,
    OneCycle,
    Polynomial,
    Scaled,
    StepDecay,
    curve,
    join,
    linear_warmup,
    one_cycle,
    warmup_cosine,
    warmup_then,
)


def _half(x):
    return 0.5**x


ALL = [
    Constant(0.1),
    StepDecay(0.1, step_size=10, gamma=0.5),
    MultiStepDecay(0.1, milestones=[5, 20], gamma=0.1),
    Exponential(0.1, gamma=0.97),
    Linear(0.0, 0.1, total_steps=10),
    Polynomial(0.1, total_steps=50, power=2.0, final=1e-3),
    Cosine(0.1, total_steps=50, final=1e-3),
    Cosine(0.1, total_steps=50, periodic=True),
    CosineWarmRestarts(0.1, T_0=5, T_mult=2, final=1e-3),
    Cyclic(0.01, 0.1, step_size_up=5, step_size_down=3, mode="exp_range", gamma=0.99),
    Cyclic(0.01, 0.1, step_size_up=4, scale_fn=_half),
    OneCycle(0.004, 0.1, 4e-7, total_steps=60, three_phase=True),
    InverseSqrt(0.1, warmup_steps=10),
    InvScaling(0.1, power_t=0.25),
    Scaled(Cosine(1.0, 30), 0.5),
    warmup_cosine(0.1, warmup_steps=10, total_steps=60),
    join([Constant(1.0), StepDecay(1.0, 3), Linear(1.0, 0.0, 4)], [5, 12]),
]


# --- closed forms and hand-checked values ----------------------------------------------------------


@pytest.mark.parametrize("base, final, T", [(0.1, 0.0, 100), (1.0, 0.2, 7), (0.5, 0.5, 3)])
def test_cosine_midpoint_is_mean_of_base_and_final(base, final, T):
    s = Cosine(base, T, final)
    assert s(0) == pytest.approx(base, rel=1e-15)
    assert s(T / 2) == pytest.approx((base + final) / 2, rel=1e-15)
    assert s(T) == pytest.approx(final, rel=1e-15, abs=1e-18)
    assert s(3 * T) == s(T)  # holds after the end
    t = T / 3
    assert s(t) == pytest.approx(final + (base - final) * (1 + math.cos(math.pi / 3)) / 2)


def test_periodic_cosine_climbs_back_with_period_2T():
    s = Cosine(1.0, 10, 0.1, periodic=True)
    assert s(10) == pytest.approx(0.1)
    assert s(15) == pytest.approx(s(5))
    assert s(20) == pytest.approx(1.0)
    assert s(27) == pytest.approx(s(7))


def test_step_decay_changes_exactly_at_multiples_of_step_size():
    s = StepDecay(1.0, step_size=10, gamma=0.5)
    assert [s(t) for t in (0, 9, 10, 19, 20, 29, 30)] == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert s(9.99) == 1.0  # real steps use the floor


def test_multistep_decay_counts_milestones_reached():
    s = MultiStepDecay(2.0, milestones=[3, 7], gamma=0.1)
    assert [s(t) for t in (0, 2, 3, 6, 7, 100)] == pytest.approx([2, 2, 0.2, 0.2, 0.02, 0.02])


def test_exponential_linear_polynomial_closed_forms():
    assert Exponential(2.0, 0.9)(5) == pytest.approx(2.0 * 0.9**5, rel=1e-15)
    lin = Linear(0.2, 1.0, 8)
    assert [lin(t) for t in (0, 4, 8, 20)] == pytest.approx([0.2, 0.6, 1.0, 1.0])
    poly = Polynomial(1.0, 10, power=3.0, final=0.1)
    assert poly(5) == pytest.approx(0.1 + 0.9 * 0.5**3)
    assert poly(10) == pytest.approx(0.1) and poly(50) == pytest.approx(0.1)
    assert Polynomial(1.0, 4)(1) == pytest.approx(0.75)  # power 1 is linear decay


def test_warm_restarts_restart_at_cumulative_cycle_lengths():
    s = CosineWarmRestarts(1.0, T_0=3, T_mult=2, final=0.0)
    restarts = [3, 9, 21, 45]  # 3, 3+6, 3+6+12, ...
    for r in restarts:
        assert s(r) == 1.0
        assert s(r - 1) < 0.3
    assert s.cycle(8) == (1, 3, 6)
    assert s.cycle(10) == (2, 9, 12)
    assert s.cycle(21) == (3, 21, 24)
    assert [e for e, _ in s.events(50)] == restarts
    # T_cur = 1.5 in the first cycle (real steps)
    assert s(1.5) == pytest.approx((1 + math.cos(math.pi * 0.5)) / 2)


@pytest.mark.parametrize("T_0, T_mult", [(3, 1), (2, 2), (4, 3)])
def test_warm_restarts_equal_joined_cosines(T_0, T_mult):
    pieces, boundaries, start, length = [], [], 0, T_0
    while start < 80:
        pieces.append(Cosine(0.5, length, 0.01))
        start += length
        boundaries.append(start)
        length *= T_mult
    joined = join(pieces, boundaries[:-1])
    sgdr = CosineWarmRestarts(0.5, T_0, T_mult, 0.01)
    np.testing.assert_allclose(joined.curve(80), sgdr.curve(80), rtol=1e-15)
    assert [e for e, k in joined.events(80) if k == "boundary"] == [e for e, _ in sgdr.events(80)]


def test_cyclic_triangular_reaches_peak_at_step_size_up():
    s = Cyclic(0.1, 1.0, step_size_up=4, step_size_down=6)
    assert s(0) == pytest.approx(0.1)
    assert s(4) == pytest.approx(1.0)
    assert s(2) == pytest.approx(0.55)
    assert s(7) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway down
    assert s(10) == pytest.approx(0.1)  # next cycle
    assert s(14) == pytest.approx(1.0)
    assert [e for e, _ in s.events(35)] == [10, 20, 30]


def test_cyclic_triangular2_halves_and_exp_range_decays_the_amplitude():
    tri2 = Cyclic(0.0, 1.0, step_size_up=2, mode="triangular2")
    assert [tri2(t) for t in (2, 6, 10)] == pytest.approx([1.0, 0.5, 0.25])
    exp = Cyclic(0.0, 1.0, step_size_up=2, mode="exp_range", gamma=0.9)
    assert exp(2) == pytest.approx(0.9**2)
    assert exp(6) == pytest.approx(0.9**6)


def test_cyclic_momentum_mirrors_the_learning_rate():
    lr = Cyclic(0.01, 0.1, step_size_up=5, step_size_down=3)
    mom = Cyclic(0.95, 0.85, step_size_up=5, step_size_down=3)
    for t in range(30):
        # (lr - 0.01) / 0.09 == (0.95 - mom) / 0.10: the same triangle, upside down
        assert (lr(t) - 0.01) / 0.09 == pytest.approx((0.95 - mom(t)) / 0.10, abs=1e-12)


def test_one_cycle_peaks_at_pct_start_times_total():
    s = OneCycle(0.04, 1.0, 4e-6, total_steps=100, pct_start=0.25)
    e1 = 0.25 * 100 - 1
    assert s(0) == pytest.approx(0.04)
    assert s(e1) == 1.0
    assert max(s.curve(100)) == 1.0
    assert s(99) == pytest.approx(4e-6)
    assert s(100) == s(500) == 4e-6  # holds after the last step
    # cosine annealing: a quarter of the way down the second phase
    q = 0.25
    t = e1 + q * (99 - e1)
    assert s(t) == pytest.approx(4e-6 + (1.0 - 4e-6) / 2 * (math.cos(math.pi * q) + 1))
    assert s.events(100) == [(e1, "phase")]


def test_one_cycle_three_phase_and_linear():
    s = OneCycle(0.1, 1.0, 0.0, total_steps=41, pct_start=0.25, three_phase=True)
    e1, e2 = 0.25 * 41 - 1, 2 * 0.25 * 41 - 2
    assert s(e1) == pytest.approx(1.0)
    assert s(e2) == pytest.approx(0.1)
    assert s(40) == pytest.approx(0.0, abs=1e-15)
    lin = OneCycle(0.0, 1.0, 0.0, total_steps=21, pct_start=0.5, anneal_strategy="linear")
    assert lin(4.75) == pytest.approx(0.5)  # halfway up (e1 = 9.5)
    assert lin(9.5 + 5.25) == pytest.approx(0.5)  # halfway down (to 20)


def test_one_cycle_function_uses_torchs_factors():
    s = one_cycle(0.5, total_steps=50, div_factor=10.0, final_div_factor=100.0)
    assert (s.start, s.peak, s.end) == (0.05, 0.5, 0.05 / 100.0)


def test_inverse_sqrt_warms_up_then_decays_as_one_over_sqrt_t():
    s = InverseSqrt(1.0, warmup_steps=10)
    assert s(0) == 0.0 and s(5) == 0.5 and s(10) == 1.0
    assert s(40) == pytest.approx(0.5)  # sqrt(10 / 40)
    assert s(1000) == pytest.approx(math.sqrt(10 / 1000))
    hf = InverseSqrt(1.0, warmup_steps=0, timescale=100.0)
    assert hf(300) == pytest.approx(1 / math.sqrt((300 + 100) / 100))


def test_invscaling_matches_sklearn_sgdregressor_updates():
    from sklearn.linear_model import SGDRegressor

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(25, 3)), rng.normal(size=25)
    eta = InvScaling(eta0=0.05, power_t=0.3)
    model = SGDRegressor(
        loss="squared_error",
        penalty=None,
        alpha=0.0,
        fit_intercept=False,
        shuffle=False,
        learning_rate="invscaling",
        eta0=0.05,
        power_t=0.3,
        max_iter=2,
        tol=None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached
        model.fit(X, y)
    w, t = np.zeros(3), 0
    for _ in range(2):
        for xi, yi in zip(X, y):
            w = w - eta(t) * (xi @ w - yi) * xi  # squared-error gradient, sample by sample
            t += 1
    np.testing.assert_allclose(model.coef_, w, rtol=1e-12)
    assert model.t_ == t + 1  # scikit-learn's counter starts at 1
    assert eta(0) == 0.05


# --- joins ---------------------------------------------------------------------------------------


def test_join_pieces_restart_their_clocks_at_boundaries():
    s = join([Linear(0.0, 1.0, 4), Exponential(1.0, 0.5), Constant(7.0)], boundaries=[4, 6])
    assert [s(t) for t in range(8)] == [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 7.0, 7.0]
    assert s.piece(5) == (1, 1)
    assert s.events(10) == [(4.0, "boundary"), (6.0, "boundary")]


def test_warmup_then_any_schedule():
    inner = StepDecay(0.2, step_size=5, gamma=0.5)
    s = warmup_then(inner, warmup_steps=4, start=0.02)
    assert s(0) == pytest.approx(0.02)
    assert s(2) == pytest.approx(0.11)
    assert s(4) == 0.2
    assert s(9) == inner(5) == 0.1
    kinds = s.events(20)
    assert kinds == [(4.0, "boundary"), (9, "milestone"), (14, "milestone"), (19, "milestone")]


def test_warmup_cosine_counts_warmup_in_total_steps():
    s = warmup_cosine(1.0, warmup_steps=10, total_steps=110, final=0.1)
    assert s(5) == pytest.approx(0.5)
    assert s(10) == 1.0
    assert s(60) == pytest.approx(0.55)
    assert s(110) == pytest.approx(0.1) and s(1000) == pytest.approx(0.1)
    assert linear_warmup(0.3, 3)(3) == 0.3


def test_scaled_multiplies_and_keeps_events():
    s = Scaled(StepDecay(1.0, 3, 0.1), 0.5)
    assert [s(t) for t in (0, 3, 6)] == pytest.approx([0.5, 0.05, 0.005])
    assert s.events(7) == [(3.0, "milestone"), (6.0, "milestone")]


# --- purity: pickling, immutability, curves --------------------------------------------------------


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_schedules_are_pure_picklable_and_frozen(schedule):
    values = schedule.curve(70)
    again = pickle.loads(pickle.dumps(schedule))
    assert again == schedule
    np.testing.assert_array_equal(again.curve(70), values)
    np.testing.assert_array_equal(schedule.curve(70), values)  # no hidden state
    assert [schedule(t) for t in (69, 3, 40, 3)] == [values[69], values[3], values[40], values[3]]
    field = dataclasses.fields(schedule)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(schedule, field, 0)
    assert values.dtype == np.float64 and values.shape == (70,)
    assert all(isinstance(schedule(t), float) for t in (0, 1))


def test_curve_accepts_any_callable_and_a_start():
    assert curve(functools.partial(pow, 0.5), 3).tolist() == [1.0, 0.5, 0.25]
    np.testing.assert_array_equal(Exponential(1.0, 0.5).curve(2, start=2), [0.25, 0.125])


def test_step_must_be_a_non_negative_number():
    s = Constant(1.0)
    assert s(np.int64(3)) == 1.0 and s(2.5) == 1.0
    with pytest.raises(ValueError, match=r"step must be a finite number >= 0, got -1"):
        s(-1)
    with pytest.raises(ValueError, match="step"):
        s(float("nan"))
    with pytest.raises(TypeError, match="step"):
        s(True)
    with pytest.raises(TypeError, match="step"):
        s("3")


def test_importing_schedules_needs_neither_torch_nor_matplotlib():
    code = (
        "import sys, course_lib.schedules as s; s.Cosine(1.0, 10)(3); "
        "assert 'matplotlib' not in sys.modules and 'torch' not in sys.modules, "
        "[m for m in ('torch', 'matplotlib') if m in sys.modules]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- validation at construction ------------------------------------------------------------------

BAD = [
    (lambda: StepDecay(0.1, step_size=0), ValueError, "step_size must be an integer >= 1, got 0"),
    (lambda: StepDecay(0.1, step_size=2.0), TypeError, "step_size"),
    (lambda: StepDecay(0.1, 3, gamma=0.0), ValueError, "gamma must be a finite number > 0"),
    (lambda: MultiStepDecay(0.1, [5, 3]), ValueError, "milestones must be strictly increasing"),
    (lambda: MultiStepDecay(0.1, [-1, 3]), ValueError, r"milestones\[0\] must be an integer >= 0"),
    (lambda: MultiStepDecay(0.1, [2, 2]), ValueError, "strictly increasing"),
    (lambda: MultiStepDecay(0.1, 5), TypeError, "milestones must be a list"),
    (lambda: Exponential(0.1, gamma=-0.5), ValueError, "gamma"),
    (lambda: Linear(0.0, 1.0, total_steps=0), ValueError, "total_steps must be an integer >= 1"),
    (lambda: Polynomial(1.0, 10, power=-1.0), ValueError, "power must be a finite number >= 0"),
    (lambda: Cosine(0.1, total_steps=-5), ValueError, "total_steps"),
    (lambda: Cosine(float("nan"), 10), ValueError, "base must be a finite number"),
    (lambda: Cosine(0.1, 10, periodic=1), TypeError, "periodic must be True or False"),
    (lambda: CosineWarmRestarts(0.1, T_0=0), ValueError, "T_0 must be an integer >= 1"),
    (
        lambda: CosineWarmRestarts(0.1, T_0=5, T_mult=0),
        ValueError,
        "T_mult must be an integer >= 1",
    ),
    (lambda: CosineWarmRestarts(0.1, T_0=5, T_mult=1.5), TypeError, "T_mult"),
    (
        lambda: Cyclic(0.1, 1.0, step_size_up=0),
        ValueError,
        "step_size_up must be a finite number > 0",
    ),
    (lambda: Cyclic(0.1, 1.0, 4, step_size_down=-1), ValueError, "step_size_down"),
    (lambda: Cyclic(0.1, 1.0, 4, mode="triangle"), ValueError, "mode must be one of"),
    (lambda: Cyclic(0.1, 1.0, 4, scale_mode="cycle"), ValueError, "scale_mode applies only"),
    (lambda: Cyclic(0.1, 1.0, 4, scale_fn=3), TypeError, "scale_fn must be callable"),
    (lambda: Cyclic(0.1, 1.0, 4, scale_fn=_half, scale_mode="epoch"), ValueError, "scale_mode"),
    (
        lambda: OneCycle(0.1, 1, 0, 100, pct_start=0.0),
        ValueError,
        r"pct_start must be a finite number in \(0, 1\)",
    ),
    (lambda: OneCycle(0.1, 1, 0, 100, pct_start=1.0), ValueError, "pct_start"),
    (
        lambda: OneCycle(0.1, 1, 0, 10, pct_start=0.1),
        ValueError,
        r"pct_start \* total_steps must be > 1",
    ),
    (
        lambda: OneCycle(0.1, 1, 0, 100, pct_start=0.6, three_phase=True),
        ValueError,
        "three_phase=True",
    ),
    (
        lambda: OneCycle(0.1, 1, 0, 100, anneal_strategy="cosine"),
        ValueError,
        "anneal_strategy must be one of",
    ),
    (lambda: OneCycle(0.1, 1, 0, 1), ValueError, "total_steps must be an integer >= 2"),
    (lambda: InverseSqrt(0.1, warmup_steps=0), ValueError, "timescale must be given"),
    (lambda: InverseSqrt(0.1, warmup_steps=-1), ValueError, "warmup_steps"),
    (lambda: InvScaling(0.1, power_t=-0.5), ValueError, "power_t must be a finite number >= 0"),
    (lambda: Scaled(3.0, 0.5), TypeError, "schedule must be callable"),
    (
        lambda: join([Constant(1.0), Constant(2.0)], []),
        ValueError,
        "one entry fewer than schedules",
    ),
    (
        lambda: join([Constant(1.0), Constant(2.0)], [0]),
        ValueError,
        r"boundaries\[0\] must be an integer >= 1",
    ),
    (
        lambda: join([Constant(1.0), Constant(2.0), Constant(3.0)], [5, 5]),
        ValueError,
        "strictly increasing",
    ),
    (lambda: join([], []), TypeError, "non-empty list"),
    (lambda: join([Constant(1.0), "x"], [3]), TypeError, r"schedules\[1\] must be callable"),
    (lambda: warmup_cosine(0.1, 10, 10), ValueError, "total_steps must be > warmup_steps=10"),
    (lambda: linear_warmup(0.1, 0), ValueError, "warmup_steps must be an integer >= 1"),
    (lambda: one_cycle(0.0, 100), ValueError, "max_lr must be a finite number > 0"),
    (lambda: curve(Constant(1.0), -1), ValueError, "n must be an integer >= 0"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_arguments_raise_at_construction_naming_the_argument(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_module_exports_what_it_documents():
    for name in S.__all__:
        assert getattr(S, name).__doc__, name
