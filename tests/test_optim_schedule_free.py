"""AdamWScheduleFree against the pinned reference package (``schedulefree==1.4.1``), step by step:
parameters (in train and eval mode), per-parameter state and per-group bookkeeping bit for bit, with
warm-up, weight decay and two groups; train()/eval(), state_dict both ways, bad inputs."""

from __future__ import annotations

import copy
import math

import pytest
import schedulefree
import torch
from torch import nn

from course_lib.optim import AdamWScheduleFree

STEPS = 36
EVAL_EVERY = 9
KWARGS = {"lr": 0.02, "betas": (0.9, 0.99), "weight_decay": 0.05, "warmup_steps": 6, "r": 0.5}
# The second group differs in every hyperparameter.
SECOND_GROUP = {
    "lr": 0.005,
    "betas": (0.8, 0.999),
    "eps": 1e-6,
    "weight_decay": 0.2,
    "warmup_steps": 10,
    "r": 0.0,
    "weight_lr_power": 1.0,
}
BOOKKEEPING = ("k", "train_mode", "weight_sum", "lr_max", "scheduled_lr")


def mlp(dtype=torch.float32):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


def data(dtype=torch.float32):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(32, 5, generator=gen).to(dtype), torch.randn(32, 3, generator=gen).to(dtype)


def build(cls, model, **extra):
    groups = [
        {"params": list(model[0].parameters())},
        {"params": list(model[2].parameters()), **SECOND_GROUP},
    ]
    return cls(groups, **KWARGS, **extra)


def reference(model, foreach=False):
    return build(schedulefree.AdamWScheduleFree, model, foreach=foreach)


def train_step(opt, model, t):
    """One full-batch step; the output bias sits out (grad None) on every third step."""
    x, y = data(next(model.parameters()).dtype)
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    if t % 3 == 0:
        model[2].bias.grad = None
    opt.step()


def run(opt, model, start=0, stop=STEPS):
    """Train from ``start`` to ``stop``, switching to eval and back every EVAL_EVERY steps;
    return the parameters seen in eval mode each time."""
    seen = []
    opt.train()
    for t in range(start, stop):
        train_step(opt, model, t)
        if (t + 1) % EVAL_EVERY == 0:
            opt.eval()
            seen.append([p.detach().clone() for p in model.parameters()])
            opt.train()
    return seen


def max_relative_difference(a, b):
    return ((a - b).abs() / b.abs().clamp_min(1e-30)).max().item()


def assert_same_as_reference(opt, ref):
    """Bit for bit: parameters, z and exp_avg_sq, and every group's bookkeeping."""
    for group, ref_group in zip(opt.param_groups, ref.param_groups, strict=True):
        for key in BOOKKEEPING:
            assert group[key] == ref_group[key], key
        for p, q in zip(group["params"], ref_group["params"], strict=True):
            assert max_relative_difference(p, q) == 0
            assert set(opt.state[p]) == set(ref.state[q])
            for key, value in ref.state[q].items():
                assert opt.state[p][key].dtype == value.dtype
                assert max_relative_difference(opt.state[p][key], value) == 0, key


@pytest.mark.parametrize("foreach", [False, True], ids=["loop", "foreach"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_36_steps_with_warmup_decay_and_two_groups_are_the_references_bitwise(dtype, foreach):
    model, ref_model = mlp(dtype), mlp(dtype)
    opt, ref = build(AdamWScheduleFree, model), reference(ref_model, foreach)
    seen, ref_seen = run(opt, model), run(ref, ref_model)
    assert_same_as_reference(opt, ref)
    for ours_x, ref_x in zip(seen, ref_seen, strict=True):  # x in eval mode, every 9 steps
        assert all(torch.equal(a, b) for a, b in zip(ours_x, ref_x, strict=True))
    assert len(seen) == STEPS // EVAL_EVERY
    assert opt.param_groups[0]["k"] == STEPS and opt.param_groups[1]["scheduled_lr"] == 0.005
    assert not torch.equal(seen[-1][0], mlp(dtype)[0].weight)


def test_a_tensor_lr_steps_as_the_reference_bitwise():
    """A 0-d tensor γ flows through the same bookkeeping (lr_max, weight_sum become tensors)."""
    params, ref_params = mlp(), mlp()
    opts = [
        AdamWScheduleFree(params.parameters(), lr=torch.tensor(0.01), warmup_steps=3),
        schedulefree.AdamWScheduleFree(
            ref_params.parameters(), lr=torch.tensor(0.01), warmup_steps=3
        ),
    ]
    for opt, model in zip(opts, (params, ref_params)):
        run(opt, model, stop=10)
    assert_same_as_reference(*opts)
    assert isinstance(opts[0].param_groups[0]["weight_sum"], torch.Tensor)


def test_eval_holds_x_and_train_holds_y_as_the_docstring_says():
    """x = (y − (1 − β1) z) / β1, and y = (1 − β1) z + β1 x (float64, up to rounding)."""
    model = mlp(torch.float64)
    opt = build(AdamWScheduleFree, model)
    run(opt, model, stop=12)
    y = [p.detach().clone() for p in model.parameters()]
    opt.eval()
    for p, p_y, group in zip(model.parameters(), y, [0, 0, 1, 1]):  # hidden layer, output layer
        beta1, z = opt.param_groups[group]["betas"][0], opt.state[p]["z"]
        torch.testing.assert_close(p.detach(), (p_y - (1 - beta1) * z) / beta1, rtol=1e-12, atol=0)
    opt.train()
    for p, p_y in zip(model.parameters(), y):
        torch.testing.assert_close(p.detach(), p_y, rtol=1e-12, atol=1e-15)


def test_eval_and_train_twice_change_nothing_the_second_time():
    model = mlp()
    opt = build(AdamWScheduleFree, model)
    run(opt, model, stop=5)
    opt.eval()
    x = [p.detach().clone() for p in model.parameters()]
    opt.eval()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), x))
    opt.train()
    y = [p.detach().clone() for p in model.parameters()]
    opt.train()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), y))


def test_with_r_zero_and_no_warmup_x_is_the_plain_mean_of_the_z_iterates():
    """c_{t+1} = 1/t, so x_{t+1} = (z_2 + ... + z_{t+1}) / t."""
    p = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    opt = AdamWScheduleFree([p], lr=0.1)
    opt.train()
    zs = []
    for _ in range(8):
        p.grad = torch.sin(3 * p.detach()) + p.detach()
        opt.step()
        zs.append(opt.state[p]["z"].clone())
    opt.eval()
    torch.testing.assert_close(p.detach(), torch.stack(zs).mean(0), rtol=1e-12, atol=0)


def test_step_in_eval_mode_is_refused_before_the_closure_runs_as_the_reference_does():
    calls = []

    def closure():
        calls.append(1)
        return torch.tensor(0.0)

    for cls in (schedulefree.AdamWScheduleFree, AdamWScheduleFree):
        opt = cls([torch.zeros(2, requires_grad=True)])  # both start in eval mode
        with pytest.raises(Exception, match=r"train mode|eval mode"):
            opt.step(closure)
    assert calls == []
    opt.train()
    opt.eval()
    with pytest.raises(
        RuntimeError, match=r"eval mode \(param_groups \[0\]\).*optimizer\.train\(\)"
    ):
        opt.step()


def test_a_group_added_in_train_mode_trains_and_switches_with_the_others():
    model = mlp()
    opt = AdamWScheduleFree(model[0].parameters(), lr=0.01)
    opt.train()
    opt.add_param_group({"params": model[2].parameters()})
    assert opt.param_groups[1]["train_mode"] is True
    run(opt, model, stop=4)
    before = model[2].weight.detach().clone()
    opt.eval()
    assert not torch.equal(model[2].weight, before)  # moved to x with the rest
    opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)]})
    assert opt.param_groups[2]["train_mode"] is False


def test_a_parameter_without_gradient_gets_no_state_and_never_moves():
    model = mlp()
    frozen = nn.Parameter(torch.ones(3))
    opt = AdamWScheduleFree([*model.parameters(), frozen], lr=0.01, weight_decay=0.1)
    run(opt, model, stop=10)
    opt.eval()
    assert frozen not in opt.state and torch.equal(frozen, torch.ones(3))


def copy_parameters(source, target):
    with torch.no_grad():
        for p, q in zip(source.parameters(), target.parameters()):
            q.copy_(p)


@pytest.mark.parametrize("direction", ["ours to ours", "reference to ours", "ours to reference"])
def test_state_dict_mid_run_resumes_bitwise(direction):
    """Save at step 15 (train mode: the model holds y), load into a fresh optimizer on a copy of the
    model, finish the run: the same as the reference's uninterrupted run."""
    first_cls, second_cls = {
        "ours to ours": (AdamWScheduleFree, AdamWScheduleFree),
        "reference to ours": (schedulefree.AdamWScheduleFree, AdamWScheduleFree),
        "ours to reference": (AdamWScheduleFree, schedulefree.AdamWScheduleFree),
    }[direction]
    model, resumed_model = mlp(), mlp()
    opt = build(first_cls, model)
    run(opt, model, stop=18)
    copy_parameters(model, resumed_model)
    resumed = build(second_cls, resumed_model)
    resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
    if second_cls is schedulefree.AdamWScheduleFree:
        for group in resumed.param_groups:  # ours has no foreach key; the reference reads it
            group.setdefault("foreach", False)
    assert resumed.param_groups[0]["train_mode"] is True and resumed.param_groups[0]["k"] == 18
    run(resumed, resumed_model, start=18)

    ref_model = mlp()
    ref = reference(ref_model)
    run(ref, ref_model)
    assert_same_as_reference(resumed, ref)


def w():
    return [torch.zeros(3, requires_grad=True)]


BAD = [
    ({"betas": (0.0, 0.999)}, ValueError, r"^betas\[0\] must be a finite number in \(0, 1\) for "),
    ({"betas": (1.0, 0.999)}, ValueError, r"^betas\[0\] must be a finite number in \[0, 1\)"),
    ({"betas": (0.9, 1.0)}, ValueError, r"^betas\[1\] must be a finite number in \[0, 1\)"),
    ({"lr": -0.1}, ValueError, r"^lr must be a finite number >= 0, got -0\.1$"),
    ({"eps": math.nan}, ValueError, r"^eps must be a finite number >= 0, got nan$"),
    ({"weight_decay": -1}, ValueError, r"^weight_decay must be a finite number >= 0, got -1$"),
    ({"warmup_steps": 2.5}, TypeError, r"^warmup_steps must be an integer >= 0, got 2\.5"),
    ({"warmup_steps": -1}, ValueError, r"^warmup_steps must be an integer >= 0, got -1$"),
    ({"r": -0.5}, ValueError, r"^r must be a finite number >= 0, got -0\.5$"),
    ({"weight_lr_power": math.inf}, ValueError, r"^weight_lr_power must be a finite number >= 0"),
    ({"foreach": True}, TypeError, r"unexpected keyword argument 'foreach'"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_argument_is_refused_at_construction_naming_it(kwargs, error, message):
    with pytest.raises(error, match=message):
        AdamWScheduleFree(w(), **kwargs)


@pytest.mark.parametrize(
    ("group", "error", "message"),
    [
        ({"warmup_steps": -3}, ValueError, r"^param_groups\[1\]: warmup_steps must be an integer"),
        ({"train_mode": 1}, TypeError, r"^param_groups\[1\]: train_mode must be True or False"),
        ({"k": -1}, ValueError, r"^param_groups\[1\]: k must be an integer >= 0, got -1$"),
    ],
)
def test_bad_group_value_is_refused_naming_the_group(group, error, message):
    with pytest.raises(error, match=message):
        AdamWScheduleFree([{"params": w()}, {"params": w(), **group}])


def test_the_gradient_is_left_as_it_was_where_the_reference_overwrites_it():
    grads = []
    for cls in (AdamWScheduleFree, schedulefree.AdamWScheduleFree):
        p = torch.ones(2, requires_grad=True)
        p.grad = torch.tensor([3.0, -4.0])
        opt = cls([p])
        opt.train()
        opt.step()
        grads.append(p.grad)
    assert torch.equal(grads[0], torch.tensor([3.0, -4.0]))
    assert not torch.equal(grads[1], torch.tensor([3.0, -4.0]))
