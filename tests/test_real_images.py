"""course_lib.experiments.real_images: seeded CNN runs, schedules that anneal, tuning on validation only."""

import math

import pytest
import torch

from course_lib import compare
from course_lib.experiments import real_images as ri
from course_lib.optim import AdamW

TINY = {"size": 8, "n_train": 200}


@pytest.fixture(scope="module")
def tiny_split():
    return ri.digits_split(**TINY)


@pytest.fixture(scope="module")
def tiny_comparison():
    return ri.compute_mnist_schedules(
        8, 1, seeds=(0, 1), tune_seeds=(0,), factors=(0.5, 2.0), n_train=400, sweep_steps=30,
        progress=False,
    )  # fmt: skip


def test_digits_split_keeps_the_held_out_test_set_and_a_seeded_training_subset(tiny_split):
    full = ri.digits_split(8)
    assert tiny_split.x_train.shape == (200, 1, 8, 8) and len(full.y_train) == 4000
    assert torch.equal(tiny_split.x_test, full.x_test)  # the subset never touches the test set
    assert len(set(tiny_split.y_train.tolist())) == 10
    assert not torch.equal(tiny_split.y_train, ri.digits_split(8, 200, seed=1).y_train)


@pytest.mark.parametrize("schedule", ri.SCHEDULES)
def test_each_schedule_peaks_at_lr_and_only_the_annealed_ones_end_near_zero(schedule):
    opt = AdamW([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = ri.make_scheduler(schedule, opt, 0.1, 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    assert math.isclose(max(lrs), 0.1, rel_tol=1e-3)
    if schedule == "constant":
        assert lrs == [0.1] * 100
    else:
        assert lrs[-1] < 1e-3
    if schedule == "one-cycle":
        assert abs(lrs.index(max(lrs)) - 30) <= 1 and math.isclose(lrs[0], 0.1 / 25)


def test_train_cnn_is_a_function_of_its_arguments_and_leaves_the_global_rng_alone(tiny_split):
    state = torch.get_rng_state()
    a = ri.train_cnn(tiny_split, "cosine", 1e-2, 3, epochs=2)
    assert torch.equal(state, torch.get_rng_state())
    b = ri.train_cnn(tiny_split, "cosine", 1e-2, 3, epochs=2)
    c = ri.train_cnn(tiny_split, "cosine", 1e-2, 4, epochs=2)
    assert a == b and a.metrics != c.metrics
    assert len(a.curve) == 2 and len(a.lrs) == 2 * math.ceil(200 / 64)
    assert a.metrics["diverged"] == 0.0 and 0.0 <= a.metrics["test_acc"] <= 100.0
    assert a.curve[-1] == a.metrics["test_acc"]  # the curve follows the test set without val


def test_train_cnn_with_val_follows_the_validation_split_and_stops_on_divergence(tiny_split):
    val = (tiny_split.x_test[:50], tiny_split.y_test[:50])
    run = ri.train_cnn(tiny_split, "constant", 1e-2, 0, epochs=1, val=val)
    assert run.curve[-1] == run.metrics["val_acc"]
    blown = ri.train_cnn(tiny_split, "constant", 1e12, 0, epochs=3)
    assert blown.metrics["diverged"] == 1.0 and len(blown.curve) < 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"schedule": "step"}, "schedule must be one of"),
        ({"lr": 0.0}, "lr must be"),
        ({"lr": "0.1"}, "lr must be"),
        ({"seed": -1}, "seed must be"),
        ({"epochs": 0}, "epochs must be"),
        ({"channels": ()}, "channels"),
    ],
)
def test_train_cnn_names_the_bad_argument(tiny_split, kwargs, match):
    args = {"schedule": "cosine", "lr": 1e-2, "seed": 0, "epochs": 1} | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        ri.train_cnn(tiny_split, **args)


def test_compute_tunes_every_schedule_on_the_same_grid_by_validation_accuracy(tiny_comparison):
    r = tiny_comparison
    assert r.grid == tuple(float(f"{r.reading_lr * f:.2g}") for f in (0.5, 2.0))
    assert set(r.searches) == set(ri.SCHEDULES)
    for name, search in r.searches.items():
        assert search.metric == "val_acc" and search.values == r.grid  # one budget for all
        assert "test_acc" in search.table.metrics  # measured, but the choice reads val only
        means = [search.table.values(f"lr={v:g}", "val_acc").mean() for v in r.grid]
        assert r.best[name] == r.grid[means.index(max(means))]


def test_compute_evaluates_every_schedule_on_the_same_seeds_at_its_kept_rate(tiny_comparison):
    r = tiny_comparison
    assert r.table.configs == list(ri.SCHEDULES) and r.table.seeds == [0, 1]
    for name in ri.SCHEDULES:
        assert set(r.table.values(name, "lr")) == {r.best[name]}
        assert len(r.curves[name]) == 2 and len(r.lrs[name]) == math.ceil(400 / 64)
    assert compare.difference(r.table, "cosine", "constant", "test_acc").n == 2
    assert r.status.startswith("8x8, 1 epochs, 2 seeds; test accuracy: constant ")


def test_compute_is_cached_and_rejects_bad_arguments(tiny_comparison):
    again = ri.compute_mnist_schedules(
        8, 1, seeds=(0, 1), tune_seeds=(0,), factors=(0.5, 2.0), n_train=400, sweep_steps=30,
        progress=False,
    )  # fmt: skip
    assert again is tiny_comparison
    with pytest.raises(ValueError, match="reading must be one of"):
        ri.compute_mnist_schedules(8, 1, reading="median", n_train=200, progress=False)
    with pytest.raises(ValueError, match="factors must hold"):
        ri.compute_mnist_schedules(8, 1, factors=(), n_train=200, progress=False)
    with pytest.raises(ValueError, match=r"factors\[0\] must be"):
        ri.compute_mnist_schedules(8, 1, factors=(-1.0,), n_train=200, progress=False)


def test_mean_interval_is_the_t_interval_of_the_mean_and_needs_two_values():
    mean, half = ri.mean_interval([94.0, 96.0])
    assert mean == 95.0 and math.isclose(half, 12.7062047, rel_tol=1e-6)  # t_{0.975,1} s / sqrt(2)
    with pytest.raises(ValueError, match="at least 2 numbers"):
        ri.mean_interval([95.0])
    with pytest.raises(ValueError, match="level must be"):
        ri.mean_interval([1.0, 2.0], level=1.0)


def test_texts_list_every_schedule_with_its_kept_rate(tiny_comparison):
    r = tiny_comparison
    rows = r.accuracy_text().splitlines()
    assert len(rows) == 1 + len(ri.SCHEDULES)
    for name, row in zip(ri.SCHEDULES, rows[1:]):
        mean, half = ri.mean_interval(r.table.values(name, "test_acc"))
        assert row.startswith(name) and f"{mean:.2f} ± {half:.2f}" in row
    tuning = r.tuning_text()
    assert all(name in tuning for name in ri.SCHEDULES) and tuning.count("*") == 3
