"""Checkpoints of course_lib.training.fit: atomic writes, weights-only loading, clear mismatch errors,
and resuming bit-identically in a new process for several optimizer x scheduler pairs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, TensorDataset

from course_lib import training
from course_lib.training import fit, load_checkpoint, save_checkpoint

# ---- the runs: written to a script that runs in fresh Python processes ----------------------------

SCRIPT = textwrap.dedent(
    '''
    """Phase "first": reference runs and interrupted runs. Phase "resume": resume the latter.

    The test runs phase "first" in its own process and phase "resume" in a new one.
    """
    import random
    import sys

    import numpy as np
    import torch
    from torch import nn
    from torch.optim import lr_scheduler as L
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    from course_lib import optim, schedulers
    from course_lib.param_groups import GradualUnfreezer, no_decay_groups
    from course_lib.training import fit

    EPOCHS, N, BATCH = 4, 96, 16  # 6 steps per epoch, 24 in all


    class Noisy(Dataset):
        """Augmentation drawn from NumPy's and Python's global RNGs."""

        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            noise = torch.tensor(np.random.normal(0, 0.1, self.x.shape[1]), dtype=torch.float32)
            return self.x[i] * random.uniform(0.9, 1.1) + noise, self.y[i]


    class Crash:
        def __init__(self, at):
            self.at = at

        def on_step_end(self, state):
            if state.step == self.at:
                raise RuntimeError("simulated crash")


    def build(name):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(N + 32, 6, generator=g)
        y = x[:, :3].argmax(1)
        model = nn.Sequential(
            nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)
        )
        val = DataLoader(TensorDataset(x[N:], y[N:]), batch_size=16)
        kw = {"val_loader": val}
        own_gen = torch.Generator().manual_seed(7)
        data = TensorDataset(x[:N], y[:N])
        if name == "sgd_steplr":
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                  weight_decay=1e-3)
            kw.update(scheduler=L.StepLR(opt, step_size=1, gamma=0.7), scheduler_interval="epoch")
        elif name == "adam_onecycle":
            opt = torch.optim.Adam(model.parameters(), lr=0.01)
            kw.update(scheduler=L.OneCycleLR(opt, max_lr=0.05, total_steps=EPOCHS * 6),
                      scheduler_interval="step")
        elif name == "adamw_cosine":
            opt = torch.optim.AdamW(no_decay_groups(model, 0.05, lr=0.02))
            kw.update(scheduler=L.CosineAnnealingLR(opt, T_max=EPOCHS * 6),
                      scheduler_interval="step")
        elif name == "sgd_plateau":
            opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
            kw.update(scheduler=L.ReduceLROnPlateau(opt, patience=0, factor=0.5))
        elif name == "ours_adamw_onecycle":
            opt = optim.AdamW(no_decay_groups(model, 0.05, lr=0.02))
            kw.update(scheduler=schedulers.OneCycleLR(opt, max_lr=0.05, total_steps=EPOCHS * 6),
                      scheduler_interval="step")
        elif name == "ours_sgd_plateau":
            opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
            kw.update(scheduler=schedulers.ReduceLROnPlateau(opt, patience=0, factor=0.5))
        elif name == "rmsprop_unfreeze_noisy":
            data = Noisy(x[:N], y[:N])
            own_gen = None  # shuffled by the global torch RNG
            opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
            kw["callbacks"] = [GradualUnfreezer(model, ["0", "1", "4"], every=1)]
        else:
            raise ValueError(name)
        loader = DataLoader(data, batch_size=BATCH, shuffle=True, generator=own_gen)
        return model, opt, loader, kw


    # name -> (how the first run stops, at which step)
    PLAN = {
        "sgd_steplr": ("max_steps", 9),  # mid-epoch
        "adam_onecycle": ("crash", 11),  # killed at 11; last checkpoint at step 10 (mid-epoch)
        "adamw_cosine": ("max_steps", 12),  # at an epoch boundary
        "sgd_plateau": ("max_steps", 8),
        "rmsprop_unfreeze_noisy": ("max_steps", 10),
        "ours_adamw_onecycle": ("max_steps", 15),  # course_lib.optim + course_lib.schedulers
        "ours_sgd_plateau": ("max_steps", 7),
    }


    def main(phase, out):
        # One thread in both processes: a different thread count changes the last bits of a sum.
        torch.set_num_threads(1)
        for name, (how, at) in PLAN.items():
            ckpt = f"{out}/{name}.ckpt"
            if phase == "first":
                model, opt, loader, kw = build(name)
                h = fit(model, opt, loader, EPOCHS, progress=False, seed=3, **kw)
                torch.save({"model": model.state_dict(), "history": h.to_dict()},
                           f"{out}/{name}.reference.pt")
                model, opt, loader, kw = build(name)
                if how == "crash":
                    kw["callbacks"] = [*kw.get("callbacks", []), Crash(at)]
                    try:
                        fit(model, opt, loader, EPOCHS, progress=False, seed=3,
                            checkpoint_path=ckpt, checkpoint_every=5, **kw)
                    except RuntimeError as err:
                        assert "simulated crash" in str(err)
                else:
                    fit(model, opt, loader, EPOCHS, progress=False, seed=3, max_steps=at,
                        checkpoint_path=ckpt, **kw)
            else:
                model, opt, loader, kw = build(name)
                torch.manual_seed(12345)  # the checkpoint's RNG states must win over these
                np.random.seed(12345)
                random.seed(12345)
                h = fit(model, opt, loader, EPOCHS, progress=False, resume_from=ckpt, **kw)
                torch.save({"model": model.state_dict(), "history": h.to_dict()},
                           f"{out}/{name}.resumed.pt")


    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[2])
    '''
)

PAIRS = [
    "sgd_steplr",
    "adam_onecycle",
    "adamw_cosine",
    "sgd_plateau",
    "rmsprop_unfreeze_noisy",
    "ours_adamw_onecycle",
    "ours_sgd_plateau",
]


def run_phase(script, phase, out):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), phase, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def resumed_runs(tmp_path_factory, load_script):
    out = tmp_path_factory.mktemp("resume")
    script = out / "runs.py"
    script.write_text(SCRIPT)
    # This process: the reference runs and the interrupted runs (one of them crashes).
    runs = load_script(str(script))  # an absolute path: the fixture's root is not prepended
    threads = torch.get_num_threads()
    try:
        runs.main("first", str(out))
    finally:
        torch.set_num_threads(threads)
    # A fresh process that knows nothing but the checkpoint files resumes them.
    run_phase(script, "resume", out)
    return out


@pytest.mark.parametrize("name", PAIRS)
def test_resume_in_a_new_process_is_bit_identical(resumed_runs, name):
    ref = torch.load(resumed_runs / f"{name}.reference.pt", weights_only=True)
    got = torch.load(resumed_runs / f"{name}.resumed.pt", weights_only=True)
    assert ref["model"].keys() == got["model"].keys()
    for key, value in ref["model"].items():
        assert torch.equal(value, got["model"][key]), key
    assert got["history"] == ref["history"]
    assert len(ref["history"]["step_loss"]) == 24


def test_crash_left_the_mid_epoch_checkpoint(resumed_runs):
    ckpt = torch.load(resumed_runs / "adam_onecycle.ckpt", weights_only=True)
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch"]) == (10, 1, 4)
    assert ckpt["rng_epoch_start"] is not None


# ---- in-process checks ----------------------------------------------------------------------------


def make(seed=0, hidden=8):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(48, 4, generator=g)
    loader = DataLoader(TensorDataset(x, x[:, :3].argmax(1)), batch_size=8, shuffle=True,
                        generator=torch.Generator().manual_seed(1))  # fmt: skip
    return model, loader


def test_checkpoint_is_plain_data_that_loads_with_weights_only(tmp_path):
    model, loader = make()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = lr_scheduler.StepLR(opt, 1)
    path = tmp_path / "run.ckpt"
    fit(model, opt, loader, 2, scheduler=sched, scheduler_interval="epoch", checkpoint_path=path,
        progress=False)  # fmt: skip
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == training.CHECKPOINT_FORMAT
    assert (ckpt["epoch"], ckpt["batch"], ckpt["step"]) == (2, 0, 12)
    assert ckpt["optimizer_class"] == "Adam" and ckpt["scheduler_class"] == "StepLR"
    assert set(ckpt["rng"]) >= {"torch", "numpy", "python", "generators"}
    assert len(ckpt["rng"]["generators"]) == 1 and ckpt["rng_epoch_start"] is None
    assert len(ckpt["history"]["step_loss"]) == 12
    assert [f for f in os.listdir(tmp_path) if f != "run.ckpt"] == []  # no temporary files left


def test_resuming_a_finished_run_trains_no_more(tmp_path):
    model, loader = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "c.pt"
    h = fit(model, opt, loader, 2, checkpoint_path=path, progress=False)
    before = [p.detach().clone() for p in model.parameters()]
    h2 = fit(model, opt, loader, 2, resume_from=path, progress=False)
    assert h2 == h and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def failing_save(obj, f, *args, **kwargs):
    f.write(b"half a checkpoint")
    raise OSError("disk full")


def test_a_failing_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model, _ = make()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model, note="first")
    good = path.read_bytes()
    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, note="second")
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["c.pt"]
    monkeypatch.undo()
    assert load_checkpoint(path, model)["note"] == "first"


def test_a_failing_rename_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model, _ = make()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model, note="first")

    def failing_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        save_checkpoint(path, model, note="second")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.pt"]
    assert load_checkpoint(path, model)["note"] == "first"


def test_a_checkpoint_of_another_model_gives_a_clear_error(tmp_path):
    model, loader = make(hidden=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "c.pt"
    fit(model, opt, loader, 1, checkpoint_path=path, progress=False)

    wider, _ = make(hidden=16)
    with pytest.raises(ValueError, match="does not match this model") as err:
        fit(wider, torch.optim.SGD(wider.parameters(), lr=0.1), loader, 2, resume_from=path,
            progress=False)  # fmt: skip
    assert "shape mismatch: 0.weight: checkpoint (8, 4) vs model (16, 4)" in str(err.value)

    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 3))
    with pytest.raises(ValueError, match="does not match this model") as err:
        load_checkpoint(path, other)
    msg = str(err.value)
    assert "missing keys (in the model, not in the checkpoint): ['3.weight', '3.bias']" in msg
    assert "shape mismatch: 2.weight: checkpoint (3, 8) vs model (8, 8)" in msg


def test_a_checkpoint_with_another_optimizer_or_scheduler_gives_a_clear_error(tmp_path):
    model, loader = make()
    path = tmp_path / "c.pt"
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loader, 1, checkpoint_path=path,
        progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="holds a SGD optimizer state, but a Adam was given"):
        load_checkpoint(path, model, torch.optim.Adam(model.parameters()))
    two_groups = torch.optim.SGD([{"params": [model[0].weight]}, {"params": [model[0].bias]}],
                                 lr=0.1)  # fmt: skip
    with pytest.raises(ValueError, match="the optimizer does not match"):
        load_checkpoint(path, model, two_groups)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="has no scheduler state"):
        load_checkpoint(path, model, opt, lr_scheduler.StepLR(opt, 1))


def test_loading_refuses_files_that_are_not_weights_only_checkpoints(tmp_path):
    model, _ = make()
    path = tmp_path / "evil.pt"
    torch.save({"format": training.CHECKPOINT_FORMAT, "obj": make}, path)  # a pickled function
    with pytest.raises(ValueError, match="could not be read as a weights-only checkpoint"):
        load_checkpoint(path, model)
    torch.save({"model": model.state_dict()}, path)
    with pytest.raises(ValueError, match="is not a course_lib checkpoint"):
        load_checkpoint(path, model)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", model)


def test_resuming_with_a_loader_without_its_generator_is_an_error(tmp_path):
    model, loader = make()
    path = tmp_path / "c.pt"
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loader, 3, max_steps=3,
        checkpoint_path=path, progress=False)  # fmt: skip
    plain = DataLoader(loader.dataset, batch_size=8, shuffle=True)
    model, _ = make()
    with pytest.raises(ValueError, match="saved 1 DataLoader generator state"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), plain, 3, resume_from=path,
            progress=False)  # fmt: skip
