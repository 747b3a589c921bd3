"""course_lib.widgets.adaptive and course_lib.plots.adaptive: race, bias correction, counterexample."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import landscapes
from course_lib.compare import run_grid
from course_lib.experiments import adaptive as xa
from course_lib.plots.adaptive import plot_bias_correction, plot_race, plot_seed_spread
from course_lib.widgets import adaptive as wa


@pytest.mark.parametrize(
    ("beta1", "beta2"), [(0.9, 0.999), (0.5, 0.99), (0.0, 0.9), (0.99, 0.9999)]
)
def test_bias_correction_removes_the_zero_start_exactly_for_a_constant_gradient(beta1, beta2):
    r = xa.bias_correction(beta1, beta2, steps=40, g=-2.0)
    t = np.arange(1, 41)
    np.testing.assert_allclose(r.m, (1 - beta1**t) * -2.0, rtol=1e-12)
    np.testing.assert_allclose(r.v, (1 - beta2**t) * 4.0, rtol=1e-12)
    np.testing.assert_allclose(r.m_hat, -2.0, rtol=1e-12)
    np.testing.assert_allclose(r.v_hat, 4.0, rtol=1e-12)
    np.testing.assert_allclose(r.step_corrected, -r.lr * 2.0 / (2.0 + r.eps), rtol=1e-12)
    assert r.first_step_ratio == pytest.approx((1 - beta1) / math.sqrt(1 - beta2), rel=1e-6)


def test_bias_correction_matches_adam_first_steps():
    """The corrected step is exactly torch's Adam step on f(θ) = g·θ."""
    r = xa.bias_correction(0.8, 0.95, steps=5, gradient="noisy", g=0.5, noise=2.0, seed=3, lr=0.1)
    theta = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.Adam([theta], lr=0.1, betas=(0.8, 0.95), eps=1e-8)
    for i, g in enumerate(r.g):
        before = theta.item()
        opt.zero_grad()
        (float(g) * theta).sum().backward()
        opt.step()
        assert before - theta.item() == pytest.approx(r.step_corrected[i], rel=1e-10)


def test_bias_correction_noise_is_seeded():
    a = xa.bias_correction(gradient="noisy", steps=10, seed=1)
    b = xa.bias_correction(gradient="noisy", steps=10, seed=1)
    c = xa.bias_correction(gradient="noisy", steps=10, seed=2)
    np.testing.assert_array_equal(a.g, b.g)
    assert not np.array_equal(a.g, c.g)
    assert "first step" in a.status()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"beta1": 1.0}, ValueError, r"beta1 must be a finite number in \[0, 1\), got 1.0"),
        ({"beta2": -0.1}, ValueError, "beta2 must be"),
        ({"steps": 0}, ValueError, "steps must be an integer"),
        ({"gradient": "random"}, ValueError, "gradient must be one of 'constant', 'noisy'"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        ({"noise": "big"}, TypeError, "noise must be"),
    ],
)
def test_bias_correction_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        xa.bias_correction(**kwargs)


def test_sgd_and_momentum_do_not_notice_a_rotation_but_adagrad_does():
    names = ["SGD", "Momentum", "Adagrad", "RMSprop"]
    aligned = xa.race("quadratic", names, steps=100)
    rotated = xa.race("rotated quadratic", names, steps=100)
    for name in ("SGD", "Momentum"):
        np.testing.assert_allclose(
            aligned.trajectories[name].losses,
            rotated.trajectories[name].losses,
            rtol=1e-9,
            atol=1e-14,
        )
    for name in ("Adagrad", "RMSprop"):
        assert aligned.steps_to(name, 1e-6) < 30
        slow = rotated.steps_to(name, 1e-6)
        assert slow is None or slow > 60


def test_race_reports_divergence_without_raising():
    r = xa.race("rosenbrock", ["SGD", "Adam"], lr_scale=10.0, steps=100)
    assert r.diverged() == ["SGD"]
    assert r.trajectories["SGD"].diverged_at is not None
    assert r.final_gap("SGD") == math.inf
    assert "SGD (lr=0.01): diverged at step" in r.status()
    assert set(r.labelled()) == {"SGD (lr=0.01)", "Adam (lr=1)"}


def test_race_uses_explicit_rates_and_any_landscape():
    q = landscapes.quadratic(4.0)
    r = xa.race(q, ["SGD"], {"SGD": 0.5}, lr_scale=2.0, steps=20)
    assert r.lrs == {"SGD": 1.0}
    assert r.landscape is q
    with pytest.raises(ValueError, match="lrs must give a rate for 'Adam'"):
        xa.race(q, ["Adam"], steps=5)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("hills", ["SGD"]), {}, ValueError, "landscape must be one of"),
        (("quadratic", ["Muon"]), {}, ValueError, "optimizer must be one of"),
        (("quadratic", []), {}, ValueError, "at least one"),
        (("quadratic", ["SGD", "SGD"]), {}, ValueError, "must not repeat"),
        (("quadratic", "SGD"), {}, TypeError, "list of names"),
        (
            ("quadratic", ["SGD"]),
            {"lr_scale": 0.0},
            ValueError,
            "lr_scale must be a finite number > 0",
        ),
        (
            ("quadratic", ["SGD"]),
            {"steps": 0},
            ValueError,
            r"steps must be an integer in \[1, 5000\]",
        ),
        (("quadratic", ["SGD"]), {"lrs": {"SGD": -1.0}}, ValueError, r"lrs\['SGD'\] must be"),
    ],
)
def test_race_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        xa.race(*args, **kwargs)


def test_default_rates_cover_every_landscape_and_optimizer_and_do_not_diverge():
    assert set(xa.DEFAULT_LRS) == set(xa.RACE_LANDSCAPES)
    for name, rates in xa.DEFAULT_LRS.items():
        assert set(rates) == set(xa.RACE_OPTIMIZERS), name
        r = xa.race(name, list(xa.RACE_OPTIMIZERS), steps=60)
        assert r.diverged() == [], (name, r.status())


def test_tune_race_lrs_picks_the_fastest_stable_rate():
    best = xa.tune_race_lrs("quadratic", ["SGD"], [0.1, 1.0, 3.0], steps=50)
    assert best == {"SGD": 1.0}  # 3.0 > 2/L diverges, 0.1 is slow
    with pytest.raises(ValueError, match="at least one rate"):
        xa.tune_race_lrs("quadratic", ["SGD"], [])


def test_make_optimizer_builds_the_named_variant():
    p = torch.nn.Parameter(torch.zeros(2))
    assert xa.make_race_optimizer("AMSGrad", [p], 0.1).defaults["amsgrad"] is True
    assert xa.make_race_optimizer("Momentum", [p], 0.1).defaults["momentum"] == 0.9
    assert type(xa.make_race_optimizer("NAdam", [p], 0.1)).__name__ == "NAdam"
    assert type(xa.make_race_optimizer("Lion", [p], 0.1)).__name__ == "Lion"
    for refused in ("Muon", "LBFGS"):  # 2-D matrices only; needs a closure
        with pytest.raises(ValueError, match="optimizer must be one of"):
            xa.make_race_optimizer(refused, [p], 0.1)


def test_online_counterexample_adam_fails_and_amsgrad_converges():
    adam = xa.online_counterexample(False, steps=900)
    ams = xa.online_counterexample(True, steps=900)
    assert adam.x[-1] == 1.0 and ams.x[-1] < -0.9
    assert adam.average_regret > 0.5 and ams.average_regret < 0.1
    assert np.all(np.abs(adam.x) <= 1.0)
    with pytest.raises(ValueError, match="C must be a finite number > 2"):
        xa.online_counterexample(True, C=2.0)


def test_race_explorer_updates_result_and_reports_divergence():
    w = wa.RaceExplorer(landscape="rosenbrock", optimizers=("SGD", "Adam"), draw=False)
    assert w.result.diverged() == []
    w.lr_scale_slider.value = 10.0
    assert w.result.diverged() == ["SGD"]
    assert "diverged at step" in w.status.value
    w.landscape_dropdown.value = "quadratic"
    assert w.result.landscape.name.startswith("quadratic")
    w.optimizer_select.value = ()
    assert w.result is None and "Select at least one" in w.status.value
    w.optimizer_select.value = ("Adagrad",)
    assert list(w.result.trajectories) == ["Adagrad"]
    w.steps_slider.value = 50
    assert w.result.steps == 50


def test_explorers_draw_their_figure_into_the_image_and_close_it():
    open_before = plt.get_fignums()
    w = wa.RaceExplorer(optimizers=("SGD",), steps=20)
    assert w.children[-1] is w.figure and w.result is not None
    first = w.figure.value
    assert first[:4] == b"\x89PNG"
    w.lr_scale_slider.value = 0.1
    assert w.figure.value[:4] == b"\x89PNG" and w.figure.value != first
    b = wa.BiasCorrectionExplorer(steps=10)
    assert b.children[-1] is b.figure
    first = b.figure.value
    assert first[:4] == b"\x89PNG"
    b.beta2_slider.value = 0.9
    assert b.figure.value[:4] == b"\x89PNG" and b.figure.value != first
    assert plt.get_fignums() == open_before  # every drawn figure was closed


def test_explorers_without_draw_leave_the_image_empty():
    race = wa.RaceExplorer(optimizers=("SGD",), steps=20, draw=False)
    bias = wa.BiasCorrectionExplorer(steps=10, draw=False)
    assert race.figure.value == b"" and bias.figure.value == b""


def test_explorers_report_a_drawing_error_in_the_status_instead_of_raising(monkeypatch):
    def broken(result):
        plt.figure()
        raise RuntimeError("no canvas")

    monkeypatch.setattr(wa, "plot_race", broken)
    monkeypatch.setattr(wa, "plot_bias_correction", broken)
    race = wa.RaceExplorer(optimizers=("SGD",), steps=20)
    assert race.result is not None and race.figure.value == b""
    assert "<b>error:</b> RuntimeError: no canvas" in race.status.value
    bias = wa.BiasCorrectionExplorer(steps=10)
    assert "<b>error:</b> RuntimeError: no canvas" in bias.status.value
    assert "first step" in bias.status.value
    plt.close("all")


def test_race_explorer_rejects_bad_construction():
    with pytest.raises(ValueError, match="landscape must be one of"):
        wa.RaceExplorer(landscape="hills", draw=False)
    with pytest.raises(ValueError, match="steps must be an integer"):
        wa.RaceExplorer(steps=5, draw=False)


def test_bias_correction_explorer_follows_its_controls():
    w = wa.BiasCorrectionExplorer(draw=False)
    assert w.result.first_step_ratio == pytest.approx(0.1 / math.sqrt(0.001), rel=1e-6)
    w.beta2_slider.value = 0.99
    assert w.result.first_step_ratio == pytest.approx(1.0, rel=1e-6)
    w.beta1_slider.value = 0.0
    assert w.result.first_step_ratio == pytest.approx(10.0, rel=1e-6)
    w.gradient_dropdown.value = "noisy"
    assert w.result.g.std() > 0.5
    w.steps_slider.value = 20
    assert len(w.result.t) == 20
    assert "first step" in w.status.value
    with pytest.raises(ValueError, match="beta2 must be one of"):
        wa.BiasCorrectionExplorer(beta2=0.5)


def test_plots_return_figures_and_axes():
    fig = plot_race(xa.race("saddle", ["SGD", "Adam"], steps=20))
    assert len(fig.axes) == 2
    fig2 = plot_bias_correction(xa.bias_correction(steps=10))
    assert len(fig2.axes) == 3
    table = run_grid({"a": lambda s: {"acc": 0.5 + 0.01 * s}, "b": lambda s: {"acc": 0.6}}, [0, 1])
    ax = plot_seed_spread(table, "acc")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="metric must be one of"):
        plot_seed_spread(table, "loss")
    plt.close("all")


def test_amsgrad_rate_grows_in_torch_while_the_maximum_holds_but_not_in_algorithm_2():
    r = xa.amsgrad_rates(4000, beta2=0.999, g_first=1.0, g_rest=0.01)
    assert r.matches_torch
    assert np.all(r.v_max == r.v_max[0]) and r.v_max[0] == pytest.approx(1e-3, rel=1e-12)
    t = np.arange(1, 4001)
    # torch: γ √(1-β2^t) / √v_max, growing towards 1/√(1-β2) times the first rate
    np.testing.assert_allclose(
        r.rate_torch, r.lr * np.sqrt(1 - 0.999**t) / np.sqrt(1e-3), rtol=1e-6
    )
    assert np.all(np.diff(r.rate_torch) > 0)
    assert r.growth == pytest.approx(math.sqrt((1 - 0.999**4000) / (1 - 0.999)), rel=1e-6)
    assert r.growth < r.bound == pytest.approx(1 / math.sqrt(0.001))
    # Reddi et al.'s Algorithm 2: (γ/√t)/√v_max never increases
    assert np.all(np.diff(r.rate_paper) < 0)


def test_amsgrad_rates_follow_a_new_maximum_and_check_the_optimizer():
    # A later gradient larger than the first raises v_max: the rate drops at that step.
    r = xa.amsgrad_rates(50, g_first=0.01, g_rest=1.0, check=50)
    assert r.matches_torch and np.all(np.diff(r.v_max) >= 0) and r.v_max[-1] > r.v_max[0]
    with pytest.raises(ValueError, match="steps"):
        xa.amsgrad_rates(1)
    with pytest.raises(ValueError, match="beta2"):
        xa.amsgrad_rates(10, beta2=1.0)


@pytest.mark.parametrize(("error", "label"), [("std", "± 1 std"), ("minmax", "min to max")])
def test_seed_spread_says_what_its_error_bars_are(error, label):
    table = run_grid(
        {"a": lambda s: {"acc": 0.5 + 0.1 * s}, "b": lambda s: {"acc": 0.6}}, [0, 1, 2]
    )
    ax = plot_seed_spread(table, "acc", error=error)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"error bar: {label}" in texts and "one seed" in texts
    assert ("std" in ax.get_title()) == (error == "std")
    bars = ax.containers[1]  # the error bar of config "a"
    segs = bars.lines[2][0].get_segments()[0]
    low, high = sorted(y for _, y in segs)
    if error == "std":
        assert (low, high) == pytest.approx((0.6 - 0.1, 0.6 + 0.1))
    else:
        assert (low, high) == pytest.approx((0.5, 0.7))
    assert plot_seed_spread(table, "acc", legend=False).get_legend() is None
    with pytest.raises(ValueError, match="error must be one of"):
        plot_seed_spread(table, "acc", error="sem")
    plt.close("all")


NEW_RACERS = ["Adadelta", "Adamax", "RAdam", "Lion", "Yogi"]


@pytest.mark.parametrize("landscape", list(xa.RACE_LANDSCAPES))
def test_every_new_racer_runs_on_every_landscape_and_makes_progress_at_its_default_rate(landscape):
    r = xa.race(landscape, NEW_RACERS, steps=100)
    assert r.diverged() == [], r.status()
    start = float(r.landscape(r.landscape.start)) - r.f_min
    for name in NEW_RACERS:
        assert r.final_gap(name) < start, (name, r.status())
    pushed = xa.race(landscape, NEW_RACERS, lr_scale=1000.0, steps=30)  # may diverge, never raises
    assert len(pushed.status().splitlines()) == len(NEW_RACERS)


def test_race_explorer_offers_the_new_optimizers_and_reports_each():
    w = wa.RaceExplorer(landscape="saddle", optimizers=("Adam",), steps=50, draw=False)
    assert set(NEW_RACERS) <= set(w.optimizer_select.options)
    w.optimizer_select.value = tuple(NEW_RACERS)
    assert sorted(w.result.trajectories) == sorted(NEW_RACERS)
    assert all(name in w.status.value for name in NEW_RACERS)


def test_race_rates_are_the_class_defaults_times_the_table():
    p = torch.nn.Parameter(torch.zeros(2))
    opt = xa.make_race_optimizer("Yogi", [p], 0.3)
    assert opt.defaults["lr"] == 0.3 and opt.defaults["eps"] == 1e-3  # Yogi's own eps
    assert xa.make_race_optimizer("Adadelta", [p], 3.0).defaults["rho"] == 0.9
