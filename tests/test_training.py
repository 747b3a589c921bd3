"""course_lib.training.fit / evaluate / History, and the training plots."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, TensorDataset

from course_lib.param_groups import GradualUnfreezer, Rule, freeze, split
from course_lib.plots.training import plot_group_lrs, plot_history, plot_hparams
from course_lib.training import History, accuracy, evaluate, fit, resolve_device

N_TRAIN, BATCH = 96, 16  # 6 steps per epoch
STEPS_PER_EPOCH = N_TRAIN // BATCH


def make_data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_TRAIN + 32, 6, generator=g)
    y = x[:, :3].argmax(dim=1)
    train = DataLoader(
        TensorDataset(x[:N_TRAIN], y[:N_TRAIN]),
        batch_size=BATCH,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    val = DataLoader(TensorDataset(x[N_TRAIN:], y[N_TRAIN:]), batch_size=10)
    return train, val


def make_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))


def run(epochs=3, **kwargs):
    train, _ = make_data()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    kwargs.setdefault("progress", False)
    return model, fit(model, opt, train, epochs, **kwargs)


# ---- history --------------------------------------------------------------------------------------


def test_fit_history_has_one_entry_per_step_and_per_epoch():
    train, val = make_data()
    model = make_model()
    groups = split(model, [Rule(prefix="3", lr=0.2)], rest={"lr": 0.05, "name": "body"})
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    h = fit(model, opt, train, 3, val_loader=val, progress=False)
    assert h.steps == 3 * STEPS_PER_EPOCH and h.num_epochs == 3
    assert h.group_names == ["3", "body"]
    assert h.lr == [[0.2, 0.05]] * h.steps
    assert h.momentum == [[0.9, 0.9]] * h.steps and h.beta1 == []
    assert set(h.epochs) == {
        "epoch", "step", "complete", "train_loss", "train_accuracy", "val_loss", "val_accuracy"
    }  # fmt: skip
    assert h["epoch"] == [0, 1, 2] and h["step"] == [6, 12, 18] and h["complete"] == [True] * 3
    # equal batches: the epoch's training loss is the mean of its step losses
    for e in range(3):
        chunk = h.step_loss[e * STEPS_PER_EPOCH : (e + 1) * STEPS_PER_EPOCH]
        assert h.train_loss[e] == pytest.approx(sum(chunk) / len(chunk), rel=1e-12)
    assert h.val_loss[-1] == pytest.approx(evaluate(model, val)["loss"], rel=1e-12)
    assert h.train_loss[-1] < h.train_loss[0]
    assert not h.diverged and h.diverged_at is None and h.stop_reason == "completed"
    assert repr(h).startswith("History(3 epochs, 18 steps, train_loss=")


def test_fit_records_beta1_for_adam_and_history_round_trips_as_plain_data():
    model = make_model()
    train, _ = make_data()
    h = fit(model, torch.optim.Adam(model.parameters(), lr=0.01), train, 1, progress=False)
    assert h.beta1 == [[0.9]] * STEPS_PER_EPOCH and h.momentum == []
    d = h.to_dict()
    assert History.from_dict(d) == h
    d["step_loss"].append(1.0)  # a copy, not a view
    assert h.steps == STEPS_PER_EPOCH
    assert h.series("lr", 0) == [0.01] * STEPS_PER_EPOCH


def test_fit_without_cross_entropy_has_no_default_metric():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    loader = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    model = nn.Linear(3, 1)
    h = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loader, 2, loss_fn=F.mse_loss,
            progress=False)  # fmt: skip
    assert set(h.epochs) == {"epoch", "step", "complete", "train_loss"}
    assert h.train_loss[1] < h.train_loss[0]


def test_evaluate_weights_batches_by_size_and_restores_the_mode():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 6, generator=g), torch.randint(0, 3, (10,), generator=g)
    model = make_model()
    model.train()
    scores = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=4))  # 4, 4, 2
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert scores["loss"] == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-6)
    assert scores["accuracy"] == pytest.approx(accuracy(out, y).item())
    model.train()
    evaluate(model, DataLoader(TensorDataset(x, y), batch_size=4))
    assert model.training


# ---- schedulers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_scheduler_is_stepped_per_batch_or_per_epoch(interval):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train, _ = make_data()
    h = fit(model, opt, train, 2, scheduler=sched, scheduler_interval=interval, progress=False)
    steps = 2 * STEPS_PER_EPOCH
    if interval == "step":
        assert sched.last_epoch == steps
        expected = [0.1 * 0.5**k for k in range(steps)]
    else:
        assert sched.last_epoch == 2
        expected = [0.1 * 0.5 ** (k // STEPS_PER_EPOCH) for k in range(steps)]
    assert h.series("lr") == pytest.approx(expected, rel=1e-12)


def test_a_scheduler_needs_an_explicit_interval():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train, _ = make_data()
    with pytest.raises(ValueError, match=r"scheduler_interval must be 'step'.*got None"):
        fit(model, opt, train, 1, scheduler=lr_scheduler.StepLR(opt, 1), progress=False)


class RecordingPlateau(lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def step(self, metrics):
        self.seen.append(metrics)
        super().step(metrics)


@pytest.mark.parametrize(("monitor", "mode"), [(None, "min"), ("val_accuracy", "max")])
def test_reduce_lr_on_plateau_receives_the_monitored_epoch_metric(monitor, mode):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = RecordingPlateau(opt, mode=mode, patience=0, factor=0.5)
    train, val = make_data()
    h = fit(model, opt, train, 3, val_loader=val, scheduler=sched, monitor=monitor,
            progress=False)  # fmt: skip
    assert sched.seen == h[monitor or "val_loss"]
    with pytest.raises(ValueError, match="must be 'epoch' for ReduceLROnPlateau"):
        fit(model, opt, train, 1, scheduler=sched, scheduler_interval="step", progress=False)


# ---- divergence, stopping, callbacks --------------------------------------------------------------


def test_a_huge_learning_rate_sets_the_divergence_flag_instead_of_crashing(tmp_path):
    train, val = make_data()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=1e12)
    ckpt = tmp_path / "c.pt"
    with pytest.warns(RuntimeWarning, match=r"diverged at step \d+ \(loss=(nan|inf)\)") as rec:
        h = fit(model, opt, train, 5, val_loader=val, checkpoint_path=ckpt, checkpoint_every=1,
                progress=False)  # fmt: skip
    assert len([w for w in rec if "diverged" in str(w.message)]) == 1
    assert h.diverged and h.stop_reason == "diverged"
    assert h.diverged_at == h.steps - 1 < 5 * STEPS_PER_EPOCH
    assert not math.isfinite(h.step_loss[-1]) and all(map(math.isfinite, h.step_loss[:-1]))
    assert f"diverged at step {h.diverged_at}" in str(rec[0].message)
    assert len(h.lr) == h.steps
    # The first loss (of the initial weights) is finite, so steps ran and each wrote a checkpoint;
    # the last one is of the step before the divergence: none is written after it.
    assert h.diverged_at >= 1
    saved = torch.load(ckpt, weights_only=True)
    assert saved["step"] == h.diverged_at and not saved["history"]["diverged"]
    assert all(map(math.isfinite, saved["history"]["step_loss"]))


def test_max_steps_stops_inside_an_epoch_with_a_partial_record():
    _, h = run(epochs=5, max_steps=8)
    assert h.steps == 8 and h.stop_reason == "max_steps"
    assert h["complete"] == [True, False] and h["step"] == [6, 8]


def test_max_steps_at_an_epoch_end_finishes_that_epoch():
    _, h = run(epochs=5, max_steps=12)
    assert h["complete"] == [True, True] and h.stop_reason == "max_steps"


class Recorder:
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_fit_start(self, state):
        self.calls.append(("fit_start", state.step))

    def on_epoch_start(self, state):
        self.calls.append(("epoch_start", state.epoch))

    def on_step_end(self, state):
        self.calls.append(("step_end", state.step))
        if state.step == self.stop_at:
            state.stop = True

    def on_epoch_end(self, state):
        self.calls.append(("epoch_end", state.epoch))

    def on_fit_end(self, state):
        self.calls.append(("fit_end", state.step))


def test_callbacks_are_called_in_order_and_can_stop_training():
    rec = Recorder()
    run(epochs=2, callbacks=[rec])
    kinds = [c[0] for c in rec.calls]
    assert kinds[:2] == ["fit_start", "epoch_start"] and kinds[-1] == "fit_end"
    assert kinds.count("step_end") == 12 and kinds.count("epoch_end") == 2
    assert rec.calls[8] == ("epoch_end", 1)  # epoch counter already advanced
    rec = Recorder(stop_at=4)
    _, h = run(epochs=2, callbacks=[rec])
    assert h.steps == 4 and h.stop_reason == "callback"


class TrainableLog:
    def __init__(self, model):
        self.model, self.log = model, []

    def on_epoch_start(self, state):
        self.log.append([n for n, p in self.model.named_parameters() if p.requires_grad])


def test_gradual_unfreezer_as_a_fit_callback():
    train, _ = make_data()
    model = make_model()
    freeze(model)
    opt = torch.optim.SGD(split(model, [Rule("*")], include_frozen=True), lr=0.1, momentum=0.9)
    w0 = model[0].weight.detach().clone()
    first_epoch = []

    class Snap:
        def on_epoch_end(self, state):
            first_epoch.append(model[0].weight.detach().clone())

    unfreezer = GradualUnfreezer(model, ["0", "3"], every=1, optimizer=opt)
    log = TrainableLog(model)
    fit(model, opt, train, 3, callbacks=[unfreezer, log, Snap()], progress=False)
    assert log.log == [["3.weight", "3.bias"]] + [["0.weight", "0.bias", "3.weight", "3.bias"]] * 2
    assert torch.equal(first_epoch[0], w0) and not torch.equal(first_epoch[1], w0)


def test_seed_makes_runs_with_global_rng_shuffling_identical():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 6, generator=g)
    y = x[:, :3].argmax(1)
    histories = []
    for _ in range(2):
        loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)  # global RNG
        model = make_model()
        histories.append(fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loader, 2,
                             seed=3, progress=False))  # fmt: skip
    assert histories[0] == histories[1]


def test_progress_bar_runs_and_device_auto_resolves(monkeypatch):
    _, h = run(epochs=1, progress=True)
    assert h.steps == STEPS_PER_EPOCH
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu0")


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1, got 0"),
        ({"max_steps": 0}, ValueError, "max_steps must be an integer >= 1, got 0"),
        ({"checkpoint_every": 2}, ValueError, "checkpoint_every needs a checkpoint_path"),
        ({"scheduler_interval": "batch"}, ValueError, "scheduler_interval must be one of"),
        ({"monitor": "val_loss"}, ValueError, "monitor must be one of 'train_loss'"),
        ({"metrics": [accuracy]}, TypeError, "metrics must be a dict"),
        ({"callbacks": [object()]}, TypeError, "a callback needs at least one of"),
        ({"progress": 1}, TypeError, "progress must be True or False"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, pattern):
    train, _ = make_data()
    model = make_model()
    args = {"epochs": 1, **kwargs}
    with pytest.raises(error, match=pattern):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), train, **args)


# ---- plots ----------------------------------------------------------------------------------------


def test_training_plots_draw_curves_for_every_group():
    import matplotlib.pyplot as plt

    train, val = make_data()
    model = make_model()
    groups = split(model, [Rule(prefix="3", lr=0.2)], rest={"lr": 0.05, "name": "body"})
    opt = torch.optim.SGD(groups, lr=0.1)
    h = fit(model, opt, train, 2, val_loader=val, progress=False)
    fig, axes = plt.subplots(1, 3)
    plot_history(h, axes[0])
    assert len(axes[0].lines) == 3  # per step, train epochs, val epochs
    plot_hparams(h, "lr", axes[1], log=True)
    assert [line.get_label() for line in axes[1].lines] == ["3", "body"]
    plot_group_lrs(opt, axes[2])
    assert [t.get_text() for t in axes[2].get_yticklabels()] == ["3", "body"]
    plt.close(fig)
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hd = fit(model, torch.optim.SGD(model.parameters(), lr=1e12), train, 2, progress=False)
    ax = plot_history(hd)
    assert hd.diverged and ax.lines[-1].get_label() == "diverged"
    plt.close(ax.figure)


# ---- with course_lib's own models, optimizers and schedulers --------------------------------------


def test_fit_with_course_lib_model_optimizer_and_scheduler_matches_torch():
    from course_lib import optim, schedulers
    from course_lib.models import MLP
    from course_lib.param_groups import layerwise_lr

    histories = []
    for opt_cls, sched_cls in ((optim.SGD, schedulers.OneCycleLR),
                               (torch.optim.SGD, lr_scheduler.OneCycleLR)):  # fmt: skip
        model = MLP(in_features=6, num_classes=3, hidden_sizes=(16,), seed=0)
        groups = layerwise_lr(model, ["features", "classifier"], lr=slice(1e-3, 1e-1))
        opt = opt_cls(groups, momentum=0.9)
        sched = sched_cls(opt, max_lr=[0.01, 1.0], total_steps=2 * STEPS_PER_EPOCH)
        train, val = make_data()
        histories.append(fit(model, opt, train, 2, val_loader=val, scheduler=sched,
                             scheduler_interval="step", progress=False))  # fmt: skip
    ours, theirs = histories
    assert ours.group_names == ["features", "classifier"]
    assert all(a == pytest.approx(0.01 * b, rel=1e-9) for a, b in ours.lr)  # ratio kept
    for key in ("lr", "momentum"):
        flat = [[v for row in getattr(h, key) for v in row] for h in (ours, theirs)]
        assert flat[0] == pytest.approx(flat[1], rel=1e-9), key
    assert ours.step_loss == pytest.approx(theirs.step_loss, rel=1e-5)
