"""course_lib.experiments.wsd: branched cooldowns equal runs from scratch, the averages are averages."""

import math

import numpy as np
import pytest
import torch

from course_lib import schedules
from course_lib.experiments import wsd

TINY = wsd.Workload(total_steps=40, warmup_steps=4, batch_size=50, hidden_sizes=(16,))


@pytest.fixture(scope="module")
def tiny_data():
    return wsd.make_data()


def test_batch_order_is_shuffled_epochs_back_to_back_and_a_function_of_the_seed():
    order = wsd.batch_order(10, steps=7, batch_size=3, seed=4)
    assert order.shape == (7, 3)
    # 10 // 3 = 3 steps per epoch: each epoch's 9 indices are distinct
    for epoch in order[:6].view(2, 9):
        assert len(set(epoch.tolist())) == 9
    assert torch.equal(order, wsd.batch_order(10, 7, 3, seed=4))
    assert not torch.equal(order, wsd.batch_order(10, 7, 3, seed=5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_steps": 5}, "total_steps must be an integer >= 10, got 5"),
        (
            {"total_steps": 40, "warmup_steps": 11},
            "warmup_steps must be an integer in [0, 10], got 11",
        ),
        ({"weight_decay": -1.0}, "weight_decay must be a finite number >= 0"),
        ({"hidden_sizes": ()}, "hidden_sizes"),
    ],
)
def test_workload_refuses_bad_settings_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError) as info:
        wsd.Workload(**kwargs)
    assert message in str(info.value)


def test_make_schedule_builds_course_lib_schedules_and_refuses_unknown_names():
    s = wsd.make_schedule("wsd", 0.1, 100, 10, decay_fraction=0.5, cooldown="1-sqrt")
    ref = schedules.wsd(0.1, 100, 10, 0.5, "1-sqrt")
    assert [s(t) for t in range(101)] == [ref(t) for t in range(101)]
    cos = wsd.make_schedule("cosine", 0.1, 100, 10)
    assert cos(10) == pytest.approx(0.1) and cos(100) == pytest.approx(0.0, abs=1e-15)
    const = wsd.make_schedule("constant", 0.1, 100, 10)
    assert const(5) == pytest.approx(0.05) and const(10**6) == 0.1
    with pytest.raises(ValueError, match="name must be one of"):
        wsd.make_schedule("step", 0.1, 100, 10)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        wsd.make_schedule("wsd", 0.0, 100, 10)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_a_cooldown_branched_off_the_trunk_is_bit_identical_to_the_wsd_run_from_scratch(tiny_data):
    lr, T = 1e-2, TINY.total_steps
    cool = schedules.wsd(lr, T, TINY.warmup_steps, 0.25, "cosine")
    scratch = wsd.start_run(TINY, tiny_data, seed=3).advance(tiny_data, cool, T)
    trunk_schedule = wsd.make_schedule("constant", lr, T, TINY.warmup_steps)
    trunk = wsd.start_run(TINY, tiny_data, seed=3).advance(
        tiny_data, trunk_schedule, cool.decay_start
    )
    branch = trunk.branch().advance(tiny_data, cool, T)
    assert all(torch.equal(a, b) for a, b in zip(_params(scratch.model), _params(branch.model)))
    assert branch.losses == scratch.losses
    # the branch shares nothing with the trunk: the trunk goes on as if it had never branched
    trunk.advance(tiny_data, trunk_schedule, T)
    straight = wsd.start_run(TINY, tiny_data, seed=3).advance(tiny_data, trunk_schedule, T)
    assert all(torch.equal(a, b) for a, b in zip(_params(trunk.model), _params(straight.model)))


def test_advance_refuses_to_go_backwards_or_past_the_batch_order(tiny_data):
    run = wsd.start_run(TINY, tiny_data, seed=0).advance(tiny_data, schedules.Constant(1e-3), 5)
    with pytest.raises(ValueError, match=r"stop must be an integer in \[5, 40\], got 3"):
        run.advance(tiny_data, schedules.Constant(1e-3), 3)
    with pytest.raises(ValueError, match=r"stop must be an integer in \[5, 40\], got 41"):
        run.advance(tiny_data, schedules.Constant(1e-3), 41)


@pytest.fixture(scope="module")
def tiny_study(tiny_data):
    return wsd.wsd_study(TINY, tiny_data, 1e-2, seed=1, budgets=(0.5, 1.0))


def test_wsd_study_branches_every_cooldown_and_counts_the_steps_it_trained(tiny_study):
    expected = {
        "WSD 10% linear", "WSD 20% linear", "WSD 50% linear", "WSD 20% cosine", "WSD 20% 1-sqrt",
        "WSD @ 0.5", "constant", "EMA", "SWA",
    }  # fmt: skip
    assert set(tiny_study.metrics) == expected
    # the trunk (40) plus cooldowns of 4, 8, 20, 8, 8 steps and 4 for the half budget
    assert tiny_study.trained == 40 + 4 + 8 + 20 + 8 + 8 + 4
    assert (
        tiny_study.steps["WSD @ 0.5"] == 20 and tiny_study.metrics["WSD @ 0.5"]["decay_start"] == 16
    )
    assert (
        len(tiny_study.losses["WSD 50% linear"]) == 40 and len(tiny_study.losses["constant"]) == 40
    )


def test_wsd_study_gives_the_numbers_of_runs_from_scratch(tiny_data, tiny_study):
    for name, kwargs in [
        ("WSD 20% linear", {"name": "wsd"}),
        ("WSD 50% linear", {"name": "wsd", "decay_fraction": 0.5}),
        ("WSD 20% 1-sqrt", {"name": "wsd", "cooldown": "1-sqrt"}),
        ("WSD @ 0.5", {"name": "wsd", "total_steps": 20}),
        ("constant", {"name": "constant"}),
    ]:
        scratch = wsd.schedule_run(TINY, tiny_data, lr=1e-2, seed=1, **kwargs)
        got = {k: v for k, v in tiny_study.metrics[name].items() if k in scratch}
        assert got == scratch, name


def test_swa_and_ema_of_the_study_are_the_averages_of_the_trunks_last_weights(
    tiny_data, tiny_study
):
    T = TINY.total_steps
    start = T - TINY.budget(0.2)  # 32: the weights after steps 33 .. 40 are averaged
    seen = []
    sched = wsd.make_schedule("constant", 1e-2, T, TINY.warmup_steps)

    def record(run):
        if run.step > start:
            seen.append(_params(run.model))

    run = wsd.start_run(TINY, tiny_data, seed=1).advance(tiny_data, sched, T, on_step=record)
    assert len(seen) == 8
    means = [torch.stack(ws).mean(0) for ws in zip(*seen)]
    ema = list(seen[0])
    for ws in seen[1:]:
        ema = [0.99 * e + 0.01 * w for e, w in zip(ema, ws)]
    for name, weights in [("SWA", means), ("EMA", ema)]:
        with torch.no_grad():
            for p, value in zip(run.model.parameters(), weights):
                p.copy_(value)
        got, want = tiny_study.metrics[name], wsd.final_metrics(run.model, tiny_data)
        for key in want:
            assert math.isclose(got[key], want[key], rel_tol=1e-5, abs_tol=1e-6), (name, key)


def test_bn_swa_study_recomputes_the_averaged_networks_batch_norm_statistics(tiny_data):
    study = wsd.bn_swa_study(TINY, tiny_data, 1e-2, seed=0)
    assert set(study.metrics) == {
        "last weights", "SWA, last weights' stats", "SWA + update_bn", "SWA, use_buffers=True"
    }  # fmt: skip
    stale, fresh = study.metrics["SWA, last weights' stats"], study.metrics["SWA + update_bn"]
    assert stale["train_loss"] != fresh["train_loss"]
    # after update_bn the first batch norm holds the fit set's mean of the averaged first layer
    first_linear, first_bn = study.swa_model.features[0], study.swa_model.features[1]
    with torch.no_grad():
        h = first_linear(tiny_data.x_fit)
    torch.testing.assert_close(first_bn.running_mean, h.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(first_bn.running_var, h.var(0), rtol=0.05, atol=1e-4)


def test_batch_norm_mlp_is_seeded_without_touching_the_global_generator():
    state = torch.random.get_rng_state()
    a = wsd.BatchNormMLP(hidden_sizes=(8, 8), seed=2)
    assert torch.equal(state, torch.random.get_rng_state())
    b = wsd.BatchNormMLP(hidden_sizes=(8, 8), seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in a.modules()) == 2


def test_cosine_budgets_train_one_run_per_budget(tiny_data):
    runs = wsd.cosine_budgets(TINY, tiny_data, 1e-2, seed=0, budgets=(0.5, 1.0))
    assert list(runs) == ["cosine @ 0.5", "cosine @ 1"]
    assert runs["cosine @ 1"] == wsd.schedule_run(TINY, tiny_data, "cosine", 1e-2, 0)


def test_table_of_and_smoothed(tiny_study):
    table = wsd.table_of([tiny_study], configs=["constant", "SWA"])
    assert table.configs == ["constant", "SWA"] and table.seeds == [1]
    np.testing.assert_allclose(wsd.smoothed([1.0, 3.0, 5.0, 7.0], window=2), [1.0, 2.0, 4.0, 6.0])
