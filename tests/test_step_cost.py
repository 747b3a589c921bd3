"""course_lib.experiments.step_cost: state bytes, the byte model of a step, the timing helpers.

No test asserts a time: timing helpers are checked with a fake clock (their contract: how often
each function runs, in which order, what the samples are), bandwidth helpers for their shape.
"""

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib import models, optim
from course_lib.experiments import step_cost as sc


def _model():
    return models.MLP(in_features=8, num_classes=3, hidden_sizes=(6,), seed=0)


def _stepped(opt, params):
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    return opt


@pytest.fixture(scope="module")
def table():
    return {row.label: row for row in sc.state_table(_model)}


def test_every_optimizer_state_matches_the_update_rule_byte_for_byte(table):
    assert set(table) == set(sc.STATE_LABELS)
    for label, row in table.items():
        assert row.measured == row.expected, label


def test_torch_keeps_the_same_state_bytes_as_ours_where_torch_has_the_optimizer(table):
    compared = [label for label, row in table.items() if row.torch_measured is not None]
    assert {"SGD", "Adam", "AMSGrad", "AdamW", "Adagrad", "Adafactor", "NAdam"} <= set(compared)
    for label in compared:
        assert table[label].torch_measured == table[label].measured, label


@pytest.mark.parametrize(
    ("label", "per_param"),
    [
        ("SGD", 0.0),
        ("SGD + momentum", 4.0),
        ("Adagrad", 4.0),
        ("RMSprop", 4.0),
        ("Adam", 8.0),
        ("AdamW", 8.0),
        ("AMSGrad", 12.0),
        ("Lion", 4.0),
        ("Adadelta", 8.0),
        ("AdamWScheduleFree", 8.0),
    ],
)
def test_full_size_state_is_four_bytes_per_float32_tensor(table, label, per_param):
    assert table[label].tensor_bytes_per_param == per_param


def test_adafactor_keeps_a_row_and_a_column_per_matrix_not_the_matrix(table):
    # MLP(8 -> 6 -> 3): matrices 6x8 and 3x6 factored, biases 6 and 3 kept whole.
    row = table["Adafactor"]
    assert row.measured["row_var"] == 4 * (6 + 3)
    assert row.measured["col_var"] == 4 * (8 + 6)
    assert row.measured["variance"] == 4 * (6 + 3)
    assert row.tensor_bytes_per_param < table["Adam"].tensor_bytes_per_param / 2


def test_muon_row_is_muon_on_the_hidden_matrix_and_adamw_on_the_rest(table):
    row = table["Muon"]
    assert row.measured["momentum_buffer"] == 4 * 6 * 8  # features.block0's weight only
    assert row.measured["exp_avg"] == 4 * (row.params - 6 * 8)


def test_state_bytes_per_param_counts_step_counters_too():
    w = torch.zeros(10, 10, requires_grad=True)
    opt = _stepped(optim.Adam([w]), [w])
    assert sc.state_bytes_per_param(opt) == (2 * 4 * 100 + 4) / 100
    assert sc.measured_state(opt) == {"step": 4, "exp_avg": 400, "exp_avg_sq": 400}


def test_state_bytes_per_param_is_zero_before_the_first_step_and_errors_without_parameters():
    w = torch.zeros(3, requires_grad=True)
    assert sc.state_bytes_per_param(optim.Adam([w])) == 0.0
    opt = optim.SGD([w], lr=0.1)
    opt.param_groups[0]["params"] = []
    with pytest.raises(ValueError, match="optimizer must hold at least one parameter"):
        sc.state_bytes_per_param(opt)


def test_expected_state_follows_the_group_flags_and_rejects_unknown_optimizers():
    w = torch.zeros(5, requires_grad=True)
    assert sc.expected_state(optim.SGD([w], lr=0.1)) == {}
    assert sc.expected_state(optim.RMSprop([w], momentum=0.9, centered=True)) == {
        "step": 4,
        "square_avg": 20,
        "momentum_buffer": 20,
        "grad_avg": 20,
    }
    assert sc.full_state_tensors(optim.Adam([w], amsgrad=True)) == 3
    with pytest.raises(ValueError, match=r"optimizer must be one of .* got 'ASGD'"):
        sc.expected_state(torch.optim.ASGD([w]))


def test_state_table_rejects_an_unknown_label():
    with pytest.raises(ValueError, match=r"labels must be one of .* got 'LBFGS'"):
        sc.state_table(_model, ["LBFGS"])


def test_update_traffic_is_three_tensors_plus_two_per_state_tensor():
    assert sc.update_traffic(0, 10) == 3 * 4 * 10
    assert sc.update_traffic(2, 10) == 7 * 4 * 10
    assert sc.update_traffic(2, 10, dtype=torch.float64) == 7 * 8 * 10
    assert sc.update_traffic(0, 10, dtype=torch.bfloat16) == 3 * 2 * 10


def test_bytes_per_step_of_sgd_adam_adamw():
    n = 1000
    assert sc.bytes_per_step("SGD", n) == 12 * n
    assert sc.bytes_per_step("SGD", n, momentum=0.9) == 20 * n
    assert sc.bytes_per_step("Adam", n) == 28 * n
    assert sc.bytes_per_step("AdamW", n, amsgrad=True) == 36 * n
    with pytest.raises(ValueError, match="name must be one of 'Adam', 'AdamW', 'SGD'"):
        sc.bytes_per_step("Lion", n)
    with pytest.raises(ValueError, match="numel must be an integer >= 0"):
        sc.bytes_per_step("SGD", -1)
    with pytest.raises(ValueError, match="momentum must be a finite number >= 0"):
        sc.bytes_per_step("SGD", n, momentum=-0.5)


def test_bytes_per_step_equals_the_traffic_of_the_optimizers_state():
    w = torch.zeros(4, requires_grad=True)
    for opt, kwargs in [
        (optim.SGD([w], lr=0.1), {"name": "SGD"}),
        (optim.SGD([w], lr=0.1, momentum=0.9), {"name": "SGD", "momentum": 0.9}),
        (optim.Adam([w]), {"name": "Adam"}),
        (optim.AdamW([w], amsgrad=True), {"name": "AdamW", "amsgrad": True}),
    ]:
        assert sc.bytes_per_step(numel=4, **kwargs) == sc.update_traffic(
            sc.full_state_tensors(opt), 4
        )


class _Clock:
    """A clock that advances one second per reading."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def test_time_call_runs_warmup_plus_repeats_times_number_calls():
    calls = []
    timing = sc.time_call(lambda: calls.append(1), warmup=2, repeats=3, number=4, clock=_Clock())
    assert len(calls) == 2 + 3 * 4
    assert timing.samples == (0.25, 0.25, 0.25)  # one clock second over four calls
    assert timing.median == 0.25


def test_median_time_is_the_median_sample():
    readings = iter([0.0, 1.0, 1.0, 4.0, 4.0, 6.0])  # samples 1, 3, 2
    assert sc.median_time(lambda: None, warmup=0, repeats=3, clock=lambda: next(readings)) == 2.0


def test_race_rotates_the_order_and_pairs_samples_by_repeat():
    order = []
    fns = {name: (lambda n=name: order.append(n)) for name in "abc"}
    result = sc.race(fns, warmup=1, repeats=3, clock=_Clock())
    assert order == list("abc") + list("abc") + list("bca") + list("cab")
    assert result.timings["a"].samples == (1.0, 1.0, 1.0)
    ratio = result.ratio("a", "c")
    assert (ratio.a, ratio.b, ratio.samples, ratio.median) == ("a", "c", (1.0, 1.0, 1.0), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"repeats": 0}, ValueError, "repeats must be an integer >= 1, got 0"),
        ({"warmup": -1}, ValueError, "warmup must be an integer >= 0, got -1"),
        ({"number": 1.5}, TypeError, "number must be an integer >= 1"),
    ],
)
def test_timing_helpers_name_a_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        sc.time_call(lambda: None, **kwargs)
    with pytest.raises(error, match=match):
        sc.race({"a": lambda: None}, **kwargs)


def test_race_rejects_no_candidates_and_non_callables():
    with pytest.raises(ValueError, match="fns must hold at least one candidate"):
        sc.race({})
    with pytest.raises(TypeError, match=r"fns\['a'\] must be callable"):
        sc.race({"a": 3})
    with pytest.raises(TypeError, match="fn must be callable"):
        sc.time_call(None)


def test_make_params_splits_the_total_into_leaf_tensors_with_gradients():
    params = sc.make_params(1024, 8, seed=3)
    assert [p.numel() for p in params] == [128] * 8
    assert all(p.is_leaf and p.requires_grad and p.grad.shape == p.shape for p in params)
    assert torch.equal(params[0], sc.make_params(1024, 8, seed=3)[0])
    with pytest.raises(ValueError, match="total must be an integer >= 8, got 4"):
        sc.make_params(4, 8)


def test_roofline_times_each_step_against_the_triad_in_the_same_repeats():
    w = sc.make_params(64, 1)[0]
    opt = optim.SGD([w], lr=0.1)
    result = sc.roofline({"sgd": (opt.step, sc.bytes_per_step("SGD", 64))}, 64, repeats=3)
    assert set(result.race.timings) == {"triad", "sgd"}
    assert len(result.fraction("sgd").samples) == 3
    assert result.bandwidth("sgd") > 0 and result.bandwidth("triad") > 0
    with pytest.raises(ValueError, match="must not use the name 'triad'"):
        sc.roofline({"triad": (opt.step, 1)}, 64)


def test_triad_bandwidth_is_a_positive_rate():
    assert sc.triad_bandwidth(1000, repeats=2) > 0


def test_adam_update_equals_course_adam_for_five_steps():
    torch.manual_seed(0)
    w = torch.randn(20, requires_grad=True)
    p, m, v = w.detach().clone(), torch.zeros(20), torch.zeros(20)
    opt = optim.Adam([w], lr=0.01)
    for t in range(1, 6):
        g = torch.randn(20)
        w.grad = g.clone()
        opt.step()
        sc.adam_update(p, g, m, v, torch.tensor(float(t)), lr=0.01)
    torch.testing.assert_close(p, w.detach())
    torch.testing.assert_close(m, opt.state[w]["exp_avg"])
    torch.testing.assert_close(v, opt.state[w]["exp_avg_sq"])


def test_state_row_reports_bytes_with_and_without_scalars():
    row = sc.state_table(lambda: nn.Sequential(nn.Linear(8, 4)), ["NAdam"])[0]
    assert row.params == 36
    assert row.scalars == ("mu_product", "step")
    assert row.tensor_bytes_per_param == 8.0
    assert row.bytes_per_param == 8.0 + 2 * 2 * 4 / 36


def test_fresh_inductor_cache_points_torch_to_a_temporary_folder_and_removes_it(monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/somewhere")
    with sc.fresh_inductor_cache() as folder:
        assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == folder != "/somewhere"
        (Path(folder) / "kernel.cpp").write_text("// a cached kernel")
    assert not os.path.exists(folder)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/somewhere"
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    with pytest.raises(RuntimeError, match="inside"), sc.fresh_inductor_cache() as folder:
        raise RuntimeError("inside")
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ and not os.path.exists(folder)


def test_cpp_compiler_is_found_on_the_path_and_none_without_one(monkeypatch, tmp_path):
    fake = tmp_path / "g++"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sc.cpp_compiler() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert sc.cpp_compiler() is None
