"""course_lib.optim.LBFGS beside torch's database test: errors, Rosenbrock, checkpoints, the line search.

``tests/test_optim_db.py`` runs torch's own LBFGS inputs; here are what it does not cover: bad
arguments with their messages, torch's steps on Rosenbrock's function with and without the
strong-Wolfe search (parameters, every state entry, the number of evaluations of f, bit for bit in
float64), ``state_dict`` both ways mid-run, a parameter without gradient, float16's overflow (NaN for
NaN and error for error with torch), and the line search's own pieces.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from course_lib.optim import LBFGS
from course_lib.optim.line_search import LineFunction, cubic_interpolate, strong_wolfe

START = (-1.5, 2.0)


def rosenbrock(x):
    """f(x, y) = (1 − x)² + 100 (y − x²)², minimised at (1, 1) along a curved valley."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def run(cls, steps, dtype=torch.float64, start=START, **kwargs):
    """``steps`` calls of step(closure) on Rosenbrock from ``start``; (x, optimizer, losses)."""
    x = torch.tensor(start, dtype=dtype, requires_grad=True)
    opt = cls([x], **kwargs)
    losses = [opt.step(closure_for(opt, x)) for _ in range(steps)]
    return x, opt, losses


def closure_for(opt, x):
    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    return closure


def assert_same(ours, theirs, key=""):
    """Equal bit for bit, NaN where torch has NaN, of the same type (int, float, tensor dtype)."""
    assert type(ours) is type(theirs), (key, type(ours), type(theirs))
    if isinstance(theirs, torch.Tensor):
        assert ours.dtype == theirs.dtype, key
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0, equal_nan=True, msg=key)
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), key
        for a, b in zip(ours, theirs, strict=True):
            assert_same(a, b, key)
    elif isinstance(theirs, float) and math.isnan(theirs):
        assert math.isnan(ours), key
    else:
        assert ours == theirs, key


def assert_same_state(our_opt, torch_opt):
    (p,) = our_opt.param_groups[0]["params"][:1]
    (q,) = torch_opt.param_groups[0]["params"][:1]
    ours, theirs = our_opt.state[p], torch_opt.state[q]
    assert list(ours) == list(theirs)  # the same entries, in the same order
    for key, value in theirs.items():
        assert_same(ours[key], value, key)


# --- bad input --------------------------------------------------------------------------------

BAD = [
    ({"lr": -1.0}, ValueError, r"^lr must be a finite number >= 0, got -1\.0$"),
    ({"max_iter": 0}, ValueError, r"^max_iter must be an integer >= 1, got 0$"),
    ({"max_iter": 2.5}, TypeError, r"^max_iter must be an integer >= 1, got 2\.5 of type float$"),
    ({"max_eval": 0}, ValueError, r"^max_eval must be an integer >= 1, got 0$"),
    ({"tolerance_grad": -1e-7}, ValueError, r"^tolerance_grad must be a finite number >= 0"),
    ({"tolerance_change": math.nan}, ValueError, r"^tolerance_change must be a finite number"),
    ({"history_size": 0}, ValueError, r"^history_size must be an integer >= 1, got 0$"),
    (
        {"line_search_fn": "armijo"},
        ValueError,
        r"^line_search_fn must be one of None, 'strong_wolfe', got 'armijo'$",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=lambda v: str(v)[:30])
def test_bad_argument_is_refused_at_construction_naming_it(kwargs, error, message):
    with pytest.raises(error, match=message):
        LBFGS([torch.zeros(2, requires_grad=True)], **kwargs)


def test_unknown_line_search_fails_only_at_torchs_first_step():
    x = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], line_search_fn="armijo")  # accepted ...
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure_for(opt, x))  # ... until the step


def test_history_size_zero_fails_only_at_torchs_second_iteration():
    x = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], history_size=0)
    with pytest.raises(IndexError):  # pop from an empty memory
        opt.step(closure_for(opt, x))


def test_a_second_parameter_group_is_refused_with_torchs_words():
    groups = [{"params": [torch.zeros(2, requires_grad=True)]}, {"params": [torch.zeros(1)]}]
    message = r"^LBFGS doesn't support per-parameter options \(parameter groups\): it takes one"
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        torch.optim.LBFGS(copy.deepcopy(groups))
    with pytest.raises(ValueError, match=message):
        LBFGS(groups)


def test_a_group_added_later_is_refused_where_torch_fails_at_the_next_step():
    x = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = LBFGS([x])
    with pytest.raises(ValueError, match=r"got a second one \(param_groups\[1\]\)"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})
    assert len(opt.param_groups) == 1
    opt.step(closure_for(opt, x))  # still usable
    theirs = torch.optim.LBFGS([x])
    theirs.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})
    with pytest.raises(AssertionError, match="Expected exactly one param_group"):
        theirs.step(closure_for(theirs, x))


def test_step_without_a_closure_says_what_the_closure_must_do():
    x = torch.zeros(2, requires_grad=True)
    opt = LBFGS([x])
    with pytest.raises(
        TypeError, match=r"^LBFGS\.step needs a closure, got None: .*loss\.backward"
    ):
        opt.step()
    with pytest.raises(TypeError, match=r"^closure must be callable .* got 1\.0$"):
        opt.step(1.0)
    with pytest.raises(TypeError):  # torch: a missing positional argument
        torch.optim.LBFGS([x]).step()  # type: ignore[call-arg]


def test_sparse_gradient_is_refused_where_torch_densifies_it():
    x = torch.tensor(START, requires_grad=True)
    opt = LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        x.grad = x.grad.to_sparse()
        return loss

    with pytest.raises(RuntimeError, match=r"^LBFGS got a sparse gradient"):
        opt.step(closure)


# --- torch's steps ----------------------------------------------------------------------------

RUNS = {
    "fixed step": {},
    "strong_wolfe": {"line_search_fn": "strong_wolfe"},
    "small lr, short memory": {"lr": 0.1, "history_size": 3, "max_iter": 10},
    "strong_wolfe, short memory, few evaluations": {
        "line_search_fn": "strong_wolfe",
        "history_size": 2,
        "max_iter": 7,
        "max_eval": 6,
    },
    "tensor lr of shape (1,)": {"lr": torch.tensor([0.5], dtype=torch.float64)},
    "tensor lr of shape (1, 1), strong_wolfe": {
        "lr": torch.tensor([[0.5]], dtype=torch.float64),
        "line_search_fn": "strong_wolfe",
    },
}


@pytest.mark.parametrize("kwargs", RUNS.values(), ids=RUNS.keys())
def test_rosenbrock_steps_are_torchs_bitwise_in_float64(kwargs):
    x, opt, losses = run(LBFGS, 5, **copy.deepcopy(kwargs))
    y, theirs, torch_losses = run(torch.optim.LBFGS, 5, **copy.deepcopy(kwargs))
    assert torch.equal(x, y)
    for a, b in zip(losses, torch_losses, strict=True):
        assert torch.equal(a, b)
    assert_same_state(opt, theirs)  # func_evals (f's evaluations) and n_iter included
    assert not torch.equal(x, torch.tensor(START, dtype=torch.float64))


def test_strong_wolfe_reaches_rosenbrocks_minimum_in_fewer_evaluations_than_fixed_steps():
    x, opt, _ = run(LBFGS, 5, line_search_fn="strong_wolfe")
    y, fixed, _ = run(LBFGS, 5)
    assert torch.allclose(x, torch.ones(2, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(y, torch.ones(2, dtype=torch.float64), atol=1e-4)
    evals = opt.state[x]["func_evals"], fixed.state[y]["func_evals"]
    assert evals == (55, 89), evals  # torch's counts (the parity test above checks them equal)


def test_a_stationary_start_takes_no_iteration_as_in_torch():
    x, opt, _ = run(LBFGS, 2, start=(1.0, 1.0))
    y, theirs, _ = run(torch.optim.LBFGS, 2, start=(1.0, 1.0))
    assert opt.state[x] == theirs.state[y] == {"func_evals": 2, "n_iter": 0}
    assert torch.equal(x, torch.ones(2, dtype=torch.float64))


def test_parameter_without_gradient_contributes_zeros_and_stays_put():
    def two_params(cls):
        x = torch.tensor(START, dtype=torch.float64, requires_grad=True)
        unused = torch.tensor([3.0, -4.0], dtype=torch.float64, requires_grad=True)
        opt = cls([unused, x], line_search_fn="strong_wolfe")
        for _ in range(3):
            opt.step(closure_for(opt, x))
        return x, unused, opt

    x, unused, opt = two_params(LBFGS)
    y, their_unused, theirs = two_params(torch.optim.LBFGS)
    assert torch.equal(x, y) and torch.equal(unused, their_unused)
    assert torch.equal(unused, torch.tensor([3.0, -4.0], dtype=torch.float64))
    assert_same_state(opt, theirs)  # the state lives on the first parameter, the unused one
    assert opt.state[unused]["d"].shape == (4,)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_moves_both_ways_mid_run_and_the_run_continues_as_torchs(line_search_fn):
    kwargs = {"line_search_fn": line_search_fn, "max_iter": 4, "history_size": 3}
    x, opt, _ = run(LBFGS, 2, **kwargs)
    y, theirs, _ = run(torch.optim.LBFGS, 2, **kwargs)
    into_torch = torch.optim.LBFGS([x.detach().clone().requires_grad_()], **kwargs)
    into_ours = LBFGS([y.detach().clone().requires_grad_()], **kwargs)
    into_torch.load_state_dict(copy.deepcopy(opt.state_dict()))
    into_ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for o in (opt, theirs, into_torch, into_ours):
        param = o.param_groups[0]["params"][0]
        for _ in range(3):
            o.step(closure_for(o, param))
    for o in (opt, into_torch, into_ours):
        assert torch.equal(o.param_groups[0]["params"][0], theirs.param_groups[0]["params"][0])
        assert_same_state(o, theirs)


def test_float16_overflow_is_torchs_nan_for_nan_and_error_for_error():
    """In float16 f leaves float16's range on Rosenbrock: both give the same NaNs, and with the
    line search both stop with the same error (a step length beyond float16's range)."""
    for kwargs in ({}, {"line_search_fn": "strong_wolfe"}):
        outcomes = []
        for cls in (LBFGS, torch.optim.LBFGS):
            x = torch.tensor(START, dtype=torch.float16, requires_grad=True)
            opt, error = cls([x], **kwargs), None
            try:
                for _ in range(3):
                    opt.step(closure_for(opt, x))
            except RuntimeError as err:
                error = str(err)
            outcomes.append((x, opt, error))
        (x, opt, error), (y, theirs, their_error) = outcomes
        assert error == their_error
        assert_same(x, y)
        assert_same_state(opt, theirs)
    assert "without overflow" in (error or "") and not x.isfinite().all()


# --- the line search --------------------------------------------------------------------------


def test_cubic_interpolate_finds_the_minimum_of_a_cubic_from_two_points():
    # p(x) = x³ − 6x² + 9x + 1: p' = 3(x − 1)(x − 3), local minimum at 3.
    def p(x):
        return x**3 - 6 * x**2 + 9 * x + 1

    def dp(x):
        return torch.tensor(3 * x**2 - 12 * x + 9, dtype=torch.float64)

    for x1, x2 in [(2.0, 5.0), (5.0, 2.0), (2.5, 3.5)]:
        found = cubic_interpolate(x1, p(x1), dp(x1), x2, p(x2), dp(x2))
        assert abs(float(found) - 3.0) < 1e-12, (x1, x2, found)
    clipped = cubic_interpolate(2.0, p(2.0), dp(2.0), 5.0, p(5.0), dp(5.0), bounds=(3.5, 4.0))
    assert float(clipped) == 3.5


def test_cubic_interpolate_without_a_minimiser_returns_the_midpoint_as_torch():
    g = torch.tensor
    # Slope 1 at both ends and a secant slope of 2/3: d1 = 0, d1² − g1 g2 = −1, an increasing cubic.
    assert cubic_interpolate(0.0, 0.0, g(1.0), 1.0, 2 / 3, g(1.0)) == 0.5
    assert cubic_interpolate(0.0, 0.0, g(math.nan), 2.0, 1.0, g(1.0)) == 1.0  # NaN: the midpoint


def phi_1d(a_star=0.3, curvature=10.0):
    """f(θ) = curvature (θ − a_star)² + sin θ on one coordinate; obj_func in LBFGS's form."""

    def f(theta):
        return curvature * (theta - a_star) ** 2 + torch.sin(theta)

    def obj_func(x, t, d):
        theta = (x[0] + t * d).detach().requires_grad_()
        value = f(theta).sum()
        value.backward()
        return float(value.detach()), theta.grad.clone()

    return f, obj_func


@pytest.mark.parametrize("t0", [1e-3, 0.05, 1.0], ids=["extrapolate", "near", "overshoot"])
def test_strong_wolfe_step_satisfies_both_wolfe_conditions(t0):
    c1, c2 = 1e-4, 0.9
    f, obj_func = phi_1d()
    x = [torch.zeros(1, dtype=torch.float64)]
    f0, g0 = obj_func(x, 0.0, torch.zeros(1, dtype=torch.float64))
    d = -g0
    gtd = g0.dot(d)
    f_new, g_new, t, evals = strong_wolfe(obj_func, x, t0, d, f0, g0, gtd, c1=c1, c2=c2)
    assert t > 0
    assert f_new <= f0 + c1 * t * gtd  # sufficient decrease
    assert abs(g_new.dot(d)) <= c2 * abs(gtd)  # curvature
    assert f_new == float(f(x[0] + t * d).sum())  # f, g and t of the same trial
    assert (evals == 1) == (t0 == 0.05) and evals <= 26  # the others bracket or zoom


def test_line_function_counts_evaluations_and_gives_the_slope():
    _, obj_func = phi_1d()
    d = torch.tensor([2.0], dtype=torch.float64)
    phi = LineFunction(obj_func, [torch.zeros(1, dtype=torch.float64)], d)
    trial = phi(0.5)
    assert (phi.evals, phi.iterations) == (1, 0)
    assert torch.equal(trial.gtd, trial.g.dot(d))
