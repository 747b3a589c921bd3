"""Runs of ``fit`` with the training-practice options, stopped and resumed (for test_training_practice).

Imported by tests/test_training_practice.py, and run as a script for the new-process check::

    python tests/_training_practice_runs.py resume OUT_FOLDER

which resumes every ``OUT_FOLDER/<option>.ckpt`` written by :func:`first_phase` and saves the
result as ``OUT_FOLDER/<option>.resumed.pt``.
"""

from __future__ import annotations

import sys

import torch
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, TensorDataset

from course_lib.averaging import AveragedModel, get_ema_multi_avg_fn
from course_lib.training import fit

EPOCHS, N, BATCH = 3, 60, 8  # 8 loader batches per epoch (the last one of 4 examples)

#: option -> fit's keyword arguments (the scaler and EMA are built by :func:`build`)
OPTIONS: dict[str, dict] = {
    "accumulation": {"accumulation_steps": 3},  # windows of 3, 3, 2 batches: 3 steps per epoch
    "clipping": {"max_grad_norm": 0.5, "clip_grad_value": 0.05},
    "fp16": {"precision": "fp16"},
    "ema": {},
    "all": {"accumulation_steps": 3, "max_grad_norm": 0.5, "precision": "fp16"},
}
#: option -> the optimizer step after which the interrupted run stops (inside an epoch)
STOP_AT = {"accumulation": 4, "clipping": 11, "fp16": 13, "ema": 10, "all": 5}


def build(option: str):
    """A fresh model, optimizer, scheduler, loaders and fit's keyword arguments for ``option``."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N + 20, 6, generator=g)
    y = x[:, :3].argmax(1)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 3))  # fmt: skip
    loader = DataLoader(TensorDataset(x[:N], y[:N]), batch_size=BATCH, shuffle=True,
                        generator=torch.Generator().manual_seed(2))  # fmt: skip
    val = DataLoader(TensorDataset(x[N:], y[N:]), batch_size=10)
    opt = torch.optim.AdamW(model.parameters(), lr=0.02)
    sched = lr_scheduler.LambdaLR(opt, inverse_time)
    kw: dict = {
        **OPTIONS[option],
        "val_loader": val,
        "scheduler": sched,
        "scheduler_interval": "step",
    }
    if kw.get("precision") == "fp16":
        # a large initial scale and a short growth interval: steps are skipped now and then
        kw["scaler"] = torch.amp.GradScaler("cpu", init_scale=2.0**24, growth_interval=3)
    if option in ("ema", "all"):
        kw["ema"] = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.8))
    return model, opt, loader, kw


def inverse_time(t: int) -> float:
    """The schedule's factor :math:`\\gamma_t / \\gamma_0 = 1 / (1 + t / 4)` (module level: picklable)."""
    return 1.0 / (1.0 + t / 4)


def outcome(model, history, kw) -> dict:
    """What must be equal between the uninterrupted and the resumed run (plain data and tensors)."""
    scaler, ema = kw.get("scaler"), kw.get("ema")
    return {
        "model": model.state_dict(),
        "history": history.to_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "ema": None if ema is None else ema.state_dict(),
        "scheduler": kw["scheduler"].state_dict(),
    }


def reference(option: str) -> dict:
    """The uninterrupted run's outcome."""
    model, opt, loader, kw = build(option)
    h = fit(model, opt, loader, EPOCHS, progress=False, seed=3, **kw)
    return outcome(model, h, kw)


def interrupted(option: str, ckpt) -> None:
    """The run stopped by ``max_steps`` inside an epoch, leaving its checkpoint at ``ckpt``."""
    model, opt, loader, kw = build(option)
    fit(model, opt, loader, EPOCHS, progress=False, seed=3, max_steps=STOP_AT[option],
        checkpoint_path=ckpt, **kw)  # fmt: skip


def resumed(option: str, ckpt) -> dict:
    """The outcome of a run resumed from ``ckpt`` (fresh objects, other global RNG states)."""
    model, opt, loader, kw = build(option)
    torch.manual_seed(12345)  # the checkpoint's RNG states must win over this
    h = fit(model, opt, loader, EPOCHS, progress=False, resume_from=ckpt, **kw)
    return outcome(model, h, kw)


def main(phase: str, out: str) -> None:
    """Phase ``"resume"``: resume every option's checkpoint in ``out`` (one thread, as the test)."""
    torch.set_num_threads(1)
    if phase != "resume":
        raise ValueError(f"phase must be 'resume', got {phase!r}")
    for option in OPTIONS:
        torch.save(resumed(option, f"{out}/{option}.ckpt"), f"{out}/{option}.resumed.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
