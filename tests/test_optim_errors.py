"""Bad input to course_lib.optim fails at construction with a message naming argument, value and range."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.optim import SGD, Adagrad, Adam, AdamW, NAdam, RMSprop

ALL = [SGD, Adagrad, RMSprop, Adam, AdamW, NAdam]
NAN, INF = math.nan, math.inf


def leaf(n=2):
    return torch.zeros(n, requires_grad=True)


# (constructor, keyword arguments, exception type, message regex)
HYPERPARAMETER_ERRORS = [
    (SGD, {"lr": -0.1}, ValueError, r"^lr must be a finite number >= 0, got -0\.1$"),
    (SGD, {"lr": NAN}, ValueError, r"^lr must be a finite number >= 0, got nan$"),
    (SGD, {"lr": INF}, ValueError, r"^lr must be a finite number >= 0, got inf$"),
    (SGD, {"lr": "0.1"}, TypeError, r"^lr must be a finite number >= 0, got '0\.1' of type str$"),
    (
        SGD,
        {"lr": torch.tensor([0.1, 0.2])},
        ValueError,  # torch's error and message: "Tensor lr must be 1-element"
        r"^Tensor lr must be 1-element, got a tensor of shape \(2,\)$",
    ),
    (
        SGD,
        {"lr": torch.tensor(-1.0)},
        ValueError,
        r"^lr must be a finite number >= 0, got tensor\(-1\.\)$",
    ),
    (SGD, {"momentum": -0.9}, ValueError, r"^momentum must be a finite number >= 0, got -0\.9$"),
    (SGD, {"momentum": NAN}, ValueError, r"^momentum must be a finite number >= 0, got nan$"),
    (
        SGD,
        {"dampening": 1.5},
        ValueError,
        r"^dampening must be a finite number in \[0, 1\], got 1\.5$",
    ),
    (
        SGD,
        {"weight_decay": -1e-4},
        ValueError,
        r"^weight_decay must be a finite number >= 0, got -0\.0001$",
    ),
    (SGD, {"nesterov": 1}, TypeError, r"^nesterov must be True or False, got 1 of type int$"),
    (
        SGD,
        {"maximize": "yes"},
        TypeError,
        r"^maximize must be True or False, got 'yes' of type str$",
    ),
    (
        SGD,
        {"nesterov": True},
        ValueError,
        r"^nesterov=True requires momentum > 0 and dampening = 0, got momentum=0 and dampening=0$",
    ),
    (
        SGD,
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        ValueError,
        r"^nesterov=True requires momentum > 0 and dampening = 0, got momentum=0\.9 and dampening=0\.1$",
    ),
    (Adagrad, {"lr_decay": -1}, ValueError, r"^lr_decay must be a finite number >= 0, got -1$"),
    (
        Adagrad,
        {"initial_accumulator_value": -0.1},
        ValueError,
        r"^initial_accumulator_value must be a finite number >= 0, got -0\.1$",
    ),
    (Adagrad, {"eps": -1e-10}, ValueError, r"^eps must be a finite number >= 0, got -1e-10$"),
    (
        Adagrad,
        {"weight_decay": INF},
        ValueError,
        r"^weight_decay must be a finite number >= 0, got inf$",
    ),
    (
        RMSprop,
        {"alpha": 1.01},
        ValueError,
        r"^alpha must be a finite number in \[0, 1\], got 1\.01$",
    ),
    (
        RMSprop,
        {"alpha": -0.5},
        ValueError,
        r"^alpha must be a finite number in \[0, 1\], got -0\.5$",
    ),
    (
        RMSprop,
        {"momentum": -0.1},
        ValueError,
        r"^momentum must be a finite number >= 0, got -0\.1$",
    ),
    (
        RMSprop,
        {"centered": None},
        TypeError,
        r"^centered must be True or False, got None of type NoneType$",
    ),
    (RMSprop, {"eps": NAN}, ValueError, r"^eps must be a finite number >= 0, got nan$"),
    (
        Adam,
        {"betas": (0.9, 1.0)},
        ValueError,
        r"^betas\[1\] must be a finite number in \[0, 1\), got 1\.0$",
    ),
    (
        Adam,
        {"betas": (-0.1, 0.999)},
        ValueError,
        r"^betas\[0\] must be a finite number in \[0, 1\), got -0\.1$",
    ),
    (
        Adam,
        {"betas": (NAN, 0.999)},
        ValueError,
        r"^betas\[0\] must be a finite number in \[0, 1\), got nan$",
    ),
    (Adam, {"betas": 0.9}, TypeError, r"^betas must be a tuple of two numbers, got 0\.9$"),
    (Adam, {"betas": (0.9, 0.99, 0.999)}, TypeError, r"^betas must be a tuple of two numbers"),
    (
        Adam,
        {"betas": (torch.tensor(0.9), torch.tensor(0.99))},
        TypeError,
        r"^betas\[0\] must be a plain number in \[0, 1\), got a tensor",
    ),
    (Adam, {"eps": -1e-8}, ValueError, r"^eps must be a finite number >= 0, got -1e-08$"),
    (Adam, {"amsgrad": "no"}, TypeError, r"^amsgrad must be True or False, got 'no' of type str$"),
    (
        Adam,
        {"decoupled_weight_decay": 0},
        TypeError,
        r"^decoupled_weight_decay must be True or False, got 0 of type int$",
    ),
    (
        AdamW,
        {"weight_decay": -0.01},
        ValueError,
        r"^weight_decay must be a finite number >= 0, got -0\.01$",
    ),
    (
        AdamW,
        {"betas": [0.9, INF]},
        ValueError,
        r"^betas\[1\] must be a finite number in \[0, 1\), got inf$",
    ),
    (
        NAdam,
        {"momentum_decay": -4e-3},
        ValueError,
        r"^momentum_decay must be a finite number >= 0, got -0\.004$",
    ),
    (
        NAdam,
        {"betas": (0.9, 1.5)},
        ValueError,
        r"^betas\[1\] must be a finite number in \[0, 1\), got 1\.5$",
    ),
    (
        NAdam,
        {"decoupled_weight_decay": "True"},
        TypeError,
        r"^decoupled_weight_decay must be True or False",
    ),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "message"),
    HYPERPARAMETER_ERRORS,
    ids=[
        f"{row[0].__name__}-{next(iter(row[1]))}-{i}" for i, row in enumerate(HYPERPARAMETER_ERRORS)
    ],
)
def test_bad_hyperparameter_is_rejected_at_construction(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls([leaf()], **kwargs)


# The same checks run on every group dict, whether given to the constructor or to add_param_group.
GROUP_ERRORS = [
    (SGD, {"lr": -1}, ValueError, r"^param_groups\[1\]: lr must be a finite number >= 0, got -1$"),
    (
        SGD,
        {"nesterov": True},
        ValueError,
        r"^param_groups\[1\]: nesterov=True requires momentum > 0 and dampening = 0",
    ),
    (
        SGD,
        {"momentum": NAN},
        ValueError,
        r"^param_groups\[1\]: momentum must be a finite number >= 0, got nan$",
    ),
    (
        Adagrad,
        {"lr_decay": -0.5},
        ValueError,
        r"^param_groups\[1\]: lr_decay must be a finite number >= 0",
    ),
    (
        Adagrad,
        {"initial_accumulator_value": 0.3},
        ValueError,
        r"^param_groups\[1\]: initial_accumulator_value cannot be set per group .* got 0\.3$",
    ),
    (
        RMSprop,
        {"alpha": 2.0},
        ValueError,
        r"^param_groups\[1\]: alpha must be a finite number in \[0, 1\], got 2\.0$",
    ),
    (
        Adam,
        {"betas": (0.9, 1.0)},
        ValueError,
        r"^param_groups\[1\]: betas\[1\] must be a finite number in \[0, 1\), got 1\.0$",
    ),
    (
        Adam,
        {"amsgrad": 1},
        TypeError,
        r"^param_groups\[1\]: amsgrad must be True or False, got 1 of type int$",
    ),
    (
        AdamW,
        {"eps": INF},
        ValueError,
        r"^param_groups\[1\]: eps must be a finite number >= 0, got inf$",
    ),
    (
        NAdam,
        {"momentum_decay": -1.0},
        ValueError,
        r"^param_groups\[1\]: momentum_decay must be a finite number >= 0",
    ),
]


@pytest.mark.parametrize(
    ("cls", "group", "error", "message"),
    GROUP_ERRORS,
    ids=[f"{row[0].__name__}-{next(iter(row[1]))}" for row in GROUP_ERRORS],
)
@pytest.mark.parametrize("where", ["constructor", "add_param_group"])
def test_bad_group_hyperparameter_is_rejected(cls, group, error, message, where):
    first, second = leaf(), leaf()
    if where == "constructor":
        with pytest.raises(error, match=message):
            cls([{"params": [first]}, {"params": [second], **group}])
    else:
        opt = cls([first])
        with pytest.raises(error, match=message):
            opt.add_param_group({"params": [second], **group})
        assert len(opt.param_groups) == 1  # nothing half-added


def _non_leaf():
    return leaf() * 2


def _shared():
    p = leaf()
    return [{"params": [p]}, {"params": [p]}]


def _twice():
    p = leaf()
    return [p, p]


def _generator_used_up():
    gen = (p for p in [leaf()])
    list(gen)
    return gen


# (params factory, exception type, message regex): checked for every optimizer.
PARAMS_ERRORS = [
    (
        list,
        ValueError,
        r"^params must contain at least one tensor or group dict, got an empty list",
    ),
    (_generator_used_up, ValueError, r"^params must contain at least one tensor or group dict"),
    (
        lambda: leaf(),
        TypeError,
        r"^params must be an iterable of tensors or of group dicts, got a single Tensor; wrap it in a list",
    ),
    (
        lambda: {leaf()},
        TypeError,
        r"^params must be an ordered collection .* got a set: the order of a set changes",
    ),
    (
        lambda: [{"params": {leaf()}}],
        TypeError,
        r"^param_groups\[0\]\['params'\] must be an ordered collection .* got a set",
    ),
    (
        lambda: {"params": [leaf()]},
        TypeError,
        r"^params must be an iterable of tensors or of group dicts, got a single dict",
    ),
    (
        lambda: 3,
        TypeError,
        r"^params must be an iterable of tensors or of group dicts, got 3 of type int$",
    ),
    (
        lambda: [leaf(), 1.0],
        TypeError,
        r"^params\[1\] of param group 0 must be a torch\.Tensor, got 1\.0 of type float$",
    ),
    (
        lambda: [_non_leaf()],
        ValueError,
        r"^params\[0\] of param group 0 is not a leaf tensor \(it was computed by MulBackward0\)",
    ),
    (
        _shared,
        ValueError,
        r"^params\[0\] of param group 1 is already in param group 0; a parameter may belong to one group only$",
    ),
    (_twice, ValueError, r"^params\[1\] of param group 0 is the same tensor as params\[0\]"),
    (
        lambda: [torch.zeros(2, dtype=torch.complex64, requires_grad=True)],
        TypeError,
        r"^params\[0\] of param group 0 must be a real floating-point tensor, got dtype torch\.complex64",
    ),
    (
        lambda: [torch.zeros(2, dtype=torch.int64)],
        TypeError,
        r"must be a real floating-point tensor, got dtype torch\.int64",
    ),
    (
        lambda: [{"params": [leaf()]}, leaf()],
        TypeError,
        r"^param_groups\[1\] must be a dict with a 'params' key, got tensor",
    ),
    (
        lambda: [{"lr": 0.1}],
        ValueError,
        r"^param_groups\[0\] must have a 'params' key, got keys \['lr'\]$",
    ),
]


@pytest.mark.parametrize(
    ("make_params", "error", "message"),
    PARAMS_ERRORS,
    ids=[
        "empty",
        "used_generator",
        "tensor",
        "set",
        "set_in_group",
        "dict",
        "int",
        "non_tensor",
        "non_leaf",
        "in_two_groups",
        "twice_in_group",
        "complex",
        "integer",
        "group_then_tensor",
        "no_params_key",
    ],
)
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_bad_params_are_rejected_at_construction(cls, make_params, error, message):
    with pytest.raises(error, match=message):
        cls(make_params())


def test_torch_raises_the_same_exception_types_for_params_it_rejects():
    # Where torch rejects params too, we keep its exception type (only the wording is ours).
    for make_params, error in [
        (list, ValueError),
        (lambda: [leaf(), 1.0], TypeError),
        (lambda: [_non_leaf()], ValueError),
        (_shared, ValueError),
        (lambda: [{"params": {leaf()}}], TypeError),
    ]:
        with pytest.raises(error):
            torch.optim.SGD(make_params(), lr=0.1)
        with pytest.raises(error):
            SGD(make_params(), lr=0.1)


def test_add_param_group_rejects_a_parameter_already_optimized():
    p = leaf()
    opt = Adam([p])
    with pytest.raises(
        ValueError, match=r"^params\[0\] of param group 1 is already in param group 0"
    ):
        opt.add_param_group({"params": p})
    with pytest.raises(
        TypeError, match=r"^param_groups\[1\] must be a dict with a 'params' key, got \[tensor"
    ):
        opt.add_param_group([leaf()])
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_sparse_gradient_raises_a_clear_error_at_step(cls):
    emb = torch.nn.Embedding(5, 3, sparse=True)
    opt = cls(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    assert emb.weight.grad.is_sparse
    with pytest.raises(
        RuntimeError,
        match=rf"^{cls.__name__} got a sparse gradient .* supports dense gradients only",
    ):
        opt.step()


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_torch_only_switches_are_not_accepted(cls):
    switches = ["fused", "capturable", "differentiable"]
    if cls.__name__ not in {"SGD", "Adam", "AdamW"}:  # these three take foreach (optim/foreach.py)
        switches.append("foreach")
    for switch in switches:
        with pytest.raises(TypeError, match=switch):
            cls([leaf()], **{switch: False})


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_valid_edge_values_are_accepted(cls):
    # Ranges are inclusive where the maths allows it: lr = 0, eps = 0, weight_decay = 0.
    kwargs = {"lr": 0.0, "weight_decay": 0}
    if cls is not SGD:
        kwargs["eps"] = 0.0
    p = leaf()
    opt = cls([p], **kwargs)
    p.grad = torch.ones(2)
    opt.step()
    assert torch.equal(p.detach(), torch.zeros(2))  # lr = 0: nothing moves
    # A requires_grad=False tensor, an empty group and a group holding one bare tensor are
    # accepted, as in torch.
    cls([torch.zeros(2)])
    cls([{"params": [leaf()]}, {"params": []}])
    assert len(cls([{"params": leaf()}]).param_groups[0]["params"]) == 1


def test_rmsprop_momentum_switched_on_mid_run_starts_a_buffer_where_torch_raises_keyerror():
    def run(cls):
        w = torch.ones(2, requires_grad=True)
        opt = cls([w], lr=0.01)
        for momentum in (0.0, 0.9):
            opt.param_groups[0]["momentum"] = momentum
            w.grad = torch.ones(2)
            opt.step()
        return opt.state[w]

    with pytest.raises(KeyError, match="momentum_buffer"):
        run(torch.optim.RMSprop)
    # v_2 = 0.99 * 0.01 + 0.01 = 0.0199, and the new buffer is b_2 = 0.9 * 0 + g / (√v_2 + ε)
    expected = torch.full((2,), 1 / (0.0199**0.5 + 1e-8))
    torch.testing.assert_close(run(RMSprop)["momentum_buffer"], expected)
