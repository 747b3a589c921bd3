"""course_lib.optim takes the same steps as torch.optim: parameters and every state tensor.

Each case runs one of our optimizers and its torch twin side by side on copies of the same float64
tensors for 32 steps. The gradient is that of a deterministic pseudo-random loss,
f_t(θ) = Σ_i ||θ_i − c_{t,i}||² + 0.1 Σ_i sin(3 θ_i), with new targets c each step; some tensors
have ``grad=None`` on some steps (their state must not move) and one gets its first gradient late.
"""

from __future__ import annotations

import functools
import inspect
import itertools

import pytest
import torch

import course_lib.optim as ours

STEPS = 32
SHAPES = [(5, 3), (3,), (4,), (2, 2), (6,)]
RTOL, ATOL = 1e-8, 1e-12
NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam"]
TORCH_ONLY_ARGS = {"foreach", "fused", "capturable", "differentiable"}
# These take torch's foreach switch (course_lib.optim.foreach, tests/test_optim_foreach.py).
WITH_FOREACH = {"SGD", "Adam", "AdamW"}


@functools.cache
def problem(dtype=torch.float64):
    """Initial tensors and the targets c_{t,i} of every step (made once, reused by every case)."""
    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]
    targets = [[torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES] for _ in range(STEPS)]
    return init, targets


def has_grad(t: int, i: int) -> bool:
    """Which tensors get a gradient at step t: tensor 4 only from step 5 on; others skip a few."""
    if i == 4:
        return t >= 5
    return (t + i) % 4 != 0


def set_grads(params, t, targets):
    """p.grad = ∇f_t(p) = 2 (p − c) + 0.3 cos(3p), or None on the steps this tensor sits out."""
    for i, p in enumerate(params):
        if has_grad(t, i):
            x = p.detach()
            p.grad = 2 * (x - targets[t][i]) + 0.3 * torch.cos(3 * x)
        else:
            p.grad = None


# Per optimizer: the hyperparameter grid (skipping invalid combinations), and how the second and
# third groups of the "groups" layout differ from the first.
def sgd_grid():
    for mom, damp, nest, wd, maxi in itertools.product(
        [0, 0.9], [0, 0.5], [False, True], [0, 1e-2], [False, True]
    ):
        if nest and (mom == 0 or damp != 0):
            continue
        yield {
            "lr": 0.02,
            "momentum": mom,
            "dampening": damp,
            "nesterov": nest,
            "weight_decay": wd,
            "maximize": maxi,
        }


def adagrad_grid():
    for decay, init, wd, maxi in itertools.product([0, 0.1], [0, 0.5], [0, 1e-2], [False, True]):
        yield {
            "lr": 0.1,
            "lr_decay": decay,
            "initial_accumulator_value": init,
            "weight_decay": wd,
            "maximize": maxi,
        }


def rmsprop_grid():
    for centered, mom, wd, maxi in itertools.product(
        [False, True], [0, 0.9], [0, 1e-2], [False, True]
    ):
        yield {
            "lr": 0.01,
            "alpha": 0.9,
            "centered": centered,
            "momentum": mom,
            "weight_decay": wd,
            "maximize": maxi,
        }


def adam_grid():
    for ams, wd, maxi, betas, dec in itertools.product(
        [False, True], [0, 1e-2], [False, True], [(0.9, 0.999), (0.5, 0.9)], [False, True]
    ):
        if dec and wd == 0:
            continue  # decoupled makes no difference without weight decay
        yield {
            "lr": 0.05,
            "amsgrad": ams,
            "weight_decay": wd,
            "maximize": maxi,
            "betas": betas,
            "decoupled_weight_decay": dec,
        }


def adamw_grid():
    for ams, wd, maxi in itertools.product([False, True], [0, 0.1], [False, True]):
        yield {"lr": 0.05, "amsgrad": ams, "weight_decay": wd, "maximize": maxi}


def nadam_grid():
    for dec, wd, psi, maxi in itertools.product(
        [False, True], [0, 1e-2], [4e-3, 0.1], [False, True]
    ):
        if dec and wd == 0:
            continue
        yield {
            "lr": 0.05,
            "decoupled_weight_decay": dec,
            "weight_decay": wd,
            "momentum_decay": psi,
            "maximize": maxi,
        }


GRIDS = {
    "SGD": sgd_grid,
    "Adagrad": adagrad_grid,
    "RMSprop": rmsprop_grid,
    "Adam": adam_grid,
    "AdamW": adamw_grid,
    "NAdam": nadam_grid,
}
SECOND_GROUP = {
    "SGD": {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.03},
    "Adagrad": {"lr": 0.05, "lr_decay": 0.05, "eps": 1e-6},
    "RMSprop": {"lr": 0.003, "alpha": 0.99, "momentum": 0.5},
    "Adam": {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True},
    "AdamW": {"lr": 0.02, "weight_decay": 0.3, "betas": (0.7, 0.95)},
    "NAdam": {"lr": 0.01, "momentum_decay": 0.02, "betas": (0.8, 0.99)},
}
THIRD_GROUP = {  # added with add_param_group after step 3
    "SGD": {"lr": 0.01},
    "Adagrad": {"lr": 0.2, "weight_decay": 0.1},
    "RMSprop": {"lr": 0.02, "centered": True},
    "Adam": {"lr": 0.1, "weight_decay": 0.05},
    "AdamW": {"lr": 0.1, "amsgrad": True},
    "NAdam": {"lr": 0.03, "weight_decay": 0.05, "decoupled_weight_decay": True},
}


def run(cls, kwargs, layout, steps=STEPS, dtype=torch.float64):
    """Run ``cls`` for ``steps`` steps on fresh copies of the problem's tensors."""
    init, targets = problem(dtype)
    params = [x.clone().requires_grad_() for x in init]
    name = cls.__name__
    if layout == "one_group":
        opt = cls(params, **kwargs)
    else:
        opt = cls([{"params": params[:2]}, {"params": params[2:4], **SECOND_GROUP[name]}], **kwargs)
    for t in range(steps):
        if layout == "groups" and t == 3:
            opt.add_param_group({"params": params[4:], **THIRD_GROUP[name]})
        set_grads(params, t, targets)
        opt.step()
    return params, opt


def assert_same_state(our_opt, torch_opt, rtol=RTOL, atol=ATOL):
    """Same hyperparameters in every group, same state names, dtypes and values for every tensor."""
    assert len(our_opt.param_groups) == len(torch_opt.param_groups)
    for ours_group, torch_group in zip(our_opt.param_groups, torch_opt.param_groups):
        for key, value in ours_group.items():
            if key != "params":
                assert torch_group[key] == value, key
        for p, q in zip(ours_group["params"], torch_group["params"]):
            torch.testing.assert_close(p, q, rtol=rtol, atol=atol)
            ours_state, torch_state = our_opt.state.get(p, {}), torch_opt.state.get(q, {})
            assert set(ours_state) == set(torch_state)
            for key, value in torch_state.items():
                assert type(ours_state[key]) is type(value), key
                if isinstance(value, torch.Tensor):
                    assert ours_state[key].dtype == value.dtype, key
                    assert ours_state[key].device == value.device, key
                    torch.testing.assert_close(ours_state[key], value, rtol=rtol, atol=atol)
                else:
                    assert ours_state[key] == value, key


def _case_id(kwargs):
    return ",".join(f"{k}={v}" for k, v in kwargs.items() if k != "lr")


CASES = [
    pytest.param(name, kwargs, layout, id=f"{name}-{layout}-{_case_id(kwargs)}")
    for name in NAMES
    for kwargs in GRIDS[name]()
    for layout in ["one_group", "groups"]
]


@pytest.mark.parametrize(("name", "kwargs", "layout"), CASES)
def test_optimizer_matches_torch_over_hyperparameter_grid(name, kwargs, layout):
    our_params, our_opt = run(getattr(ours, name), kwargs, layout)
    _, torch_opt = run(getattr(torch.optim, name), kwargs, layout)
    assert_same_state(our_opt, torch_opt)
    # The run really moved the tensors (a do-nothing optimizer would fail above, but be explicit).
    init, _ = problem()
    assert all(not torch.equal(p.detach(), x) for p, x in zip(our_params, init))


@pytest.mark.parametrize("name", NAMES)
def test_steps_are_bit_for_bit_torchs(name):
    # The updates use torch's single-tensor float operations in torch's order, so on CPU the
    # results are not just close but identical (this catches even sqrt vs ** 0.5, or NAdam's
    # mu_product multiplied in float64 instead of its float32 tensor).
    for kwargs in (next(iter(GRIDS[name]())), list(GRIDS[name]())[-1]):
        _, our_opt = run(getattr(ours, name), kwargs, "groups")
        _, torch_opt = run(getattr(torch.optim, name), kwargs, "groups")
        assert_same_state(our_opt, torch_opt, rtol=0, atol=0)


def test_parity_grid_covers_every_optimizer():
    counts = {name: sum(1 for c in CASES if c.values[0] == name) for name in NAMES}
    assert all(n >= 8 for n in counts.values()), counts


@pytest.mark.parametrize("name", NAMES)
def test_float32_steps_match_torch(name):
    kwargs = next(iter(GRIDS[name]()))
    _, our_opt = run(getattr(ours, name), kwargs, "groups", dtype=torch.float32)
    _, torch_opt = run(getattr(torch.optim, name), kwargs, "groups", dtype=torch.float32)
    assert_same_state(our_opt, torch_opt, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr_matches_torch(name):
    kwargs = {"lr": torch.tensor(0.01, dtype=torch.float64)}
    _, our_opt = run(getattr(ours, name), kwargs, "one_group")
    _, torch_opt = run(getattr(torch.optim, name), kwargs, "one_group")
    assert_same_state(our_opt, torch_opt)


@pytest.mark.parametrize("name", NAMES)
def test_closure_loss_is_returned_and_steps_match_torch(name):
    def make():
        init, _ = problem()
        params = [x.clone().requires_grad_() for x in init[:2]]
        return params

    def closure_for(params, opt):
        def closure():
            opt.zero_grad()
            assert torch.is_grad_enabled()  # step runs under no_grad, the closure under enable_grad
            loss = sum(((p - 0.5) ** 2).sum() + torch.sin(p).sum() for p in params)
            loss.backward()
            return loss

        return closure

    results = []
    for cls in (getattr(ours, name), getattr(torch.optim, name)):
        params = make()
        opt = cls(params, lr=0.01)
        losses = [opt.step(closure_for(params, opt)).item() for _ in range(10)]
        results.append((losses, opt))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    assert results[0][0][-1] < results[0][0][0]
    assert_same_state(results[0][1], results[1][1])


@pytest.mark.parametrize("name", NAMES)
def test_step_without_closure_returns_none(name):
    p = torch.ones(2, requires_grad=True)
    opt = getattr(ours, name)([p])
    p.grad = torch.ones(2)
    assert opt.step() is None


@pytest.mark.parametrize("name", NAMES)
def test_named_parameters_are_accepted_like_torch(name):
    with torch.random.fork_rng():  # leave the global RNG as it was
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        x = torch.randn(8, 3)
    twin = torch.nn.Linear(3, 2)
    twin.load_state_dict(model.state_dict())
    our_opt = getattr(ours, name)(model.named_parameters(), lr=0.01)
    torch_opt = getattr(torch.optim, name)(twin.named_parameters(), lr=0.01)
    for m, opt in ((model, our_opt), (twin, torch_opt)):
        for _ in range(3):
            opt.zero_grad()
            m(x).square().mean().backward()
            opt.step()
    assert our_opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert our_opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    torch.testing.assert_close(model.weight, twin.weight, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_torchs_without_foreach_fused_capturable_differentiable(name):
    ours_sig = inspect.signature(getattr(ours, name))
    torch_sig = inspect.signature(getattr(torch.optim, name))
    left_out = TORCH_ONLY_ARGS - {"foreach"} if name in WITH_FOREACH else TORCH_ONLY_ARGS
    expected = [p for p in torch_sig.parameters.values() if p.name not in left_out]
    got = list(ours_sig.parameters.values())
    assert [p.name for p in got] == [p.name for p in expected]
    assert [p.default for p in got] == [p.default for p in expected]
    for p, q in zip(got, expected):
        # RMSprop's maximize follows torch's capturable/foreach positionally: ours makes it keyword only
        if not (name == "RMSprop" and p.name == "maximize"):
            assert p.kind == q.kind, p.name


@pytest.mark.parametrize("name", NAMES)
def test_group_keys_and_defaults_are_torchs(name):
    p = torch.zeros(2, requires_grad=True)
    ours_group = getattr(ours, name)([p]).param_groups[0]
    torch_group = getattr(torch.optim, name)([p]).param_groups[0]
    assert set(torch_group) - set(ours_group) <= TORCH_ONLY_ARGS
    assert {k: v for k, v in torch_group.items() if k in ours_group} == ours_group


@pytest.mark.parametrize("name", NAMES)
def test_subclasses_torch_optimizer(name):
    assert issubclass(getattr(ours, name), torch.optim.Optimizer)
    assert name in ours.__all__


def test_adamw_is_adam_with_decoupled_weight_decay():
    kwargs = {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}
    _, a = run(ours.AdamW, kwargs, "one_group")
    _, b = run(ours.Adam, {**kwargs, "decoupled_weight_decay": True}, "one_group")
    assert_same_state(a, b, rtol=0, atol=0)


def test_nesterov_differs_from_heavy_ball():
    _, a = run(ours.SGD, {"lr": 0.02, "momentum": 0.9, "nesterov": True}, "one_group")
    _, b = run(ours.SGD, {"lr": 0.02, "momentum": 0.9}, "one_group")
    p, q = a.param_groups[0]["params"][0], b.param_groups[0]["params"][0]
    assert not torch.allclose(p, q, rtol=1e-3)


def test_step_on_default_dtype_float64_keeps_float64_step_like_torch():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for name in ["Adagrad", "RMSprop", "Adam", "NAdam"]:
            p, q = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
            a, b = getattr(ours, name)([p]), getattr(torch.optim, name)([q])
            p.grad, q.grad = torch.ones(2), torch.ones(2)
            a.step()
            b.step()
            assert a.state[p]["step"].dtype == b.state[q]["step"].dtype == torch.float64
    finally:
        torch.set_default_dtype(old)
