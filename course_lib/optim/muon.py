"""Muon: momentum, orthogonalised by a few Newton-Schulz iterations, for the 2-D weights of hidden layers."""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib._validation import check_bool, check_choice, check_int, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, signed_grad

__all__ = ["Muon", "newton_schulz"]

#: Jordan et al.'s quintic coefficients (a, b, c), torch's default.
NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)
#: torch refuses 100 or more Newton-Schulz steps ("for computational efficiency").
MAX_NS_STEPS = 99
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def check_ns_coefficients(value) -> tuple[float, float, float]:
    """``ns_coefficients`` as a tuple of three finite numbers (a, b, c)."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise TypeError(
            f"ns_coefficients must be a tuple of three numbers (a, b, c), got {value!r}"
        )
    for i, coefficient in enumerate(value):
        check_number(f"ns_coefficients[{i}]", coefficient)
    return (value[0], value[1], value[2])


def orthogonalise(
    update: torch.Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float
) -> torch.Tensor:
    """The Newton-Schulz iteration of :func:`newton_schulz`, on arguments already checked.

    torch's operations in torch's order (so the result is torch's bit for bit), except that the
    first division makes a new tensor instead of dividing in place: torch's in-place division
    writes into its input when that is already bfloat16 (see :class:`Muon`).
    """
    a, b, c = ns_coefficients
    x = update.bfloat16()
    tall = update.size(0) > update.size(1)
    if tall:
        x = x.T  # iterate on the wide orientation: X X^T is the smaller Gram matrix
    x = x / x.norm().clamp(min=eps)  # X_0 = G / max(‖G‖_F, ε): every singular value <= 1
    for _ in range(ns_steps):
        gram = x @ x.T  # A = X X^T
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b A + c A²
        x = torch.addmm(x, poly, x, beta=a)  # X ← a X + (b A + c A²) X
    return x.T if tall else x


def newton_schulz(
    grad: torch.Tensor,
    ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    ns_steps: int = 5,
    eps: float = 1e-7,
) -> torch.Tensor:
    r"""Newton-Schulz orthogonalisation of a matrix, as ``torch.optim.Muon`` applies it (bfloat16).

    With G = U S V^T the SVD of ``grad``, the result is about U V^T: same singular vectors, every
    singular value pushed towards 1. The iteration, from X_0 = G / max(‖G‖_F, ε)::

        X ← a X + b (X X^T) X + c (X X^T)² X        ns_steps times

    maps each singular value σ of X to p(σ) = aσ + bσ³ + cσ⁵ and leaves U and V alone. Dividing by
    the Frobenius norm puts every σ in [0, 1]. Jordan et al.'s coefficients (3.4445, −4.775, 2.0315)
    make the slope at zero a = 3.4445 large, so a small σ grows fast; the price is that σ does not
    converge to 1 but keeps moving in a band of roughly [0.68, 1.13] (1.20 at most on the way), which
    was found not to hurt training. The computation runs in bfloat16, as torch's does; the result is a
    bfloat16 tensor of the shape of ``grad`` (``grad`` itself is left unchanged).

    Args:
        grad: a 2-D floating-point tensor.
        ns_coefficients: (a, b, c), three finite numbers. Default torch's (3.4445, −4.775, 2.0315).
        ns_steps: the number of iterations, an integer in [0, 99]. Default 5.
        eps: ε, the floor of the norm it divides by, >= 0. Default 1e-7.

    Example:
        >>> g = torch.tensor([[3.0, 0.0], [0.0, 0.03]])  # singular values 3 and 0.03
        >>> torch.linalg.svdvals(newton_schulz(g).float())  # σ / ‖g‖_F = 1 and 0.01: both near 0.69
        tensor([0.6914, 0.6875])
    """
    if not isinstance(grad, torch.Tensor) or grad.dim() != 2 or not grad.is_floating_point():
        shown = tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__
        raise ValueError(f"grad must be a 2-D floating-point tensor (a matrix), got {shown}")
    ns_coefficients = check_ns_coefficients(ns_coefficients)
    check_int("ns_steps", ns_steps, low=0, high=MAX_NS_STEPS)
    check_number("eps", eps, low=0)
    return orthogonalise(grad, ns_coefficients, ns_steps, eps)


def adjusted_lr(lr: Any, adjust_lr_fn: str | None, shape: torch.Size) -> Any:
    """γ scaled for an A×B matrix: √max(1, A/B) ("original") or 0.2 √max(A, B) ("match_rms_adamw").

    >>> shape = torch.Size([64, 16])
    >>> adjusted_lr(0.02, "original", shape), adjusted_lr(1.0, "match_rms_adamw", shape)
    (0.04, 1.6)
    """
    rows, cols = shape[0], shape[1]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(rows, cols)))
    return lr * math.sqrt(max(1, rows / cols))


def non_matrix_error(p: torch.Tensor, where: str) -> ValueError:
    """The error for a parameter Muon cannot take, with what to do instead."""
    return ValueError(
        f"Muon only supports 2D parameters (matrices), but {where} has shape {tuple(p.shape)} "
        f"({p.dim()}-D). Put biases, norm weights, embeddings and, as practice does, the first and "
        "last layers in an AdamW group of their own: e.g. split the model with "
        "course_lib.param_groups (p.ndim == 2 for Muon, the rest for AdamW) and give the rest to a "
        "second optimizer, course_lib.optim.AdamW or torch.optim.AdamW"
    )


class Muon(CourseOptimizer):
    r"""Muon (Jordan et al., 2024): momentum, orthogonalised, for 2-D weights: ``torch.optim.Muon``.

    Each step t = 1, 2, ... for every matrix θ (A×B) that has a gradient::

        g_t = ∇f(θ_{t-1})
        b_t = μ b_{t-1} + (1 − μ) g_t                 momentum buffer (an average), b_0 = 0
        u_t = (1 − μ) g_t + μ b_t   (nesterov)   or   u_t = b_t
        d_t = NS_k(u_t) ≈ U V^T  where u_t = U S V^T   k = ns_steps Newton-Schulz iterations
        θ_{t-1} ← (1 − γλ) θ_{t-1}                    decoupled weight decay, with the plain γ
        θ_t = θ_{t-1} − γ' d_t,    γ' = γ √max(1, A/B)          (adjust_lr_fn "original", default)
                                   γ' = γ · 0.2 √max(A, B)      ("match_rms_adamw")

    γ lr, μ momentum, λ weight_decay, d_t the update direction (docs/notation.md). torch's
    docstring writes B_t = μ B_{t-1} + g_t and g_t + μ B_t; its code keeps the average above, which
    is (1 − μ) times that sum, and the iteration divides by the norm first, so both give the same d_t.

    **The orthogonalisation.** d_t keeps the singular vectors of the momentum and sets every
    singular value to about 1 (:func:`newton_schulz`): X_0 = u_t / ‖u_t‖_F, then k times
    X ← aX + b(XX^T)X + c(XX^T)²X with torch's (a, b, c) = (3.4445, −4.775, 2.0315). Each singular
    value σ becomes aσ + bσ³ + cσ⁵; these coefficients make small σ grow fast and leave all of them
    in a band of roughly [0.68, 1.13] after enough steps, not exactly at 1 (U V^T would need more
    iterations and is not better in training). A step of Muon moves every direction of the matrix
    by about as much, where the raw momentum is dominated by its few largest singular directions.
    U V^T is the steepest-descent direction under the spectral norm (Bernstein & Newhouse, 2024).

    **The learning-rate adjustment.** U V^T of an A×B matrix has min(A, B) singular values 1, so its
    RMS entry is 1/√max(A, B). "original" (Keller Jordan's code) scales by √max(1, A/B), so the
    update's RMS is γ/√B for every A: B is the fan-in in torch's (out, in) layout. "match_rms_adamw"
    (Liu et al., 2025, "Muon is scalable for LLM training") scales by 0.2 √max(A, B), so the RMS is
    0.2 γ for every shape, about that of AdamW's update: AdamW's γ and λ can then be reused.

    Only 2-D parameters: biases, norm weights, embeddings and (as practice does) the first and last
    layers belong to AdamW. A parameter that is not a matrix is a ``ValueError`` at construction and
    in ``add_param_group`` that says so (torch checks the constructor's groups only).

    Where ours differs from torch on purpose (docs/differences.md): the Newton-Schulz iteration does
    not divide its input in place. torch's does, which for a bfloat16 parameter with
    ``nesterov=False`` divides the momentum buffer itself by its norm at every step; here the buffer
    stays the average above. μ must be below 1 (torch accepts μ >= 1; at μ = 1 its buffer never
    leaves 0 and only the decay moves θ), and ``ns_steps``, ``ns_coefficients`` are checked at
    construction (torch fails at the first step). Every other input takes torch's steps bit for bit
    (the iteration runs in bfloat16, as torch's does).

    State per parameter: ``momentum_buffer`` (b).

    Args:
        params: an iterable of 2-D tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate (a float or a 1-element tensor), >= 0. Default 1e-3.
        weight_decay: λ, decoupled as in AdamW, >= 0. Default 0.1.
        momentum: μ, in [0, 1). Default 0.95.
        nesterov: use the Nesterov form u_t = (1 − μ) g_t + μ b_t. Default True.
        ns_coefficients: (a, b, c) of the iteration. Default (3.4445, −4.775, 2.0315).
        eps: ε, the floor of the norm the iteration divides by, >= 0. Default 1e-7.
        ns_steps: k, an integer in [0, 99]. Default 5.
        adjust_lr_fn: None (= "original"), "original" or "match_rms_adamw". Default None.

    Example:
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 0.1]], requires_grad=True)
        >>> opt = Muon([w], lr=0.1, weight_decay=0.0)
        >>> (w**2).sum().backward()  # g = 2w, singular values 2 and 0.2
        >>> opt.step()  # both directions move by about γ, not by 2 and 0.2
        >>> w.detach()
        tensor([[0.9309, 0.0000],
                [0.0000, 0.0309]])
    """

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": check_ns_coefficients(ns_coefficients),
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_number("momentum", hp["momentum"], low=0, high=1, high_inclusive=False)
        check_bool("nesterov", hp["nesterov"])
        check_ns_coefficients(hp["ns_coefficients"])
        check_number("eps", hp["eps"], low=0)
        check_int("ns_steps", hp["ns_steps"], low=0, high=MAX_NS_STEPS)
        check_choice("adjust_lr_fn", hp["adjust_lr_fn"], ADJUST_LR_FNS)

    def add_param_group(self, param_group: dict) -> None:
        """Check and add a group as every course optimizer does, then refuse any non-2-D tensor."""
        super().add_param_group(param_group)
        index = len(self.param_groups) - 1
        group = self.param_groups[index]
        names = group.get("param_names")
        for i, p in enumerate(group["params"]):
            if p.dim() != 2:
                self.param_groups.pop()  # the group is not kept
                name = f" ({names[i]!r})" if names else ""
                raise non_matrix_error(p, f"params[{i}]{name} of param group {index}")

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        mu, weight_decay = group["momentum"], group["weight_decay"]
        for p in self.params_with_grad(group):
            g = signed_grad(p, maximize=False)  # torch's Muon has no maximize
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(g, memory_format=torch.preserve_format)
            buf = state["momentum_buffer"]
            buf.lerp_(g, 1 - mu)  # b_t = μ b_{t-1} + (1 − μ) g_t
            u = g.lerp(buf, mu) if group["nesterov"] else buf  # (1 − μ) g_t + μ b_t, or b_t

            d = orthogonalise(u, group["ns_coefficients"], group["ns_steps"], group["eps"])
            step_lr = adjusted_lr(lr, group["adjust_lr_fn"], p.shape)  # γ'
            p.mul_(1 - lr * weight_decay)  # θ ← (1 − γλ) θ
            p.add_(d, alpha=-step_lr)  # θ_t = θ_{t-1} − γ' d_t
