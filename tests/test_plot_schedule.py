"""course_lib.plots.plot_schedule: curves, event marks, labels, headless."""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from course_lib.plots import plot_schedule
from course_lib.schedules import (
    Cosine,
    CosineWarmRestarts,
    MultiStepDecay,
    StepDecay,
    warmup_cosine,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _curves(ax):
    return [line for line in ax.get_lines() if not (line.get_gid() or "").startswith("event:")]


def _events(ax, kind=None):
    out = []
    for line in ax.get_lines():
        gid = line.get_gid() or ""
        if gid.startswith("event:") and (kind is None or gid == f"event:{kind}"):
            out.append(float(line.get_xdata()[0]))
    return sorted(out)


def test_plots_every_schedule_of_a_dict_with_its_values_and_label():
    schedules = {"cosine": Cosine(0.1, 40), "step": StepDecay(0.1, 10, 0.5)}
    ax = plot_schedule(schedules, steps=40)
    curves = _curves(ax)
    assert [c.get_label() for c in curves] == ["cosine", "step"]
    for line, schedule in zip(curves, schedules.values()):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(40))
        np.testing.assert_allclose(line.get_ydata(), schedule.curve(40))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cosine", "step"]


def test_marks_milestones_restarts_and_join_boundaries():
    ax = plot_schedule(
        [MultiStepDecay(0.1, [15, 30]), CosineWarmRestarts(0.1, 5, 2), warmup_cosine(0.1, 8, 50)],
        steps=50,
        labels=["multistep", "SGDR", "warm-up + cosine"],
    )
    assert _events(ax, "milestone") == [15.0, 30.0]
    assert _events(ax, "restart") == [5.0, 15.0, 35.0]
    assert _events(ax, "boundary") == [8.0]
    step_marks = plot_schedule(StepDecay(1.0, 7), steps=30, ax=plt.subplots()[1])
    assert _events(step_marks, "milestone") == [7.0, 14.0, 21.0, 28.0]


def test_event_lines_share_the_colour_of_their_schedule():
    ax = plot_schedule({"a": StepDecay(1.0, 5), "b": CosineWarmRestarts(1.0, 4)}, steps=12)
    colours = {c.get_label(): c.get_color() for c in _curves(ax)}
    for line in ax.get_lines():
        if line.get_gid() == "event:milestone":
            assert line.get_color() == colours["a"]
        if line.get_gid() == "event:restart":
            assert line.get_color() == colours["b"]


def test_mark_false_draws_only_the_curves_and_uses_the_given_axes():
    _fig, ax = plt.subplots()
    returned = plot_schedule([StepDecay(1.0, 3)], steps=20, ax=ax, mark=False)
    assert returned is ax
    assert _events(ax) == []
    assert len(_curves(ax)) == 1


def test_plain_callables_and_single_schedules_plot_without_events():
    ax = plot_schedule(functools.partial(pow, 0.9), steps=10)
    (line,) = _curves(ax)
    np.testing.assert_allclose(line.get_ydata(), 0.9 ** np.arange(10))
    assert ax.get_xlabel() == "step $t$"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            dict(schedules={"a": Cosine(1.0, 5)}, steps=5, labels=["x"]),
            ValueError,
            "labels must be None",
        ),
        (
            dict(schedules=[Cosine(1.0, 5)], steps=5, labels=["x", "y"]),
            ValueError,
            "one label per schedule",
        ),
        (dict(schedules=[Cosine(1.0, 5)], steps=0), ValueError, "steps must be an integer >= 1"),
        (dict(schedules=[], steps=5), ValueError, "at least one schedule"),
        (dict(schedules=3, steps=5), TypeError, "schedules must be a schedule"),
        (dict(schedules=[1.0], steps=5), TypeError, "must be callable"),
        (
            dict(schedules=[Cosine(1.0, 5)], steps=5, mark="yes"),
            TypeError,
            "mark must be True or False",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_schedule(**kwargs)


def test_schedule_grid_labels_both_axes_of_every_panel_and_adds_note_panels():
    from course_lib.plots.schedules import plot_schedule_grid

    schedules = {"cosine": Cosine(0.1, 30), "step": StepDecay(0.1, 10, 0.5), "const": lambda t: 0.1}
    fig, axes = plot_schedule_grid(schedules, 30, ncols=2, notes={"plateau": "no formula"})
    assert len(axes) == 4 and fig.get_size_inches()[0] > fig.get_size_inches()[1]
    for ax, (title, schedule) in zip(axes, schedules.items()):
        assert ax.get_title() == title
        assert ax.get_xlabel() == "step $t$" and ax.get_ylabel() == r"lr $\gamma_t$"
        (line,) = _curves(ax)
        np.testing.assert_allclose(line.get_ydata(), [schedule(t) for t in range(30)])
        assert ax.get_legend() is None
    assert _events(axes[1], "milestone") == [10.0, 20.0]
    assert axes[3].get_title() == "plateau" and axes[3].texts[0].get_text() == "no formula"
    assert _curves(axes[3]) == []


def test_schedule_grid_switches_off_unused_panels_and_takes_custom_labels():
    from course_lib.plots.schedules import plot_schedule_grid

    _fig, axes = plot_schedule_grid(
        {"a": Cosine(1.0, 5)}, 5, ncols=3, xlabel="epoch", ylabel="momentum"
    )
    assert len(axes) == 3
    assert (axes[0].get_xlabel(), axes[0].get_ylabel()) == ("epoch", "momentum")
    assert [ax.axison for ax in axes] == [True, False, False]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(schedules=[Cosine(1.0, 5)], steps=5), TypeError, "non-empty dict"),
        (dict(schedules={}, steps=5), TypeError, "non-empty dict"),
        (dict(schedules={"a": Cosine(1.0, 5)}, steps=5, ncols=0), ValueError, "ncols"),
        (dict(schedules={"a": Cosine(1.0, 5)}, steps=5, notes={"n": 3}), TypeError, "notes"),
    ],
)
def test_schedule_grid_bad_arguments(kwargs, error, match):
    from course_lib.plots.schedules import plot_schedule_grid

    with pytest.raises(error, match=match):
        plot_schedule_grid(**kwargs)
