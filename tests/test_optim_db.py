"""torch's own test inputs for its optimizers (``optim_db``), run against every course optimizer.

``torch.testing._internal.common_optimizers.optim_db`` holds, per torch optimizer, sample inputs
(hyperparameter combinations torch's own tests step through) and error inputs (bad arguments with
the error torch raises). Every class in ``course_lib.optim.__all__`` that torch has an entry for is
covered, so an optimizer added later is tested here without editing this file.

- Sample inputs: the CPU inputs of every floating dtype; each must take torch's steps bit for bit
  (parameters, every state entry and its dtype, the closure's loss) and survive a ``state_dict``
  round trip ours -> torch and torch -> ours. Inputs that only exist with CUDA (``capturable``) or
  with a flag the course leaves out (``foreach``, ``fused``, ``differentiable``) are counted in
  :func:`test_skipped_sample_inputs_are_only_cuda_or_unimplemented_flags` and not run.
- Error inputs: each must be refused as torch refuses it; where the course differs on purpose
  (its own messages, errors instead of warnings, no ``foreach`` argument, no tensor betas), the
  difference is in ``OURS`` below and in ``docs/differences.md``.

Needs the ``expecttest`` package (torch's internal test module imports it).
"""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch

# torch.testing._internal imports expecttest (pinned in requirements.txt): a missing pin fails here
# instead of skipping the whole file.
from torch.testing._internal.common_optimizers import (
    OptimizerErrorEnum,
    optim_db,
)

import course_lib.optim as ours

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
UNIMPLEMENTED_FLAGS = ("foreach", "fused", "differentiable", "capturable")
CONSTRUCTION_ERROR = OptimizerErrorEnum.CONSTRUCTION_ERROR
STEPS, MORE_STEPS = 4, 3
INFOS = {
    info.optim_cls.__name__: info for info in optim_db if info.optim_cls.__name__ in ours.__all__
}


# Sample inputs on which torch's own steps raise: (name, desc, dtype) -> why, and where ours is
# shown to raise the same error.
TORCH_RAISES = {
    ("LBFGS", "strong_wolfe", torch.float16): (
        "f leaves float16's range and torch's 4th step raises 'value cannot be converted to type "
        "c10::Half without overflow'; ours raises the same: tests/test_optim_lbfgs.py::"
        "test_float16_overflow_is_torchs_nan_for_nan_and_error_for_error"
    ),
}


def sample_cases():
    for name, info in INFOS.items():
        for dtype in DTYPES:
            for sample in info.optim_inputs_func(device="cpu", dtype=dtype):
                dtype_id = str(dtype).removeprefix("torch.")
                marks = ()
                if (name, sample.desc, dtype) in TORCH_RAISES:
                    reason = TORCH_RAISES[name, sample.desc, dtype]
                    marks = pytest.mark.xfail(raises=RuntimeError, strict=True, reason=reason)
                yield pytest.param(
                    name, sample, dtype, id=f"{name}-{sample.desc}-{dtype_id}", marks=marks
                )


def error_cases():
    for name, info in INFOS.items():
        for error in info.optim_error_inputs_func(device="cpu", dtype=torch.float32):
            yield pytest.param(name, error, id=f"{name}-{error.optimizer_error_input.desc}")


SAMPLES = list(sample_cases())
ERRORS = list(error_cases())


# The parameters each optimizer is stepped on: a small two-layer problem (weight, bias, output
# weight), or only matrices for an optimizer that takes nothing else (Muon: a tall, a wide and a
# one-row matrix; at lr=1e-3 its steps of about 0.7 γ move bfloat16 entries only below about 0.25,
# which 4x3 does not have).
# Adadelta's steps at lr=0.01 (about γ √ε / √(1 − ρ) ≈ 3e-5) are below float16's and bfloat16's
# resolution near 1: only a larger matrix has entries near 0 that move.
SHAPES = {
    "default": [(4, 3), (4,), (1, 4)],
    "Muon": [(6, 4), (4, 6), (1, 4)],
    "Adadelta": [(32, 32), (4,), (1, 4)],
}

# Per optimizer torch has an entry for: (CPU sample inputs run, CUDA-only sample inputs,
# CPU inputs with a left-out flag switched on, error inputs). A change in torch's database, or a
# course optimizer that stops being covered, fails test_every_input_of_optim_db_is_run_or_counted.
EXPECTED = {
    "Adadelta": (6, 3, 6, 7),
    "Adafactor": (5, 0, 0, 10),
    "Adagrad": (7, 0, 14, 7),
    "Adam": (5, 5, 10, 12),
    "AdamW": (5, 5, 10, 12),
    "Adamax": (5, 5, 5, 7),
    "LBFGS": (5, 0, 0, 6),
    "Muon": (7, 0, 0, 9),
    "NAdam": (7, 4, 7, 8),
    "RAdam": (6, 4, 6, 8),
    "RMSprop": (8, 3, 8, 7),
    "SGD": (9, 0, 18, 7),
}


def make_params(dtype, name="default"):
    """Fresh parameters for optimizer ``name``, the same for ours and torch's."""
    gen = torch.Generator().manual_seed(0)
    shapes = SHAPES.get(name, SHAPES["default"])
    return [torch.randn(s, generator=gen).to(dtype).requires_grad_() for s in shapes]


def closure_for(opt, params):
    """f(θ) = Σ (θ − c) tanh(θ) (elementwise ops only: no matmul, whose low-precision CPU kernels
    may depend on memory alignment and so differ between two equal runs)."""

    def closure():
        opt.zero_grad()
        loss = sum(((p - 0.5) * torch.tanh(p)).sum() for p in params)
        loss.backward()
        return loss

    return closure


def steps(opt, params, n):
    return [opt.step(closure_for(opt, params)) for _ in range(n)]


def assert_identical(our_opt, torch_opt):
    """Same parameters and state, bit for bit, with the same state names and dtypes."""
    for group, torch_group in zip(our_opt.param_groups, torch_opt.param_groups, strict=True):
        for p, q in zip(group["params"], torch_group["params"], strict=True):
            assert_same_entry(p, q, "param")
            state, torch_state = our_opt.state.get(p, {}), torch_opt.state.get(q, {})
            assert set(state) == set(torch_state)
            for key, value in torch_state.items():
                assert_same_entry(state[key], value, key)


def assert_same_entry(ours_value, torch_value, key):
    """One state entry equal to torch's: tensors bit for bit with the dtype, lists item by item
    (LBFGS keeps lists of tensors), anything else (counts, None) by ``==``."""
    if isinstance(torch_value, torch.Tensor):
        assert isinstance(ours_value, torch.Tensor), key
        assert ours_value.dtype == torch_value.dtype, key
        # bit for bit, NaN where torch has NaN (LBFGS in float16 overflows as torch's does)
        torch.testing.assert_close(ours_value, torch_value, rtol=0, atol=0, equal_nan=True)
    elif isinstance(torch_value, (list, tuple)):
        assert len(ours_value) == len(torch_value), key
        for a, b in zip(ours_value, torch_value, strict=True):
            assert_same_entry(a, b, key)
    elif isinstance(torch_value, float) and math.isnan(torch_value):  # LBFGS's prev_loss
        assert isinstance(ours_value, float) and math.isnan(ours_value), key
    else:
        assert ours_value == torch_value, key


def pair(name, sample, dtype):
    """Our optimizer and torch's, on equal fresh parameters, with the sample's arguments."""
    our_params, torch_params = make_params(dtype, name), make_params(dtype, name)
    kwargs = sample.kwargs
    our_opt = getattr(ours, name)(our_params, **copy.deepcopy(kwargs))
    torch_opt = INFOS[name].optim_cls(torch_params, **copy.deepcopy(kwargs))
    return (our_opt, our_params), (torch_opt, torch_params)


@pytest.mark.parametrize(("name", "sample", "dtype"), SAMPLES)
def test_sample_input_steps_are_torchs_bitwise(name, sample, dtype):
    _, our_params = _step_both_and_compare(name, sample, dtype)
    assert not torch.equal(our_params[0], make_params(dtype, name)[0])  # the steps moved something


def _step_both_and_compare(name, sample, dtype):
    """Take STEPS steps with ours and torch's on the same sample; losses and state must be bitwise."""
    (our_opt, our_params), (torch_opt, torch_params) = pair(name, sample, dtype)
    our_losses = steps(our_opt, our_params, STEPS)
    torch_losses = steps(torch_opt, torch_params, STEPS)
    for a, b in zip(our_losses, torch_losses, strict=True):
        assert_same_entry(a, b, "loss")
    assert_identical(our_opt, torch_opt)
    return (our_opt, torch_opt), our_params


@pytest.mark.parametrize(("name", "sample", "dtype"), SAMPLES)
def test_sample_input_state_dict_round_trips_both_ways(name, sample, dtype):
    (our_opt, our_params), (torch_opt, torch_params) = pair(name, sample, dtype)
    steps(our_opt, our_params, STEPS)
    steps(torch_opt, torch_params, STEPS)
    # ours -> torch and torch -> ours, each on a copy of the parameters; torch -> torch as the
    # reference (loading may change a state entry's dtype, as torch does for NAdam's mu_product).
    copies = [pair(name, sample, dtype) for _ in range(2)]
    (our_2, our_params_2), (torch_2, torch_params_2) = copies[0]
    _, (torch_3, torch_params_3) = copies[1]
    with torch.no_grad():
        for p, p2, p3, p4 in zip(torch_params, our_params_2, torch_params_2, torch_params_3):
            p2.copy_(p)
            p3.copy_(p)
            p4.copy_(p)
    torch_2.load_state_dict(copy.deepcopy(our_opt.state_dict()))
    our_2.load_state_dict(copy.deepcopy(torch_opt.state_dict()))
    torch_3.load_state_dict(copy.deepcopy(torch_opt.state_dict()))
    for opt, params in [
        (our_2, our_params_2),
        (torch_2, torch_params_2),
        (torch_3, torch_params_3),
    ]:
        steps(opt, params, MORE_STEPS)
    assert_identical(our_2, torch_3)
    assert_identical(torch_2, torch_3)


# torch's error regex -> (the exception ours raises, its message). Where the type differs from
# torch's, the row of docs/differences.md that gives the reason is named in the comment.
OURS = {
    "params argument given to the optimizer should be an iterable of Tensors or dicts": (
        TypeError,
        r"^params must be an iterable of tensors or of group dicts, got a single Tensor",
    ),
    # torch warns and drops the duplicate; ours refuses ("duplicate parameters" row).
    ".*a parameter group with duplicate parameters.*": (
        ValueError,
        r"^params\[1\] of param group 0 is the same tensor as params\[0\]",
    ),
    "some parameters appear in more than one parameter group": (
        ValueError,
        r"^params\[0\] of param group 1 is already in param group 0",
    ),
    "Tensor lr must be 1-element": (ValueError, r"^Tensor lr must be 1-element"),
    "all optimizer params should be with/without names. Some param names are missing": (
        ValueError,
        r"^all optimizer params should be with/without names\. Some param names are missing",
    ),
    "all optimizer param groups should be with/without names. "
    "cannot add param group with names to the optimizer": (
        ValueError,
        r"^all optimizer param groups should be with/without names\.",
    ),
    "Invalid lr_decay value: -0.5": (
        ValueError,
        r"^lr_decay must be a finite number >= 0, got -0\.5$",
    ),
    "Invalid beta parameter at index 0: 1.0": (
        ValueError,
        r"^betas\[0\] must be a finite number in \[0, 1\), got 1\.0$",
    ),
    "Invalid weight_decay value: -1": (
        ValueError,
        r"^weight_decay must be a finite number >= 0, got -1$",
    ),
    "Invalid momentum_decay value: -0.2": (
        ValueError,
        r"^momentum_decay must be a finite number >= 0, got -0\.2$",
    ),
    "Invalid momentum value: -0.5": (ValueError, r"^momentum must be a finite number >= 0"),
    "Invalid rho value: 1.1": (ValueError, r"^rho must be a finite number in \[0, 1\], got 1\.1$"),
    "Invalid beta parameter at index 1: 1.0": (
        ValueError,
        r"^betas\[1\] must be a finite number in \[0, 1\), got 1\.0$",
    ),
    "Invalid momentum value: -1.0": (ValueError, r"^momentum must be a finite number >= 0"),
    # Adam's foreach path takes lr as a number only, as torch's does without capturable (which
    # the course leaves out: "foreach, fused, capturable, differentiable" row).
    "lr as a Tensor is not supported for capturable=False and foreach=True": (
        ValueError,
        r"^lr as a Tensor is not supported for capturable=False and foreach=True",
    ),
    # No tensor betas, whatever foreach is ("tensor betas" row).
    r"betas\[0\] as a Tensor is not supported for capturable=False and foreach=True": (
        TypeError,
        r"^betas\[0\] must be a plain number in \[0, 1\), got a tensor",
    ),
    "epsilon1 should be >= 0": (
        ValueError,
        r"^eps\[0\] must be a finite number >= 0, got -1e-30 \(or None: the dtype's machine",
    ),
    "Clipping threshold d should be >= 1": (
        ValueError,
        r"^d must be a finite number >= 1, got 0\.0$",
    ),
    "beta2_decay should be <= 0": (
        ValueError,
        r"^beta2_decay must be a finite number <= 0, got 0\.8$",
    ),
    # torch raises at the step; ours at construction ("Complex or integer parameters" row).
    "Adafactor does not support complex parameters": (
        TypeError,
        r"^params\[0\] of param group 0 must be a real floating-point tensor, got dtype "
        r"torch\.complex64",
    ),
    # Muon: the parameter's position and shape, and where such parameters belong.
    "Muon only supports 2D parameters": (
        ValueError,
        r"^Muon only supports 2D parameters \(matrices\), but params\[0\] of param group 0 has "
        r"shape \(2, 3, 4\) \(3-D\)\. Put biases, .* in an AdamW group of their own",
    ),
    "Adjust learning rate function arbitrary is not supported": (
        ValueError,
        r"^adjust_lr_fn must be one of None, 'original', 'match_rms_adamw', got 'arbitrary'$",
    ),
    # torch raises at the step; ours at construction ("Complex or integer parameters" row).
    "Muon does not support complex parameters": (
        TypeError,
        r"^params\[0\] of param group 0 must be a real floating-point tensor, got dtype "
        r"torch\.complex64",
    ),
    # No tensor betas ("tensor betas" row).
    "betas must be either both floats or both Tensors": (
        TypeError,
        r"^betas\[[01]\] must be a plain number in \[0, 1\), got a tensor",
    ),
}


def construct(cls, error_input):
    if error_input.params is not None:
        params = error_input.params
    else:
        params = make_params(torch.float32, cls.__name__)
    return cls(params, **error_input.kwargs)


def raise_warnings_as_errors(cls, error_input, error_on):
    """Construct, and take one step where torch's error comes at the step (its inputs carry
    gradients): ours raises every error at construction."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = construct(cls, error_input)
        if error_on == OptimizerErrorEnum.STEP_ERROR:
            opt.step()


@pytest.mark.parametrize(("name", "error"), ERRORS)
def test_error_input_is_refused_as_torch_refuses_it(name, error):
    torch_input, error_on = error.optimizer_error_input, error.error_on
    with pytest.raises(error.error_type, match=error.error_regex):  # torch still does this
        raise_warnings_as_errors(INFOS[name].optim_cls, torch_input, error_on)
    our_type, our_regex = OURS[error.error_regex]
    with pytest.raises(our_type, match=our_regex):  # at construction, even for torch's step errors
        raise_warnings_as_errors(getattr(ours, name), torch_input, CONSTRUCTION_ERROR)


# Substrings of torch's error regexes where ours raises another exception type on purpose, each
# with its row in docs/differences.md.
DIFFERENT_TYPE = {
    "duplicate": "the same tensor twice in a group",
    "foreach": "foreach, fused, capturable, differentiable",
    "both floats": "tensor betas",
    "complex parameters": "complex or integer parameters",
}


def test_error_inputs_that_differ_in_type_are_the_documented_ones():
    differ = [
        e.values[1].error_regex
        for e in ERRORS
        if OURS[e.values[1].error_regex][0] is not e.values[1].error_type
    ]
    undocumented = [r for r in differ if not any(key in r for key in DIFFERENT_TYPE)]
    assert not undocumented
    assert differ, "the duplicate-parameter inputs at least differ in type"


def skipped_sample_inputs():
    """(name, desc, why) of torch's sample inputs that this file does not run."""
    from torch.testing._internal.common_optimizers import (
        _get_optim_inputs_including_global_cliquey_kwargs as with_flags,
    )

    for name, info in INFOS.items():
        cpu = {s.desc for s in info.optim_inputs_func(device="cpu", dtype=torch.float32)}
        for s in info.optim_inputs_func(device="cuda", dtype=torch.float32):
            if s.desc not in cpu:
                yield name, s.desc, "needs CUDA"
        for s in with_flags("cpu", torch.float32, info):
            flags = [f for f in UNIMPLEMENTED_FLAGS if s.kwargs.get(f)]
            if flags:
                yield name, s.desc, f"needs {flags[0]}, which course_lib.optim leaves out"


def test_every_input_of_optim_db_is_run_or_counted():
    skipped = list(skipped_sample_inputs())
    for name in INFOS:
        run = sum(1 for case in SAMPLES if case.values[0] == name) // len(DTYPES)
        cuda = sum(1 for s in skipped if s[0] == name and s[2] == "needs CUDA")
        flags = sum(1 for s in skipped if s[0] == name and s[2] != "needs CUDA")
        errors = sum(1 for case in ERRORS if case.values[0] == name)
        assert (run, cuda, flags, errors) == EXPECTED[name], name


def test_every_course_optimizer_that_torch_has_is_covered():
    assert sorted(INFOS) == sorted(n for n in ours.__all__ if hasattr(torch.optim, n))
    assert sorted(INFOS) == sorted(EXPECTED)


# Sample inputs with foreach=True for the optimizers that have course_lib.optim.foreach's path.
# torch's database adds foreach=True only on CUDA (on CPU its flag variants are fused and
# differentiable), so the CPU inputs are run here with foreach=True given to both sides.
FOREACH_NAMES = ("SGD", "Adam", "AdamW")
FOREACH_SAMPLES = [
    pytest.param(
        name, sample, dtype, id=f"{name}-{sample.desc}-{str(dtype).removeprefix('torch.')}"
    )
    for name in FOREACH_NAMES
    for dtype in DTYPES
    for sample in INFOS[name].optim_inputs_func(device="cpu", dtype=dtype)
]


@pytest.mark.parametrize(("name", "sample", "dtype"), FOREACH_SAMPLES)
def test_sample_input_steps_with_foreach_are_torchs_foreach_steps_bitwise(name, sample, dtype):
    sample = copy.copy(sample)
    sample.kwargs = {**sample.kwargs, "foreach": True}
    (our_opt, torch_opt), _ = _step_both_and_compare(name, sample, dtype)
    assert our_opt.param_groups[0]["foreach"] is torch_opt.param_groups[0]["foreach"] is True


def test_foreach_samples_cover_every_cpu_sample_of_sgd_adam_and_adamw():
    counts = {
        name: sum(1 for case in FOREACH_SAMPLES if case.values[0] == name) for name in FOREACH_NAMES
    }
    assert counts == {name: EXPECTED[name][0] * len(DTYPES) for name in FOREACH_NAMES}
