"""Stop anywhere, save, resume in fresh objects (and in a fresh process): the same sequence.

The in-process tests round-trip every state through ``torch.save`` / ``torch.load(weights_only=True)``
(so the state holds plain values only); one test loads the checkpoint in a new Python process.
"""

from __future__ import annotations

import functools
import io
import json
import runpy
import subprocess
import sys
import textwrap

import pytest
import torch

import course_lib.optim as copt
import course_lib.schedulers as C
from course_lib.schedules import Constant, Cosine, Linear, warmup_cosine


def _optimizer(kind: str):
    params = [torch.nn.Parameter(torch.full((2,), float(i + 1))) for i in range(2)]
    for p in params:
        p.grad = torch.full_like(p, 0.1)
    groups = [{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.02}]
    return {
        "torch.SGD": lambda: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
        "course.SGD": lambda: copt.SGD(groups, lr=0.1, momentum=0.9),
        "torch.Adam": lambda: torch.optim.Adam(groups, lr=0.1),
        "course.Adam": lambda: copt.Adam(groups, lr=0.1),
    }[kind]()


class Decay:
    """A callable object with state: LambdaLR saves its ``__dict__`` as torch does."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, t):
        return self.rate**t


BUILDERS = {
    "StepLR": lambda o: C.StepLR(o, 4, 0.5),
    "MultiStepLR": lambda o: C.MultiStepLR(o, [3, 9], 0.2),
    "ConstantLR": lambda o: C.ConstantLR(o, 0.5, 6),
    "LinearLR": lambda o: C.LinearLR(o, 0.1, 1.0, 8),
    "ExponentialLR": lambda o: C.ExponentialLR(o, 0.9),
    "PolynomialLR": lambda o: C.PolynomialLR(o, 12, 2.0),
    "CosineAnnealingLR": lambda o: C.CosineAnnealingLR(o, 10, 1e-3),
    "CosineAnnealingWarmRestarts": lambda o: C.CosineAnnealingWarmRestarts(o, 3, 2, 1e-3),
    "CyclicLR": lambda o: C.CyclicLR(o, 0.01, [0.1, 0.2], 3, mode="triangular2"),
    "OneCycleLR": lambda o: C.OneCycleLR(o, [0.1, 0.3], total_steps=20, three_phase=True),
    "LambdaLR": lambda o: C.LambdaLR(o, Decay(0.8)),
    "MultiplicativeLR": lambda o: C.MultiplicativeLR(o, functools.partial(min, 0.9)),
    "SequentialLR": lambda o: C.SequentialLR(
        o, [C.LinearLR(o, 0.1, total_iters=5), C.CosineAnnealingLR(o, 12)], [5]
    ),
    "ChainedScheduler": lambda o: C.ChainedScheduler([C.ConstantLR(o, 0.5, 4), C.StepLR(o, 3)]),
    "HyperparameterScheduler": lambda o: C.HyperparameterScheduler(
        o,
        {"lr": warmup_cosine(0.1, 4, 20)},
        groups={1: {"lr": Cosine(0.02, 20), "weight_decay": Linear(0.0, 0.1, 20)}},
        interval="step",
    ),
}

STEPS = 18


def _momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def _record(opt, sched):
    return [(g["lr"], _momentum(g), g["weight_decay"]) for g in opt.param_groups] + [
        tuple(sched.get_last_lr())
    ]


def _roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize(
    ("stop", "optimizer"), [(0, "torch.SGD"), (7, "course.Adam"), (17, "course.SGD")]
)
@pytest.mark.parametrize("name", list(BUILDERS))
def test_resume_from_state_dict_gives_the_uninterrupted_sequence(name, stop, optimizer):
    build = BUILDERS[name]
    opt = _optimizer(optimizer)
    sched = build(opt)
    straight = []
    for _ in range(STEPS):
        opt.step()
        sched.step()
        straight.append(_record(opt, sched))

    opt = _optimizer(optimizer)
    sched = build(opt)
    resumed = []
    for _ in range(stop):
        opt.step()
        sched.step()
        resumed.append(_record(opt, sched))
    saved = _roundtrip({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()})
    del opt, sched

    opt = _optimizer(optimizer)
    sched = build(opt)  # a fresh scheduler writes step 0 ...
    opt.load_state_dict(saved["optimizer"])  # ... then the checkpoint is loaded
    sched.load_state_dict(saved["scheduler"])
    for _ in range(STEPS - stop):
        opt.step()
        sched.step()
        resumed.append(_record(opt, sched))
    assert resumed == straight


def test_plateau_resumes_its_counters():
    metrics = [1.0, 0.9, 0.9, 0.91, 0.92, 0.9, 0.95, 0.7, 0.71, 0.72, 0.73, 0.74]

    def run(stop):
        opt = _optimizer("torch.SGD")
        sched = C.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)
        lrs = []
        for i, m in enumerate(metrics):
            if i == stop:
                saved = _roundtrip({"o": opt.state_dict(), "s": sched.state_dict()})
                opt = _optimizer("torch.SGD")
                sched = C.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)
                opt.load_state_dict(saved["o"])
                sched.load_state_dict(saved["s"])
            opt.step()
            sched.step(m)
            lrs.append([g["lr"] for g in opt.param_groups])
        return lrs

    straight = run(stop=-1)
    assert straight[-1][0] < 0.1
    for stop in (3, 5, 8):
        assert run(stop) == straight


def test_closed_forms_resume_without_the_optimizer_state():
    """Only the scheduler's counters are needed: the value is a function of the step."""
    opt = _optimizer("torch.SGD")
    sched = C.CosineAnnealingLR(opt, 10)
    for _ in range(6):
        opt.step()
        sched.step()
    expected = [g["lr"] for g in opt.param_groups]
    state = _roundtrip(sched.state_dict())
    fresh_opt = _optimizer("torch.SGD")
    fresh = C.CosineAnnealingLR(fresh_opt, 10)
    fresh.load_state_dict(state)
    fresh_opt.step()
    fresh.step()
    opt.step()
    sched.step()
    assert [g["lr"] for g in fresh_opt.param_groups] == [g["lr"] for g in opt.param_groups]
    assert expected != [g["lr"] for g in opt.param_groups]


def test_state_dicts_hold_plain_values_only():
    allowed = (int, float, str, bool, type(None))

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return all(plain(v) for v in x)
        return isinstance(x, allowed)

    for name, build in BUILDERS.items():
        state = build(_optimizer("torch.SGD")).state_dict()
        assert plain(state), name
    assert C.LambdaLR(_optimizer("torch.SGD"), Decay(0.5)).state_dict()["lr_lambdas"] == [
        {"rate": 0.5},
        {"rate": 0.5},
    ]


def test_lambda_object_state_is_restored_as_in_torch():
    opt = _optimizer("torch.SGD")
    saved = _roundtrip(C.LambdaLR(opt, Decay(0.5)).state_dict())
    fn = Decay(0.9)
    C.LambdaLR(_optimizer("torch.SGD"), fn).load_state_dict(saved)
    assert fn.rate == 0.5


def test_interval_must_match_when_loading():
    opt = _optimizer("torch.SGD")
    per_epoch = C.HyperparameterScheduler(opt, {"lr": Constant(0.1)}, interval="epoch")
    per_step = C.HyperparameterScheduler(opt, {"lr": Constant(0.1)}, interval="step")
    with pytest.raises(ValueError, match="saved with interval='epoch'"):
        per_step.load_state_dict(per_epoch.state_dict())


SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    import course_lib.optim as copt
    import course_lib.schedulers as C
    from course_lib.schedules import OneCycle, warmup_cosine

    def build(name):
        p = torch.nn.Parameter(torch.ones(2))
        p.grad = torch.full_like(p, 0.1)
        if name == "onecycle":
            opt = copt.SGD([p], lr=0.1, momentum=0.9)
            return opt, C.OneCycleLR(opt, 0.5, total_steps=30, anneal_strategy="linear")
        if name == "sequential":
            opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
            parts = [C.LinearLR(opt, 0.1, total_iters=5), C.CosineAnnealingWarmRestarts(opt, 4, 2)]
            return opt, C.SequentialLR(opt, parts, [5])
        opt = copt.Adam([p], lr=0.1)
        schedules = {"lr": warmup_cosine(0.1, 5, 30), "beta1": OneCycle(0.95, 0.85, 0.95, 30)}
        return opt, C.HyperparameterScheduler(opt, schedules, interval="step")

    def record(opt):
        g = opt.param_groups[0]
        return [g["lr"], g["betas"][0] if "betas" in g else g["momentum"]]

    mode, path, stop, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    out = {}
    for name in ("onecycle", "sequential", "hyper"):
        opt, sched = build(name)
        rows = []
        if mode == "save":
            for _ in range(stop):
                opt.step(); sched.step(); rows.append(record(opt))
            torch.save({"o": opt.state_dict(), "s": sched.state_dict()}, f"{path}.{name}")
        else:
            state = torch.load(f"{path}.{name}", weights_only=True)
            opt.load_state_dict(state["o"]); sched.load_state_dict(state["s"])
            for _ in range(total - stop):
                opt.step(); sched.step(); rows.append(record(opt))
        out[name] = rows
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_resume_in_a_fresh_process_gives_the_uninterrupted_sequence(tmp_path, capsys, monkeypatch):
    script = tmp_path / "resume.py"
    script.write_text(SCRIPT)
    path = str(tmp_path / "ckpt")

    def here(mode, stop, total):
        monkeypatch.setattr(sys, "argv", [str(script), mode, path, str(stop), str(total)])
        runpy.run_path(str(script), run_name="__main__")
        return json.loads(capsys.readouterr().out)

    straight = here("save", 29, 29)  # the whole run, uninterrupted
    first = here("save", 11, 29)  # stop after 11 steps and save ...
    done = subprocess.run(  # ... then a new Python process loads the files and goes on
        [sys.executable, str(script), "load", path, "11", "29"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    second = json.loads(done.stdout)
    for name in straight:
        assert len(second[name]) == 18
        assert first[name] + second[name] == straight[name], name
