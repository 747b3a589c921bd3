"""Self-checks for notebook 00 (training loop anatomy)."""

from __future__ import annotations

import torch

from course_lib.exercises._answers import missing as _missing

__all__ = ["check_grad_factor", "check_num_parameters", "check_sgd_group_keys"]


def check_num_parameters(answer, model: torch.nn.Module) -> bool:
    """Exercise 1: the number of trainable scalars in ``model``."""
    if _missing(answer):
        return False
    expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if answer == expected:
        print(f"Correct: {expected} trainable numbers.")
        return True
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    hint = " + ".join(f"({m.in_features}*{m.out_features} + {m.out_features})" for m in layers)
    print(
        f"Not quite ({answer}). A Linear(n_in, n_out) layer holds n_in*n_out weights and n_out "
        f"biases; add them up: {hint}."
    )
    return False


def check_grad_factor(answer) -> bool:
    """Exercise 2: calling ``loss.backward()`` twice without ``zero_grad`` multiplies ``.grad`` by?"""
    if _missing(answer):
        return False
    try:
        value = float(answer)
    except (TypeError, ValueError):
        print(f"Answer with a number, got {answer!r}.")
        return False
    if value == 2.0:
        print("Correct: backward() ADDS into .grad, so two calls give twice the gradient.")
        return True
    if value == 1.0:
        print("Not quite: backward() does not overwrite .grad. Run the experiment in the notebook.")
    else:
        print(f"Not quite ({value}): each backward() adds one more copy of the same gradient.")
    return False


def check_sgd_group_keys(answer) -> bool:
    """Exercise 3: the hyperparameter keys of a ``torch.optim.SGD`` param group (besides 'params')."""
    if _missing(answer):
        return False
    p = torch.nn.Parameter(torch.zeros(1))
    expected = set(torch.optim.SGD([p], lr=0.1).param_groups[0]) - {"params"}
    core = {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}
    given = set(answer) - {"params"}
    if given == expected or given == core:
        print(
            f"Correct: {sorted(core)} (torch also stores implementation switches such as "
            f"'foreach' and 'differentiable')."
        )
        return True
    missing = sorted(core - given)
    extra = sorted(given - expected)
    print(
        f"Not quite. Missing: {missing or 'nothing'}; not SGD keys: {extra or 'none'}. "
        f"Print optimizer.param_groups[0].keys() to see them."
    )
    return False
