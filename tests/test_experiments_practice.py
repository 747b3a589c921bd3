"""course_lib.experiments.practice: what notebook 11 measures, checked on tiny runs."""

import math

import pytest
import torch

from course_lib.experiments import practice


@pytest.fixture(scope="module")
def data():
    return practice.make_data()


@pytest.fixture(scope="module")
def small(data):
    """The first 800 fit examples: enough for the parity checks, a quarter of the time."""
    d = data
    return practice.Data(d.x_fit[:800], d.y_fit[:800], d.x_val, d.y_val, d.x_test, d.y_test)


def test_accumulated_fit_equals_the_large_batch_to_rounding(small):
    assert (
        practice.accumulation_gap(small, k=4, batch_size=100, steps=8, dtype=torch.float64) < 1e-12
    )
    f32 = practice.accumulation_gap(small, k=4, batch_size=100, steps=8, dtype=torch.float32)
    assert 0 < f32 < 1e-5  # float32: rounding, not zero


def test_accumulation_gap_refuses_a_batch_that_k_does_not_divide(data):
    with pytest.raises(ValueError, match="batch_size must be a multiple of k=3, got 100"):
        practice.accumulation_gap(data, k=3, batch_size=100)


def test_pitfalls_sum_is_k_times_the_gradient_and_loss_over_k_is_wrong_for_uneven_batches(data):
    p = practice.accumulation_pitfalls(data, sizes=(8, 8, 8, 2))
    assert p.exact_error < 1e-12
    assert p.sum_ratio == pytest.approx(4.0, abs=1e-9)
    assert p.naive_error > 0.1 and p.naive_cosine < 0.99
    assert sum(p.exact_weights) == pytest.approx(1.0) and p.naive_weights == (0.25,) * 4
    even = practice.accumulation_pitfalls(data, sizes=(5, 5))
    assert even.naive_error < 1e-12  # loss / k is right when the micro-batches are equal


def test_split_batch_refuses_sizes_that_do_not_cover_the_batch():
    with pytest.raises(ValueError, match=r"sizes must sum to the batch's 5 examples, got \[2, 2\]"):
        practice.split_batch(torch.zeros(5, 1), torch.zeros(5), [2, 2])


def test_fit_steps_the_scheduler_per_optimizer_step_and_the_bug_k_times_faster(data):
    r = practice.scheduler_lrs(data, k=3, steps=6, lr=0.1)
    assert r["fit"] == pytest.approx(r["closed form"], rel=1e-12)
    assert r["closed form"] == pytest.approx([0.1 * (1 - t / 6) for t in range(6)])
    assert r["per micro-batch"] == pytest.approx([0.1 * max(0, 1 - 3 * t / 6) for t in range(6)])


def test_train_run_reports_a_divergence_as_failed_with_nan_scores(data):
    r = practice.train_run(data, 0, lr=30.0, epochs=1, hidden_sizes=(16,))
    assert r.history.diverged and r.metrics["diverged"] == r.metrics["failed"] == 1.0
    assert math.isnan(r.metrics["val_acc"])
    clipped = practice.train_run(data, 0, lr=30.0, epochs=1, hidden_sizes=(16,), max_grad_norm=0.01)
    assert clipped.metrics["diverged"] == 0.0 and len(clipped.history.grad_norm) == 32


def test_train_run_with_an_ema_reports_its_scores(data):
    r = practice.train_run(data, 0, lr=1e-2, optimizer="adam", epochs=1, ema_decay=0.9)
    assert 0 <= r.metrics["ema_val_acc"] <= 1 and "val_ema_accuracy" in r.history.epochs


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"optimizer": "lion"}, ValueError, "optimizer must be one of"),
        ({"lr": -1.0}, ValueError, "lr must be a finite number > 0, got -1.0"),
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1, got 0"),
        ({"ema_decay": 1.0}, ValueError, "ema_decay must be a finite number in [0, 1), got 1.0"),
    ],
)
def test_train_run_refuses_bad_arguments_naming_them(data, kwargs, error, message):
    args = {"lr": 0.1, "epochs": 1, **kwargs}
    with pytest.raises(error) as info:
        practice.train_run(data, 0, **args)
    assert message in str(info.value)


def test_clipping_by_norm_keeps_the_direction_by_value_turns_it(data):
    r = practice.clip_directions(data, max_norm=0.1, clip_value=0.01)
    assert r["cosine by norm"] == pytest.approx(1.0, abs=1e-6)
    assert r["norm by norm"] == pytest.approx(0.1, rel=1e-5)
    assert r["cosine by value"] < 0.99 and 0 < r["fraction of entries above the value"] < 0.5


def test_autocast_runs_the_linear_layers_in_bf16_and_the_loss_in_float32(data):
    seen = practice.autocast_dtypes(data, torch.bfloat16)
    assert seen["features.block1.linear"] == "torch.bfloat16"
    assert seen["loss (cross_entropy)"] == seen["parameters"] == "torch.float32"


def test_an_injected_inf_skips_that_step_halves_the_scale_and_holds_the_scheduler(data):
    r = practice.scaler_skip(data, skip_at=2, steps=5)
    assert r.history.skipped_steps == [2]
    assert r.moved[2] == 0.0 and all(m > 0 for i, m in enumerate(r.moved) if i != 2)
    assert r.scale == [65536.0, 65536.0, 32768.0, 32768.0, 32768.0]
    assert r.last_epoch == [1, 2, 2, 3, 4] and r.lrs[3] == r.lrs[2]
    assert not any("lr_scheduler.step()" in w for w in r.warnings)


def test_an_unprotected_loop_warns_and_runs_the_schedule_one_step_ahead(data):
    r = practice.unprotected_loop(data, skip_at=0, steps=4)
    assert any("Detected call of `lr_scheduler.step()` before" in w for w in r.warnings)
    assert r.skipped == [0] and r.last_epoch == 4
    assert r.lrs == pytest.approx([0.05 * (1 - t / 4) for t in range(1, 4)])
    later = practice.unprotected_loop(data, skip_at=2, steps=4)  # a later skip: silent drift
    assert not later.warnings and later.skipped == [2]


def test_clipping_before_unscale_uses_a_threshold_off_by_the_scale(data):
    r = practice.scaled_clipping(data, max_norm=0.1)
    assert r.scaled_norm / r.true_norm == r.scale == 65536.0
    assert r.clipped_before == pytest.approx(0.1 / 65536, rel=1e-4)
    assert r.clipped_after == pytest.approx(0.1, rel=1e-5)


def test_spacing_is_the_distance_to_the_next_number_of_the_dtype():
    theta = torch.tensor([1.0, 0.1, -3.0, 1e-3])
    assert torch.equal(practice.spacing(theta, torch.float32)[0], torch.tensor(2.0**-23))
    ulp = practice.spacing(theta)
    up = (theta.bfloat16() + (ulp.bfloat16() * torch.sign(theta).bfloat16())).float()
    assert torch.equal(ulp[0], torch.tensor(2.0**-7))
    assert torch.allclose((up - theta.bfloat16().float()).abs(), ulp)


def test_low_precision_adam_loses_updates_and_halves_the_state(data):
    f32 = practice.low_precision_adam(data, 0, dtype=torch.float32, epochs=1)
    bf16 = practice.low_precision_adam(data, 0, dtype=torch.bfloat16, epochs=1)
    assert f32["lost"] < 1e-3 < 0.05 < bf16["lost"]
    assert abs(bf16["predicted"] - bf16["lost"]) < 0.1 * bf16["lost"]  # the rounding rule
    assert f32["state_bytes"] == pytest.approx(8.0, abs=0.01)
    assert bf16["state_bytes"] == pytest.approx(4.0, abs=0.01)


def test_state_bytes_count_every_state_tensor_per_parameter():
    p = torch.zeros(4, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(4)
    opt.step()
    assert practice.state_bytes_per_parameter(opt) == 4.0  # one float32 momentum buffer


def test_a_run_with_every_option_resumes_mid_epoch_bit_for_bit(data):
    r = practice.resume_check(data, stop_at=20, epochs=1, k=3)
    assert all(r.same.values()), r.same
    assert r.stopped_step == 20 and r.stopped_epoch == 0 and r.stopped_batch == 60
    assert r.batches_per_epoch == 128 and r.steps == 43  # ceil(128 / 3) windows


def test_same_state_compares_tensors_bitwise():
    a = {"x": torch.tensor([1.0]), "n": 3}
    assert practice.same_state(a, {"x": torch.tensor([1.0]), "n": 3})
    assert not practice.same_state(a, {"x": torch.tensor([1.0 + 1e-7]), "n": 3})
    assert not practice.same_state(a, {"x": torch.tensor([1.0])})
