"""Notebook 05's schedule designer: curves equal torch's schedulers, no control setting raises."""

import itertools
import math

import matplotlib
import numpy as np
import pytest
import torch

from course_lib import schedules as S
from course_lib.experiments import schedules as xs
from course_lib.plots import schedules as ps
from course_lib.widgets import schedules as ws

matplotlib.use("Agg")  # tests only; notebooks never set a backend


def torch_lrs(name, steps, **params):
    """The lr each of ``steps`` optimizer steps uses under torch's scheduler (None: constant)."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=123.0)
    sched = xs.make_torch_scheduler(name, opt, steps, **params)
    lrs = []
    for k in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None and k < steps - 1:
            sched.step()
    return np.array(lrs)


VARIANTS = [
    ("constant", 50, {}),
    ("step", 120, {"step_size": 25, "gamma": 0.5}),
    ("multistep", 100, {"milestone_1": 0, "milestone_2": 70, "gamma": 0.3}),
    ("exponential", 80, {"gamma": 1.01}),
    ("linear", 60, {"start_factor": 0.25, "end_factor": 0.5, "total_iters": 30}),
    ("polynomial", 90, {"total_iters": 60, "power": 2.5}),
    ("cosine", 150, {"T_max": 40, "eta_min": 0.01}),  # past T_max torch climbs back up
    ("warm restarts", 200, {"T_0": 7, "T_mult": 3, "eta_min": 0.002}),
    ("cyclic", 130, {"mode": "triangular2", "step_size_up": 9}),
    ("cyclic", 130, {"mode": "exp_range", "gamma": 0.98, "base_lr": 0.5, "max_lr": 0.01}),
    ("one-cycle", 100, {}),
    ("one-cycle", 77, {"anneal_strategy": "linear", "three_phase": True, "pct_start": 0.2}),
    ("warmup + cosine", 100, {"warmup_steps": 15, "eta_min": 0.001}),
    ("warmup-stable-decay", 100, {"warmup_steps": 5, "cooldown": "linear"}),
    ("warmup-stable-decay", 150, {"cooldown": "cosine", "decay_fraction": 0.5, "eta_min": 0.01}),
    ("warmup-stable-decay", 90, {"warmup_steps": 0, "cooldown": "1-sqrt", "eta_min": 0.003}),
    ("inverse sqrt", 100, {"warmup_steps": 8}),
    ("invscaling", 100, {"eta0": 0.3, "power_t": 0.25}),
]


def test_the_variants_cover_every_catalogue_entry():
    assert {name for name, _, _ in VARIANTS} == set(xs.SCHEDULE_CATALOGUE)


@pytest.mark.parametrize(("name", "steps", "params"), VARIANTS, ids=lambda v: str(v))
def test_designer_curve_equals_the_learning_rates_of_torchs_scheduler(name, steps, params):
    r = xs.compute_schedule(name, steps, **params)
    assert r.ok, r.status
    expected = torch_lrs(name, steps, **params)
    assert r.values.shape == expected.shape == (steps,)
    np.testing.assert_allclose(r.values, expected, rtol=1e-10, atol=1e-15)
    assert xs.SCHEDULE_CATALOGUE[name].torch_name.split("(")[
        0
    ] in r.torch_code or "no scheduler" in (r.torch_code)


@pytest.mark.parametrize("name", list(xs.SCHEDULE_CATALOGUE))
def test_defaults_give_a_valid_curve_of_the_pure_schedule(name):
    r = xs.compute_schedule(name)
    assert r.ok and r.steps == 100 and r.status.startswith("100 steps: start")
    np.testing.assert_array_equal(r.t, np.arange(100))
    np.testing.assert_array_equal(r.values, S.curve(r.schedule, 100))
    assert r.label.startswith(f"{name}(") and set(r.params) == {
        p.name for p in xs.SCHEDULE_CATALOGUE[name].params
    }


@pytest.mark.parametrize("name", list(xs.SCHEDULE_CATALOGUE))
def test_no_combination_of_control_extremes_raises(name):
    spec = xs.SCHEDULE_CATALOGUE[name]
    grids = [p.extremes() for p in spec.params]
    for steps in (10, 300):
        for combo in itertools.product(*grids):
            params = dict(zip((p.name for p in spec.params), combo))
            r = xs.compute_schedule(name, steps, **params)
            if r.ok:
                assert r.values.shape == (steps,) and np.all(np.isfinite(r.values))
            else:
                assert r.status.startswith("invalid: ") and r.values.size == 0
                assert r.schedule is None or not np.all(np.isfinite(r.schedule.curve(steps)))


@pytest.mark.parametrize(
    ("name", "steps", "params", "message"),
    [
        ("multistep", 100, {"milestone_1": 60, "milestone_2": 40}, "strictly increasing"),
        ("multistep", 100, {"milestone_1": 60, "milestone_2": 60}, "strictly increasing"),
        ("one-cycle", 100, {"pct_start": 0.01}, "pct_start * total_steps must be > 1"),
        ("one-cycle", 10, {"pct_start": 0.6, "three_phase": True}, "last phase"),
        ("warmup + cosine", 50, {"warmup_steps": 50}, "total_steps must be > warmup_steps"),
        ("inverse sqrt", 100, {"warmup_steps": 0}, "timescale must be given"),
        ("warmup-stable-decay", 100, {"warmup_steps": 90}, "warmup_steps + decay_steps must be <="),
        (
            "warmup-stable-decay",
            5,
            {"warmup_steps": 0, "decay_fraction": 0.05},
            "must round to at least 1 cooldown",
        ),
        ("step", 0, {}, "steps must be an integer >= 1, got 0"),
    ],
)
def test_invalid_combinations_report_the_reason_instead_of_raising(name, steps, params, message):
    r = xs.compute_schedule(name, steps, **params)
    assert not r.ok and r.status.startswith("invalid: ") and message in r.status
    assert r.values.size == 0 and r.t.size == 0 and r.torch_code == ""


def test_programming_errors_still_raise():
    with pytest.raises(ValueError, match="name must be one of"):
        xs.compute_schedule("cosine annealing")
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['T_max'\]"):
        xs.compute_schedule("step", T_max=10)
    with pytest.raises(ValueError, match="kind must be one of"):
        xs.Param("x", "slider", 1.0)


def test_status_reports_the_peak_its_step_the_final_value_and_the_mean():
    r = xs.compute_schedule("one-cycle", 100, max_lr=0.1)
    assert int(np.argmax(r.values)) == 29  # pct_start * T - 1
    assert "peak 0.1 at step 29" in r.status
    assert f"mean {r.values.mean():.3g}" in r.status and f"final {r.values[-1]:.3g}" in r.status


def _build_falling(steps, lr):
    return S.Linear(lr, -lr, steps - 1)


def _no_kwargs(steps, params, schedule):
    return {}


def test_a_negative_rate_is_flagged(monkeypatch):
    assert all("NEGATIVE" not in xs.compute_schedule(n).status for n in xs.SCHEDULE_CATALOGUE)
    lr = xs.Param("lr", "log", 0.1, 1e-4, 1.0, 0.1)
    spec = xs.ScheduleSpec("falling", (lr,), _build_falling, None, _no_kwargs, "lr", "test only")
    monkeypatch.setitem(xs.SCHEDULE_CATALOGUE, "falling", spec)
    r = xs.compute_schedule("falling", 11)
    assert r.ok and "NEGATIVE learning rate from step 6" in r.status


def test_make_torch_scheduler_sets_the_base_lr_and_returns_none_for_constant():
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=5.0)
    assert xs.make_torch_scheduler("constant", opt, lr=0.2) is None
    assert opt.param_groups[0]["lr"] == 0.2
    with pytest.raises(ValueError, match="strictly increasing"):
        xs.make_torch_scheduler("multistep", opt, milestone_1=5, milestone_2=5)


def test_designer_switches_schedule_rebuilds_controls_and_updates_the_result():
    w = ws.ScheduleDesigner(draw=False)
    assert w.result.ok and w.result.name == "cosine"
    w.schedule_dropdown.value = "one-cycle"
    assert list(w.sliders) == [p.name for p in xs.SCHEDULE_CATALOGUE["one-cycle"].params]
    assert tuple(w.params_box.children) == tuple(w.sliders.values())
    w.sliders["pct_start"].value = 0.5
    w.steps_slider.value = 200
    assert w.result.name == "one-cycle" and w.result.steps == 200
    assert int(np.argmax(w.result.values)) == 99
    assert "OneCycleLR(optimizer, max_lr=0.1, total_steps=200" in w.code.value


def test_designer_overlay_add_dedupe_refuse_invalid_and_clear():
    w = ws.ScheduleDesigner("step", draw=False)
    w.add_button.click()
    w.add_button.click()  # the same curve is kept once
    assert len(w.overlay) == 1
    w.sliders["gamma"].value = 0.5
    w.add_button.click()
    assert [c.params["gamma"] for c in w.overlay] == [0.1, 0.5]
    w.schedule_dropdown.value = "multistep"
    w.sliders["milestone_1"].value = 90
    assert not w.result.ok and "strictly increasing" in w.status.value
    w.add_button.click()
    assert len(w.overlay) == 2 and "cannot add" in w.status.value
    w.clear_button.click()
    assert w.overlay == []


def test_designer_never_raises_and_draws_into_its_image(capsys):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    w = ws.ScheduleDesigner("warmup + cosine", steps=50, draw=True)
    assert w.children[-1] is w.figure
    first = w.figure.value
    assert first[:4] == b"\x89PNG"
    w.sliders["warmup_steps"].value = 500  # longer than the run: a message, no exception
    assert not w.result.ok and "invalid" in w.status.value
    w.sliders["warmup_steps"].value = 5
    w.add_button.click()
    w.log_checkbox.value = True
    assert w.result.ok
    assert w.figure.value[:4] == b"\x89PNG" and w.figure.value != first
    assert plt.get_fignums() == open_before  # every drawn figure was closed


def test_designer_reports_a_drawing_error_in_the_status(monkeypatch):
    import matplotlib.pyplot as plt

    def broken(current, overlay=(), ax=None, *, log=False):
        raise RuntimeError("no canvas")

    monkeypatch.setattr(ws, "draw_schedules", broken)
    w = ws.ScheduleDesigner("cosine", steps=50, draw=True)
    assert w.result.ok and w.figure.value == b""
    assert "<b>error:</b> RuntimeError: no canvas" in w.status.value
    w.steps_slider.value = 60
    assert w.result.steps == 60 and "no canvas" in w.status.value
    plt.close("all")


def test_designer_without_draw_leaves_the_image_empty():
    assert ws.ScheduleDesigner(draw=False).figure.value == b""


def test_draw_schedules_draws_overlay_and_current_thicker_and_log_axis():
    import matplotlib.pyplot as plt

    a = xs.compute_schedule("step", 100)
    b = xs.compute_schedule("cosine", 100, eta_min=0.001)
    bad = xs.compute_schedule("multistep", 100, milestone_1=80, milestone_2=10)
    fig = ps.draw_schedules(b, [a, bad], log=True)
    ax = fig.axes[0]
    curves = [ln for ln in ax.get_lines() if ln.get_gid() is None]
    assert [ln.get_label() for ln in curves] == [a.label, b.label]
    assert curves[1].get_linewidth() > curves[0].get_linewidth()
    assert ax.get_yscale() == "log"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [a.label, b.label]
    fig.canvas.draw()  # the long labels sit below the axes, not over the curves
    assert legend.get_window_extent().y1 < ax.get_window_extent().y0
    plt.close(fig)
    fig = ps.draw_schedules(None, [])
    assert "nothing to draw" in fig.axes[0].texts[0].get_text()
    plt.close(fig)
    zero = xs.compute_schedule("polynomial", 100, total_iters=50)  # reaches 0: no log axis
    fig = ps.draw_schedules(zero, [], log=True)
    assert fig.axes[0].get_yscale() == "linear"
    plt.close(fig)
    assert zero.values[50] == 0.0 and math.isclose(zero.values[25], 0.05)


WSD_CODE = [
    (100, {}),
    (100, {"cooldown": "linear", "warmup_steps": 0}),
    (300, {"cooldown": "cosine", "decay_fraction": 0.35, "eta_min": 0.004, "lr": 0.3}),
    (50, {"cooldown": "1-sqrt", "warmup_steps": 7, "decay_fraction": 0.6, "eta_min": 0.02}),
]


@pytest.mark.parametrize(("steps", "params"), WSD_CODE, ids=lambda v: str(v))
def test_the_wsd_lambda_shown_is_plain_python_that_gives_the_curve(steps, params):
    r = xs.compute_schedule("warmup-stable-decay", steps, **params)
    assert r.ok, r.status
    prefix = f"optimizer built with lr={r.params['lr']:.3g}; LambdaLR(optimizer, lr_lambda="
    assert r.torch_code.startswith(prefix) and r.torch_code.endswith(")")
    factor = eval(r.torch_code[len(prefix) : -1], {"math": math})  # the line as shown, run
    shown = np.array([r.params["lr"] * factor(t) for t in range(steps)])
    np.testing.assert_allclose(shown, r.values, rtol=1e-10, atol=0)


def test_wsd_in_the_designer_offers_the_three_cooldowns_and_marks_the_phases():
    w = ws.ScheduleDesigner("warmup-stable-decay", steps=200, draw=False)
    assert list(w.sliders["cooldown"].options) == ["linear", "cosine", "1-sqrt"]
    assert w.result.ok and w.result.events == ((10.0, "phase"), (160.0, "phase"))
    falls = {}
    for cooldown in ("linear", "cosine", "1-sqrt"):
        w.sliders["cooldown"].value = cooldown
        falls[cooldown] = w.result.values[160:].mean()
        assert "LambdaLR(optimizer, lr_lambda=lambda t:" in w.code.value
    assert falls["1-sqrt"] < falls["linear"]  # 1-sqrt drops fastest (mean 1/3 vs 1/2)
    w.sliders["decay_fraction"].value = 1.0  # no room left for the warm-up
    assert not w.result.ok and "warmup_steps + decay_steps" in w.result.status
    assert w.code.value == ""


def test_wsds_torch_scheduler_is_lambda_lr_with_a_base_one_wsd_factor():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = xs.make_torch_scheduler("warmup-stable-decay", opt, 100, lr=0.2, eta_min=0.02)
    assert type(sched) is torch.optim.lr_scheduler.LambdaLR
    (factor,) = sched.lr_lambdas
    assert factor == S.WarmupStableDecay(1.0, 100, 10, 20, "1-sqrt", final=0.02 / 0.2)
    assert opt.param_groups[0]["lr"] == 0.0 and opt.param_groups[0]["initial_lr"] == 0.2
