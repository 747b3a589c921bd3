"""Adadelta, Adamax and RAdam beyond torch's optim_db (tests/test_optim_db.py): bad inputs with
their messages, two groups and a parameter without gradient, 30 steps on a small MLP bitwise equal
to torch in float32 and float64, state_dict both ways, and the maths each docstring states."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
from torch import nn

import course_lib.optim as ours
from course_lib.optim.radam import rectification

NAMES = ["Adadelta", "Adamax", "RAdam"]
STEPS = 30
# Every switch on, and a second group that differs in every number it can.
SETTINGS = {
    "Adadelta": {"lr": 0.5, "rho": 0.95, "eps": 1e-6, "weight_decay": 1e-2, "maximize": False},
    "Adamax": {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-8, "weight_decay": 1e-2},
    "RAdam": {
        "lr": 0.01,
        "betas": (0.9, 0.99),
        "weight_decay": 1e-2,
        "decoupled_weight_decay": True,
    },
}
SECOND_GROUP = {
    "Adadelta": {"lr": 1.0, "rho": 0.8, "weight_decay": 0},
    "Adamax": {"lr": 0.002, "betas": (0.5, 0.9), "maximize": True},
    "RAdam": {"lr": 0.02, "betas": (0.5, 0.999), "decoupled_weight_decay": False},
}


def mlp(dtype):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


def groups(model):
    """Two groups (hidden layer, output layer), the second with SECOND_GROUP's values."""
    hidden, output = list(model[0].parameters()), list(model[2].parameters())
    return hidden, output


def build(cls, name, model):
    hidden, output = groups(model)
    return cls([{"params": hidden}, {"params": output, **SECOND_GROUP[name]}], **SETTINGS[name])


def train(opt, model, steps, start=0):
    """``steps`` full-batch steps of a regression on fixed data; the output bias sits out on even
    steps (grad None), so its state must not move then."""
    gen = torch.Generator().manual_seed(1)
    dtype = next(model.parameters()).dtype
    x = torch.randn(16, 5, generator=gen).to(dtype)
    y = torch.randn(16, 3, generator=gen).to(dtype)
    for t in range(start, start + steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        if t % 2 == 0:
            model[2].bias.grad = None
        opt.step()


def assert_bitwise(opt, torch_opt):
    for group, torch_group in zip(opt.param_groups, torch_opt.param_groups, strict=True):
        for p, q in zip(group["params"], torch_group["params"], strict=True):
            assert torch.equal(p, q)
            assert set(opt.state[p]) == set(torch_opt.state[q])
            for key, value in torch_opt.state[q].items():
                assert opt.state[p][key].dtype == value.dtype, key
                assert torch.equal(opt.state[p][key], value), key


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_thirty_steps_on_an_mlp_with_two_groups_are_torchs_bitwise(name, dtype):
    model, torch_model = mlp(dtype), mlp(dtype)
    opt = build(getattr(ours, name), name, model)
    torch_opt = build(getattr(torch.optim, name), name, torch_model)
    train(opt, model, STEPS)
    train(torch_opt, torch_model, STEPS)
    assert_bitwise(opt, torch_opt)
    assert opt.state[model[2].bias]["step"].item() == STEPS // 2  # it sat out every other step
    assert not torch.equal(model[0].weight, mlp(dtype)[0].weight)


@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_without_gradient_is_left_alone_and_gets_no_state(name):
    model = mlp(torch.float64)
    frozen = nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = getattr(ours, name)([*model.parameters(), frozen], **SETTINGS[name])
    train(opt, model, 3)
    assert frozen not in opt.state
    assert torch.equal(frozen, torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("direction", ["ours to torch", "torch to ours"])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_moves_both_ways_and_the_run_continues_bitwise(name, direction):
    """Run 12 steps, move the state_dict into a fresh optimizer of the other kind, run 18 more:
    the same as 30 uninterrupted steps of torch's."""
    classes = [getattr(ours, name), getattr(torch.optim, name)]
    first, second = classes if direction == "ours to torch" else classes[::-1]
    model = mlp(torch.float32)
    opt = build(first, name, model)
    train(opt, model, 12)
    resumed = build(second, name, model)
    resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert resumed.param_groups[1]["lr"] == SECOND_GROUP[name]["lr"]
    train(resumed, model, STEPS - 12, start=12)

    reference_model = mlp(torch.float32)
    reference = build(getattr(torch.optim, name), name, reference_model)
    train(reference, reference_model, STEPS)
    assert_bitwise(resumed, reference)


def w():
    return [torch.zeros(3, requires_grad=True)]


BAD = [
    ("Adadelta", {"rho": 1.1}, ValueError, r"^rho must be a finite number in \[0, 1\], got 1\.1$"),
    (
        "Adadelta",
        {"rho": -0.1},
        ValueError,
        r"^rho must be a finite number in \[0, 1\], got -0\.1$",
    ),
    (
        "Adadelta",
        {"rho": math.nan},
        ValueError,
        r"^rho must be a finite number in \[0, 1\], got nan",
    ),
    (
        "Adadelta",
        {"rho": "0.9"},
        TypeError,
        r"^rho must be a finite number in \[0, 1\], got '0\.9'",
    ),
    ("Adadelta", {"lr": -1.0}, ValueError, r"^lr must be a finite number >= 0, got -1\.0$"),
    ("Adadelta", {"eps": -1e-6}, ValueError, r"^eps must be a finite number >= 0, got -1e-06$"),
    ("Adadelta", {"maximize": 1}, TypeError, r"^maximize must be True or False, got 1"),
    (
        "Adamax",
        {"betas": (0.9, 1.0)},
        ValueError,
        r"^betas\[1\] must be a finite number in \[0, 1\)",
    ),
    (
        "Adamax",
        {"betas": (-0.1, 0.9)},
        ValueError,
        r"^betas\[0\] must be a finite number in \[0, 1\)",
    ),
    ("Adamax", {"betas": 0.9}, TypeError, r"^betas must be a tuple of two numbers, got 0\.9$"),
    ("Adamax", {"eps": math.inf}, ValueError, r"^eps must be a finite number >= 0, got inf$"),
    ("Adamax", {"weight_decay": -1}, ValueError, r"^weight_decay must be a finite number >= 0"),
    (
        "RAdam",
        {"betas": (1.0, 0.9)},
        ValueError,
        r"^betas\[0\] must be a finite number in \[0, 1\)",
    ),
    (
        "RAdam",
        {"betas": (0.9, torch.tensor(0.99))},
        TypeError,
        r"^betas\[1\] must be a plain number",
    ),
    (
        "RAdam",
        {"decoupled_weight_decay": "yes"},
        TypeError,
        r"^decoupled_weight_decay must be True",
    ),
    ("RAdam", {"lr": torch.tensor([0.1, 0.2])}, ValueError, r"^Tensor lr must be 1-element"),
]


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), BAD)
def test_bad_hyperparameter_is_refused_at_construction_naming_it(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(ours, name)(w(), **kwargs)


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), BAD)
def test_bad_hyperparameter_in_a_second_group_names_the_group(name, kwargs, error, message):
    groups = [{"params": w()}, {"params": w(), **kwargs}]
    with pytest.raises(error, match=r"^param_groups\[1\]: " + message.removeprefix("^")):
        getattr(ours, name)(groups)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("Adadelta", {"rho": 0.0}), ("Adadelta", {"rho": 1.0})]
)
def test_rho_at_both_ends_is_accepted_and_steps_as_torch(name, kwargs):
    params, torch_params = w(), w()
    opt, torch_opt = ours.Adadelta(params, **kwargs), torch.optim.Adadelta(torch_params, **kwargs)
    for p, q in zip(params, torch_params):
        p.grad, q.grad = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([1.0, -2.0, 3.0])
    opt.step()
    torch_opt.step()
    assert torch.equal(params[0], torch_params[0]) and not torch.equal(params[0], torch.zeros(3))


@pytest.mark.parametrize("name", NAMES)
def test_torch_only_switches_are_not_arguments(name):
    for flag in ("foreach", "capturable", "differentiable"):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{flag}'"):
            getattr(ours, name)(w(), **{flag: False})


def test_adadelta_first_step_has_the_same_size_whatever_the_gradient_scale():
    """u_0 = 0, so |d_1| = √ε |g| / √((1 − ρ) g² + ε) ≈ √ε / √(1 − ρ) for |g| >> √ε."""
    p = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([1e-1, 1.0, 1e2, 1e4], dtype=torch.float64)
    ours.Adadelta([p], rho=0.9, eps=1e-6).step()
    torch.testing.assert_close(
        p.detach().abs(), torch.full((4,), 1e-3 / 0.1**0.5, dtype=torch.float64), rtol=1e-3, atol=0
    )


def test_adamax_exp_inf_is_the_discounted_maximum_of_past_gradients():
    """u_t = max(β2 u_{t-1}, |g_t| + ε) unrolls to u_t = max_i β2^(t−i) (|g_i| + ε)."""
    beta2, eps = 0.9, 1e-8
    gen = torch.Generator().manual_seed(2)
    grads = [torch.randn(6, generator=gen, dtype=torch.float64) * 3**i for i in range(-3, 4)]
    p = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    opt = ours.Adamax([p], betas=(0.9, beta2), eps=eps)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    t = len(grads)
    unrolled = torch.stack([beta2 ** (t - i) * (g.abs() + eps) for i, g in enumerate(grads, 1)])
    torch.testing.assert_close(opt.state[p]["exp_inf"], unrolled.amax(0), rtol=1e-14, atol=0)


def test_radam_rho_t_and_r_t_follow_the_papers_formulas():
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1
    assert rho_inf == pytest.approx(1999)
    assert [t for t in range(1, 20) if rectification(beta2, t)[1] is None] == [1, 2, 3, 4, 5]
    rs = [rectification(beta2, t)[1] for t in (6, 100, 1000, 10**5)]
    assert all(a < b for a, b in itertools.pairwise(rs)) and rs[-1] == pytest.approx(1, abs=1e-6)
    rho_t, r_t = rectification(beta2, 50)
    assert rho_t == pytest.approx(rho_inf - 100 * beta2**50 / (1 - beta2**50), rel=1e-15)
    expected = (
        (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    ) ** 0.5
    assert r_t == pytest.approx(expected, rel=1e-15)


def test_radam_steps_are_momentum_steps_while_rho_t_is_at_most_five_then_adaptive():
    """Steps 1-5 move θ by exactly γ m̂_t (the gradient's scale, here 100); step 6 by
    γ r_6 m̂_6 √(1 − β2^6) / (√v_6 + ε), about γ r_6 for a steady gradient."""
    lr, g = 1e-3, torch.tensor([100.0, -100.0], dtype=torch.float64)
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = ours.RAdam([p], lr=lr)
    moves = []
    for _ in range(6):
        before = p.detach().clone()
        p.grad = g.clone()
        opt.step()
        moves.append((before - p.detach()).abs().max().item())
    assert moves[:5] == pytest.approx([lr * 100] * 5, rel=1e-12)  # m̂_t = g for a steady g
    assert moves[5] == pytest.approx(lr * rectification(0.999, 6)[1], rel=1e-8)
