"""The optimizers torch lacks equal their pinned reference packages step by step, and refuse bad input.

Lion against lion-pytorch 0.2.5; Yogi, Lamb and LARS against pytorch-optimizer 4.1.0 (requirements.txt
pins both).
Each case trains a small two-layer network (a matrix and a bias per layer, two parameter groups with
their own lr and weight_decay, and a parameter that never gets a gradient) from identical float32
starts, each optimizer computing its own gradients, and compares parameters and state at every step.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import pytest
import torch
from lion_pytorch import Lion as RefLion
from pytorch_optimizer import LARS as RefLARS
from pytorch_optimizer import Lamb as RefLamb
from pytorch_optimizer import Yogi as RefYogi

from course_lib.optim import LARS, Lamb, Lion, Yogi, by_name

STEPS = 32
SECOND_GROUP = {"lr": 0.003, "weight_decay": 0.05}


def start_tensors() -> list[torch.Tensor]:
    """W1 (4, 3), b1 (4,), W2 (2, 4), b2 (2,) and an unused (3,) vector, float32 leaves."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (4,), (2, 4), (2,), (3,)]
    return [torch.randn(s, generator=gen).requires_grad_() for s in shapes]


def groups(params: list[torch.Tensor], second: dict) -> list[dict]:
    """Group 0: layer 1 and the unused vector; group 1: layer 2 with its own lr and weight_decay."""
    w1, b1, w2, b2, unused = params
    return [{"params": [w1, b1, unused]}, {"params": [w2, b2], **second}]


def loss_of(params: list[torch.Tensor], t: int) -> torch.Tensor:
    """Mean squared error of tanh(x W1ᵀ + b1) W2ᵀ + b2 on the batch of step t (the unused one aside)."""
    gen = torch.Generator().manual_seed(100 + t)
    x, y = torch.randn(8, 3, generator=gen), torch.randn(8, 2, generator=gen)
    w1, b1, w2, b2, _ = params
    return ((torch.tanh(x @ w1.T + b1) @ w2.T + b2 - y) ** 2).mean()


def set_grads(params: list[torch.Tensor], t: int, sign: float = 1.0) -> None:
    for p in params:
        p.grad = None
    (sign * loss_of(params, t)).backward()


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| / max |b| (0 when both are zero)."""
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff / scale if scale > 0 else diff


def max_relative_difference(ours, ref, params, ref_params, keys) -> float:
    """The largest relative difference between the parameters and the named state tensors."""
    worst = 0.0
    for p, q in zip(params, ref_params):
        worst = max(worst, relative(p.detach(), q.detach()))
        assert (p in ours.state) == (q in ref.state)
        for key in keys if p in ours.state else ():  # Lamb's reference keeps a trust of 1 as 1.0
            worst = max(worst, relative(ours.state[p][key], torch.as_tensor(ref.state[q][key])))
    return worst


class Case(NamedTuple):
    cls: type
    ref_cls: type
    kwargs: dict  # given to both
    keys: tuple[str, ...]  # the state entries compared
    tolerance: float = 0.0  # the largest relative difference allowed; 0 is bitwise equality
    per_tensor: bool = (
        False  # pytorch_optimizer's per-tensor loop (foreach=False), the one ours follows
    )
    ref_negates: bool = False  # ours maximizes f, the reference (which cannot) minimizes −f


ADAM_KEYS = ("exp_avg", "exp_avg_sq")
LAMB_KEYS = (*ADAM_KEYS, "weight_norm", "adam_norm", "trust_ratio")
CASES = {
    "lion": Case(Lion, RefLion, {"lr": 0.01, "weight_decay": 0.1}, ("exp_avg",)),
    "lion-defaults": Case(Lion, RefLion, {}, ("exp_avg",)),
    "lion-decoupled": Case(
        Lion,
        RefLion,
        {"lr": 0.01, "weight_decay": 1e-3, "decoupled_weight_decay": True},
        ("exp_avg",),
    ),
    "lion-maximize": Case(
        Lion, RefLion, {"lr": 0.01, "weight_decay": 0.1}, ("exp_avg",), ref_negates=True
    ),
    "yogi": Case(Yogi, RefYogi, {"lr": 0.03, "weight_decay": 0.01}, ADAM_KEYS),
    "yogi-defaults": Case(Yogi, RefYogi, {}, ADAM_KEYS),
    "yogi-per-tensor": Case(Yogi, RefYogi, {"lr": 0.03}, ADAM_KEYS, per_tensor=True),
    "yogi-l2": Case(
        Yogi,
        RefYogi,
        {"lr": 0.03, "weight_decay": 0.01, "weight_decouple": False, "betas": (0.8, 0.99)},
        ADAM_KEYS,
    ),
    "yogi-fixed-decay": Case(
        Yogi,
        RefYogi,
        {"weight_decay": 0.01, "fixed_decay": True, "initial_accumulator": 0.1, "eps": 1e-6},
        ADAM_KEYS,
    ),
    "yogi-maximize": Case(
        Yogi, RefYogi, {"lr": 0.03, "weight_decay": 0.01, "maximize": True}, ADAM_KEYS
    ),
    "lamb": Case(Lamb, RefLamb, {"lr": 0.01, "weight_decay": 0.01}, LAMB_KEYS, per_tensor=True),
    "lamb-defaults": Case(Lamb, RefLamb, {}, LAMB_KEYS, per_tensor=True),
    # The reference's default batched path rounds m/(√v + ε) and γ·trust differently (lamb.py).
    "lamb-batched": Case(Lamb, RefLamb, {"lr": 0.01, "weight_decay": 0.01}, LAMB_KEYS, 1e-5),
    "lamb-paper-decay": Case(
        Lamb,
        RefLamb,
        {"lr": 0.01, "weight_decay": 0.01, "weight_decouple": False, "grad_averaging": False},
        LAMB_KEYS,
        per_tensor=True,
    ),
    "lamb-adam-adamd": Case(
        Lamb,
        RefLamb,
        {"lr": 0.01, "adam": True, "adam_debias": True, "weight_decay": 0.1, "fixed_decay": True},
        LAMB_KEYS,
        per_tensor=True,
    ),
    "lamb-maximize": Case(
        Lamb, RefLamb, {"lr": 0.01, "maximize": True}, LAMB_KEYS, per_tensor=True
    ),
    "lars": Case(LARS, RefLARS, {"lr": 0.5, "weight_decay": 0.01}, ("momentum_buffer",)),
    "lars-defaults": Case(LARS, RefLARS, {}, ("momentum_buffer",)),
    "lars-per-tensor": Case(
        LARS,
        RefLARS,
        {"lr": 0.5, "weight_decay": 0.01},
        ("momentum_buffer",),
        per_tensor=True,
    ),
    "lars-nesterov": Case(
        LARS,
        RefLARS,
        {"lr": 0.5, "nesterov": True, "dampening": 0.1, "trust_coefficient": 0.02},
        ("momentum_buffer",),
    ),
    "lars-no-momentum": Case(LARS, RefLARS, {"lr": 0.5, "momentum": 0.0}, ()),
    "lars-maximize": Case(
        LARS, RefLARS, {"lr": 0.5, "weight_decay": 0.01, "maximize": True}, ("momentum_buffer",)
    ),
}


def run_pair(case: Case):
    """Train ours and the reference side by side; return the worst difference over every step."""
    params = start_tensors()
    ref_params = [p.detach().clone().requires_grad_() for p in params]
    ours_kwargs = {**case.kwargs, "maximize": True} if case.ref_negates else case.kwargs
    ours = case.cls(groups(params, SECOND_GROUP), **ours_kwargs)
    ref_kwargs = {**case.kwargs, "foreach": False} if case.per_tensor else case.kwargs
    ref = case.ref_cls(groups(ref_params, SECOND_GROUP), **ref_kwargs)
    worst = 0.0
    for t in range(STEPS):
        set_grads(params, t)
        set_grads(ref_params, t, sign=-1.0 if case.ref_negates else 1.0)
        ours.step()
        ref.step()
        worst = max(worst, max_relative_difference(ours, ref, params, ref_params, case.keys))
    return worst, params, ours


@pytest.mark.parametrize("name", CASES)
def test_parameters_and_state_equal_the_reference_package_at_every_step(name):
    worst, params, ours = run_pair(CASES[name])
    assert worst <= CASES[name].tolerance, f"{name}: max relative difference {worst:.3g}"
    unused = params[4]
    assert unused not in ours.state and torch.equal(unused, start_tensors()[4])
    assert not torch.equal(params[0], start_tensors()[0])  # the run moved the parameters


@pytest.mark.parametrize(
    "name", ["lion-decoupled", "yogi-l2", "yogi-maximize", "lamb", "lars-nesterov"]
)
def test_state_dict_round_trip_continues_the_same_run(name):
    cls, kwargs = CASES[name].cls, CASES[name].kwargs
    params = start_tensors()
    first = cls(groups(params, SECOND_GROUP), **kwargs)
    for t in range(5):
        set_grads(params, t)
        first.step()
    saved = copy.deepcopy(first.state_dict())
    twins = [p.detach().clone().requires_grad_() for p in params]
    second = cls(groups(twins, {"lr": 1.0}), **kwargs)  # the saved groups' values must win
    second.load_state_dict(saved)
    assert second.param_groups[1]["lr"] == SECOND_GROUP["lr"]
    for t in range(5, 12):
        set_grads(params, t)
        set_grads(twins, t)
        first.step()
        second.step()
    for p, q in zip(params, twins):
        assert torch.equal(p, q)
        assert first.state[p].keys() == second.state[q].keys()
        for key, value in first.state[p].items():
            assert torch.equal(value, second.state[q][key]), key


def test_lion_moves_every_coordinate_by_exactly_lr():
    w = torch.zeros(4, requires_grad=True)
    opt = Lion([w], lr=0.01)
    w.grad = torch.tensor([50.0, -1e-4, 1e-9, 0.0])  # gradients 10 orders of magnitude apart
    opt.step()
    assert torch.equal(w.detach(), torch.tensor([-0.01, 0.01, -0.01, 0.0]))


def test_yogi_second_moment_falls_by_a_fixed_amount_where_adam_falls_by_a_factor():
    """After one large gradient, small ones shrink Adam's v by β2 a step, Yogi's by (1 − β2) g²."""
    beta2 = 0.9
    w = torch.zeros(1, requires_grad=True)
    opt = Yogi([w], lr=0.0, betas=(0.9, beta2), initial_accumulator=0.0)
    w.grad = torch.tensor([10.0])
    opt.step()
    v_yogi = opt.state[w]["exp_avg_sq"].item()
    assert v_yogi == pytest.approx((1 - beta2) * 100.0)
    v_adam = v_yogi
    for _ in range(10):
        w.grad = torch.tensor([0.1])
        opt.step()
        v_adam = beta2 * v_adam + (1 - beta2) * 0.01
    assert opt.state[w]["exp_avg_sq"].item() == pytest.approx(v_yogi - 10 * (1 - beta2) * 0.01)
    assert v_adam < 0.4 * v_yogi  # Adam forgot the large gradient; Yogi still remembers it


def test_lamb_moves_every_layer_by_the_same_fraction_of_its_norm():
    """Weights 1000x apart in size: Adam would move both by the same amount, Lamb by γ/(1 − β1) each."""
    gen = torch.Generator().manual_seed(3)
    small = (1e-3 * torch.randn(3, 4, generator=gen)).requires_grad_()
    large = torch.randn(3, 4, generator=gen).requires_grad_()
    before = [small.detach().clone(), large.detach().clone()]
    opt = Lamb([small, large], lr=0.01)
    for p in (small, large):
        p.grad = torch.randn(3, 4, generator=gen)
    opt.step()
    for p, p0 in zip((small, large), before):
        change = (p.detach() - p0).norm() / p0.norm()
        assert change.item() == pytest.approx(0.01 / (1 - 0.9), rel=1e-4)
    ratio = opt.state[large]["trust_ratio"] / opt.state[small]["trust_ratio"]
    assert ratio.item() == pytest.approx((before[1].norm() / before[0].norm()).item(), rel=1e-3)


def test_lamb_takes_a_trust_ratio_of_one_for_a_zero_tensor():
    bias = torch.zeros(3, requires_grad=True)
    opt = Lamb([bias], lr=0.01)
    bias.grad = torch.tensor([1.0, -2.0, 0.5])
    opt.step()
    assert opt.state[bias]["weight_norm"] == 0 and opt.state[bias]["trust_ratio"] == 1
    assert isinstance(opt.state[bias]["trust_ratio"], torch.Tensor)  # the reference keeps 1.0
    assert not torch.equal(bias.detach(), torch.zeros(3))  # an Adam step, not a frozen bias


def test_lars_rescales_matrices_only_and_leaves_vectors_to_plain_sgd():
    gen = torch.Generator().manual_seed(4)
    weight = torch.randn(3, 4, generator=gen).requires_grad_()
    bias = torch.randn(3, generator=gen).requires_grad_()
    w0, b0 = weight.detach().clone(), bias.detach().clone()
    opt = LARS([weight, bias], lr=0.5, momentum=0.0, weight_decay=0.1, trust_coefficient=0.01)
    weight.grad = 1e3 * torch.randn(3, 4, generator=gen)
    bias.grad = torch.randn(3, generator=gen)
    opt.step()
    assert torch.equal(bias.detach(), b0 - 0.5 * bias.grad)  # no decay, no rescaling
    g = weight.grad + 0.1 * w0
    expected = 0.5 * 0.01 * w0.norm() / (weight.grad.norm() + 0.1 * w0.norm()) * g.norm()
    assert (weight.detach() - w0).norm().item() == pytest.approx(expected.item(), rel=1e-5)
    assert (weight.detach() - w0).norm() < 0.5 * 0.01 * w0.norm()  # c‖θ‖ bounds it, not ‖g‖


@pytest.mark.parametrize(("cls", "ref_cls"), [(Yogi, RefYogi), (Lamb, RefLamb)])
def test_steps_are_counted_per_parameter_where_the_reference_counts_per_group(cls, ref_cls):
    """A tensor whose first gradient comes at step 4 starts its bias correction at t = 1 here."""
    ours = [torch.ones(3, requires_grad=True) for _ in range(3)]  # always, late, late alone
    theirs = [torch.ones(3, requires_grad=True) for _ in range(2)]  # always, late
    opts = [cls(ours[:2], lr=0.01), cls(ours[2:], lr=0.01), ref_cls(theirs, lr=0.01)]
    for t in range(6):
        for always, late in ((ours[0], ours[1]), (None, ours[2]), (theirs[0], theirs[1])):
            if always is not None:
                always.grad = torch.full((3,), 0.5)
            late.grad = torch.tensor([1.0, -2.0, 3.0]) if t >= 3 else None
        for opt in opts:
            opt.step()
    assert opts[0].state[ours[1]]["step"].item() == 3 and opts[2].param_groups[0]["step"] == 6
    assert torch.equal(ours[1], ours[2])  # as if it had been trained alone from step 4 on
    assert not torch.equal(theirs[1], ours[2])  # the reference's t = 4, 5, 6 bias correction


@pytest.mark.parametrize("cls", [Lion, Yogi, Lamb, LARS])
def test_the_gradient_is_left_untouched(cls):
    """pytorch_optimizer negates, decays and rescales p.grad in place; ours reads it only."""
    kwargs = {"weight_decay": 0.1, "maximize": True}
    if cls in (Yogi, Lamb):
        kwargs["weight_decouple"] = False
    w = torch.ones(2, 3, requires_grad=True)
    opt = cls([w], **kwargs)
    w.grad = torch.arange(6.0).reshape(2, 3)
    opt.step()
    assert torch.equal(w.grad, torch.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("name", ["LARS", "Lamb", "Lion", "Yogi"])
def test_by_name_builds_the_class(name):
    opt = by_name(name.lower(), [torch.zeros(2, requires_grad=True)], lr=0.5)
    assert type(opt).__name__ == name and opt.defaults["lr"] == 0.5


NAN = math.nan
# (class, keyword arguments, exception type, message regex): each names the argument
BAD_INPUTS = [
    (Lion, {"lr": -1e-4}, ValueError, r"^lr must be a finite number >= 0, got -0\.0001$"),
    (Lion, {"betas": (1.0, 0.99)}, ValueError, r"^betas\[0\] must be a finite number in \[0, 1\)"),
    (Lion, {"betas": (0.9, -0.1)}, ValueError, r"^betas\[1\] must be a finite number in \[0, 1\)"),
    (Lion, {"betas": 0.9}, TypeError, r"^betas must be a tuple of two numbers, got 0\.9$"),
    (Lion, {"weight_decay": -0.1}, ValueError, r"^weight_decay must be a finite number >= 0"),
    (Lion, {"weight_decay": NAN}, ValueError, r"^weight_decay must be a finite number >= 0"),
    (Lion, {"decoupled_weight_decay": 1}, TypeError, r"^decoupled_weight_decay must be True or"),
    (Lion, {"maximize": "no"}, TypeError, r"^maximize must be True or False, got 'no'"),
    (
        Lion,
        {"lr": 0.0, "weight_decay": 0.1, "decoupled_weight_decay": True},
        ValueError,
        r"^decoupled_weight_decay=True divides weight_decay by the constructor's lr, which must "
        r"then be > 0, got lr=0\.0$",
    ),
    (Lion, {"use_triton": True}, TypeError, r"unexpected keyword argument 'use_triton'"),
    (Yogi, {"lr": -0.01}, ValueError, r"^lr must be a finite number >= 0, got -0\.01$"),
    (Yogi, {"betas": (0.9, 1.0)}, ValueError, r"^betas\[1\] must be a finite number in \[0, 1\)"),
    (Yogi, {"eps": -1e-3}, ValueError, r"^eps must be a finite number >= 0, got -0\.001$"),
    (Yogi, {"weight_decay": -0.01}, ValueError, r"^weight_decay must be a finite number >= 0"),
    (Yogi, {"initial_accumulator": -1.0}, ValueError, r"^initial_accumulator must be a finite"),
    (Yogi, {"weight_decouple": None}, TypeError, r"^weight_decouple must be True or False"),
    (Yogi, {"fixed_decay": 0}, TypeError, r"^fixed_decay must be True or False, got 0"),
    (Yogi, {"maximize": 1}, TypeError, r"^maximize must be True or False, got 1 of type int$"),
    (Yogi, {"foreach": True}, TypeError, r"unexpected keyword argument 'foreach'"),
    (Yogi, {"adam_debias": True}, TypeError, r"unexpected keyword argument 'adam_debias'"),
    (Lamb, {"lr": -1e-3}, ValueError, r"^lr must be a finite number >= 0, got -0\.001$"),
    (Lamb, {"betas": (0.9, 1.5)}, ValueError, r"^betas\[1\] must be a finite number in \[0, 1\)"),
    (Lamb, {"eps": -1e-6}, ValueError, r"^eps must be a finite number >= 0, got -1e-06$"),
    (Lamb, {"weight_decay": -0.01}, ValueError, r"^weight_decay must be a finite number >= 0"),
    (Lamb, {"adam": "yes"}, TypeError, r"^adam must be True or False, got 'yes' of type str$"),
    (Lamb, {"adam_debias": 1}, TypeError, r"^adam_debias must be True or False, got 1"),
    (Lamb, {"grad_averaging": None}, TypeError, r"^grad_averaging must be True or False"),
    (Lamb, {"weight_decouple": 0}, TypeError, r"^weight_decouple must be True or False"),
    (Lamb, {"rectify": True}, TypeError, r"unexpected keyword argument 'rectify'"),
    (Lamb, {"pre_norm": True}, TypeError, r"unexpected keyword argument 'pre_norm'"),
    (Lamb, {"max_grad_norm": 1.0}, TypeError, r"unexpected keyword argument 'max_grad_norm'"),
    (LARS, {"lr": -0.1}, ValueError, r"^lr must be a finite number >= 0, got -0\.1$"),
    (LARS, {"weight_decay": -1.0}, ValueError, r"^weight_decay must be a finite number >= 0"),
    (
        LARS,
        {"momentum": 1.0},
        ValueError,
        r"^momentum must be a finite number in \[0, 1\), got 1\.0",
    ),
    (LARS, {"momentum": -0.9}, ValueError, r"^momentum must be a finite number in \[0, 1\)"),
    (LARS, {"dampening": 1.0}, ValueError, r"^dampening must be a finite number in \[0, 1\)"),
    (LARS, {"trust_coefficient": -1e-3}, ValueError, r"^trust_coefficient must be a finite"),
    (LARS, {"trust_coefficient": NAN}, ValueError, r"^trust_coefficient must be a finite"),
    (LARS, {"nesterov": "on"}, TypeError, r"^nesterov must be True or False, got 'on'"),
    (
        LARS,
        {"nesterov": True, "momentum": 0.0},
        ValueError,
        r"^nesterov=True requires momentum > 0, got momentum=0$",
    ),
    (LARS, {"foreach": False}, TypeError, r"unexpected keyword argument 'foreach'"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "message"),
    BAD_INPUTS,
    ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _, _ in BAD_INPUTS],
)
def test_bad_input_is_refused_at_construction_naming_the_argument(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls([torch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("cls", [Lion, Yogi, Lamb, LARS])
def test_a_bad_group_value_is_refused_naming_the_group(cls):
    w, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match=r"^param_groups\[1\]: weight_decay must be a finite"):
        cls([{"params": [w]}, {"params": [b], "weight_decay": -1.0}])
