"""Notebook 09's experiments: state bytes, Adafactor's factoring, RAdam's rho, the benchmark protocol."""

import math

import pytest
import torch
from torch import nn

from course_lib import compare, data, models, optim
from course_lib.experiments import after_adam as aa


def _mlp():
    return models.MLP(hidden_sizes=(32, 32))


def test_state_bytes_counts_adams_two_moments_and_its_step():
    w = torch.zeros(5, 3, requires_grad=True)
    opt = optim.Adam([w])
    w.grad = torch.ones(5, 3)
    opt.step()
    assert aa.state_bytes(opt) == 2 * 15 * 4 + 4


@pytest.mark.parametrize(
    ("label", "per_param"),
    [("SGD", 0.0), ("SGD + momentum", 4.0), ("Adagrad", 4.0), ("RMSprop", 4.0), ("Adam", 8.0),
     ("AMSGrad", 12.0), ("AdamW", 8.0), ("Adamax", 8.0), ("Adadelta", 8.0), ("RAdam", 8.0),
     ("Lion", 4.0), ("Yogi", 8.0), ("LARS", 4.0)],
)  # fmt: skip
def test_state_memory_gives_each_optimizer_its_float32_buffers_per_parameter(label, per_param):
    (row,) = aa.state_memory(_mlp, [label])
    assert row.params == models.count_parameters(_mlp())
    assert row.bytes_per_param == pytest.approx(per_param, abs=0.01)


def test_adafactor_keeps_far_under_one_byte_per_parameter_on_a_large_matrix():
    (row,) = aa.state_memory(lambda: nn.Sequential(nn.Linear(512, 512, bias=False)), ["Adafactor"])
    assert row.bytes == (512 + 512) * 4 + 4  # a row and a column of float32, one step
    assert row.bytes_per_param < 0.02  # against Adam's 8


def test_muon_state_is_a_momentum_on_the_matrices_and_adams_moments_on_the_rest():
    model = _mlp()
    muon, adamw = aa.muon_param_groups(model)
    matrices = sum(p.numel() for g in muon for p in g["params"])
    rest = sum(p.numel() for g in adamw for p in g["params"])
    (row,) = aa.state_memory(_mlp, ["Muon"])
    assert row.bytes == pytest.approx(4 * matrices + 8 * rest, abs=64)  # plus step counters


def test_muon_groups_take_the_hidden_matrices_only():
    model = _mlp()
    muon, adamw = aa.muon_param_groups(model, weight_decay=0.0)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for g in muon for p in g["params"]) == [
        "features.block1.linear.weight",
        "features.block2.linear.weight",
    ]
    assert all(g["weight_decay"] == 0.0 for g in adamw)
    cnn_muon, cnn_adamw = aa.muon_param_groups(models.CNN(channels=(4, 4, 4)))
    assert cnn_muon == [] and len(cnn_adamw[0]["params"]) == 8


def test_lbfgs_state_grows_with_its_history_of_steps():
    (row,) = aa.state_memory(_mlp, ["LBFGS"])
    assert row.bytes_per_param > 2 * 4  # at least one (step, gradient change) pair kept


def test_factored_second_moment_is_exact_for_rank_one_and_keeps_row_and_column_sums():
    v = torch.rand(6, 1) @ torch.rand(1, 4)
    assert torch.allclose(aa.factored_second_moment(v), v, rtol=1e-5)
    w = torch.rand(6, 4)
    vh = aa.factored_second_moment(w)
    assert torch.allclose(vh.sum(1), w.sum(1)) and torch.allclose(vh.sum(0), w.sum(0))
    fit = aa.compare_factored(v, torch.randn(6, 4))
    assert fit.median_ratio_error < 1e-5 and fit.update_cosine == pytest.approx(1.0, abs=1e-5)
    assert (fit.full_numbers, fit.factored_numbers) == (24, 10)


@pytest.mark.parametrize("bad", [torch.ones(3), -torch.ones(2, 2)])
def test_factored_second_moment_refuses_a_vector_or_a_negative_matrix(bad):
    with pytest.raises(ValueError, match="v must be"):
        aa.factored_second_moment(bad)


def test_radam_takes_unadapted_steps_until_rho_exceeds_five():
    t_on = aa.first_adaptive_step(0.999)
    assert t_on == 6 and aa.radam_rho(t_on - 1, 0.999) <= 5 < aa.radam_rho(t_on, 0.999)
    assert aa.radam_rectification(t_on - 1, 0.999) == 0.0
    assert aa.radam_rectification(10**6, 0.999) == pytest.approx(1.0, abs=1e-3)
    w = torch.zeros(3, requires_grad=True)
    opt = optim.RAdam([w], lr=0.1)
    for t in range(1, t_on):  # a constant gradient: m_hat = g, so each step moves by lr * g
        before = w.detach().clone()
        w.grad = torch.full((3,), 0.5)
        opt.step()
        assert torch.allclose(before - w.detach(), torch.full((3,), 0.05)), t


def test_radam_rho_refuses_a_beta2_outside_the_open_unit_interval():
    with pytest.raises(ValueError, match="beta2"):
        aa.radam_rho(3, 1.0)


def _run(accs, lr=0.1, diverged=False):
    steps = tuple(10 * (i + 1) for i in range(len(accs)))
    cpus = tuple(0.1 * (i + 1) for i in range(len(accs)))
    return aa.Run("w", "m", lr, 0, steps, tuple(accs), cpus, diverged)


def test_steps_to_target_reads_the_first_evaluation_at_or_above_the_target():
    run = _run([0.2, 0.6, 0.5, 0.7])
    assert aa.steps_to_target(run, 0.6) == (20, 0.2)
    assert aa.steps_to_target(run, 0.8) is None


def test_pick_trial_prefers_the_fastest_to_target_then_the_best_final_accuracy():
    slow, fast, never = _run([0.1, 0.7], 0.01), _run([0.7, 0.72], 0.1), _run([0.5, 0.6], 1.0)
    assert aa.pick_trial([slow, fast, never], 0.65) is fast
    assert aa.pick_trial([slow, never], 0.9) is slow  # none reached it: highest final accuracy


def test_performance_profile_counts_workloads_solved_within_tau_of_the_best():
    times = {"a": {"x": 10.0, "y": 20.0}, "b": {"x": math.inf, "y": 15.0}}
    p = aa.performance_profile(times, [1.0, 2.0, 100.0])
    assert p["x"].tolist() == [0.5, 0.5, 0.5]  # never solves b
    assert p["y"].tolist() == [0.5, 1.0, 1.0]


def test_update_rms_is_one_after_adams_first_step_with_a_constant_gradient():
    w = torch.zeros(4, requires_grad=True)
    opt = optim.AdamW([w], lr=0.1)
    w.grad = torch.full((4,), 3.0)
    opt.step()
    assert aa.update_rms(opt) == pytest.approx(1.0, rel=1e-6)


@pytest.fixture(scope="module")
def tiny():
    split = data.subset(data.mnist1d(), 400, seed=0)
    fit, val = compare.holdout(split, fraction=0.25, seed=0)
    mlp = aa.Workload("MLP", "mlp", {"hidden_sizes": (16, 16)}, steps=20, batch_size=50)
    cnn = aa.Workload("CNN", "cnn", {"channels": (4, 4, 4)}, steps=20, batch_size=50)
    return fit, val, mlp, cnn


def test_train_run_is_reproducible_and_records_every_evaluation(tiny):
    fit, val, mlp, _ = tiny
    method = aa.Method("AdamW", (1e-2,))
    a = aa.train_run(mlp, method, 1e-2, fit, val, seed=3)
    b = aa.train_run(mlp, method, 1e-2, fit, val, seed=3)
    assert a.steps == (10, 20) and a.val_acc == b.val_acc and not a.diverged
    assert 0 < a.cpu_seconds[0] <= a.cpu_seconds[1]
    assert aa.train_run(mlp, method, 1e-2, fit, val, seed=4).val_acc != a.val_acc


def test_train_run_stops_a_diverging_run(tiny):
    fit, val, mlp, _ = tiny
    run = aa.train_run(mlp, aa.Method("SGD", (1e6,), schedule="constant"), 1e6, fit, val, 0)
    assert run.diverged and math.isnan(run.final_val_acc)


def test_schedule_free_runs_are_evaluated_in_eval_mode(tiny):
    fit, val, mlp, _ = tiny
    method = aa.Method("AdamWScheduleFree", (1e-2,), schedule="schedule_free")
    run = aa.train_run(mlp, method, 1e-2, fit, val, seed=0)
    assert len(run.val_acc) == 2 and not run.diverged


def test_benchmark_tunes_every_method_with_the_same_budget_and_aliases_muon_on_a_cnn(tiny):
    fit, val, mlp, cnn = tiny
    grid = (3e-3, 3e-2)
    methods = {
        "AdamW": aa.Method("AdamW", grid),
        "Muon": aa.Method("Muon", grid, {"adjust_lr_fn": "match_rms_adamw"}),
    }
    res = aa.benchmark([mlp, cnn], methods, fit, val, tune_seed=0, seeds=[1, 2])
    assert res.aliases == {("CNN", "Muon"): "AdamW"}
    assert res.runs[("CNN", "Muon")] is res.runs[("CNN", "AdamW")]
    assert len(res.trials[("MLP", "Muon")]) == 2 and res.lrs[("MLP", "Muon")] in grid
    best = max(r.final_val_acc for r in res.trials[("MLP", "AdamW")])
    assert res.targets["MLP"] == pytest.approx(0.9 * best)
    table = res.table("MLP")
    assert table.configs == ["AdamW", "Muon"] and table.seeds == [1, 2]
    assert set(res.times()) == {"MLP", "CNN"}


def test_benchmark_refuses_unequal_tuning_budgets(tiny):
    fit, val, mlp, _ = tiny
    methods = {"AdamW": aa.Method("AdamW", (1e-3, 1e-2)), "Lion": aa.Method("Lion", (1e-4,))}
    with pytest.raises(ValueError, match="same number of trials"):
        aa.benchmark([mlp], methods, fit, val, tune_seed=0, seeds=[1, 2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lrs": ()}, "lrs must be"), ({"lrs": (0.1,), "schedule": "cosine"}, "schedule must be")],
)
def test_method_refuses_an_empty_grid_or_an_unknown_schedule(kwargs, match):
    with pytest.raises(ValueError, match=match):
        aa.Method("AdamW", **kwargs)
