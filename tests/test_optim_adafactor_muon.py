"""Adafactor and Muon beyond torch's optim_db (tests/test_optim_db.py): bad inputs with their
messages, Muon's refusal of non-matrices, two groups and a parameter without gradient, 30 steps on a
small model bitwise equal to torch in float32 and float64, state_dict both ways, Adafactor's state
size and the maths the docstrings state."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import course_lib.optim as ours
from course_lib.optim.muon import adjusted_lr, newton_schulz
from course_lib.param_groups import Rule, split

STEPS = 30
SETTINGS = {
    "Adafactor": {
        "lr": 0.05,
        "beta2_decay": -0.7,
        "eps": (1e-6, 1e-3),
        "d": 1.5,
        "weight_decay": 0.1,
    },
    "Muon": {"lr": 0.02, "weight_decay": 0.05, "momentum": 0.9, "ns_steps": 6},
}
SECOND_GROUP = {
    "Adafactor": {"lr": 0.2, "beta2_decay": -1.0, "eps": (None, 1e-2), "maximize": True},
    "Muon": {"lr": 0.01, "nesterov": False, "adjust_lr_fn": "match_rms_adamw", "momentum": 0.5},
}


class Net(nn.Module):
    """For Adafactor: matrices, vectors and a 3-D tensor (factored over its last two dims);
    for Muon (``matrices_only``): three matrices, a tall, a wide and a square one."""

    def __init__(self, dtype, matrices_only=False):
        super().__init__()
        torch.manual_seed(0)
        bias = not matrices_only
        self.hidden = nn.Linear(5, 8, bias=bias).to(dtype)  # 8×5: tall
        self.mix = nn.Linear(8, 8, bias=bias).to(dtype)
        self.out = nn.Linear(8, 3, bias=bias).to(dtype)  # 3×8: wide
        extra = torch.randn(2, 3, 4) if not matrices_only else torch.randn(3, 3)
        self.extra = nn.Parameter(extra.to(dtype))

    def forward(self, x):
        h = torch.tanh(self.mix(torch.tanh(self.hidden(x))))
        return self.out(h) + self.extra.sum() * 0.1

    def groups(self):
        first = [self.hidden.weight, self.mix.weight, self.extra]
        if self.hidden.bias is not None:
            first += [self.hidden.bias, self.mix.bias]
        return first, list(self.out.parameters())


def build(cls, name, model):
    first, second = model.groups()
    groups = [{"params": first}, {"params": second, **SECOND_GROUP[name]}]
    return cls(groups, **SETTINGS[name])


def train(opt, model, steps, start=0):
    """Full-batch regression steps; the output weight sits out on even steps (grad None)."""
    gen = torch.Generator().manual_seed(1)
    dtype = next(model.parameters()).dtype
    x = torch.randn(16, 5, generator=gen).to(dtype)
    y = torch.randn(16, 3, generator=gen).to(dtype)
    for t in range(start, start + steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        if t % 2 == 0:
            model.out.weight.grad = None
        opt.step()


def assert_bitwise(opt, torch_opt):
    for group, torch_group in zip(opt.param_groups, torch_opt.param_groups, strict=True):
        for p, q in zip(group["params"], torch_group["params"], strict=True):
            assert torch.equal(p, q)
            assert set(opt.state[p]) == set(torch_opt.state[q])
            for key, value in torch_opt.state[q].items():
                assert opt.state[p][key].dtype == value.dtype, key
                assert torch.equal(opt.state[p][key], value), key


def fresh(name, dtype=torch.float32):
    return Net(dtype, matrices_only=name == "Muon")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_thirty_steps_with_two_groups_are_torchs_bitwise(name, dtype):
    model, torch_model = fresh(name, dtype), fresh(name, dtype)
    opt = build(getattr(ours, name), name, model)
    torch_opt = build(getattr(torch.optim, name), name, torch_model)
    train(opt, model, STEPS)
    train(torch_opt, torch_model, STEPS)
    assert_bitwise(opt, torch_opt)
    assert not torch.equal(model.out.weight, fresh(name, dtype).out.weight)
    if name == "Adafactor":
        assert (
            opt.state[model.out.weight]["step"].item() == STEPS // 2
        )  # it sat out every other step


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_a_parameter_without_gradient_is_left_alone_and_gets_no_state(name):
    model = fresh(name, torch.float64)
    frozen = nn.Parameter(torch.ones(3, 2, dtype=torch.float64))
    opt = getattr(ours, name)([*model.parameters(), frozen], **SETTINGS[name])
    train(opt, model, 3)
    assert frozen not in opt.state
    assert torch.equal(frozen, torch.ones(3, 2, dtype=torch.float64))


@pytest.mark.parametrize("direction", ["ours to torch", "torch to ours"])
@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_state_dict_moves_both_ways_and_the_run_continues_bitwise(name, direction):
    """12 steps, the state_dict into a fresh optimizer of the other kind, 18 more: the same as 30
    uninterrupted steps of torch's."""
    classes = [getattr(ours, name), getattr(torch.optim, name)]
    first, second = classes if direction == "ours to torch" else classes[::-1]
    model = fresh(name)
    opt = build(first, name, model)
    train(opt, model, 12)
    resumed = build(second, name, model)
    resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert resumed.param_groups[1]["lr"] == SECOND_GROUP[name]["lr"]
    train(resumed, model, STEPS - 12, start=12)

    reference_model = fresh(name)
    reference = build(getattr(torch.optim, name), name, reference_model)
    train(reference, reference_model, STEPS)
    assert_bitwise(resumed, reference)


def params_for(name):
    return [torch.zeros(3, 2, requires_grad=True)]


BAD = [
    ("Adafactor", {"lr": -1.0}, ValueError, r"^lr must be a finite number >= 0, got -1\.0$"),
    (
        "Adafactor",
        {"beta2_decay": 0.5},
        ValueError,
        r"^beta2_decay must be a finite number <= 0, got 0\.5$",
    ),
    (
        "Adafactor",
        {"eps": (-1.0, 1e-3)},
        ValueError,
        r"^eps\[0\] must be a finite number >= 0, got -1\.0 \(or None: the dtype's machine epsilon\)$",
    ),
    (
        "Adafactor",
        {"eps": ("1e-30", 1e-3)},
        TypeError,
        r"^eps\[0\] must be a finite number >= 0, got '1e-30' of type str \(or None",
    ),
    ("Adafactor", {"eps": (None, -1e-3)}, ValueError, r"^eps\[1\] must be a finite number >= 0"),
    ("Adafactor", {"eps": (None, None)}, TypeError, r"^eps\[1\] must be a finite number >= 0"),
    ("Adafactor", {"eps": 1e-3}, TypeError, r"^eps must be a pair \(eps1, eps2\) of numbers"),
    ("Adafactor", {"d": 0.5}, ValueError, r"^d must be a finite number >= 1, got 0\.5$"),
    ("Adafactor", {"d": math.inf}, ValueError, r"^d must be a finite number >= 1, got inf$"),
    (
        "Adafactor",
        {"weight_decay": -0.1},
        ValueError,
        r"^weight_decay must be a finite number >= 0",
    ),
    ("Adafactor", {"maximize": 1}, TypeError, r"^maximize must be True or False, got 1"),
    ("Muon", {"lr": torch.tensor([0.1, 0.2])}, ValueError, r"^Tensor lr must be 1-element"),
    (
        "Muon",
        {"momentum": 1.0},
        ValueError,
        r"^momentum must be a finite number in \[0, 1\), got 1\.0$",
    ),
    ("Muon", {"momentum": -0.5}, ValueError, r"^momentum must be a finite number in \[0, 1\)"),
    ("Muon", {"weight_decay": -0.1}, ValueError, r"^weight_decay must be a finite number >= 0"),
    ("Muon", {"nesterov": "yes"}, TypeError, r"^nesterov must be True or False, got 'yes'"),
    (
        "Muon",
        {"ns_coefficients": (3.0, -4.0)},
        TypeError,
        r"^ns_coefficients must be a tuple of three numbers \(a, b, c\), got \(3\.0, -4\.0\)$",
    ),
    (
        "Muon",
        {"ns_coefficients": (3.0, math.nan, 2.0)},
        ValueError,
        r"^ns_coefficients\[1\] must be a finite number, got nan$",
    ),
    ("Muon", {"eps": -1e-7}, ValueError, r"^eps must be a finite number >= 0, got -1e-07$"),
    (
        "Muon",
        {"ns_steps": 100},
        ValueError,
        r"^ns_steps must be an integer in \[0, 99\], got 100$",
    ),
    ("Muon", {"ns_steps": 5.0}, TypeError, r"^ns_steps must be an integer in \[0, 99\], got 5\.0"),
    (
        "Muon",
        {"adjust_lr_fn": "rms"},
        ValueError,
        r"^adjust_lr_fn must be one of None, 'original', 'match_rms_adamw', got 'rms'$",
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), BAD)
def test_bad_hyperparameter_is_refused_at_construction_naming_it(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(ours, name)(params_for(name), **kwargs)


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), BAD)
def test_bad_hyperparameter_in_a_second_group_names_the_group(name, kwargs, error, message):
    groups = [{"params": params_for(name)}, {"params": params_for(name), **kwargs}]
    with pytest.raises(error, match=r"^param_groups\[1\]: " + message.removeprefix("^")):
        getattr(ours, name)(groups)


def test_muon_refuses_a_non_matrix_naming_its_position_its_shape_and_where_it_belongs():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    with pytest.raises(ValueError) as info:
        ours.Muon(model.parameters())
    message = str(info.value)
    assert message.startswith(
        "Muon only supports 2D parameters (matrices), but params[1] of param group 0 has shape "
        "(8,) (1-D). Put biases, norm weights, embeddings and, as practice does, the first and "
        "last layers in an AdamW group of their own"
    )
    assert "course_lib.param_groups" in message and "AdamW" in message
    with pytest.raises(ValueError, match=r"params\[1\] \('0\.bias'\) of param group 0 has shape"):
        ours.Muon(model.named_parameters())
    scalar, cube = torch.zeros((), requires_grad=True), torch.zeros(2, 2, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"params\[0\] of param group 1 has shape \(\) \(0-D\)"):
        ours.Muon([{"params": [model[0].weight]}, {"params": [scalar]}])
    with pytest.raises(ValueError, match=r"has shape \(2, 2, 2\) \(3-D\)"):
        ours.Muon([cube])


def test_muon_add_param_group_refuses_a_non_matrix_and_keeps_the_optimizer_as_it_was():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    opt = ours.Muon([model[0].weight])
    with pytest.raises(ValueError, match=r"params\[0\] of param group 1 has shape \(8,\) \(1-D\)"):
        opt.add_param_group({"params": [model[0].bias]})
    assert len(opt.param_groups) == 1
    torch_opt = torch.optim.Muon([model[0].weight.detach().clone().requires_grad_()])
    torch_opt.add_param_group({"params": [model[0].bias]})  # torch checks the constructor only
    assert len(torch_opt.param_groups) == 2
    opt.add_param_group({"params": [model[1].weight], "lr": 0.1})
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 0.1]


def is_matrix(name, param):
    return param.ndim == 2


def test_muon_for_the_matrices_and_adamw_for_the_rest_through_param_groups_is_torchs_bitwise():
    runs = []
    for lib in (ours, torch.optim):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
        matrices, rest = split(model, [Rule(predicate=is_matrix, name="matrices")], rest=True)
        assert [tuple(p.shape) for p in matrices["params"]] == [(8, 4), (2, 8)]
        muon = lib.Muon([matrices["params"]][0], lr=0.02)
        adamw = lib.AdamW(rest["params"], lr=1e-3)
        x, y = torch.randn(16, 4), torch.randn(16, 2)
        for _ in range(10):
            muon.zero_grad()
            adamw.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            muon.step()
            adamw.step()
        runs.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def test_newton_schulz_is_what_torchs_muon_applies_and_leaves_its_input_alone():
    from torch.optim._muon import _zeropower_via_newtonschulz as torchs

    gen = torch.Generator().manual_seed(0)
    for shape in [(6, 4), (4, 6), (5, 5), (1, 7)]:
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            g = torch.randn(shape, generator=gen).to(dtype)
            for args in [((3.4445, -4.775, 2.0315), 5, 1e-7), ((3.4, -4.7, 2.0), 8, 1e-3)]:
                ours_ = newton_schulz(g, *args)
                theirs = torchs(g.clone(), *args)
                assert ours_.dtype == torch.bfloat16 and ours_.shape == g.shape
                assert torch.equal(ours_, theirs)
            kept = g.clone()
            newton_schulz(g)
            assert torch.equal(g, kept)
    g = torch.randn(4, 6, generator=gen).bfloat16()
    kept = g.clone()
    torchs(g, (3.4445, -4.775, 2.0315), 5, 1e-7)
    assert not torch.equal(g, kept)  # torch's divides a bfloat16 input in place


def test_newton_schulz_maps_each_singular_value_by_the_quintic_and_keeps_the_vectors():
    """X_k = U p^k(S/‖G‖_F) V^T with p(σ) = aσ + bσ³ + cσ⁵, up to bfloat16's rounding."""
    gen = torch.Generator().manual_seed(3)
    g = torch.randn(12, 7, generator=gen, dtype=torch.float64)
    u, s, vh = torch.linalg.svd(g, full_matrices=False)
    a, b, c = 3.4445, -4.775, 2.0315
    sigma = s / s.norm()
    for steps in range(0, 7):
        expected = u @ torch.diag(sigma) @ vh
        result = newton_schulz(g, ns_steps=steps).double()
        assert (result - expected).abs().max() < 0.05 * max(1.0, expected.abs().max().item())
        sigma = a * sigma + b * sigma**3 + c * sigma**5
    after_five = torch.linalg.svdvals(newton_schulz(g).double())
    assert after_five.min() > 0.6 and after_five.max() < 1.25  # about 1, in a band, not exactly 1
    assert (after_five - 1).abs().max() > 0.05


@pytest.mark.parametrize(
    ("grad", "kwargs", "error", "message"),
    [
        (
            torch.zeros(3),
            {},
            ValueError,
            r"^grad must be a 2-D floating-point tensor .*, got \(3,\)",
        ),
        ([[1.0]], {}, ValueError, r"^grad must be a 2-D floating-point tensor .*, got list$"),
        (torch.zeros(2, 2, dtype=torch.int64), {}, ValueError, r"^grad must be a 2-D floating"),
        (torch.zeros(2, 2), {"ns_steps": 100}, ValueError, r"^ns_steps must be an integer in"),
        (torch.zeros(2, 2), {"ns_steps": -1}, ValueError, r"^ns_steps must be an integer in"),
        (torch.zeros(2, 2), {"ns_coefficients": (1.0,)}, TypeError, r"^ns_coefficients must be"),
        (torch.zeros(2, 2), {"eps": -1.0}, ValueError, r"^eps must be a finite number >= 0"),
    ],
)
def test_newton_schulz_refuses_bad_input(grad, kwargs, error, message):
    with pytest.raises(error, match=message):
        newton_schulz(grad, **kwargs)


@pytest.mark.parametrize(("rows", "cols"), [(64, 16), (16, 64), (32, 32)])
def test_lr_adjustments_give_the_rms_the_docstring_says(rows, cols):
    """U V^T of an A×B matrix has RMS 1/√max(A, B): "original" makes it 1/√B, "match_rms_adamw" 0.2."""
    g = torch.randn(rows, cols, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    rms = (u @ vh).pow(2).mean().sqrt().item()
    assert rms == pytest.approx(1 / math.sqrt(max(rows, cols)))
    shape = torch.Size([rows, cols])
    assert rms * adjusted_lr(1.0, "original", shape) == pytest.approx(1 / math.sqrt(cols))
    assert rms * adjusted_lr(1.0, None, shape) == pytest.approx(1 / math.sqrt(cols))
    assert rms * adjusted_lr(1.0, "match_rms_adamw", shape) == pytest.approx(0.2)


def test_muon_momentum_is_an_average_and_nesterov_mixes_in_the_gradient():
    w = torch.zeros(3, 4, requires_grad=True)
    opt = ours.Muon([w], momentum=0.9, weight_decay=0.0)
    grads = [torch.randn(3, 4, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    b = torch.zeros(3, 4)
    for g in grads:
        w.grad = g.clone()
        before = w.detach().clone()
        opt.step()
        b = 0.9 * b + 0.1 * g
        assert torch.allclose(opt.state[w]["momentum_buffer"], b, atol=1e-6)
        step = (before - w.detach()) / adjusted_lr(1e-3, None, w.shape)
        assert torch.allclose(step, newton_schulz(0.1 * g + 0.9 * b).float(), atol=1e-6)


def test_muon_bfloat16_buffer_stays_the_average_where_torchs_is_divided_in_place():
    """nesterov=False with a bfloat16 parameter: torch's iteration divides the buffer itself by its
    norm (docs/differences.md); ours keeps b_t = μ b_{t-1} + (1 − μ) g_t."""
    g = torch.randn(4, 6, generator=torch.Generator().manual_seed(0)).bfloat16()
    buffers = []
    for cls in (ours.Muon, torch.optim.Muon):
        w = torch.zeros(4, 6, dtype=torch.bfloat16, requires_grad=True)
        opt = cls([w], nesterov=False)
        w.grad = g.clone()
        opt.step()
        buffers.append(opt.state[w]["momentum_buffer"].float())
    average = (0.05 * g).float()
    assert torch.allclose(buffers[0], average, rtol=1e-2)
    assert buffers[1].norm().item() == pytest.approx(1.0, abs=0.01)
    assert average.norm().item() < 0.5


def test_adafactor_state_is_n_plus_m_floats_for_an_n_by_m_matrix():
    sizes = {}
    for shape in [(200, 50), (64, 64), (2, 30, 40), (50,)]:
        w = torch.zeros(shape, requires_grad=True)
        opt = ours.Adafactor([w])
        w.grad = torch.ones(shape)
        opt.step()
        torch_w = torch.zeros(shape, requires_grad=True)
        torch_opt = torch.optim.Adafactor([torch_w])
        torch_w.grad = torch.ones(shape)
        torch_opt.step()
        counts = [
            sum(v.numel() for k, v in o.state[p].items() if k != "step")
            for o, p in ((opt, w), (torch_opt, torch_w))
        ]
        assert counts[0] == counts[1]
        sizes[shape] = counts[0]
    assert sizes[(200, 50)] == 200 + 50  # against 10,000 for Adam's exp_avg_sq alone
    assert sizes[(64, 64)] == 128
    assert sizes[(2, 30, 40)] == 2 * (30 + 40)  # factored over the last two dims
    assert sizes[(50,)] == 50  # a vector keeps the full variance


def test_adafactor_first_step_on_a_rank_one_gradient_moves_every_entry_by_a_1():
    """β2_1 = 0, so v̂_1 = R C^T / mean(R) = g² exactly when g² is an outer product: U = sign(g),
    RMS(U) = 1 <= d, and θ moves by a_1 = max(ε2, RMS(θ)) · min(γ, 1) in every entry."""
    theta = torch.full((4, 5), 3.0, dtype=torch.float64, requires_grad=True)
    grad = torch.outer(
        torch.tensor([1.0, -2.0, 0.5, 4.0]), torch.tensor([1.0, 3.0, -1.0, 2.0, 5.0])
    )
    opt = ours.Adafactor([theta], lr=0.02)
    theta.grad = grad.double()
    opt.step()
    expected = 3.0 - 0.02 * 3.0 * torch.sign(grad.double())
    assert torch.allclose(theta.detach(), expected, rtol=0, atol=1e-12)


def test_adafactor_steps_are_relative_to_the_parameters_scale_and_clipped_at_d():
    rms_ratios = []
    for scale in (1.0, 100.0):
        theta = (scale * torch.randn(6, 5, generator=torch.Generator().manual_seed(0))).double()
        theta.requires_grad_()
        opt = ours.Adafactor([theta], d=1.0)
        moves = []
        for t in range(1, 21):
            theta.grad = torch.randn(6, 5, generator=torch.Generator().manual_seed(t)).double()
            rms_theta = theta.detach().pow(2).mean().sqrt().item()
            before = theta.detach().clone()
            opt.step()
            a_t = max(1e-3, rms_theta) * min(1e-2, 1 / math.sqrt(t))
            move_rms = (theta.detach() - before).pow(2).mean().sqrt().item()
            assert move_rms <= a_t * (1 + 1e-9)  # RMS(d_t) <= d = 1
            moves.append(move_rms / rms_theta)
        rms_ratios.append(moves)
    assert rms_ratios[0] == pytest.approx(rms_ratios[1], rel=1e-9)  # the same relative steps


def test_adafactor_group_of_mixed_dtypes_takes_eps1_from_its_first_parameter_as_torch():
    results = []
    for cls in (ours.Adafactor, torch.optim.Adafactor):
        a = torch.full((3, 2), 1e-5, dtype=torch.float64, requires_grad=True)
        b = torch.full((3, 2), 1e-5, dtype=torch.float32, requires_grad=True)
        opt = cls([a, b])
        a.grad, b.grad = torch.full_like(a, 1e-9), torch.full_like(b, 1e-9)
        opt.step()
        results.append((a.detach().clone(), b.detach().clone()))
    assert all(torch.equal(x, y) for x, y in zip(*results, strict=True))


def test_muon_momentum_of_one_is_refused_where_torchs_buffer_never_leaves_zero():
    """torch accepts μ = 1: b_t = b_{t-1} = 0 forever, so only the weight decay moves θ."""
    w = torch.ones(3, 4, requires_grad=True)
    torch_opt = torch.optim.Muon([w], momentum=1.0, weight_decay=0.1, lr=0.1)
    for k in range(3):
        w.grad = torch.randn(3, 4, generator=torch.Generator().manual_seed(k))
        torch_opt.step()
    assert torch.count_nonzero(torch_opt.state[w]["momentum_buffer"]) == 0
    assert torch.allclose(w.detach(), torch.full((3, 4), 0.99**3))
    with pytest.raises(
        ValueError, match=r"^momentum must be a finite number in \[0, 1\), got 1\.0$"
    ):
        ours.Muon([torch.ones(3, 4, requires_grad=True)], momentum=1.0)


def test_u_v_transpose_is_the_steepest_direction_under_the_spectral_norm():
    """max ⟨g, D⟩ over ‖D‖_2 <= 1 is the sum of g's singular values, reached at D = U V^T."""
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    u, s, vh = torch.linalg.svd(g, full_matrices=False)
    assert (g * (u @ vh)).sum().item() == pytest.approx(s.sum().item())
    for _ in range(200):
        d = torch.randn(6, 4, generator=gen, dtype=torch.float64)
        d = d / torch.linalg.matrix_norm(d, ord=2)
        assert (g * d).sum().item() < s.sum().item()


def test_the_quintic_reaches_1_20_on_the_way_and_leaves_1_itself():
    sigma = torch.linspace(0, 1, 100001, dtype=torch.float64)
    a, b, c = 3.4445, -4.775, 2.0315
    p = a * sigma + b * sigma**3 + c * sigma**5
    assert p.max().item() == pytest.approx(1.2024, abs=1e-4)
    assert p[-1].item() == pytest.approx(0.701)  # σ = 1 is not a fixed point


def test_adafactor_estimate_has_the_row_and_column_sums_of_g_squared():
    """v̂ = R C^T / mean(R) is the rank-1 matrix whose row and column sums are those of g²."""
    theta = torch.zeros(5, 7, dtype=torch.float64, requires_grad=True)
    opt = ours.Adafactor([theta])
    theta.grad = torch.randn(5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    opt.step()  # β2_1 = 0: R_1 and C_1 are the row and column means of g_1²
    state, g2 = opt.state[theta], theta.grad**2
    v_hat = state["row_var"] @ state["col_var"] / state["row_var"].mean()
    assert torch.linalg.matrix_rank(v_hat).item() == 1
    assert torch.allclose(v_hat.sum(dim=1), g2.sum(dim=1)) and not torch.allclose(v_hat, g2)
    assert torch.allclose(v_hat.sum(dim=0), g2.sum(dim=0))
