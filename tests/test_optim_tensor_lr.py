"""A learning rate given as a tensor, as torch takes it: 0-d or any 1-element shape, bitwise torch's steps.

torch squeezes a 1-element tensor γ to 0-d at every step (``_to_scalar``); a tensor with more
elements is refused at construction with ``ValueError: Tensor lr must be 1-element``.
"""

from __future__ import annotations

import pytest
import torch

import course_lib.optim as ours

# Every course optimizer torch also has, except LBFGS (one group only, and its step is a closure's
# line search: tests/test_optim_lbfgs.py covers its lr).
NAMES = [
    n
    for n in ours.__all__
    if isinstance(getattr(ours, n), type) and hasattr(torch.optim, n) and n != "LBFGS"
]
# Muon takes matrices only.
SHAPE = {"Muon": (3, 2)}
LR_SHAPES = [(), (1,), (1, 1)]


def run(cls, lr, dtype, steps=5):
    """Two groups (the second with its own tensor γ), ``steps`` steps on a fixed quadratic."""
    gen = torch.Generator().manual_seed(0)
    shape = SHAPE.get(cls.__name__, (3,))
    params = [torch.randn(shape, generator=gen, dtype=dtype).requires_grad_() for _ in range(2)]
    targets = [torch.randn(shape, generator=gen, dtype=dtype) for _ in range(2)]
    second_lr = lr * 2 if isinstance(lr, torch.Tensor) else 2 * lr
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": second_lr}], lr=lr)
    for _ in range(steps):
        for p, c in zip(params, targets):
            p.grad = 2 * (p.detach() - c)
        opt.step()
    return params, opt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", LR_SHAPES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr_steps_are_torchs_bitwise(name, shape, dtype):
    def lr():
        return torch.full(shape, 0.01, dtype=dtype)

    our_params, our_opt = run(getattr(ours, name), lr(), dtype)
    torch_params, torch_opt = run(getattr(torch.optim, name), lr(), dtype)
    for p, q in zip(our_params, torch_params):
        assert torch.equal(p, q)
        for key, value in torch_opt.state[q].items():
            assert torch.equal(our_opt.state[p][key], value), key
    assert our_opt.param_groups[0]["lr"].shape == shape  # the group keeps γ as given, as torch


@pytest.mark.parametrize("name", NAMES)
def test_sgd_example_of_the_issue(name):
    shape = SHAPE.get(name, (1,))
    w = torch.ones(shape, requires_grad=True)
    w.grad = torch.ones(shape)
    getattr(ours, name)([w], lr=torch.tensor([0.1])).step()
    v = torch.ones(shape, requires_grad=True)
    v.grad = torch.ones(shape)
    getattr(torch.optim, name)([v], lr=torch.tensor([0.1])).step()
    assert torch.equal(w, v)
    assert not torch.equal(w, torch.ones(shape))


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr_with_more_than_one_element_is_refused_like_torch(name):
    w = torch.ones(SHAPE.get(name, (1,)), requires_grad=True)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        getattr(torch.optim, name)([w], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(
        ValueError, match=r"^Tensor lr must be 1-element, got a tensor of shape \(2,\)"
    ):
        getattr(ours, name)([w], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^param_groups\[1\]: Tensor lr must be 1-element"):
        getattr(ours, name)(
            [
                {"params": [w]},
                {
                    "params": [torch.ones_like(w, requires_grad=True)],
                    "lr": torch.tensor([0.1, 0.2]),
                },
            ]
        )
