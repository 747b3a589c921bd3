"""Reference solutions of notebook A1's exercises, checked against Keras and torch themselves."""

from __future__ import annotations

import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any `import keras`

import numpy as np
import pytest
import torch
from _exercise_tests import rejects_with_hint

from course_lib import integrations as ci
from course_lib.exercises import nbA1

keras = pytest.importorskip("keras")


def test_checks_ask_for_an_answer_when_none(capsys):
    for check in (
        nbA1.check_adam_first_step_eps,
        nbA1.check_piecewise_milestones,
        nbA1.check_plateau_patience,
        nbA1.check_adam_gradient_scale,
    ):
        assert check(None) is False
        assert "Fill in your answer" in capsys.readouterr().out


def test_adam_first_step_eps_reference_reproduces_keras():
    reference = 1e-7 / math.sqrt(1 - 0.999)
    assert nbA1.check_adam_first_step_eps(reference)
    assert nbA1.check_adam_first_step_eps(3.16e-6)
    q = ci.Quadratic.default(scale=1e-6)  # gradients small enough for epsilon to matter
    k = ci.keras_iterates(keras.optimizers.Adam(0.01), q, 1)
    t_ref = ci.torch_iterates(torch.optim.Adam, q, 1, lr=0.01, eps=reference)
    t_default = ci.torch_iterates(torch.optim.Adam, q, 1, lr=0.01)
    assert (k - t_ref).abs().max() < 1e-6 < (k - t_default).abs().max()


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (1e-7, "Keras adds epsilon to sqrt(v_t) BEFORE the bias correction"),
        (1e-8, "1e-8 is torch's default"),
        (1e-10, "the bias correction of v enters through its square root"),
        (-3.16e-6, "Not quite (-3.16e-06). Write both updates with v_hat"),
        ("3e-6", "Answer with a number, got '3e-6'"),
        (True, "Answer with a number, got True"),
    ],
)
def test_adam_first_step_eps_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA1.check_adam_first_step_eps, wrong, hint, capsys)


def test_piecewise_milestones_reference_matches_real_keras_and_torch():
    assert nbA1.check_piecewise_milestones([301, 601])
    assert nbA1.check_piecewise_milestones((301, 601))
    pw = keras.optimizers.schedules.PiecewiseConstantDecay([300, 600], [0.1, 0.01, 0.001])
    sched = torch.optim.lr_scheduler.MultiStepLR
    real_torch = ci.torch_lr_curve(lambda o: sched(o, [301, 601], gamma=0.1), 700, lr=0.1)
    assert np.allclose(ci.keras_lr_curve(pw, 700), real_torch, rtol=1e-6)
    assert np.allclose(nbA1.keras_piecewise_curve([300, 600], [0.1, 0.01, 0.001], 700), real_torch)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ([300, 600], "with milestones equal to the boundaries torch switches one step too early"),
        ([299, 599], "the two curves first differ at step 299 (Keras 0.1, MultiStepLR 0.01)"),
        ([301], "the two curves first differ at step 601 (Keras 0.001, MultiStepLR 0.01)"),
        ([301.5, 601], "Answer with whole numbers"),
        ("301,601", "Answer with a list of integers"),
        (5, "Answer with a list of integers, got 5"),
    ],
)
def test_piecewise_milestones_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA1.check_piecewise_milestones, wrong, hint, capsys)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (5, "the same number waits one epoch longer in torch"),
        (6, "Not quite (6). Count the bad epochs"),
        (4.0, "Answer with an integer, got 4.0"),
        ("4", "Answer with an integer, got '4'"),
        (True, "Answer with an integer, got True"),
    ],
)
def test_plateau_patience_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA1.check_plateau_patience, wrong, hint, capsys)


def test_plateau_patience_reference_matches_keras_callback():
    assert nbA1.check_plateau_patience(4)
    # Keras's callback with patience=5 vs torch's with patience=4 on the same losses
    values = [1.0, 0.9, *[0.95] * 6, 0.5, *[0.6] * 7]
    model = ci.keras_mlp((2, 2))
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5, mode="min")
    cb.set_model(model)
    cb.on_train_begin()
    keras_lrs = []
    for epoch, v in enumerate(values):
        keras_lrs.append(float(model.optimizer.learning_rate))
        cb.on_epoch_end(epoch, {"val_loss": v})
    torch_lrs = ci.plateau_lrs(
        values, 1.0, factor=0.5, patience=4, threshold=1e-4, threshold_mode="abs"
    )
    assert min(keras_lrs) < 1.0 and np.allclose(keras_lrs, torch_lrs, rtol=1e-6)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (0.01, "that is what SGD would do"),
        (0.1, "Not quite (0.1). What happens to m_t / sqrt(v_t)"),
        (100, "Not quite (100). What happens to m_t / sqrt(v_t)"),
        ("1", "Answer with a number, got '1'"),
    ],
)
def test_adam_gradient_scale_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA1.check_adam_gradient_scale, wrong, hint, capsys)


def test_adam_gradient_scale_reference():
    assert nbA1.check_adam_gradient_scale(1)
    assert nbA1.check_adam_gradient_scale(1.02)
    # measured: Adam's steps barely change when every gradient is scaled by 0.01
    q, scaled = ci.Quadratic.default(), ci.Quadratic.default(scale=0.01)
    a = ci.torch_iterates(torch.optim.Adam, q, 10, lr=0.01)
    b = ci.torch_iterates(torch.optim.Adam, scaled, 10, lr=0.01)
    ratio = (b[-1] - b[0]).norm() / (a[-1] - a[0]).norm()
    assert abs(ratio.item() - 1) < 0.01


# The coding exercise: a Keras LearningRateSchedule equal to torch's warm-up + exponential decay.
from course_lib.exercises.solutions.nbA1 import WarmupExponential  # noqa: E402 (after keras)

ops = keras.ops


class WarmupFromZero(WarmupExponential):
    def __call__(self, step):
        t = ops.cast(step, "float32")
        decay = self.peak * ops.power(self.gamma, ops.maximum(t - self.warmup_steps, 0.0))
        return ops.where(t < self.warmup_steps, self.peak * t / self.warmup_steps, decay)


class OneStepEarly(WarmupExponential):
    def __call__(self, step):
        return super().__call__(ops.cast(step, "float32") + 1)


class DecayClockNotRestarted(WarmupExponential):
    def __call__(self, step):
        t = ops.cast(step, "float32")
        warm = self.peak * (0.1 + 0.9 * t / self.warmup_steps)
        return ops.where(t < self.warmup_steps, warm, self.peak * ops.power(self.gamma, t))


class IntegerWarmup(WarmupExponential):
    def __call__(self, step):
        t = ops.cast(step, "int32")
        warm = self.peak * (0.1 + 0.9 * ops.cast(t // self.warmup_steps, "float32"))
        return ops.where(t < self.warmup_steps, warm, super().__call__(step))


class Unfinished(WarmupExponential):
    def __call__(self, step):
        raise NotImplementedError  # your code here


class ForgetsGamma(WarmupExponential):
    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


class Crashes(WarmupExponential):
    def __call__(self, step):
        return self.peak * self.decay_rate  # a name the class does not have


@pytest.mark.parametrize(
    ("cls", "hints"),
    [
        (WarmupFromZero, ["Step 0 (warm-up phase) is wrong: your schedule gives 0", "starts at 0"]),
        (
            OneStepEarly,
            ["Step 0 (warm-up phase) is wrong: your schedule gives 0.019", "one step early"],
        ),
        (
            DecayClockNotRestarted,
            ["Step 10 (decay phase) is wrong", "clock starts at the milestone"],
        ),
        (
            IntegerWarmup,
            ["Step 1 (warm-up phase) is wrong: your schedule gives 0.01", "on integers"],
        ),
        (Unfinished, ["Write the body of __call__ (replace `raise NotImplementedError`)"]),
        (
            ForgetsGamma,
            ["get_config/from_config failed (TypeError", "['gamma', 'peak', 'warmup_steps']"],
        ),
        (Crashes, ["Your schedule raised AttributeError at step 0"]),
        (WarmupExponential(0.1, 10, 0.9), ["Answer with a subclass", "not an instance"]),
    ],
    ids=["from-zero", "early", "clock", "integer", "unfinished", "config", "crash", "instance"],
)
def test_keras_schedule_check_names_the_first_wrong_step_and_the_mistake(cls, hints, capsys):
    out = rejects_with_hint(nbA1.check_keras_warmup_exponential, cls, hints[0], capsys)
    assert all(h in out for h in hints), out


def test_keras_schedule_check_accepts_the_answer_key_which_matches_torch(capsys):
    assert nbA1.check_keras_warmup_exponential(WarmupExponential) is True
    assert "Correct" in capsys.readouterr().out
    assert nbA1.check_keras_warmup_exponential(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert nbA1.check_keras_warmup_exponential("abc") is False
    assert "Answer with" in capsys.readouterr().out
    ours = ci.keras_lr_curve(WarmupExponential(**nbA1.WARMUP_EXPONENTIAL), 40)
    theirs = nbA1.warmup_exponential_curve(**nbA1.WARMUP_EXPONENTIAL, steps=40)
    assert np.allclose(ours, theirs, rtol=1e-6)
    assert math.isclose(theirs[0], 0.01) and math.isclose(theirs[10], 0.1)
