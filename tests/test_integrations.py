"""Tests of course_lib.integrations: Keras (torch backend), Lightning and Optuna helpers of A1/A2."""

from __future__ import annotations

import math
import os
import pickle

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any `import keras`

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from course_lib import integrations as ci
from course_lib import schedules as S

keras = pytest.importorskip("keras")
pl = pytest.importorskip("lightning.pytorch")
optuna = pytest.importorskip("optuna")


@pytest.fixture(autouse=True)
def _quiet_lightning():
    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------------------------------
# Keras and torch side by side
# --------------------------------------------------------------------------------------------------


def test_keras_module_is_on_the_torch_backend():
    assert ci.keras_module().backend.backend() == "torch"


def test_quadratic_gradient_and_minimiser():
    q = ci.Quadratic.default(scale=3.0)
    w_star = torch.linalg.solve(q.A, q.b)
    assert torch.allclose(q(w_star), torch.zeros(2), atol=1e-6)
    w = torch.tensor([0.3, -0.7])
    assert torch.allclose(q(w), 3.0 * (q.A @ w - q.b))
    w.requires_grad_(True)
    (grad,) = torch.autograd.grad(q.loss(w), w)
    assert torch.allclose(grad, q(w.detach()), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"A": torch.zeros(2, 3), "b": torch.zeros(2)}, ValueError, "A must be square"),
        ({"A": torch.zeros(2), "b": torch.zeros(2)}, TypeError, "A must be a 2-D tensor"),
        (
            {"A": torch.eye(2), "b": torch.zeros(3)},
            ValueError,
            r"b must be a tensor of shape \(2,\)",
        ),
        ({"A": torch.eye(2), "b": torch.zeros(2), "scale": 0.0}, ValueError, "scale must be"),
    ],
)
def test_quadratic_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        ci.Quadratic(**kwargs)


def test_torch_iterates_is_gradient_descent_and_checks_lrs():
    q = ci.Quadratic.default()
    ws = ci.torch_iterates(torch.optim.SGD, q, 3, lr=0.1)
    w = q.start.clone()
    for t in range(3):
        w = w - 0.1 * q(w)
        assert torch.allclose(ws[t + 1], w)
    with pytest.raises(ValueError, match="lrs must hold at least steps=3 values, got 2"):
        ci.torch_iterates(torch.optim.SGD, q, 3, lrs=[0.1, 0.1], lr=0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        ci.torch_iterates(torch.optim.SGD, q, -1, lr=0.1)


def test_keras_sgd_momentum_matches_torch_while_lr_is_constant():
    q = ci.Quadratic.default()
    for nesterov in (False, True):
        k = ci.keras_iterates(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov), q, 25)
        t = ci.torch_iterates(torch.optim.SGD, q, 25, lr=0.1, momentum=0.9, nesterov=nesterov)
        assert (k - t).abs().max() < 1e-5


def test_keras_sgd_momentum_is_the_classical_form_when_lr_changes():
    q = ci.Quadratic.default()
    lrs = [0.1] * 8 + [0.01] * 12
    k = ci.keras_iterates(keras.optimizers.SGD(0.1, momentum=0.9), q, 20, lrs=lrs)
    t = ci.torch_iterates(torch.optim.SGD, q, 20, lrs=lrs, lr=0.1, momentum=0.9)
    w, v = q.start.clone(), torch.zeros(2)
    classical = [w.clone()]
    for lr in lrs:
        v = 0.9 * v - lr * q(w)
        w = w + v
        classical.append(w.clone())
    assert (k - torch.stack(classical)).abs().max() < 1e-5
    assert (k - t).abs().max() > 0.1


def test_keras_adam_equals_torch_adam_with_step_dependent_eps():
    q = ci.Quadratic.default(scale=1e-7)  # tiny gradients: epsilon matters

    def eps_t(t):
        return 1e-7 / math.sqrt(1 - 0.999**t)

    k = ci.keras_iterates(keras.optimizers.Adam(0.01), q, 20)
    mapped = ci.torch_iterates(torch.optim.Adam, q, 20, lr=0.01, eps_schedule=eps_t)
    default = ci.torch_iterates(torch.optim.Adam, q, 20, lr=0.01)
    assert (k - mapped).abs().max() < 1e-4
    assert (k - default).abs().max() > 1e-2


def test_keras_weight_decay_is_decoupled():
    q = ci.Quadratic.default()

    def eps_t(t):
        return 1e-7 / math.sqrt(1 - 0.999**t)

    k = ci.keras_iterates(keras.optimizers.Adam(0.01, weight_decay=0.1), q, 20)
    adamw = ci.torch_iterates(
        torch.optim.AdamW, q, 20, lr=0.01, weight_decay=0.1, eps_schedule=eps_t
    )
    adam_l2 = ci.torch_iterates(
        torch.optim.Adam, q, 20, lr=0.01, weight_decay=0.1, eps_schedule=eps_t
    )
    assert (k - adamw).abs().max() < 1e-4
    assert (k - adam_l2).abs().max() > 1e-3


def test_keras_schedule_curves_match_course_lib_and_torch():
    ks = keras.optimizers.schedules
    n = 60
    warm = ks.CosineDecay(0.01, 40, alpha=0.1, warmup_target=0.1, warmup_steps=10)
    assert np.allclose(
        ci.keras_lr_curve(warm, n),
        S.warmup_cosine(0.1, 10, 50, final=0.01, start=0.01).curve(n),
        rtol=1e-5,
    )
    stair = ks.ExponentialDecay(0.1, 7, 0.5, staircase=True)
    torch_stair = ci.torch_lr_curve(lambda o: lr_scheduler.StepLR(o, 7, 0.5), n, lr=0.1)
    assert np.allclose(ci.keras_lr_curve(stair, n), torch_stair, rtol=1e-6)


def test_piecewise_constant_switches_one_step_after_its_boundary():
    pw = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.1, 0.01])
    k = ci.keras_lr_curve(pw, 30)
    at = ci.torch_lr_curve(lambda o: lr_scheduler.MultiStepLR(o, [10, 20], 0.1), 30)
    after = ci.torch_lr_curve(lambda o: lr_scheduler.MultiStepLR(o, [11, 21], 0.1), 30)
    assert np.flatnonzero(~np.isclose(k, at, rtol=1e-6)).tolist() == [10, 20]
    assert np.allclose(k, after, rtol=1e-6)


def _drive_keras_plateau(values, patience, lr=1.0):
    """Run Keras's ReduceLROnPlateau callback on given val_loss values; return the lr per epoch."""
    model = ci.keras_mlp((2, 2))
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    cb = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=patience, min_delta=1e-4, mode="min"
    )
    cb.set_model(model)
    cb.on_train_begin()
    out = []
    for epoch, v in enumerate(values):
        out.append(float(model.optimizer.learning_rate))
        cb.on_epoch_end(epoch, {"val_loss": v})
    return np.array(out)


def test_keras_plateau_patience_is_torch_patience_plus_one():
    values = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85]
    keras_lrs = _drive_keras_plateau(values, patience=2)
    same = ci.plateau_lrs(values, 1.0, factor=0.5, patience=1, threshold=1e-4, threshold_mode="abs")
    later = ci.plateau_lrs(
        values, 1.0, factor=0.5, patience=2, threshold=1e-4, threshold_mode="abs"
    )
    assert keras_lrs.min() < 1.0
    assert np.allclose(keras_lrs, same, rtol=1e-6)
    assert not np.allclose(keras_lrs, later, rtol=1e-6)


def test_plateau_lrs_reports_the_rate_in_force_during_each_epoch():
    lrs = ci.plateau_lrs([1.0, 1.0, 1.0, 1.0], lr=1.0, factor=0.5, patience=1)
    assert lrs.tolist() == [1.0, 1.0, 1.0, 0.5]


def test_keras_mlp_and_its_torch_copy_compute_the_same_function():
    km = ci.keras_mlp((5, 7, 3), seed=1, names=["body", "head"], model_name="net")
    assert [v.path for v in km.trainable_variables] == [
        "net/body/kernel",
        "net/body/bias",
        "net/head/kernel",
        "net/head/bias",
    ]
    tm = ci.torch_mlp_from_keras(km)
    x = torch.randn(4, 5)
    assert torch.allclose(km(x).detach(), tm(x), atol=1e-6)
    assert ci.max_weight_difference(km, tm) == 0.0
    with torch.no_grad():
        tm[0].weight[0, 0] += 0.5
    assert ci.max_weight_difference(km, tm) == pytest.approx(0.5)


def test_keras_mlp_rejects_bad_input():
    with pytest.raises(ValueError, match="names must hold 2 names"):
        ci.keras_mlp((4, 3, 2), names=["only"])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be an integer >= 1, got 0"):
        ci.keras_mlp((4, 0, 2))


# --------------------------------------------------------------------------------------------------
# make_scheduler
# --------------------------------------------------------------------------------------------------


def _optimizer(lrs=(0.1,)):
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(params, lr=lrs[0], momentum=0.9)


def test_make_scheduler_builds_course_lib_schedulers():
    from course_lib import schedulers

    assert ci.make_scheduler("constant") is None
    cos = ci.make_scheduler("cosine")(_optimizer(), 10)
    assert isinstance(cos, schedulers.CosineAnnealingLR)
    one = ci.make_scheduler("onecycle")(_optimizer((0.1, 0.01)), 20)
    assert isinstance(one, schedulers.OneCycleLR)
    peaks = [max(s.curve(20)) for s in one.lr_schedules()]
    assert peaks == pytest.approx([0.1, 0.01]), "each group keeps its own peak"
    plateau = ci.make_scheduler("plateau", factor=0.2, patience=3)(_optimizer(), 10)
    assert isinstance(plateau, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert (plateau.factor, plateau.patience) == (0.2, 3)
    assert (plateau.threshold, plateau.threshold_mode) == (1e-4, "rel"), "torch's defaults"
    strict = ci.make_scheduler("plateau", threshold=0.3, threshold_mode="abs")(_optimizer(), 10)
    assert (strict.threshold, strict.threshold_mode) == (0.3, "abs")


def test_an_absolute_plateau_threshold_bounds_the_improving_epochs():
    # A loss >= 0 that improves by more than 0.3 each time can do so fewer than L_1 / 0.3 times:
    # a steadily falling loss (never a plateau at threshold 1e-4) still triggers the scheduler.
    losses = [1.8 * 0.93**e for e in range(10)]
    assert ci.plateau_lrs(losses, 1.0, factor=0.5, patience=0).min() == 1.0
    lrs = ci.plateau_lrs(losses, 1.0, factor=0.5, patience=0, threshold=0.3, threshold_mode="abs")
    drops = lrs[1:] / lrs[:-1]
    assert np.count_nonzero(drops < 1) >= len(losses) - 1 - math.ceil(losses[0] / 0.3)
    assert np.allclose(drops[drops < 1], 0.5), "each reduction multiplies the rate by factor"


def test_warmup_cosine_scheduler_follows_the_pure_schedule():
    opt = _optimizer()
    sched = ci.make_scheduler("warmup_cosine", warmup_fraction=0.2)(opt, 50)
    got = []
    for _ in range(50):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert np.allclose(got, S.warmup_cosine(0.1, 10, 50, start=0.01).curve(50), rtol=1e-9)


def test_make_scheduler_rejects_bad_input():
    with pytest.raises(ValueError, match="name must be one of 'constant', 'cosine'"):
        ci.make_scheduler("linear")
    with pytest.raises(TypeError, match="takes no options"):
        ci.make_scheduler("constant", factor=0.5)


def test_make_scheduler_factories_pickle():
    factory = ci.make_scheduler("onecycle", pct_start=0.25)
    again = pickle.loads(pickle.dumps(factory))
    assert again.keywords == {"pct_start": 0.25}


# --------------------------------------------------------------------------------------------------
# Lightning
# --------------------------------------------------------------------------------------------------


def _tiny_data(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return x, y


def test_tensor_loader_batches_and_is_seeded():
    x, y = torch.arange(10.0), torch.arange(10)
    loader = ci.tensor_loader(x, y, batch_size=4, seed=3)
    first = [yb.tolist() for _, yb in loader]
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(i for b in first for i in b) == list(range(10))
    again = [yb.tolist() for _, yb in ci.tensor_loader(x, y, batch_size=4, seed=3)]
    assert first == again
    ordered = [yb.tolist() for _, yb in ci.tensor_loader(x, y)]
    assert ordered == [list(range(10))]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        ci.tensor_loader(x, y, batch_size=0, seed=0)


def test_lit_module_steps_the_schedule_once_per_optimizer_step(tmp_path):
    x, y = _tiny_data()
    train = ci.tensor_loader(x, y, batch_size=20, seed=0)
    val = ci.tensor_loader(x, y)
    module = ci.CourseLitModule(
        torch.nn.Linear(6, 2),
        optimizer_kwargs={"lr": 0.1},
        make_scheduler=ci.make_scheduler("cosine"),
        interval="step",
    )
    rec = ci.LRRecorder()
    trainer = ci.quiet_trainer(tmp_path, 3, callbacks=[rec])
    trainer.fit(module, train, val)
    total = trainer.estimated_stepping_batches
    assert total == 3 * len(train) == len(rec.values)
    assert np.allclose(rec.values[:, 0], S.Cosine(0.1, total).curve(total), rtol=1e-12)
    assert len(module.history["val_acc"]) == 3 and len(module.history["train_loss"]) == 3
    assert list(tmp_path.iterdir()) == [], "no logs, no checkpoints"


def test_lit_module_with_accumulation_counts_optimizer_steps(tmp_path):
    x, y = _tiny_data(n=250)
    train = ci.tensor_loader(x, y, batch_size=10, seed=0)  # 25 batches
    module = ci.CourseLitModule(
        torch.nn.Linear(6, 2),
        optimizer_kwargs={"lr": 0.1},
        make_scheduler=ci.make_scheduler("cosine"),
    )
    rec = ci.LRRecorder()
    trainer = ci.quiet_trainer(
        tmp_path, 2, callbacks=[rec], accumulate_grad_batches=4, limit_val_batches=0
    )
    trainer.fit(module, train)
    assert trainer.estimated_stepping_batches == 14 == len(rec.values)  # ceil(25 / 4) * 2


def test_lit_module_plateau_uses_the_monitored_validation_loss(tmp_path):
    x, y = _tiny_data()
    module = ci.CourseLitModule(
        torch.nn.Linear(6, 2),
        optimizer_kwargs={"lr": 2.0},
        make_scheduler=ci.make_scheduler("plateau", factor=0.5, patience=0),
        interval="epoch",
        monitor="val_loss",
    )
    rec = ci.LRRecorder()
    train = ci.tensor_loader(x, y, batch_size=30, seed=0)
    ci.quiet_trainer(tmp_path, 6, callbacks=[rec]).fit(module, train, ci.tensor_loader(x, y))
    per_epoch = rec.values[:: len(train), 0]
    replay = ci.plateau_lrs(module.history["val_loss"], 2.0, factor=0.5, patience=0)
    assert np.allclose(per_epoch, replay)


def test_lit_module_refuses_plateau_with_step_interval(tmp_path):
    x, y = _tiny_data()
    module = ci.CourseLitModule(
        torch.nn.Linear(6, 2),
        optimizer_kwargs={"lr": 0.1},
        make_scheduler=ci.make_scheduler("plateau"),
        interval="step",
    )
    with pytest.raises(ValueError, match="interval must be 'epoch' for ReduceLROnPlateau"):
        ci.quiet_trainer(tmp_path, 1).fit(module, ci.tensor_loader(x, y, seed=0))


def test_lit_module_rejects_bad_arguments():
    with pytest.raises(ValueError, match="interval must be one of 'step', 'epoch', got 'batch'"):
        ci.CourseLitModule(torch.nn.Linear(2, 2), interval="batch")
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        ci.CourseLitModule("not a model")
    with pytest.raises(TypeError, match="key must be a param-group key"):
        ci.LRRecorder(key=3)


def test_lit_module_uses_course_groups_and_pickles():
    import functools

    from course_lib import optim, param_groups

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    module = ci.CourseLitModule(
        model,
        optimizer_class=optim.AdamW,
        optimizer_kwargs={"lr": 1e-2},
        make_groups=functools.partial(param_groups.no_decay_groups, weight_decay=0.1),
    )
    opt = module.configure_optimizers()  # no scheduler: the optimizer alone
    assert isinstance(opt, optim.AdamW)
    assert [(g["name"], g["weight_decay"]) for g in opt.param_groups] == [
        ("decay", 0.1),
        ("no_decay", 0.0),
    ]
    again = pickle.loads(pickle.dumps(module))
    assert type(again).__qualname__ == "CourseLitModule"
    assert again.make_groups.keywords == {"weight_decay": 0.1}


def test_lr_recorder_reads_one_element_of_a_pair(tmp_path):
    x, y = _tiny_data()
    from course_lib import optim

    module = ci.CourseLitModule(
        torch.nn.Linear(6, 2),
        optimizer_class=optim.AdamW,
        optimizer_kwargs={"lr": 1e-2},
        make_scheduler=ci.make_scheduler("onecycle"),
    )
    lr_rec, beta_rec = ci.LRRecorder(), ci.LRRecorder("betas", index=0)
    train = ci.tensor_loader(x, y, batch_size=10, seed=0)
    ci.quiet_trainer(tmp_path, 2, callbacks=[lr_rec, beta_rec]).fit(module, train)
    corr = np.corrcoef(lr_rec.values[:, 0], beta_rec.values[:, 0])[0, 1]
    assert corr < -0.99 and beta_rec.values.max() == pytest.approx(0.95)


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NotAThing'"):
        _ = ci.NotAThing


def test_every_public_name_is_served_by_the_package():
    from course_lib.integrations import common, keras, lightning
    from course_lib.integrations import optuna as ci_optuna

    modules = (common, keras, lightning, ci_optuna)
    assert sorted(ci.__all__) == sorted(name for m in modules for name in m.__all__)
    for m in modules:
        for name in m.__all__:
            assert getattr(ci, name) is getattr(m, name), name
    assert set(ci.__all__) <= set(dir(ci))


def test_importing_the_package_imports_no_framework():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from course_lib import integrations as ci\n"
        "ci.make_scheduler('cosine'); ci.Quadratic.default()\n"
        "frameworks = ('keras', 'lightning', 'optuna')\n"
        "print(sorted(m for m in frameworks if m in sys.modules))\n"
        "ci.MNIST1DObjective\n"
        "print(sorted(m for m in frameworks if m in sys.modules))\n"
        "ci.CourseLitModule\n"
        "print(sorted(m for m in frameworks if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["[]", "['optuna']", "['lightning', 'optuna']"]


def test_optuna_pruning_stops_a_lightning_run_after_the_pruned_epoch(tmp_path):
    x, y = _tiny_data()
    module = ci.CourseLitModule(torch.nn.Linear(6, 2), optimizer_kwargs={"lr": 0.1})
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1.01)
    )
    trial = study.ask()
    pruning = ci.OptunaPruning(trial, monitor="val_acc")
    trainer = ci.quiet_trainer(tmp_path, 5, callbacks=[pruning])
    trainer.fit(module, ci.tensor_loader(x, y, batch_size=20, seed=0), ci.tensor_loader(x, y))
    assert pruning.pruned_at == 0 and trainer.current_epoch == 1
    assert study.trials[0].intermediate_values == {0: module.history["val_acc"][0]}


# --------------------------------------------------------------------------------------------------
# train_mnist1d and the Optuna objective
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_mnist1d():
    from course_lib import compare, data

    return compare.holdout(data.subset(data.mnist1d(), 300, seed=0), 0.25, seed=0)


def _lightning_reference(fit_split, val, lr, schedule, weight_decay, epochs, seed, batch, tmp_path):
    """train_mnist1d's run made by Lightning: CourseLitModule, interval="step", LRRecorder."""
    import functools

    from course_lib import models, optim, param_groups

    model = models.MLP(fit_split.num_features, fit_split.num_classes, (100, 100), seed=seed)
    module = ci.CourseLitModule(
        model,
        optimizer_class=optim.AdamW,
        optimizer_kwargs={"lr": lr},
        make_groups=functools.partial(param_groups.no_decay_groups, weight_decay=weight_decay),
        make_scheduler=ci.make_scheduler(schedule),
        interval="step",
    )
    rec = ci.LRRecorder()
    train = ci.tensor_loader(fit_split.x_train, fit_split.y_train, batch, seed)
    trainer = ci.quiet_trainer(tmp_path, epochs, callbacks=[rec])
    trainer.fit(module, train, ci.tensor_loader(*val))
    return module.history, rec.values


@pytest.mark.parametrize("batch", [100, 75])  # 225 examples: a short last batch, or none
def test_train_mnist1d_is_the_run_lightning_makes_of_course_lit_module(
    small_mnist1d, batch, tmp_path
):
    fit_split, val = small_mnist1d
    a = ci.train_mnist1d(
        1e-2, "onecycle", 1e-3, split=fit_split, val=val, epochs=3, seed=4, batch_size=batch
    )
    history, lrs = _lightning_reference(
        fit_split, val, 1e-2, "onecycle", 1e-3, 3, 4, batch, tmp_path
    )
    # same steps, bit for bit: the training losses and accuracies, and every step's rate
    assert a.history["train_loss"] == history["train_loss"]
    assert a.history["val_acc"] == history["val_acc"]
    assert np.array_equal(a.lrs, lrs)
    # the validation loss: a float32 batch mean here, a float32 sum / n in CourseLitModule
    assert a.history["val_loss"] == pytest.approx(history["val_loss"], rel=1e-6)
    # and the run learns: the training loss falls every epoch and the validation loss ends below
    # ln 10, the loss of a uniform guess over the 10 classes (3 epochs on 225 examples: about 2.2)
    assert np.all(np.diff(a.history["train_loss"]) < 0)
    assert a.val_loss < math.log(10) - 0.05 and a.val_acc == a.history["val_acc"][-1]


def test_train_mnist1d_is_seeded_and_uses_no_decay_groups(small_mnist1d):
    fit_split, val = small_mnist1d
    a = ci.train_mnist1d(1e-2, "onecycle", 1e-3, split=fit_split, val=val, epochs=2, seed=4)
    b = ci.train_mnist1d(1e-2, "onecycle", 1e-3, split=fit_split, val=val, epochs=2, seed=4)
    assert a.val_acc == b.val_acc and a.history == b.history
    assert a.lrs.shape == (2 * math.ceil(len(fit_split.y_train) / 100), 2)
    assert np.allclose(a.lrs[:, 0], S.one_cycle(1e-2, len(a.lrs)).curve(len(a.lrs)))
    assert a.test_acc is None and a.pruned_at is None
    # the test accuracy is the accuracy of the trained model on split's test part: with the
    # validation set as the test part it must equal the validation accuracy of the last epoch
    from course_lib.data import Split

    val_as_test = Split(fit_split.x_train, fit_split.y_train, val[0], val[1])
    c = ci.train_mnist1d(
        0.05,
        "constant",
        0.0,
        split=val_as_test,
        val=val,
        epochs=2,
        optimizer="sgd",
        evaluate_test=True,
    )
    assert c.test_acc == pytest.approx(c.val_acc, abs=1e-12) and np.all(c.lrs == 0.05)


def test_train_mnist1d_report_sees_every_epoch_and_can_stop_the_run(small_mnist1d):
    fit_split, val = small_mnist1d
    seen = []

    def report(epoch, metrics):
        seen.append((epoch, metrics))
        return epoch == 1

    r = ci.train_mnist1d(1e-2, "cosine", 0.0, split=fit_split, val=val, epochs=4, report=report)
    assert [e for e, _ in seen] == [0, 1] and r.pruned_at == 1
    assert [m["val_acc"] for _, m in seen] == r.history["val_acc"]
    assert len(r.lrs) == 2 * math.ceil(len(fit_split.y_train) / 100)


def test_train_mnist1d_rejects_bad_input(small_mnist1d):
    fit_split, val = small_mnist1d
    with pytest.raises(ValueError, match="schedule must be one of"):
        ci.train_mnist1d(0.1, "step", 0.0, split=fit_split, val=val, epochs=1)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got 0\.0"):
        ci.train_mnist1d(0.0, "constant", 0.0, split=fit_split, val=val, epochs=1)
    with pytest.raises(ValueError, match="optimizer must be one of 'adamw', 'sgd'"):
        ci.train_mnist1d(0.1, "constant", 0.0, split=fit_split, val=val, epochs=1, optimizer="adam")


def test_objective_runs_a_study_and_never_uses_the_test_set(small_mnist1d):
    fit_split, val = small_mnist1d
    from course_lib.data import Split

    no_test = Split(
        fit_split.x_train, fit_split.y_train, fit_split.x_test[:0], fit_split.y_test[:0]
    )
    objective = ci.MNIST1DObjective(no_test, val, epochs=2, seed=0)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=2)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert set(study.best_params) == {"lr", "schedule", "weight_decay"}
    lr = study.trials[0].params["lr"]
    assert objective.lr_range[0] <= lr <= objective.lr_range[1]
    # the study's value is the validation accuracy of train_mnist1d with the trial's choices
    best = study.best_params
    again = ci.train_mnist1d(
        best["lr"], best["schedule"], best["weight_decay"], split=no_test, val=val, epochs=2, seed=0
    )
    assert study.best_value == again.val_acc


def test_objective_reports_each_epoch_and_can_be_pruned(small_mnist1d):
    fit_split, val = small_mnist1d
    objective = ci.MNIST1DObjective(fit_split, val, epochs=3, seed=0)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.ThresholdPruner(lower=1.01),  # every accuracy is below: prune at once
    )
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1, got 0"),
        ({"lr_range": (0.1, 0.01)}, ValueError, r"lr_range\[1\] must be a finite number > 0.1"),
        ({"lr_range": 0.1}, TypeError, "lr_range must be a pair"),
        ({"schedules": ("constant", "exp")}, ValueError, "schedules must be one of"),
        ({"schedules": "cosine"}, ValueError, "schedules must be a non-empty sequence"),
        ({"optimizer": "lion"}, ValueError, "optimizer must be one of"),
    ],
)
def test_objective_rejects_bad_input(small_mnist1d, kwargs, error, match):
    fit_split, val = small_mnist1d
    with pytest.raises(error, match=match):
        ci.MNIST1DObjective(fit_split, val, **kwargs)
