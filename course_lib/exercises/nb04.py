"""Self-checks for notebook 04 (regularization and weight decay)."""

from __future__ import annotations

import math

from course_lib.exercises._answers import read_number as _read_number

__all__ = [
    "check_adam_l2_ratio",
    "check_adamw_shrink",
    "check_dropout_scale",
    "check_l2_weight_decay",
]


def check_l2_weight_decay(answer) -> bool:
    """Exercise 1: loss + 1e-3·‖θ‖² (no ½): which ``weight_decay`` of SGD gives the same iterates?

    The reference: the penalty's gradient is 2·1e-3·θ, so weight_decay = 2e-3.
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, 2e-3, rel_tol=1e-6):
        print("Correct: ∇(c‖θ‖²) = 2cθ, and SGD's weight_decay λ adds λθ, so λ = 2c = 2e-3.")
        return True
    if math.isclose(value, 1e-3, rel_tol=1e-6):
        print("Not quite: that is right for the penalty (λ/2)‖θ‖². Differentiate c‖θ‖² once more.")
    elif math.isclose(value, 5e-4, rel_tol=1e-6):
        print("Not quite: the factor goes the other way. ∇(c‖θ‖²) = 2cθ.")
    else:
        print(f"Not quite ({value:g}). Write the gradient of 1e-3·‖θ‖² and compare it with λθ.")
    return False


def check_adamw_shrink(answer) -> bool:
    """Exercise 2: AdamW with lr=1e-3, weight_decay=1e-2: the factor that multiplies θ each step.

    The reference: θ ← (1 - γλ)θ with γλ = 1e-5, so 0.99999.
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, 1 - 1e-5, rel_tol=0, abs_tol=1e-9):
        print(
            "Correct: 1 - γλ = 1 - 1e-3·1e-2 = 0.99999. Small per step, but after 100 000 steps "
            "it has multiplied θ by about e^-1 ≈ 0.37."
        )
        return True
    if math.isclose(value, 1e-5, rel_tol=1e-6):
        print("That is γλ, the fraction removed. The question asks for the factor 1 - γλ.")
    elif math.isclose(value, 1 - 1e-2, rel_tol=1e-9):
        print("Not quite: AdamW multiplies the decay by the learning rate: the factor is 1 - γλ.")
    else:
        print(f"Not quite ({value:g}). AdamW's decoupled step is θ ← (1 - γλ)θ.")
    return False


def check_adam_l2_ratio(answer) -> bool:
    """Exercise 3: Adam with L2; √v̂ = 10 for weight a, 0.01 for weight b: how many times faster does b decay?

    The reference: the decay γλθ/(√v̂ + ε) is divided by √v̂, so b decays 10 / 0.01 = 1000 times faster.
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, 1000.0, rel_tol=0.01):
        print(
            "Correct: 10 / 0.01 = 1000. With L2 inside Adam, weights with a small gradient history "
            "are decayed much harder; AdamW decays both by the same γλ."
        )
        return True
    if math.isclose(value, 1e-3, rel_tol=0.01):
        print("That is the inverse: b, the weight with the small √v̂, decays faster.")
    elif math.isclose(value, 1.0, rel_tol=0.01):
        print("That would be AdamW (decoupled decay). With L2 the decay goes through 1/√v̂.")
    elif math.isclose(value, 1e6, rel_tol=0.01):
        print("Not quite: the step divides by √v̂, not by v̂.")
    else:
        print(
            f"Not quite ({value:g}). Adam divides every part of its gradient, λθ included, by √v̂."
        )
    return False


def check_dropout_scale(answer) -> bool:
    """Exercise 4: ``nn.Dropout(p=0.2)`` in training mode multiplies the kept activations by?

    The reference: 1 / (1 - p) = 1.25, so the expected activation is unchanged.
    """
    value = _read_number(answer)
    if value is None:
        return False
    if math.isclose(value, 1.25, rel_tol=1e-6):
        print("Correct: 1/(1-p) = 1.25 keeps E[output] = input; in eval mode dropout does nothing.")
        return True
    if math.isclose(value, 0.8, rel_tol=1e-6):
        print("Not quite: 0.8 = 1 - p is the chance to be kept. PyTorch scales the kept ones UP.")
    elif math.isclose(value, 1.0, rel_tol=1e-6):
        print("Not quite: that is eval mode. In training, kept activations are rescaled.")
    else:
        print(
            f"Not quite ({value:g}). Choose the factor that keeps the expected activation unchanged."
        )
    return False
