"""The pitfalls clinic's measurements (course_lib.experiments.pitfalls) state torch 2.13's behaviour."""

import math
import os

import pytest
import torch

from course_lib import param_groups
from course_lib.experiments import pitfalls as P

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any `import keras`


def test_scheduler_first_uses_every_rate_one_step_early_and_torch_warns():
    broken, fixed = (
        P.scheduler_order(scheduler_first=True),
        P.scheduler_order(scheduler_first=False),
    )
    assert broken.lrs == [*fixed.expected[1:], fixed.expected[-1] / 2]
    assert len(broken.warnings) == 1 and broken.warnings[0].startswith(
        "Detected call of `lr_scheduler.step()`"
    )
    assert fixed.lrs == fixed.expected and fixed.warnings == []


def test_an_unprotected_amp_loop_runs_the_schedule_ahead_by_one_step_per_skip():
    broken, fixed = P.amp_scheduler(protected=False), P.amp_scheduler(protected=True)
    assert broken.skipped == fixed.skipped == [0, 3]
    assert broken.last_epoch == 8 and fixed.last_epoch == 6
    assert fixed.lrs == pytest.approx(fixed.expected, rel=1e-12) and fixed.warnings == []
    assert broken.lrs[:2] == pytest.approx(fixed.expected[1:3])  # one skip behind the first update
    assert broken.lrs[2:] == pytest.approx([*fixed.expected[4:], 0.025, 0.0125])
    assert any("Detected call" in m for m in broken.warnings)


def test_fit_in_fp16_steps_the_scheduler_only_for_real_updates():
    history, messages = P.amp_with_fit()
    assert history.skipped_steps == [0, 3] and messages == []
    real = [lr[0] for t, lr in enumerate(history.lr) if t not in history.skipped_steps]
    assert real == pytest.approx(P.amp_scheduler(protected=True).expected, rel=1e-12)


def test_a_scheduler_stepped_per_micro_batch_runs_k_times_too_fast_and_summing_scales_by_k():
    rates, messages = P.accumulation_schedule(k=3, updates=12)
    assert rates["fit"] == pytest.approx(rates["closed form"], rel=1e-12)
    assert rates["per micro-batch"] == pytest.approx(
        [0.1 * max(0.0, 1 - (3 * u + 2) / 12) for u in range(12)], abs=1e-12
    )
    assert any("Detected call" in m for m in messages)
    assert P.summed_gradient_ratio(k=4) == pytest.approx(4.0, rel=1e-12)


def test_warmup_stepped_all_along_erases_the_plateau_reductions():
    fixed = P.warmup_plateau("fixed")
    along = P.warmup_plateau("warm-up all along")
    early = P.warmup_plateau("plateau from the start")
    assert fixed[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1]) and fixed[-4:] == pytest.approx(
        [0.05] * 4
    )
    assert min(along) == 0.025 and along[-1] == pytest.approx(0.1)  # every reduction undone
    assert early[-1] == pytest.approx(0.025)  # two reductions: patience counted during warm-up
    errors = P.composition_errors()
    assert all(e.startswith("ValueError") and "ReduceLROnPlateau" in e for e in errors.values())


def test_sequentiallr_hands_over_exactly_in_torch_2_13_and_milestone_zero_starts_with_the_second():
    r = P.sequential_warmup(warmup=3, total=10)
    assert r["SequentialLR"] == pytest.approx(r["closed form"], rel=1e-12, abs=1e-15)
    assert r["SequentialLR, milestones=[0]"][:8] == pytest.approx(
        r["cosine over T - W from step 0"][:8]
    )
    assert r["cosine counted from 0"][3] < 0.8 < r["closed form"][3] == 1.0
    _, messages = P.sequential_reference()
    assert messages == []


def test_sequentiallr_restarts_the_next_scheduler_from_the_base_rate_at_the_milestone():
    lrs = P.sequential_restart(steps=9, milestone=5)
    assert lrs[:5] == [0.1 * 0.5**t for t in range(5)]
    assert lrs[5:] == pytest.approx([0.1 * 0.9**t for t in range(4)], rel=1e-12)


def test_resuming_without_the_scheduler_restarts_the_schedule_and_last_epoch_raises_keyerror():
    runs = P.resume_schedules()
    uninterrupted = runs["uninterrupted"]
    assert runs["all three state_dicts"][0] == uninterrupted[0]
    assert torch.equal(runs["all three state_dicts"][1], uninterrupted[1])
    restarted = runs["without the scheduler's"][0]
    assert restarted[0] == uninterrupted[0][0] and restarted[1] > 1.5 * uninterrupted[0][1]
    message = runs["fresh optimizer, last_epoch=n-1"][2]
    assert message.startswith("param 'initial_lr' is not specified in param_groups[0]")


def test_a_group_added_after_the_scheduler_is_scaled_wrongly_or_breaks_step():
    assert P.late_group("StepLR") == pytest.approx([0.5, 0.25, 0.125])
    assert P.late_group("LambdaLR").startswith("ValueError: zip()")
    assert P.late_group("LinearLR") == pytest.approx([4 / 3] * 3)  # above the 1.0 it was given
    assert P.late_group("CosineAnnealingLR")[0] == pytest.approx(2 - math.sqrt(2))
    assert P.late_group("course_lib LambdaLR").startswith("RuntimeError: LambdaLR was built for 1")


def test_adamw_on_all_parameters_decays_biases_and_norms_and_no_decay_groups_does_not():
    model = P.norm_model()
    assert P.decay_split(model, model.parameters()) == {
        "no-decay tensors decayed": 4,
        "no-decay entries decayed": 51,
        "weights decayed": 2,
    }
    split = P.decay_split(model, param_groups.no_decay_groups(model, 0.01))
    assert split["no-decay tensors decayed"] == 0 and split["weights decayed"] == 2


@pytest.mark.parametrize("weight_decay", [1e-4, 1e-2, 1e-1])
def test_adam_l2_moves_a_zero_gradient_weight_by_about_lr_whatever_the_decay(weight_decay):
    assert P.adam_l2_step(weight_decay, decoupled=False) == pytest.approx(1e-3, rel=1e-3)
    assert P.adam_l2_step(weight_decay, decoupled=True) == pytest.approx(
        1e-3 * weight_decay * 0.5, rel=1e-6
    )


def test_eps_placement_on_a_tiny_gradient():
    r = P.eps_placement(1e-8)
    assert r["torch"] == pytest.approx(5e-4, rel=1e-9)  # g / (|g| + eps) = 1/2
    assert r["keras"] == pytest.approx(1e-3 * 1e-8 / (1e-8 + 1e-8 / math.sqrt(1e-3)), rel=1e-9)
    assert r["inside the root"] < 1e-6


def test_keras_formula_matches_keras_3s_adam_step_by_step():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on another backend here")
    var = keras.Variable([0.0], dtype="float64")
    opt = keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7)
    before = 0.0
    for t in range(1, 4):
        opt.apply_gradients([(keras.ops.convert_to_tensor([1e-6], dtype="float64"), var)])
        now = float(keras.ops.convert_to_numpy(var)[0])
        expected = P.keras_adam_first_step(1e-6, eps=1e-7, t=t)
        assert before - now == pytest.approx(expected, rel=1e-6)  # Keras keeps lr in float32
        before = now


def test_clipping_before_unscale_leaves_c_over_s():
    r = P.clip_before_unscale(max_norm=0.1)
    assert r["scale"] == 65536.0 and r["scaled norm"] / r["true norm"] == pytest.approx(
        65536.0, rel=1e-3
    )
    assert r["clipped before unscale_"] == pytest.approx(0.1 / 65536, rel=1e-3)
    assert r["clipped after unscale_"] == pytest.approx(0.1, rel=1e-5)
    assert r["true norm"] > 0.1


def test_bad_arguments_are_refused_with_their_name():
    with pytest.raises(ValueError, match="steps"):
        P.scheduler_order(True, steps=0)
    with pytest.raises(ValueError, match="max_norm"):
        P.clip_before_unscale(max_norm=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        P.adam_l2_step(-1.0, decoupled=True)
