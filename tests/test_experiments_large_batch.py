"""course_lib.experiments.large_batch: the schedule, the rule, the runs, the noise scale, the studies.

Tiny sizes only (a hidden layer of 8 units, one or two epochs at large batches): seconds in all.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import compare, models
from course_lib.experiments import large_batch as lb
from course_lib.optim import LARS, SGD, Adam, Lamb

TINY = lb.Workload(epochs=2, warmup_epochs=1, hidden_sizes=(8,))


@pytest.fixture(scope="module")
def data():
    return lb.make_data()


def test_make_data_leaves_an_epoch_that_every_batch_size_from_32_to_1024_divides(data):
    n = len(data.y_fit)
    assert n == 3072
    assert all(n % b == 0 for b in (32, 64, 128, 256, 512, 1024))
    assert len(data.y_val) == 928 and len(data.y_test) == 1000


def test_warmup_cosine_is_linear_up_to_one_then_a_half_cosine_towards_zero():
    warm, total = 4, 12
    values = [lb.warmup_cosine(t, warm, total) for t in range(total)]
    assert values[:warm] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    for t in range(warm, total):
        expected = 0.5 * (1 + math.cos(math.pi * (t - warm) / (total - warm)))
        assert values[t] == pytest.approx(expected)
    assert all(a >= b for a, b in zip(values[warm:], values[warm + 1 :]))


def test_linear_rule_multiplies_the_base_rate_by_the_batch_ratio():
    assert lb.linear_rule(0.1, 32) == pytest.approx(0.1)
    assert lb.linear_rule(0.1, 256) == pytest.approx(0.8)
    assert lb.linear_rule(0.05, 100, base_batch_size=25) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="lr0"):
        lb.linear_rule(0.0, 64)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 3, "warmup_epochs": 3}, "warmup_epochs"),
        ({"momentum": 1.0}, "momentum"),
        ({"trust_coefficient": 0.0}, "trust_coefficient"),
        ({"base_batch_size": 0}, "base_batch_size"),
    ],
)
def test_workload_rejects_out_of_range_arguments_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lb.Workload(**kwargs)


def test_make_optimizer_builds_the_course_classes_with_the_workload_settings():
    params = list(models.MLP(hidden_sizes=(4,), seed=0).parameters())
    kinds = {"SGD": SGD, "LARS": LARS, "Adam": Adam, "LAMB": Lamb}
    for name, kind in kinds.items():
        opt = lb.make_optimizer(name, params, 0.01, TINY)
        assert type(opt) is kind and opt.param_groups[0]["lr"] == 0.01
    lars = lb.make_optimizer("LARS", params, 1.0, TINY).param_groups[0]
    assert lars["momentum"] == TINY.momentum
    assert lars["trust_coefficient"] == TINY.trust_coefficient
    with pytest.raises(ValueError, match="name"):
        lb.make_optimizer("Lion", params, 0.01, TINY)


def test_a_run_takes_epochs_times_n_over_b_steps_at_the_warmup_cosine_rates(data):
    run = lb.Trainer.start(TINY, data, "SGD", 0.2, 512, seed=0)
    assert run.total_steps == 2 * 3072 // 512
    seen = []
    while run.step < run.total_steps:
        seen.append(run.optimizer.param_groups[0]["lr"])
        run.advance(run.step + 1)
    warm = 3072 // 512
    assert seen == pytest.approx([0.2 * lb.warmup_cosine(t, warm, 12) for t in range(12)])
    assert not run.diverged


def test_every_batch_size_sees_the_same_examples_each_epoch(data):
    small = lb.Trainer.start(TINY, data, "SGD", 0.1, 256, seed=3).order
    large = lb.Trainer.start(TINY, data, "SGD", 0.1, 1024, seed=3).order
    assert torch.equal(small.flatten(), large.flatten())


def test_a_diverging_run_is_flagged_and_stops_with_finite_accuracies(data):
    m = lb.train_run(TINY, data, "SGD", 1e6, 1024, seed=0)
    assert m["diverged"] == 1.0
    assert 0.0 <= m["test_acc"] <= 1.0
    ok = lb.train_run(TINY, data, "SGD", 0.05, 1024, seed=0)
    assert ok["diverged"] == 0.0 and ok["steps"] == 6.0


def test_runs_trains_each_distinct_setting_once(data):
    runs = lb.Runs(TINY, data)
    a = runs("Adam", 0.01, 1024, 0)
    b = runs.of("Adam", 1024)(0.01, 0)
    assert a is b and runs.trained == 1
    runs("Adam", 0.01, 1024, 1)
    assert runs.trained == 2


def test_noise_scale_equals_the_formula_on_explicit_per_example_gradients():
    torch.manual_seed(0)
    model = models.MLP(hidden_sizes=(6,), seed=1)
    x, y = torch.randn(20, 40), torch.randint(0, 10, (20,))
    grads = []
    for i in range(20):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]).double())
    g = torch.stack(grads)
    mean = g.mean(0)
    trace = float(((g - mean) ** 2).sum(1).sum() / 19)
    grad_sq = float(mean.pow(2).sum()) - trace / 20
    ns = lb.noise_scale(model, x, y, chunk_size=7)
    assert ns.trace == pytest.approx(trace, rel=1e-5)
    assert ns.grad_sq == pytest.approx(grad_sq, rel=1e-4)
    assert ns.b_simple == pytest.approx(trace / grad_sq, rel=1e-4)


def test_noise_scale_of_a_batch_of_copies_of_one_example_is_zero():
    model = models.MLP(hidden_sizes=(6,), seed=0)
    x, y = torch.randn(1, 40).repeat(16, 1), torch.full((16,), 3)
    ns = lb.noise_scale(model, x, y)
    assert ns.grad_sq > 0 and abs(ns.trace) < 1e-5 * ns.grad_sq
    assert ns.b_simple == pytest.approx(0.0, abs=1e-5)


def test_noise_scale_study_measures_at_the_requested_fractions_of_the_run(data):
    out = lb.noise_scale_study(
        TINY, data, 0.05, seed=0, fractions=(0.0, 0.5, 1.0), max_examples=512
    )
    assert [n.step for n in out] == [0, 96, 192]
    assert all(n.trace > 0 for n in out)
    start = lb.noise_scale(
        models.MLP(hidden_sizes=(8,), seed=0), data.x_fit[:512], data.y_fit[:512]
    )
    assert out[0].trace == pytest.approx(start.trace) and out[0].grad_sq == pytest.approx(
        start.grad_sq
    )


def _difference(diffs):
    return compare.paired_difference(list(diffs), [0.0] * len(diffs), names=("x", "B0"))


def test_verdict_of_separates_tie_worse_better_and_undecided():
    assert lb.verdict_of(_difference([0.001, -0.002, 0.0]), 0.02) == "tie"
    assert lb.verdict_of(_difference([-0.2, -0.21, -0.19]), 0.02) == "worse"
    assert lb.verdict_of(_difference([0.2, 0.21, 0.19]), 0.02) == "better"
    assert lb.verdict_of(_difference([0.1, -0.1, 0.05]), 0.02) == "not distinguishable"
    with pytest.raises(ValueError, match="margin"):
        lb.verdict_of(_difference([0.1, 0.2]), 0.0)


def test_batch_study_tunes_at_the_base_batch_then_scales_and_tunes_each_batch(data):
    runs = lb.Runs(
        lb.Workload(epochs=1, warmup_epochs=0, base_batch_size=256, hidden_sizes=(8,)), data
    )
    study = lb.batch_study(runs, (256, 1024), (0.05, 0.2), (0.5, 1.0), seeds=(0, 1))
    assert study.lr0 in (0.05, 0.2)
    assert study.rule_lrs[1024] == pytest.approx(4 * study.lr0)
    assert study.grids[1024] == pytest.approx((2 * study.lr0, 4 * study.lr0))
    assert study.tuned_lrs[1024] in study.grids[1024]
    assert runs.trained == 2 * 2 + 2 * 2  # the rule's rate is in the grid: no extra run
    assert set(study.table.configs) == {"rule B=256", "tuned B=256", "rule B=1024", "tuned B=1024"}
    (v,) = study.verdicts("rule")
    assert v.batch_size == 1024 and v.difference.n == 2
    assert study.breaks_at("rule") == (1024 if v.status == "worse" else None)
    text = lb.batch_table(study)
    assert text.count("\n") == 2 and "(base)" in text


def test_batch_study_refuses_unsorted_sizes_and_an_unequal_tuning_budget(data):
    runs = lb.Runs(TINY, data)
    with pytest.raises(ValueError, match="batch_sizes"):
        lb.batch_study(runs, (512, 256), (0.1,), (1.0,), seeds=(0, 1))
    with pytest.raises(ValueError, match="factors"):
        lb.batch_study(runs, (256, 512), (0.1, 0.2), (1.0,), seeds=(0, 1))


def test_optimizer_study_tunes_each_optimizer_on_an_equal_grid_and_pairs_the_seeds(data):
    runs = lb.Runs(TINY, data)
    grids = {"LAMB": (0.01, 0.05), "Adam": (0.003, 0.01)}
    cmp = lb.optimizer_study(runs, 1024, grids, seeds=(0, 1))
    assert set(cmp.best) == {"LAMB", "Adam"} and cmp.best["Adam"] in grids["Adam"]
    assert compare.difference(cmp.table, "LAMB", "Adam", "test_acc").n == 2
    with pytest.raises(ValueError, match="grids"):
        lb.optimizer_study(runs, 1024, {"Adam": (0.01,), "SGD": (0.1, 0.2)}, seeds=(0, 1))
    with pytest.raises(ValueError, match="grids key"):
        lb.optimizer_study(runs, 1024, {"Lion": (0.01,)}, seeds=(0, 1))
