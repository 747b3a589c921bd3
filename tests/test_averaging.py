"""course_lib.averaging equals torch.optim.swa_utils: EMA and SWA models, SWALR, update_bn, state_dict.

Each check runs ours and torch's on the same small model with batch norm and the same data, and
compares bitwise (``torch.equal``) or to 1e-12 relative for the learning rates.
"""

import copy
import math

import pytest
import torch
from torch.optim import swa_utils as tsu

from course_lib import averaging as av

UPDATES = 20


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Linear(6, 2)
    )


def _train_and_average(ours: dict, theirs: dict) -> tuple[av.AveragedModel, tsu.AveragedModel]:
    """``UPDATES`` SGD steps on one model, each followed by an update of both averaged models."""
    model = _net()
    mine = av.AveragedModel(model, **ours)
    reference = tsu.AveragedModel(model, **theirs)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    for _ in range(UPDATES):
        x = torch.randn(8, 4, generator=gen)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        mine.update_parameters(model)
        reference.update_parameters(model)
    return mine, reference


def _assert_same_state(mine: torch.nn.Module, reference: torch.nn.Module) -> None:
    a, b = mine.state_dict(), reference.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


VARIANTS = [
    ("swa default", {}, {}),
    ("swa avg_fn", {"avg_fn": av.get_swa_avg_fn()}, {"avg_fn": tsu.get_swa_avg_fn()}),
    ("ema avg_fn", {"avg_fn": av.get_ema_avg_fn(0.9)}, {"avg_fn": tsu.get_ema_avg_fn(0.9)}),
    (
        "ema multi_avg_fn",
        {"multi_avg_fn": av.get_ema_multi_avg_fn(0.9)},
        {"multi_avg_fn": tsu.get_ema_multi_avg_fn(0.9)},
    ),
    (
        "ema multi_avg_fn default decay",
        {"multi_avg_fn": av.get_ema_multi_avg_fn()},
        {"multi_avg_fn": tsu.get_ema_multi_avg_fn()},
    ),
]


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize(("label", "ours", "theirs"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_averaged_model_equals_torchs_bitwise_over_twenty_updates(label, ours, theirs, use_buffers):
    mine, reference = _train_and_average(
        {**ours, "use_buffers": use_buffers}, {**theirs, "use_buffers": use_buffers}
    )
    assert int(mine.n_averaged) == UPDATES
    _assert_same_state(mine, reference)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    mine.eval(), reference.eval()
    assert torch.equal(mine(x), reference(x))


def test_swa_multi_avg_fn_equals_torchs_on_the_parameters():
    mine, reference = _train_and_average(
        {"multi_avg_fn": av.get_swa_multi_avg_fn()}, {"multi_avg_fn": tsu.get_swa_multi_avg_fn()}
    )
    _assert_same_state(mine, reference)


def test_swa_multi_avg_fn_averages_integer_buffers_where_torchs_raises():
    # torch's foreach addcdiv refuses integer tensors (num_batches_tracked); ours rounds toward
    # zero as torch's default average does, so the integer buffers agree exactly, the float
    # tensors to rounding (lerp there, the division formula in the default)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        _train_and_average({}, {"multi_avg_fn": tsu.get_swa_multi_avg_fn(), "use_buffers": True})
    mine, reference = _train_and_average(
        {"multi_avg_fn": av.get_swa_multi_avg_fn(), "use_buffers": True}, {"use_buffers": True}
    )
    for (key, a), b in zip(mine.state_dict().items(), reference.state_dict().values()):
        if a.is_floating_point():
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(a, b), key
    assert int(mine.module[1].num_batches_tracked) == 1  # 1 + (2-1)//2 = 1, and so on


def test_the_averages_are_the_documented_formulas():
    model = torch.nn.Linear(1, 1, bias=False)
    snapshots = [1.0, 2.0, 4.0, 8.0]
    swa, ema = (
        av.AveragedModel(model),
        av.AveragedModel(model, multi_avg_fn=av.get_ema_multi_avg_fn(0.5)),
    )
    for value in snapshots:
        with torch.no_grad():
            model.weight.fill_(value)
        swa.update_parameters(model)
        ema.update_parameters(model)
    assert swa.module.weight.item() == sum(snapshots) / 4  # the equal-weight mean
    expected = snapshots[0]
    for value in snapshots[1:]:
        expected = 0.5 * expected + 0.5 * value
    assert ema.module.weight.item() == expected == 5.375


def test_buffers_are_copied_from_the_model_without_use_buffers():
    mine, _ = _train_and_average({}, {})
    model = _net()
    mine.update_parameters(model)
    assert torch.equal(mine.module[1].running_mean, model[1].running_mean)
    assert not torch.equal(mine.module[0].weight, model[0].weight)  # weights are averaged


def test_ours_take_torchs_averaging_functions_and_torchs_take_ours():
    mine, reference = _train_and_average(
        {"multi_avg_fn": tsu.get_ema_multi_avg_fn(0.8)},
        {"multi_avg_fn": av.get_ema_multi_avg_fn(0.8)},
    )
    _assert_same_state(mine, reference)


def test_state_dict_loads_into_torchs_averaged_model_and_back():
    mine, reference = _train_and_average({"use_buffers": True}, {"use_buffers": True})
    fresh_torch = tsu.AveragedModel(_net(), use_buffers=True)
    fresh_torch.load_state_dict(mine.state_dict())
    _assert_same_state(fresh_torch, mine)
    fresh_ours = av.AveragedModel(_net(), use_buffers=True)
    fresh_ours.load_state_dict(reference.state_dict())
    _assert_same_state(fresh_ours, reference)
    assert fresh_ours.n_averaged.dtype == torch.long and int(fresh_ours.n_averaged) == UPDATES


def test_the_copy_is_deep_and_device_places_it():
    model = _net()
    mine = av.AveragedModel(model, device="cpu")
    assert mine.module is not model and mine.module[0].weight is not model[0].weight
    assert mine.n_averaged.device.type == "cpu" and mine.module[0].weight.device.type == "cpu"
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(mine.module[0].weight, model[0].weight)


# --- update_bn ------------------------------------------------------------------------------------


def _conv_net() -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3),
        torch.nn.BatchNorm2d(3, momentum=0.3),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4 * 4, 5),
        torch.nn.BatchNorm1d(5),
    )


def _loader():
    gen = torch.Generator().manual_seed(4)
    return [(torch.randn(7, 1, 6, 6, generator=gen) * 2 + 1, torch.zeros(7)) for _ in range(5)]


@pytest.mark.parametrize("wrap", [False, True], ids=["model", "AveragedModel"])
def test_update_bn_gives_torchs_running_statistics(wrap):
    net = _conv_net()
    net.eval()
    mine = av.AveragedModel(net).eval() if wrap else net
    theirs = copy.deepcopy(mine)
    av.update_bn(_loader(), mine, device="cpu")
    tsu.update_bn(_loader(), theirs, device="cpu")
    _assert_same_state(mine, theirs)
    layers = [m for m in mine.modules() if isinstance(m, torch.nn.modules.batchnorm.BatchNorm2d)]
    assert layers[0].momentum == 0.3 and not mine.training  # put back
    assert int(layers[0].num_batches_tracked) == 5


def test_update_bn_averages_the_batch_statistics_with_equal_weights():
    net = torch.nn.BatchNorm1d(1)
    batches = [torch.tensor([[0.0], [2.0]]), torch.tensor([[10.0], [20.0], [30.0]])]
    av.update_bn(batches, net)
    assert net.running_mean.item() == pytest.approx((1.0 + 20.0) / 2)
    assert net.running_var.item() == pytest.approx((2.0 + 100.0) / 2)  # unbiased variances


def test_update_bn_without_batch_norm_does_not_read_the_loader():
    def loader():
        raise AssertionError("read")
        yield  # pragma: no cover

    av.update_bn(loader(), torch.nn.Linear(2, 2))


# --- SWALR ----------------------------------------------------------------------------------------


def _groups():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    return torch.optim.SGD([{"params": [a], "lr": 0.2}, {"params": [b], "lr": 0.05}], momentum=0.9)


def _swalr_rates(cls, *, before: int, **kwargs) -> list[list[float]]:
    """30 steps: a cosine schedule for the first ``before`` steps, then the SWALR steps."""
    opt = _groups()
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
    swa = cls(opt, **kwargs)
    rows = []
    for k in range(30):
        rows.append([g["lr"] for g in opt.param_groups])
        opt.step()
        (cosine if k < before else swa).step()
    return rows


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 10])
@pytest.mark.parametrize("before", [0, 8])
def test_swalr_gives_torchs_rates_at_every_step(strategy, anneal_epochs, before):
    kwargs = {"swa_lr": [0.01, 0.02], "anneal_epochs": anneal_epochs, "anneal_strategy": strategy}
    mine = _swalr_rates(av.SWALR, before=before, **kwargs)
    theirs = _swalr_rates(tsu.SWALR, before=before, **kwargs)
    for row_mine, row_theirs in zip(mine, theirs, strict=True):
        assert row_mine == pytest.approx(row_theirs, rel=1e-12, abs=0)
    assert mine[-1] == pytest.approx([0.01, 0.02], rel=1e-12)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_anneal_is_the_closed_form(strategy):
    a = 10
    rows = _swalr_rates(av.SWALR, before=0, swa_lr=0.01, anneal_epochs=a, anneal_strategy=strategy)
    shape = (lambda x: (1 - math.cos(math.pi * x)) / 2) if strategy == "cos" else (lambda x: x)
    for s, row in enumerate(rows):
        alpha = shape(min(1.0, s / a))
        assert row == pytest.approx([(1 - alpha) * lr + alpha * 0.01 for lr in (0.2, 0.05)])


def test_swalr_state_dict_loads_into_torchs_and_back():
    opt = _groups()
    mine = av.SWALR(opt, swa_lr=0.01, anneal_epochs=5, anneal_strategy="linear")
    for _ in range(3):
        opt.step()
        mine.step()
    saved = mine.state_dict()
    assert saved["_anneal_strategy"] == "linear" and saved["anneal_epochs"] == 5
    theirs = tsu.SWALR(_groups(), swa_lr=0.01)
    theirs.load_state_dict(saved)
    assert theirs.anneal_epochs == 5 and theirs._step_count == mine._step_count
    back = av.SWALR(_groups(), swa_lr=0.01)
    back.load_state_dict(theirs.state_dict())
    assert back.anneal_strategy == "linear" and back.last_epoch == 3


# --- bad inputs -----------------------------------------------------------------------------------

BAD = [
    (lambda: av.get_ema_multi_avg_fn(-0.1), ValueError, r"decay must be a finite number in \[0, 1\], got -0.1"),
    (lambda: av.get_ema_multi_avg_fn(1.5), ValueError, "decay must be a finite number in"),
    (lambda: av.get_ema_avg_fn(float("nan")), ValueError, "decay must be a finite number in"),
    (lambda: av.get_ema_avg_fn("0.9"), TypeError, "decay must be a finite number"),
    (lambda: av.AveragedModel("model"), TypeError, "model must be a torch.nn.Module, got str"),
    (lambda: av.AveragedModel(_net(), avg_fn=av.get_swa_avg_fn(), multi_avg_fn=av.get_swa_multi_avg_fn()), ValueError, "at most one of avg_fn"),
    (lambda: av.AveragedModel(_net(), avg_fn=0.9), TypeError, "avg_fn"),
    (lambda: av.AveragedModel(_net(), use_buffers="yes"), TypeError, "use_buffers must be True or False"),
    (lambda: av.AveragedModel(_net()).update_parameters(torch.nn.Linear(4, 6)), ValueError, "model has 2 parameters, the averaged model 6"),
    (lambda: av.AveragedModel(torch.nn.Linear(2, 3)).update_parameters(torch.nn.Linear(3, 2)), ValueError, r"shape \(2, 3\) in model and \(3, 2\)"),
    (lambda: av.AveragedModel(_net()).update_parameters(None), TypeError, "model must be a torch.nn.Module"),
    (lambda: av.SWALR(_groups(), swa_lr=0.0), ValueError, "swa_lr must be a finite number > 0, got 0.0"),
    (lambda: av.SWALR(_groups(), swa_lr=-0.1), ValueError, "swa_lr must be a finite number > 0"),
    (lambda: av.SWALR(_groups(), swa_lr=[0.1]), ValueError, r"one value per param group \(2\), got 1"),
    (lambda: av.SWALR(_groups(), swa_lr=[0.1, 0.0]), ValueError, r"swa_lr\[1\] must be a finite number > 0"),
    (lambda: av.SWALR(_groups(), swa_lr=0.1, anneal_strategy="cosine"), ValueError, "anneal_strategy must be one of 'cos', 'linear', got 'cosine'"),
    (lambda: av.SWALR(_groups(), swa_lr=0.1, anneal_epochs=-1), ValueError, "anneal_epochs must be an integer >= 0, got -1"),
    (lambda: av.SWALR(_groups(), swa_lr=0.1, anneal_epochs=2.0), TypeError, "anneal_epochs must be an integer"),
    (lambda: av.SWALR(_groups(), swa_lr=0.1, last_epoch=-2), ValueError, "last_epoch must be an integer >= -1"),
    (lambda: av.SWALR("opt", swa_lr=0.1), TypeError, "optimizer must be a torch.optim.Optimizer"),
    (lambda: av.update_bn(5, _net()), TypeError, "loader must be an iterable of batches, got int"),
    (lambda: av.update_bn([], "net"), TypeError, "model must be a torch.nn.Module"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "error", "match"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_arguments_raise_naming_the_argument(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_swalr_arguments_leave_the_groups_alone():
    opt = _groups()
    with pytest.raises(ValueError):
        av.SWALR(opt, swa_lr=0.1, anneal_strategy="step")
    assert all("swa_lr" not in g for g in opt.param_groups)
