"""Schedule-Free AdamW: a constant learning rate, and an average of the iterates instead of a schedule."""

from __future__ import annotations

from typing import Any

import torch

from course_lib._validation import check_bool, check_int, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, signed_grad
from course_lib.optim.adam import check_betas

__all__ = ["AdamWScheduleFree"]


def check_schedule_free_betas(betas) -> tuple[float, float]:
    """(β1, β2) with β1 in (0, 1) and β2 in [0, 1): eval() divides by β1 to recover x from y and z."""
    betas = check_betas(betas)
    if betas[0] == 0:
        raise ValueError(
            f"betas[0] must be a finite number in (0, 1) for AdamWScheduleFree, got {betas[0]!r}: "
            "with β1 = 0 the parameters hold z during training and eval() cannot recover the "
            "average x from them"
        )
    return betas


class AdamWScheduleFree(CourseOptimizer):
    r"""Schedule-Free AdamW (Defazio et al., 2024, "The Road Less Scheduled"): ``schedulefree``'s rule.

    **Call ``opt.train()`` before training and ``opt.eval()`` before evaluating or saving the
    model.** During training the parameters hold y_t, the point where gradients are taken; after
    ``eval()`` they hold x_t, the average that is the model to evaluate and keep. ``train()`` goes
    back to y. The optimizer starts in eval mode, as the reference package does, and ``step()`` in
    eval mode is a ``RuntimeError``.

    Three sequences per parameter, all starting at the initial θ (z_1 = x_1 = y_1 = θ_0). Step
    t = 1, 2, ... of a group reads the gradient at y_t and makes::

        g_t = ∇f(y_t)
        γ_t = γ · min(1, t / T_w)                          linear warm-up (T_w = warmup_steps)
        v_t = β2 v_{t-1} + (1 − β2) g_t ⊙ g_t              second moment, v_0 = 0
        d_t = g_t / (√(v_t / (1 − β2^t)) + ε) + λ y_t      Adam's direction, decay taken at y
        z_{t+1} = z_t − γ_t d_t                            the SGD/Adam iterate (no momentum)
        w_t = t^r · (max_{i<=t} γ_i)^p,  c_{t+1} = w_t / (w_1 + ... + w_t)
        x_{t+1} = (1 − c_{t+1}) x_t + c_{t+1} z_{t+1}      a weighted average of z_2, ..., z_{t+1}
        y_{t+1} = (1 − β1) z_{t+1} + β1 x_{t+1}            where the next gradient is taken

    γ lr, β1 β2 betas, ε eps, λ weight_decay, T_w warmup_steps, r r, p weight_lr_power. After step t
    the parameters hold y_{t+1} (θ_t in docs/notation.md's count). The reference computes y_{t+1}
    from y_t and z_t without storing x: y_{t+1} = (1 − c_{t+1}) y_t + c_{t+1} z_t
    − γ_t (1 − β1 (1 − c_{t+1})) d_t, and this class does the same, operation for operation.

    **No schedule needed.** z takes constant-rate steps; x averages them. With r = 0 and no
    warm-up, c_{t+1} = 1/t and x_{t+1} is the plain mean of z_2, ..., z_{t+1}. Defazio et al. prove
    that this averaging attains the optimal worst-case rate on convex Lipschitz problems for any β1
    in [0, 1] without knowing the run's length T, and find it matching tuned cosine and linear-decay
    schedules in their experiments: every x is a usable end point, none is tied to a planned T. β1 sits between two known methods: β1 = 0 evaluates the gradient
    at z (Polyak-Ruppert averaging), β1 = 1 at x itself (primal averaging); β1 = 0.9 plays the role
    of Adam's momentum, which this method does not have (there is no ``exp_avg``). During warm-up,
    w_t ∝ γ_t^p gives the small early steps little weight in x; with p = 0 every z counts equally.

    State: per parameter ``z`` and ``exp_avg_sq`` (v); per group (as in the reference) ``k`` (steps
    taken), ``train_mode``, ``weight_sum`` (w_1 + ... + w_t), ``lr_max`` and ``scheduled_lr`` (γ_t).
    No x is stored: in train mode x = (y − (1 − β1) z) / β1, which ``eval()`` computes.

    Differences from ``schedulefree.AdamWScheduleFree`` 1.4.1 (same numbers otherwise, bit for bit):
    no ``foreach`` argument; p.grad is left as it was (the reference overwrites it with d_t);
    β1 = 0 and bad values are refused at construction; ``step()`` raises if any group is in eval
    mode (the reference looks at the first group only), and a group added later starts in the
    optimizer's current mode (the reference starts it in eval mode).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of group dicts.
        lr: γ, the learning rate after warm-up (a float or a 1-element tensor), >= 0. Default 0.0025.
        betas: (β1, β2), β1 in (0, 1) (the interpolation), β2 in [0, 1). Default (0.9, 0.999).
        eps: ε, >= 0. Default 1e-8.
        weight_decay: λ, >= 0, applied at y and scaled by γ_t. Default 0.
        warmup_steps: T_w, an integer >= 0 (0: no warm-up). Default 0.
        r: the power of t in the averaging weights, >= 0. Default 0.
        weight_lr_power: p, the power of the largest γ so far in the weights, >= 0. Default 2.0.

    Example:
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = AdamWScheduleFree([w], lr=0.1)
        >>> opt.train()  # the parameters hold y
        >>> for _ in range(3):
        ...     opt.zero_grad()
        ...     (w**2).sum().backward()
        ...     opt.step()
        >>> opt.state[w]["z"]  # z_4: three steps of about γ = 0.1 each from θ_0
        tensor([ 0.7130, -1.7063])
        >>> w  # y_4 = 0.1 z_4 + 0.9 x_4
        tensor([ 0.7968, -1.7933], requires_grad=True)
        >>> opt.eval()  # the parameters hold x_4, the mean of z_2, z_3, z_4
        >>> w
        tensor([ 0.8061, -1.8029], requires_grad=True)
        >>> opt.step()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: AdamWScheduleFree.step() was called in eval mode (param_groups [0]): ...
    """

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": check_schedule_free_betas(betas),
            "eps": eps,
            "r": r,
            "k": 0,
            "warmup_steps": warmup_steps,
            "train_mode": False,
            "weight_sum": 0.0,
            "lr_max": -1.0,
            "scheduled_lr": 0.0,
            "weight_lr_power": weight_lr_power,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_schedule_free_betas(hp["betas"])
        check_number("eps", hp["eps"], low=0)
        check_number("weight_decay", hp["weight_decay"], low=0)
        check_int("warmup_steps", hp["warmup_steps"], low=0)
        check_number("r", hp["r"], low=0)
        check_number("weight_lr_power", hp["weight_lr_power"], low=0)
        # The per-group bookkeeping, which a group dict may carry over from another optimizer.
        check_int("k", hp["k"], low=0)
        check_bool("train_mode", hp["train_mode"])
        check_number("weight_sum", hp["weight_sum"], low=0)
        check_number("lr_max", hp["lr_max"], low=-1)
        check_number("scheduled_lr", hp["scheduled_lr"], low=0)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group as :class:`CourseOptimizer` does; it starts in the optimizer's current mode."""
        if self.param_groups and isinstance(param_group, dict):
            param_group.setdefault("train_mode", self.param_groups[0]["train_mode"])
        super().add_param_group(param_group)

    @torch.no_grad()
    def train(self) -> None:
        """Training mode: every parameter that has a state moves from x to y = x + (1 − β1)(z − x)."""
        for group in self.param_groups:
            if not group["train_mode"]:
                beta1 = group["betas"][0]
                for p in group["params"]:
                    if "z" in self.state.get(p, {}):  # .get: no empty entry for a frozen p
                        p.lerp_(self.state[p]["z"], 1 - beta1)
                group["train_mode"] = True

    @torch.no_grad()
    def eval(self) -> None:
        """Evaluation mode: every parameter that has a state moves from y to x = y + (1 − 1/β1)(z − y)."""
        for group in self.param_groups:
            if group["train_mode"]:
                beta1 = group["betas"][0]
                for p in group["params"]:
                    if "z" in self.state.get(p, {}):  # .get: no empty entry for a frozen p
                        p.lerp_(self.state[p]["z"], 1 - 1 / beta1)
                group["train_mode"] = False

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step (in train mode only); return ``closure()``'s loss."""
        in_eval = [i for i, group in enumerate(self.param_groups) if not group["train_mode"]]
        if in_eval:
            raise RuntimeError(
                f"AdamWScheduleFree.step() was called in eval mode (param_groups {in_eval}): the "
                "parameters hold the average x, not the point y where gradients must be taken. "
                "Call optimizer.train() before training steps, and optimizer.eval() before "
                "evaluating or saving the model"
            )
        return super().step(closure)

    @staticmethod
    def advance_schedule(group: dict, lr: Any) -> tuple[Any, Any]:
        """Count step t = k + 1 in ``group``; return (γ_t, c_{t+1}) and record γ_t, max γ, Σ w."""
        k = group["k"]
        warmup = (k + 1) / group["warmup_steps"] if k < group["warmup_steps"] else 1.0
        lr = lr * warmup  # γ_t
        group["scheduled_lr"] = lr
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = ((k + 1) ** group["r"]) * (lr_max ** group["weight_lr_power"])  # w_t
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        group["k"] = k + 1
        return lr, (weight / weight_sum if weight_sum != 0 else 0)  # c_{t+1} (0 while all w = 0)

    def update_group(self, group: dict, lr: Any) -> None:
        """Apply the rule above to every parameter of ``group`` that has a gradient."""
        (beta1, beta2), eps, weight_decay = group["betas"], group["eps"], group["weight_decay"]
        bias_correction2 = 1 - beta2 ** (group["k"] + 1)
        lr, c = self.advance_schedule(group, lr)
        for y in self.params_with_grad(group):  # the parameter holds y_t
            state = self.state[y]
            if "z" not in state:
                state["z"] = torch.clone(y, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(y, memory_format=torch.preserve_format)
            z, v, g = state["z"], state["exp_avg_sq"], signed_grad(y, False)

            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β2 v_{t-1} + (1 − β2) g²
            denom = v.div(bias_correction2).sqrt_().add_(eps)  # √(v_t / (1 − β2^t)) + ε
            d = g.div(denom)
            if weight_decay != 0:
                d.add_(y, alpha=weight_decay)  # d_t = g / denom + λ y_t

            y.lerp_(z, c)  # (1 − c) y_t + c z_t
            y.add_(d, alpha=lr * (beta1 * (1 - c) - 1))  # − γ_t (1 − β1 (1 − c)) d_t = y_{t+1}
            z.sub_(d, alpha=lr)  # z_{t+1} = z_t − γ_t d_t
