"""course_lib.lr_finder: the LR range test restores everything and suggests sensible rates."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.lr_finder import (
    LRFinderResult,
    lr_find,
    readings,
    steepest_before_minimum,
    suggest_lrs,
    sweep_lrs,
    valley,
)
from course_lib.plots.training import plot_lr_finder


def regression_problem(batch_size=256):
    """Least squares with standard-normal features: full-batch GD diverges above 2/L."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 5, generator=g)
    y = x @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(256, 1, generator=g)
    hessian = 2 * x.T @ x / len(x)  # of mean((x w + b - y)^2) in w
    L = torch.linalg.eigvalsh(hessian).max().item()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    return loader, L


def classification_setup():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 6, generator=g)
    loader = DataLoader(TensorDataset(x, x[:, :3].argmax(1)), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 3))  # fmt: skip
    return model, loader


def snapshot(model, opt):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        {
            id_: {k: (v.clone() if torch.is_tensor(v) else v) for k, v in st.items()}
            for id_, st in opt.state_dict()["state"].items()
        },
        [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]],
        [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        model.training,
    )


def assert_same(before, after):
    m0, s0, g0, gr0, t0 = before
    m1, s1, g1, gr1, t1 = after
    assert m0.keys() == m1.keys() and all(torch.equal(m0[k], m1[k]) for k in m0)
    assert s0.keys() == s1.keys()
    for i in s0:
        assert s0[i].keys() == s1[i].keys()
        for k in s0[i]:
            a, b = s0[i][k], s1[i][k]
            assert torch.equal(a, b) if torch.is_tensor(a) else a == b
    assert g0 == g1
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(gr0, gr1))
    assert t0 == t1


def warmed_up_adam(model, loader):
    """An Adam with state and two groups, after two steps, with gradients left in .grad."""
    opt = torch.optim.Adam(
        [{"params": model[0].parameters(), "lr": 1e-3, "name": "body"},
         {"params": [*model[1].parameters(), *model[4].parameters()], "lr": 1e-2, "name": "head"}],
    )  # fmt: skip
    for x, y in list(loader)[:2]:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("end_lr", [1.0, 1e6], ids=["normal", "diverging"])
def test_lr_find_restores_model_optimizer_grads_mode_and_rngs(end_lr):
    model, loader = classification_setup()
    opt = warmed_up_adam(model, loader)
    model.eval()
    before = snapshot(model, opt)
    np_keys = np.random.get_state()[1].copy()  # noqa: NPY002 - the global RNG is under test
    rng = (torch.get_rng_state(), loader.generator.get_state(), random.getstate())
    result = lr_find(model, opt, loader, start_lr=1e-5, end_lr=end_lr, num_iter=40,
                     progress=False)  # fmt: skip
    assert_same(before, snapshot(model, opt))
    assert torch.equal(rng[0], torch.get_rng_state())
    assert torch.equal(rng[1], loader.generator.get_state())
    assert np.array_equal(np_keys, np.random.get_state()[1])  # noqa: NPY002
    assert rng[2] == random.getstate()
    if end_lr > 1e3:
        assert result.diverged and len(result.lrs) < 40


def failing_loss(outputs, targets, calls=[]):  # noqa: B006 - counts calls across the sweep
    calls.append(1)
    if len(calls) == 5:
        raise RuntimeError("boom")
    return F.cross_entropy(outputs, targets)


def test_lr_find_restores_state_even_when_the_sweep_raises():
    model, loader = classification_setup()
    opt = warmed_up_adam(model, loader)
    before = snapshot(model, opt)
    with pytest.raises(RuntimeError, match="boom"):
        lr_find(model, opt, loader, loss_fn=failing_loss, num_iter=20, progress=False)
    assert_same(before, snapshot(model, opt))


def test_lr_find_then_fit_trains_exactly_like_fit_alone():
    from course_lib.training import fit

    finals = []
    for with_finder in (False, True):
        model, loader = classification_setup()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if with_finder:
            lr_find(model, opt, loader, num_iter=30, progress=False)
        fit(model, opt, loader, 1, progress=False)
        finals.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*finals))


class LrSpy:
    """A loss that records every group's lr when it is evaluated (after the finder set them)."""

    def __init__(self, opt):
        self.opt, self.seen = opt, []

    def __call__(self, outputs, targets):
        self.seen.append([g["lr"] for g in self.opt.param_groups])
        return F.cross_entropy(outputs, targets)


def test_lr_find_sweeps_exponentially_and_keeps_the_group_ratios():
    model, loader = classification_setup()
    opt = warmed_up_adam(model, loader)  # body 1e-3, head 1e-2
    spy = LrSpy(opt)
    result = lr_find(model, opt, loader, loss_fn=spy, start_lr=1e-6, end_lr=1e-2, num_iter=25,
                     progress=False)  # fmt: skip
    assert result.group_ratios == [0.1, 1.0]
    assert result.lrs == sweep_lrs(1e-6, 1e-2, 25)  # no divergence at these rates
    assert [s[1] for s in spy.seen] == result.lrs
    assert all(s[0] == pytest.approx(0.1 * s[1], rel=1e-12) for s in spy.seen)
    assert result.group_lrs(1e-3) == pytest.approx([1e-4, 1e-3])
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-2]  # restored


def test_lr_find_smooths_with_bias_correction_and_stops_at_the_threshold():
    loader, _ = regression_problem()
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    result = lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), loader,
                     loss_fn=F.mse_loss, start_lr=1e-5, end_lr=100.0, num_iter=100,
                     beta=0.9, progress=False)  # fmt: skip
    avg, expected = 0.0, []
    for t, loss in enumerate(result.losses):
        avg = 0.9 * avg + 0.1 * loss
        expected.append(avg / (1 - 0.9 ** (t + 1)))
    assert result.smoothed == pytest.approx(expected, rel=1e-12)
    assert result.smoothed[0] == pytest.approx(result.losses[0], rel=1e-12)  # no bias towards 0
    assert result.diverged and len(result.lrs) < 100
    assert result.smoothed[-1] > 4.0 * result.best_loss
    sm = result.smoothed  # before the last point, never above 4 x the best so far
    assert all(sm[t] <= 4.0 * min(sm[: t + 1]) for t in range(len(sm) - 1))


def test_lr_find_suggestions_are_sensible_on_least_squares():
    """Full-batch GD on least squares is stable below 2/L and fastest near 1/L: both suggestions
    must land in [1/(10 L), 2/L]."""
    loader, L = regression_problem()
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    result = lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), loader,
                     loss_fn=F.mse_loss, start_lr=1e-5, end_lr=10.0, num_iter=100,
                     progress=False)  # fmt: skip
    assert result.diverged  # 10 is far above 2/L, about 0.8 here
    for name in ("steepest", "min_over_10"):
        assert 1 / (10 * L) <= result.suggestions[name] <= 2 / L, name
    assert result.suggestions["valley"] <= 2 / L  # fastai's valley: still below the blow-up


def test_suggest_lrs_on_a_known_curve_and_short_curves():
    lrs = [10 ** (k / 10 - 4) for k in range(41)]  # 1e-4 .. 1
    # falls fastest at 1e-2 (a logistic in log10 lr), lowest at 1e-1, then rises
    curve = [1 / (1 + 10 ** (2 * (k / 10 - 2))) + max(0.0, k / 10 - 3) ** 2 for k in range(41)]
    s = suggest_lrs(lrs, curve, skip_start=0, skip_end=0)
    assert math.log10(s["steepest"]) == pytest.approx(-2.0, abs=1e-9)
    assert s["min_over_10"] == pytest.approx(lrs[30] / 10, rel=1e-12)  # minimum at 1e-1
    assert suggest_lrs(lrs[:2], curve[:2]) == {
        "steepest": None,
        "min_over_10": None,
        "valley": None,
    }
    short = suggest_lrs(lrs[:5], curve[:5], skip_start=10, skip_end=5)  # too short: no skipping
    assert short["steepest"] is not None
    with pytest.raises(ValueError, match="same length"):
        suggest_lrs(lrs, curve[:-1])


def fastai_valley(lrs, losses):
    """fastai 2.7's ``valley`` (callback/schedule.py), loop for loop, as an independent reference."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


@pytest.mark.parametrize("seed", range(5))
def test_valley_matches_fastai_on_noisy_range_test_curves(seed):
    rng = np.random.default_rng(seed)
    lrs = sweep_lrs(1e-6, 10.0, 120)
    k = np.arange(120)
    curve = 2.3 / (1 + np.exp((k - 60) / 8)) + np.maximum(0, k - 95) ** 1.5 / 10
    curve = list(curve + 0.05 * rng.standard_normal(120))
    assert valley(lrs, curve) == fastai_valley(lrs, curve)


def test_valley_lies_halfway_down_the_longest_descent():
    lrs = [10 ** (k / 10 - 4) for k in range(60)]
    curve = [3.0] * 10 + [3.0 - 0.1 * k for k in range(1, 21)] + [1.0 + 0.2 * k for k in range(30)]
    # strictly falling from index 9 to 29: the reading is 9 + 20/3 + 20/6 points in, index 18
    assert valley(lrs, curve) == lrs[18]
    assert valley(lrs[:2], curve[:2]) is None
    with pytest.raises(ValueError, match="same length"):
        valley(lrs, curve[:-1])
    assert suggest_lrs(lrs, curve, skip_start=0, skip_end=0)["valley"] == lrs[18]


def test_steepest_before_minimum_equals_steepest_when_the_minimum_comes_later():
    lrs = [10 ** (k / 10 - 4) for k in range(41)]
    curve = [1 / (1 + 10 ** (2 * (k / 10 - 2))) + max(0.0, k / 10 - 3) ** 2 for k in range(41)]
    steepest = suggest_lrs(lrs, curve, skip_start=0, skip_end=0)["steepest"]
    assert steepest_before_minimum(lrs, curve, skip_start=0) == steepest


def test_readings_name_every_reading_of_one_sweep():
    lrs = [10 ** (k / 10 - 4) for k in range(41)]
    curve = [1 / (1 + 10 ** (2 * (k / 10 - 2))) + max(0.0, k / 10 - 3) ** 2 for k in range(41)]
    result = LRFinderResult(lrs, curve, curve, suggest_lrs(lrs, curve), [1.0], False, min(curve))
    r = readings(result)
    assert r["minimum"] == lrs[30] and r["min_over_10"] == pytest.approx(lrs[30] / 10)
    assert r["steepest_before_min"] == steepest_before_minimum(lrs, curve)
    assert set(r) == {"minimum", "min_over_10", "steepest", "valley", "steepest_before_min"}
    empty = readings(LRFinderResult([], [], [], suggest_lrs([], []), [1.0], True, math.inf))
    assert empty["minimum"] is None and empty["valley"] is None


def test_sweep_lrs_is_geometric():
    lrs = sweep_lrs(1e-6, 1.0, 7)
    assert lrs == pytest.approx([10.0**k for k in range(-6, 1)], rel=1e-12)
    assert lrs[0] == 1e-6 and lrs[-1] == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"start_lr": 0.0}, "start_lr must be a finite number > 0, got 0.0"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr must be a finite number > 1, got 0.5"),
        ({"num_iter": 1}, "num_iter must be an integer >= 2, got 1"),
        ({"beta": 1.0}, r"beta must be a finite number in \[0, 1\), got 1.0"),
        ({"diverge_threshold": 1.0}, "diverge_threshold must be a finite number > 1, got 1.0"),
    ],
)
def test_lr_find_rejects_bad_arguments(kwargs, pattern):
    model, loader = classification_setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=pattern):
        lr_find(model, opt, loader, progress=False, **kwargs)


def test_plot_lr_finder_marks_the_suggestions():
    import matplotlib.pyplot as plt

    result = LRFinderResult(
        lrs=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        losses=[2.0, 1.9, 1.2, 0.9, 5.0],
        smoothed=[2.0, 1.95, 1.6, 1.3, 2.2],
        suggestions={"steepest": 1e-2, "min_over_10": 1e-2},
        group_ratios=[1.0],
        diverged=True,
        best_loss=1.3,
    )
    ax = plot_lr_finder(result)
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["loss", "smoothed loss", "steepest descent: 0.01", "minimum / 10: 0.01"]
    assert ax.get_xscale() == "log"
    plt.close(ax.figure)


def test_lr_find_restores_a_course_lib_optimizer():
    from course_lib import optim

    model, loader = classification_setup()
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    for x, y in list(loader)[:2]:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    before = snapshot(model, opt)
    result = lr_find(model, opt, loader, end_lr=1e4, num_iter=50, progress=False)
    assert result.diverged
    assert_same(before, snapshot(model, opt))
