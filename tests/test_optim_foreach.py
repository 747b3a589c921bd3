"""The multi-tensor path (``course_lib.optim.foreach``) of SGD, Adam and AdamW.

- ``foreach=True`` takes torch's ``foreach=True`` steps bit for bit (parameters and every state
  entry with its dtype), float32 and float64, over 20 steps with two parameter groups, a parameter
  that never has a gradient, one that misses it every third step, and a group mixing two dtypes;
- it also equals our single-tensor loop bit for bit on CPU (torch's CPU foreach ops run the same
  per-tensor kernels; on a GPU the expected tolerance would be float rounding, not checked here);
- the switch is chosen as torch chooses it (None: loop on CPU tensors), checked at construction,
  and a ``state_dict`` moves between the two paths and torch's without changing the run.
"""

from __future__ import annotations

import copy

import pytest
import torch

import course_lib.optim as ours
from course_lib.optim import adam as adam_module
from course_lib.optim import foreach
from course_lib.optim import sgd as sgd_module

STEPS = 20
CASES = {
    "SGD": [
        {"lr": 0.1},
        {"lr": 0.1, "momentum": 0.9},
        {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1, "maximize": True},
        {"lr": torch.tensor(0.1), "momentum": 0.5},  # torch's foreach SGD takes a tensor lr
    ],
    "Adam": [
        {"lr": 0.01},
        {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1},
        {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True},
    ],
    "AdamW": [
        {"lr": 0.01},
        {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "maximize": True},
    ],
}
PARAMS = [
    pytest.param(name, kwargs, id=f"{name}-{i}")
    for name, cases in CASES.items()
    for i, kwargs in enumerate(cases)
]
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def make_params(dtype):
    """Five tensors: the 4th misses its gradient every third step, the 5th never has one."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (7,), (2, 2, 2), (1,), (3,)]
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes]


def build(cls, params, kwargs, foreach_flag):
    """Two groups (the second with its own lr); ``foreach_flag`` None leaves the argument out."""
    kwargs = copy.deepcopy(kwargs)
    if foreach_flag is not None:
        kwargs["foreach"] = foreach_flag
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]
    return cls(groups, **kwargs)


def run(opt, params, steps=STEPS, start=0):
    for k in range(start, start + steps):
        opt.zero_grad()
        loss = sum(((p - 0.3) * torch.tanh(p)).sum() for p in params[:3])
        if k % 3:
            loss = loss + (params[3] ** 2).sum()
        loss.backward()
        opt.step()


def assert_bitwise(opt_a, opt_b):
    """Same parameters and state entries, bit for bit, with the same names and dtypes."""
    for group_a, group_b in zip(opt_a.param_groups, opt_b.param_groups, strict=True):
        for p, q in zip(group_a["params"], group_b["params"], strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=0)
            state_a, state_b = opt_a.state.get(p, {}), opt_b.state.get(q, {})
            assert set(state_a) == set(state_b)
            for key, value in state_b.items():
                assert state_a[key].dtype == value.dtype, key
                torch.testing.assert_close(state_a[key], value, rtol=0, atol=0)


def pair(name, kwargs, dtype, ours_flag, torch_flag):
    params_a, params_b = make_params(dtype), make_params(dtype)
    opt_a = build(getattr(ours, name), params_a, kwargs, ours_flag)
    opt_b = build(getattr(torch.optim, name), params_b, kwargs, torch_flag)
    return (opt_a, params_a), (opt_b, params_b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), PARAMS)
def test_foreach_steps_are_torchs_foreach_steps_bitwise(name, kwargs, dtype):
    (opt_a, params_a), (opt_b, params_b) = pair(name, kwargs, dtype, True, True)
    run(opt_a, params_a)
    run(opt_b, params_b)
    assert_bitwise(opt_a, opt_b)
    assert params_a[4].grad is None and params_a[4] not in opt_a.state  # never had a gradient
    assert not torch.equal(params_a[0], make_params(dtype)[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), PARAMS)
def test_foreach_steps_equal_our_single_tensor_loop_bitwise_on_cpu(name, kwargs, dtype):
    params_a, params_b = make_params(dtype), make_params(dtype)
    opt_a = build(getattr(ours, name), params_a, kwargs, True)
    opt_b = build(getattr(ours, name), params_b, kwargs, False)
    run(opt_a, params_a)
    run(opt_b, params_b)
    assert_bitwise(opt_a, opt_b)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_a_group_mixing_float32_and_float64_is_split_by_dtype_as_torch(name):
    def params():
        gen = torch.Generator().manual_seed(1)
        dtypes = [torch.float32, torch.float64, torch.float32]
        return [torch.randn(4, generator=gen, dtype=d).requires_grad_() for d in dtypes]

    params_a, params_b = params(), params()
    kwargs = {"lr": 0.01, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    opt_a = getattr(ours, name)(params_a, foreach=True, **kwargs)
    opt_b = getattr(torch.optim, name)(params_b, foreach=True, **kwargs)
    for opt, ps in ((opt_a, params_a), (opt_b, params_b)):
        for _ in range(5):
            opt.zero_grad()
            sum((p.sin() * p).sum() for p in ps).backward()
            opt.step()
    assert_bitwise(opt_a, opt_b)
    assert params_a[1].dtype == torch.float64


def spy(monkeypatch, module, function_name):
    """Count the calls of ``module.function_name`` (the foreach kernel a class calls)."""
    calls = []
    real = getattr(module, function_name)

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, function_name, counting)
    return calls


@pytest.mark.parametrize(
    ("name", "module", "function_name"),
    [
        ("SGD", sgd_module, "sgd_foreach"),
        ("Adam", adam_module, "adam_foreach"),
        ("AdamW", adam_module, "adam_foreach"),
    ],
)
def test_none_takes_the_loop_on_cpu_and_true_the_foreach_path(
    monkeypatch, name, module, function_name
):
    calls = spy(monkeypatch, module, function_name)
    for flag, expected_calls in ((None, 0), (False, 0), (True, 2)):  # 2 groups: one call each
        calls.clear()
        params = make_params(torch.float32)
        opt = build(getattr(ours, name), params, {"lr": 0.01}, flag)
        run(opt, params, steps=1, start=1)
        assert len(calls) == expected_calls, flag


def test_default_rule_is_torchs_cpu_loop_and_foreach_on_foreach_devices(monkeypatch):
    w = torch.zeros(2, requires_grad=True)
    w.grad = torch.ones(2)
    assert not foreach.use_foreach(None, [w], 0.1)
    # A device type with foreach kernels switches None on, as torch does for CUDA tensors.
    monkeypatch.setattr(foreach, "foreach_device_types", lambda: ("cpu",))
    assert foreach.use_foreach(None, [w], 0.1)
    assert not foreach.use_foreach(None, [w], torch.tensor(0.1), tensor_lr=False)
    assert not foreach.use_foreach(False, [w], 0.1)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
@pytest.mark.parametrize("bad", [1, 0, "yes", "True"])
def test_foreach_other_than_none_true_false_is_a_type_error_at_construction(name, bad):
    with pytest.raises(TypeError, match=rf"^foreach must be None, True or False, got {bad!r}"):
        getattr(ours, name)(make_params(torch.float32), foreach=bad)
    opt = getattr(ours, name)(make_params(torch.float32)[:1])
    with pytest.raises(TypeError, match=r"^param_groups\[1\]: foreach must be None, True or"):
        opt.add_param_group({"params": make_params(torch.float32)[1:2], "foreach": bad})


def test_foreach_is_stored_in_the_groups_only_when_given():
    assert "foreach" not in ours.SGD(make_params(torch.float32)).param_groups[0]
    assert ours.AdamW(make_params(torch.float32), foreach=False).param_groups[0]["foreach"] is False
    assert ours.Adam(make_params(torch.float32), foreach=True).defaults["foreach"] is True


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_foreach_refuses_a_tensor_lr_as_torch_and_none_takes_the_loop(name):
    cls = getattr(ours, name)
    message = r"^lr as a Tensor is not supported for capturable=False and foreach=True"
    with pytest.raises(ValueError, match=message):
        cls(make_params(torch.float32), lr=torch.tensor(0.01), foreach=True)
    opt = cls(make_params(torch.float32), lr=0.01, foreach=True)
    opt.param_groups[0]["lr"] = torch.tensor(0.01)  # set after construction: refused at the step
    with pytest.raises(RuntimeError, match=message):
        run(opt, opt.param_groups[0]["params"], steps=1)
    # None never switches itself onto that path: a tensor lr steps as torch's default does.
    (opt_a, params_a), (opt_b, params_b) = pair(
        name, {"lr": torch.tensor(0.01)}, torch.float32, None, None
    )
    run(opt_a, params_a)
    run(opt_b, params_b)
    assert_bitwise(opt_a, opt_b)


@pytest.mark.parametrize(("name", "kwargs"), PARAMS)
def test_state_dict_moves_between_paths_and_torch_mid_run(name, kwargs):
    """Ours-foreach -> torch-loop and torch-foreach -> ours-foreach after 10 steps, 10 more:
    both equal an uninterrupted torch foreach run bit for bit."""
    ref_params = make_params(torch.float64)
    reference = build(getattr(torch.optim, name), ref_params, kwargs, True)
    run(reference, ref_params)
    for first, second in ((ours, torch.optim), (torch.optim, ours)):
        params = make_params(torch.float64)
        opt = build(getattr(first, name), params, kwargs, True)
        run(opt, params, steps=STEPS // 2)
        resumed = build(getattr(second, name), params, kwargs, second is ours or None)
        resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
        run(resumed, params, steps=STEPS // 2, start=STEPS // 2)
        assert_bitwise(resumed, reference)


def test_foreach_nesterov_leaves_the_gradient_as_it_was_where_torchs_overwrites_it():
    """torch's foreach Nesterov SGD adds μ b into p.grad in place (d_t ends up in p.grad); ours
    takes the same steps and leaves p.grad as backward() wrote it."""
    results = {}
    for lib in (ours, torch.optim):
        p = torch.ones(3, requires_grad=True)
        opt = lib.SGD([p], lr=0.1, momentum=0.9, nesterov=True, foreach=True)
        for _ in range(2):
            p.grad = torch.ones(3)
            opt.step()
        results[lib] = (p.detach().clone(), p.grad.clone())
    torch.testing.assert_close(results[ours][0], results[torch.optim][0], rtol=0, atol=0)
    assert torch.equal(results[ours][1], torch.ones(3))
    assert not torch.equal(results[torch.optim][1], torch.ones(3))  # 1 + 0.9 * 1.9 = 2.71
