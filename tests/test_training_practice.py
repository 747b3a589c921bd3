"""The training loop in practice: gradient accumulation, clipping, mixed precision (bf16 autocast,
fp16 with a GradScaler and its skipped steps), an EMA of the weights, and resuming each of them."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import _training_practice_runs as runs
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler, swa_utils
from torch.utils.data import DataLoader, TensorDataset

from course_lib.averaging import AveragedModel, get_ema_multi_avg_fn
from course_lib.training import (
    CHECKPOINT_FORMAT,
    History,
    accumulate_step,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
    train_step,
)
from course_lib.training.loop import FitConfig, make_bar

# ---- helpers --------------------------------------------------------------------------------------


def make_model(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


def make_xy(n=24, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g, dtype=dtype)
    return x, x[:, :3].argmax(1)


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def split(x, y, sizes):
    out, start = [], 0
    for n in sizes:
        out.append((x[start : start + n], y[start : start + n]))
        start += n
    return out


def same(a, b) -> bool:
    """Equal plain data / tensors, bit for bit, with nan equal to nan (a skipped step's norm)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def loaders(batch, n=40, dtype=torch.float64):
    x, y = make_xy(n, dtype)
    gen = torch.Generator().manual_seed(5)  # same seed, same permutation whatever the batch size
    return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=gen)


# ---- accumulate_step ------------------------------------------------------------------------------


def accumulation_gap(sizes, dtype, steps=6):
    """Max |theta_accumulated - theta_big_batch| after ``steps`` Adam steps over the same examples."""
    x, y = make_xy(sum(sizes), dtype)
    a, b = make_model(dtype), make_model(dtype)
    opt_a = torch.optim.Adam(a.parameters(), lr=0.01)
    opt_b = torch.optim.Adam(b.parameters(), lr=0.01)
    for _ in range(steps):
        ra = accumulate_step(a, opt_a, split(x, y, sizes))
        rb = train_step(b, opt_b, x, y)
        assert ra.loss == pytest.approx(rb.loss, rel=1e-12 if dtype == torch.float64 else 1e-5)
        assert ra.outputs.shape == rb.outputs.shape == (len(x), 3)
    return max_diff(params(a), params(b))


@pytest.mark.parametrize("sizes", [[8, 8, 8], [5, 11, 8], [1, 23]], ids=["even", "uneven", "1+23"])
def test_accumulate_step_equals_one_step_on_the_concatenated_batch(sizes):
    assert accumulation_gap(sizes, torch.float64) <= 1e-12
    assert accumulation_gap(sizes, torch.float32) <= 1e-5  # float32: about 1e-7 here


def test_dividing_by_the_number_of_micro_batches_is_wrong_when_they_are_uneven():
    x, y = make_xy(24)
    sizes = [5, 11, 8]
    model = make_model()
    model.zero_grad()
    for xb, yb in split(x, y, sizes):
        (F.cross_entropy(model(xb), yb) / len(sizes)).backward()  # the naive loss / k
    naive = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    big = [p.grad.clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: only the gradient matters
    accumulate_step(model, opt, split(x, y, sizes))
    ours = [p.grad.clone() for p in model.parameters()]
    assert max_diff(ours, big) <= 1e-15
    assert max_diff(naive, big) > 1e-3


def test_accumulate_step_counts_the_penalty_once_and_stops_before_a_non_finite_loss():
    x, y = make_xy(24)
    penalty = lambda m: 0.5 * sum((p**2).sum() for p in m.parameters())  # noqa: E731
    a, b = make_model(), make_model()
    accumulate_step(a, torch.optim.SGD(a.parameters(), lr=0.1), split(x, y, [10, 14]),
                    penalty=penalty)  # fmt: skip
    train_step(b, torch.optim.SGD(b.parameters(), lr=0.1), x, y, penalty=penalty)
    assert max_diff(params(a), params(b)) <= 1e-14
    before = params(a)
    bad = x.clone()
    bad[12] = math.inf
    r = accumulate_step(a, torch.optim.SGD(a.parameters(), lr=0.1), split(bad, y, [10, 14]))
    assert not r.finite and not math.isfinite(r.loss)
    assert max_diff(params(a), before) == 0.0


def test_train_step_with_the_options_off_is_the_five_lines():
    x, y = make_xy(16, torch.float32)
    a, b = make_model(torch.float32), make_model(torch.float32)
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        r = train_step(a, opt_a, x, y)
        opt_b.zero_grad(set_to_none=True)
        loss = F.cross_entropy(b(x), y)
        loss.backward()
        opt_b.step()
        assert r.loss == loss.item() and not r.skipped and r.grad_norm is None
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# ---- fit with accumulation ------------------------------------------------------------------------


def test_fit_with_accumulation_equals_fit_with_k_times_larger_batches():
    k, gamma0 = 3, 0.05
    runs_ = {}
    for name, batch, steps in (("micro", 4, k), ("big", 4 * k, 1)):
        model = make_model()
        opt = torch.optim.SGD(model.parameters(), lr=gamma0, momentum=0.9)
        sched = lr_scheduler.LambdaLR(opt, runs.inverse_time)
        h = fit(model, opt, loaders(batch), 3, scheduler=sched, scheduler_interval="step",
                accumulation_steps=steps, device="cpu", progress=False)  # fmt: skip
        runs_[name] = (model, h, sched)
    (micro, hm, sm), (big, hb, sb) = runs_["micro"], runs_["big"]
    # 40 examples: 10 micro-batches of 4 in windows of 3, 3, 3, 1 = the big batches 12, 12, 12, 4
    assert hm.steps == hb.steps == 12 and hm["step"] == hb["step"] == [4, 8, 12]
    assert max_diff(params(micro), params(big)) <= 1e-12
    assert hm.step_loss == pytest.approx(hb.step_loss, rel=1e-12)
    assert hm.train_loss == pytest.approx(hb.train_loss, rel=1e-12)
    assert hm["train_accuracy"] == hb["train_accuracy"]
    closed_form = [gamma0 * runs.inverse_time(t) for t in range(12)]
    assert hm.series("lr") == pytest.approx(closed_form, rel=1e-15)
    assert sm.last_epoch == sb.last_epoch == 12  # one scheduler step per optimizer step


def test_fit_counts_optimizer_steps_with_accumulation():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    seen = []

    class Watch:
        def on_step_end(self, state):
            seen.append((state.step, state.batch))

    h = fit(model, opt, loaders(4), 2, accumulation_steps=4, max_steps=5, callbacks=[Watch()],
            progress=False)  # fmt: skip
    # 10 batches per epoch in windows of 4, 4, 2: steps 1-3 in epoch 0, 4-5 in epoch 1
    assert seen == [(1, 4), (2, 8), (3, 10), (4, 4), (5, 8)]
    assert h.steps == 5 and h.stop_reason == "max_steps"


def test_checkpoints_fall_at_window_boundaries_and_the_bar_counts_optimizer_steps(tmp_path):
    class Crash:
        def on_step_end(self, state):
            if state.step == 3:
                raise RuntimeError("simulated crash")

    model = make_model()
    path = tmp_path / "c.pt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.05), loaders(4), 2,
            accumulation_steps=3, checkpoint_path=path, checkpoint_every=2, callbacks=[Crash()],
            progress=False)  # fmt: skip
    ckpt = torch.load(path, weights_only=True)
    assert (ckpt["step"], ckpt["batch"], ckpt["accumulation_steps"]) == (2, 6, 3)
    config = FitConfig(3, F.cross_entropy, None, {}, torch.device("cpu"), False, None,
                       accumulation_steps=3)  # fmt: skip
    bar, n_batches = make_bar(loaders(4), config, 0)
    bar.close()
    assert (bar.total, n_batches) == (3 * 4, 10)  # 3 epochs of ceil(10 / 3) steps


def test_a_history_from_before_the_new_fields_loads_with_them_empty():
    model = make_model()
    h = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loaders(8), 1,
            max_grad_norm=1.0, progress=False)  # fmt: skip
    old = h.to_dict()
    del old["grad_norm"], old["skipped_steps"]
    back = History.from_dict(old)
    assert back.grad_norm == [] and back.skipped_steps == [] and back.step_loss == h.step_loss
    assert History.from_dict(h.to_dict()) == h


# ---- clipping -------------------------------------------------------------------------------------


def test_clipping_records_the_unclipped_norm_and_bounds_the_gradient():
    x, y = make_xy(24)
    model, twin = make_model(), make_model()
    F.cross_entropy(twin(x), y).backward()  # the unclipped gradient
    unclipped = torch.nn.utils.get_total_norm([p.grad for p in twin.parameters()]).item()
    c = 0.1 * unclipped
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    r = accumulate_step(model, opt, split(x, y, [9, 15]), max_grad_norm=c)
    assert r.grad_norm == pytest.approx(unclipped, rel=1e-12)
    clipped = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()]).item()
    # torch's factor is c / (||g|| + 1e-6): the clipped norm is just under c
    assert clipped <= c * (1 + 1e-6)
    assert clipped == pytest.approx(c * unclipped / (unclipped + 1e-6), rel=1e-12)
    value = 0.2 * max(p.grad.abs().max().item() for p in twin.parameters())
    r = train_step(model, opt, x, y, clip_grad_value=value)
    assert r.grad_norm is None
    assert max(p.grad.abs().max().item() for p in model.parameters()) <= value


def test_fit_records_one_grad_norm_per_step_only_when_clipping_by_norm():
    model = make_model()
    h = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loaders(8), 2,
            max_grad_norm=1.0, progress=False)  # fmt: skip
    assert len(h.grad_norm) == h.steps == 10 and all(n > 0 for n in h.grad_norm)
    model = make_model()
    h = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loaders(8), 1,
            clip_grad_value=0.01, progress=False)  # fmt: skip
    assert h.grad_norm == [] and h.skipped_steps == []


# ---- mixed precision ------------------------------------------------------------------------------


class InfAt:
    """A gradient hook that returns inf at the chosen backward calls (counted from 0)."""

    def __init__(self, at):
        self.at, self.calls = set(at), 0

    def __call__(self, grad):
        hit, self.calls = self.calls in self.at, self.calls + 1
        return torch.full_like(grad, math.inf) if hit else grad


def test_an_inf_gradient_in_fp16_is_a_skipped_step_that_does_not_step_the_scheduler():
    model = make_model(torch.float32)
    model[0].weight.register_hook(InfAt({0, 4}))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = lr_scheduler.LambdaLR(opt, runs.inverse_time)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=1000)
    snapshots, scales = [params(model)], [scaler.get_scale()]

    class Watch:
        def on_step_end(self, state):
            snapshots.append(params(state.model))
            scales.append(scaler.get_scale())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, opt, loaders(8, dtype=torch.float32), 2, precision="fp16", scaler=scaler,
                scheduler=sched, scheduler_interval="step", callbacks=[Watch()],
                progress=False)  # fmt: skip
    assert h.skipped_steps == [0, 4] and h.steps == 10
    for s in range(h.steps):
        unchanged = max_diff(snapshots[s + 1], snapshots[s]) == 0.0
        assert unchanged == (s in h.skipped_steps), s
        assert scales[s + 1] == (scales[s] / 2 if s in h.skipped_steps else scales[s])
    assert sched.last_epoch == h.steps - 2  # one scheduler step per step that moved the weights
    assert h.series("lr")[5] == pytest.approx(0.05 * runs.inverse_time(3), rel=1e-15)
    assert not [w for w in caught if "lr_scheduler.step()" in str(w.message)]


def test_an_unprotected_scheduler_after_a_skipped_first_step_makes_torch_warn():
    # the contrast to the test above: what fit avoids
    model = make_model(torch.float32)
    model[0].weight.register_hook(InfAt({0}))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = lr_scheduler.LambdaLR(opt, runs.inverse_time)
    scaler = torch.amp.GradScaler("cpu")
    x, y = make_xy(8, torch.float32)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        r = train_step(model, opt, x, y, autocast_dtype=torch.float16, scaler=scaler)
        sched.step()
    assert r.skipped


def test_bf16_fit_matches_a_manual_autocast_loop_bitwise():
    results = []
    for manual in (False, True):
        model = make_model(torch.float32)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        loader = loaders(8, dtype=torch.float32)
        if manual:
            for _ in range(2):
                for x, y in loader:
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                        loss = F.cross_entropy(model(x), y)
                    loss.backward()
                    opt.step()
        else:
            fit(model, opt, loader, 2, precision="bf16", progress=False)
        results.append(params(model))
    assert all(torch.equal(a, b) for a, b in zip(*results))
    model = make_model(torch.float32)
    fit(model, torch.optim.Adam(model.parameters(), lr=0.01), loaders(8, dtype=torch.float32), 2,
        progress=False)  # fmt: skip
    assert max_diff(params(model), results[0]) > 1e-4  # bf16 did change the arithmetic


# ---- EMA ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["course_lib", "torch"])
def test_ema_equals_the_hand_computed_average_and_is_validated(kind):
    beta = 0.8
    model = make_model()
    build = AveragedModel if kind == "course_lib" else swa_utils.AveragedModel
    multi = get_ema_multi_avg_fn if kind == "course_lib" else swa_utils.get_ema_multi_avg_fn
    ema = build(model, multi_avg_fn=multi(beta))
    hand: list = []

    class Watch:
        def on_step_end(self, state):
            now = params(state.model)
            hand[:] = now if not hand else [beta * a + (1 - beta) * b for a, b in zip(hand, now)]

    x, y = make_xy(20, seed=7)
    val = DataLoader(TensorDataset(x, y), batch_size=10)
    h = fit(model, torch.optim.SGD(model.parameters(), lr=0.2), loaders(8), 3, val_loader=val,
            ema=ema, callbacks=[Watch()], progress=False)  # fmt: skip
    assert int(ema.n_averaged) == h.steps == 15
    assert max_diff(params(ema.module), hand) <= 1e-12
    assert max_diff(params(ema.module), params(model)) > 1e-4
    scores = evaluate(ema, val)
    assert (
        h["val_ema_loss"][-1] == scores["loss"] and h["val_ema_accuracy"][-1] == scores["accuracy"]
    )
    assert h["val_loss"][-1] == evaluate(model, val)["loss"] != h["val_ema_loss"][-1]


# ---- resuming -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory):
    """Every option's reference outcome, and its checkpoint of an interrupted run."""
    out = tmp_path_factory.mktemp("practice")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        refs = {}
        for option in runs.OPTIONS:
            refs[option] = runs.reference(option)
            runs.interrupted(option, out / f"{option}.ckpt")
    finally:
        torch.set_num_threads(threads)
    return out, refs


def test_the_runs_exercise_what_they_resume(first_runs):
    out, refs = first_runs
    for option in ("fp16", "all"):
        skipped = refs[option]["history"]["skipped_steps"]
        assert any(s < runs.STOP_AT[option] for s in skipped), option
        assert any(s >= runs.STOP_AT[option] for s in skipped), option
    for option, steps_per_epoch in (("accumulation", 3), ("all", 3), ("clipping", 8)):
        ckpt = torch.load(out / f"{option}.ckpt", weights_only=True)
        assert ckpt["step"] == runs.STOP_AT[option] and ckpt["step"] % steps_per_epoch != 0
        assert ckpt["format"] == CHECKPOINT_FORMAT and ckpt["batch"] > 0
    assert refs["all"]["history"]["epochs"]["val_ema_loss"][-1] is not None


@pytest.mark.parametrize("option", list(runs.OPTIONS))
def test_resume_in_the_same_process_is_bit_identical(first_runs, option):
    out, refs = first_runs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = runs.resumed(option, out / f"{option}.ckpt")
    finally:
        torch.set_num_threads(threads)
    assert same(got, refs[option])


def test_resume_in_a_new_process_is_bit_identical(first_runs):
    out, refs = first_runs
    script = Path(runs.__file__)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), "resume", str(out)], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for option in runs.OPTIONS:
        got = torch.load(out / f"{option}.resumed.pt", weights_only=True)
        assert same(got, refs[option]), option


# ---- bad inputs -----------------------------------------------------------------------------------

FIT_ERRORS = [
    ({"accumulation_steps": 0}, ValueError, "accumulation_steps must be an integer >= 1, got 0"),
    ({"accumulation_steps": 2.0}, TypeError, "accumulation_steps must be an integer >= 1"),
    ({"max_grad_norm": 0.0}, ValueError, "max_grad_norm must be a finite number > 0, got 0.0"),
    ({"max_grad_norm": math.inf}, ValueError, "max_grad_norm must be a finite number > 0, got inf"),
    ({"max_grad_norm": "1"}, TypeError, "max_grad_norm must be a finite number > 0, got '1'"),
    ({"clip_grad_value": -1}, ValueError, "clip_grad_value must be a finite number > 0, got -1"),
    ({"precision": "16"}, ValueError, "precision must be one of '32', 'bf16', 'fp16', got '16'"),
    (
        {"precision": "bf16", "scaler": torch.amp.GradScaler("cpu")},
        ValueError,
        "scaler is used only with precision='fp16'",
    ),
    (
        {"precision": "fp16", "scaler": "yes"},
        TypeError,
        "scaler must be a torch.amp.GradScaler or None, got str",
    ),
    ({"ema": nn.Linear(5, 3)}, TypeError, "ema must be an AveragedModel"),
    (
        {"ema": AveragedModel(nn.Linear(5, 3))},
        ValueError,
        "ema must average this model's parameters: it holds 2 parameters, the model 4",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), FIT_ERRORS)
def test_fit_rejects_bad_practice_options(kwargs, error, message):
    model = make_model()
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loaders(8), 1, progress=False,
            **kwargs)  # fmt: skip


STEP_ERRORS = [
    ({"autocast_dtype": torch.float32}, ValueError,
     "autocast_dtype must be one of None, torch.bfloat16, torch.float16, got torch.float32"),
    ({"scaler": object()}, TypeError, "scaler must be a torch.amp.GradScaler or None, got object"),
    ({"max_grad_norm": -2.0}, ValueError, "max_grad_norm must be a finite number > 0, got -2.0"),
    ({"clip_grad_value": True}, TypeError, "clip_grad_value must be a finite number > 0"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "error", "message"), STEP_ERRORS)
def test_steps_reject_bad_options(kwargs, error, message):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = make_xy(4)
    with pytest.raises(error, match=message):
        train_step(model, opt, x, y, **kwargs)
    with pytest.raises(error, match=message):
        accumulate_step(model, opt, [(x, y)], **kwargs)


def test_accumulate_step_rejects_bad_batches():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = make_xy(4)
    with pytest.raises(ValueError, match=r"batches must hold at least one \(inputs, targets\)"):
        accumulate_step(model, opt, [])
    with pytest.raises(TypeError, match=r"batches must be a list of .* micro-batches, got tuple"):
        accumulate_step(model, opt, (x, y))
    with pytest.raises(TypeError, match=r"batches\[1\] must be a pair \(inputs, targets\)"):
        accumulate_step(model, opt, [(x, y), x])


def checkpointed(tmp_path, **kwargs):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "c.pt"
    fit(model, opt, loaders(8), 1, checkpoint_path=path, progress=False, **kwargs)
    return path


def test_resume_refuses_a_checkpoint_with_other_options(tmp_path):
    path = checkpointed(tmp_path, precision="fp16", accumulation_steps=2)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        ValueError, match=r"the checkpoint has a GradScaler \(scaler\) and this fit has none"
    ):
        fit(model, opt, loaders(8), 2, resume_from=path, accumulation_steps=2, progress=False)
    with pytest.raises(ValueError, match="accumulation_steps=2, this fit has accumulation_steps=1"):
        fit(model, opt, loaders(8), 2, resume_from=path, precision="fp16", progress=False)
    path = checkpointed(tmp_path)
    with pytest.raises(
        ValueError, match=r"this fit has a GradScaler \(scaler\) and the checkpoint has none"
    ):
        fit(model, opt, loaders(8), 2, resume_from=path, precision="fp16", progress=False)
    with pytest.raises(
        ValueError, match=r"this fit has an EMA \(ema\) and the checkpoint has none"
    ):
        fit(model, opt, loaders(8), 2, resume_from=path, ema=AveragedModel(model), progress=False)


def test_load_checkpoint_refuses_old_formats_and_missing_states(tmp_path):
    model = make_model()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model)
    with pytest.raises(ValueError, match="has no scaler state to load"):
        load_checkpoint(path, model, scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(ValueError, match="has no ema state to load"):
        load_checkpoint(path, model, ema=AveragedModel(model))
    save_checkpoint(path, model, ema=AveragedModel(nn.Linear(5, 3)))
    with pytest.raises(ValueError, match=r"\(its ema\) does not match this model"):
        load_checkpoint(path, model, ema=AveragedModel(model))
    old = torch.load(path, weights_only=True)
    old["format"] = "course_lib.training/1"
    torch.save(old, path)
    with pytest.raises(
        ValueError, match=r"of format 'course_lib\.training/1', but this version reads"
    ):
        load_checkpoint(path, model)
