"""L-BFGS: Newton's method with an inverse Hessian built from the last few gradient differences."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from course_lib._validation import check_callable, check_choice, check_int, check_number
from course_lib.optim._base import CourseOptimizer, check_lr, lr_as_scalar, reject_sparse
from course_lib.optim.line_search import strong_wolfe

__all__ = ["LBFGS", "two_loop_direction"]

LINE_SEARCHES = (None, "strong_wolfe")
#: a pair with yᵀs at or below this is skipped: the update would not keep H_k positive definite
CURVATURE_THRESHOLD = 1e-10


def two_loop_direction(flat_grad, old_dirs, old_stps, ro, H_diag, al) -> torch.Tensor:
    r"""d = −H_k g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4), never forming H_k.

    ``old_stps`` holds s_i, ``old_dirs`` y_i, ``ro`` ρ_i = 1 / (y_iᵀ s_i), oldest first; ``H_diag`` is
    the scale of H_0 = (sᵀy / yᵀy) I; ``al`` (torch's buffer, reused between steps) receives the
    α_i of the first loop::

        q = −g
        for i = newest ... oldest:   α_i = ρ_i s_iᵀ q,   q ← q − α_i y_i
        r = H_0 q
        for i = oldest ... newest:   β_i = ρ_i y_iᵀ r,   r ← r + (α_i − β_i) s_i
        d = r

    Two passes over the m pairs: O(m n) work and memory for n parameters, where H_k itself is n × n.
    ρ_i, α_i and β_i are Nocedal & Wright's letters, local to this recursion (not the rate ρ or
    RMSprop's α of docs/notation.md).
    """
    num_old = len(old_dirs)
    q = flat_grad.neg()
    for i in range(num_old - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q.add_(old_dirs[i], alpha=-al[i])
    r = torch.mul(q, H_diag)
    for i in range(num_old):
        be_i = old_dirs[i].dot(r) * ro[i]
        r.add_(old_stps[i], alpha=al[i] - be_i)
    return r


@dataclass
class Memory:
    """What one ``step`` carries between its iterations, under torch's state names.

    ``step`` reads it from the state at the start and writes it back at the end, as torch does:
    the lists and ``prev_flat_grad`` are the state's own objects, changed in place, so even a step
    interrupted by an error leaves the state as torch's would.
    """

    # All None before the first iteration ever (hence Any); the first iteration sets each one.
    d: Any = None  # d_k, the last direction (a tensor)
    t: Any = None  # a_k, the last step length (a number or a 0-d tensor)
    old_dirs: Any = None  # the y_i, oldest first (a list of tensors)
    old_stps: Any = None  # the s_i
    ro: Any = None  # the ρ_i = 1 / (y_iᵀ s_i)
    H_diag: Any = None  # H_0's scale sᵀy / yᵀy (1 until the first pair)
    prev_flat_grad: Any = None  # g_k
    prev_loss: Any = None  # f_k (a float)

    @classmethod
    def load(cls, state: dict) -> Memory:
        return cls(**{f.name: state.get(f.name) for f in fields(cls)})

    def save(self, state: dict) -> None:
        state.update((f.name, getattr(self, f.name)) for f in fields(self))


def update_memory(memory: Memory, flat_grad: torch.Tensor, history_size: int) -> None:
    """Add the newest secant pair (s, y) to the memory, and rescale H_0, if yᵀs > 1e-10.

    s = a d of the last iteration (the move just made), y = g_{k+1} − g_k. A full memory drops
    its oldest pair first. H_0's scale becomes sᵀy / yᵀy, the curvature along the newest move.
    """
    y = flat_grad.sub(memory.prev_flat_grad)
    s = memory.d.mul(memory.t)
    ys = y.dot(s)
    if not ys > CURVATURE_THRESHOLD:
        return
    if len(memory.old_dirs) == history_size:
        memory.old_dirs.pop(0)
        memory.old_stps.pop(0)
        memory.ro.pop(0)
    memory.old_dirs.append(y)
    memory.old_stps.append(s)
    memory.ro.append(1.0 / ys)
    memory.H_diag = ys / y.dot(y)


def check_closure(closure) -> None:
    """LBFGS evaluates f several times per step, so ``step`` needs the closure that computes it."""
    if closure is None:
        raise TypeError(
            "LBFGS.step needs a closure, got None: L-BFGS evaluates the loss and its gradient "
            "several times per step; pass a function that calls optimizer.zero_grad(), computes "
            "the loss, calls loss.backward() and returns the loss: optimizer.step(closure)"
        )
    check_callable("closure", closure, "a function of no arguments returning the loss")


class LBFGS(CourseOptimizer):
    r"""L-BFGS (Liu & Nocedal, 1989), with an optional strong-Wolfe line search: ``torch.optim.LBFGS``.

    Newton's method steps θ_{k+1} = θ_k − [∇²f(θ_k)]⁻¹ g_k, exact on a quadratic but needing the
    n × n Hessian and a solve. Quasi-Newton methods learn the curvature from gradients instead: the
    secant pairs of the last moves,

        s_k = θ_{k+1} − θ_k,      y_k = g_{k+1} − g_k,      ∇²f s_k ≈ y_k

    define an inverse-Hessian approximation H_k (BFGS: the matrix closest to H_{k−1} with
    H_k y_{k−1} = s_{k−1}; Nocedal & Wright, 2006, ch. 6). L-BFGS keeps only the last m =
    ``history_size`` pairs and applies H_k to a vector by the two-loop recursion
    (:func:`two_loop_direction`), starting from H_0 = (sᵀy / yᵀy) I with the newest pair
    (Nocedal & Wright, ch. 7): O(m n) memory instead of n². Each step(closure) runs up to
    ``max_iter`` iterations k = 1, 2, ...::

        g_k = ∇f(θ_k)                                   (the closure evaluates f and g)
        d_k = −g_k                                      first iteration ever
        d_k = −H_k g_k                                  afterwards, with (s, y) of the last move
        a_k = min(1, 1 / ‖g_1‖_1) γ  at the first iteration ever,  a_k = γ  afterwards
        a_k ← a step satisfying the strong Wolfe conditions, when line_search_fn="strong_wolfe"
              (sufficient decrease c1 = 1e-4, curvature c2 = 0.9; course_lib/optim/line_search.py)
        θ_{k+1} = θ_k + a_k d_k

    a_k is torch's ``t`` and d_k its ``d``, a descent direction that is added (the course's d_t of
    docs/notation.md, subtracted, is −d_k). A pair with yᵀs <= 1e-10 is not stored, so H_k stays
    positive definite and d_k a descent direction. Without a line search a_k = γ and f is evaluated
    once per iteration (not after the last one); with it, as often as the search needs.

    The step stops early, at the first of: ‖g‖_∞ <= ``tolerance_grad`` (before any iteration, or
    after one), gᵀd > −``tolerance_change`` (no descent left), ``max_iter`` iterations, ``max_eval``
    evaluations of f, ‖a_k d_k‖_∞ <= ``tolerance_change`` or |f_{k+1} − f_k| < ``tolerance_change``.

    One group of parameters only (the pairs live in one flat vector). State, kept as torch does on
    the first parameter: ``func_evals`` and ``n_iter`` (totals over all steps), ``d``, ``t``,
    ``old_dirs`` (the y_i), ``old_stps`` (the s_i), ``ro`` (ρ_i = 1 / y_iᵀs_i), ``H_diag``
    (sᵀy / yᵀy), ``prev_flat_grad``, ``prev_loss`` and ``al`` (the α_i buffer).

    Args:
        params: an iterable of tensors or ``(name, tensor)`` pairs, or one group dict.
        lr: γ, the step length before any line search (a float or a 1-element tensor), >= 0.
            Default 1.
        max_iter: iterations per ``step``, >= 1. Default 20.
        max_eval: evaluations of f per ``step``, >= 1. Default ``max_iter * 5 // 4``.
        tolerance_grad: stop when ‖g‖_∞ <= this, >= 0. Default 1e-7.
        tolerance_change: stop when the step or the change of f is below this, >= 0. Default 1e-9.
        history_size: m, the number of (s, y) pairs kept, >= 1. Default 100.
        line_search_fn: None (a_k = γ) or ``"strong_wolfe"``. Default None.

    Example (a quadratic f(θ) = ½ θᵀAθ − bᵀθ, minimised at A⁻¹b = (0.2, 0.4)):
        >>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
        >>> b = torch.tensor([1.0, 1.0], dtype=torch.float64)
        >>> theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> opt = LBFGS([theta], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = 0.5 * theta @ A @ theta - b @ theta
        ...     loss.backward()
        ...     return loss
        >>> loss = opt.step(closure)
        >>> theta.detach().numpy().round(6)  # one step(closure): up to max_iter iterations
        array([0.2, 0.4])
        >>> opt.state[theta]["n_iter"], opt.state[theta]["func_evals"]  # stopped: |Δf| < 1e-9
        (6, 6)
    """

    def __init__(
        self,
        params,
        lr: float | torch.Tensor = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None:
            max_eval = check_int("max_iter", max_iter, low=1) * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _check_hyperparameters(hp: dict) -> None:
        check_lr(hp["lr"])
        check_int("max_iter", hp["max_iter"], low=1)
        check_int("max_eval", hp["max_eval"], low=1)
        check_number("tolerance_grad", hp["tolerance_grad"], low=0)
        check_number("tolerance_change", hp["tolerance_change"], low=0)
        check_int("history_size", hp["history_size"], low=1)
        check_choice("line_search_fn", hp["line_search_fn"], LINE_SEARCHES)

    def add_param_group(self, param_group: dict) -> None:
        """Check a group as every course optimizer does; refuse it if it is not the only one."""
        super().add_param_group(param_group)
        if len(self.param_groups) > 1:
            del self.param_groups[1:]
            raise ValueError(
                "LBFGS doesn't support per-parameter options (parameter groups): it takes one "
                "group, got a second one (param_groups[1]); put every tensor in one list"
            )

    # The parameters as one flat vector θ ∈ R^n, in the group's order.

    @property
    def _params(self) -> list[torch.Tensor]:
        return self.param_groups[0]["params"]

    def flat_grad(self) -> torch.Tensor:
        """g as one vector; a parameter without a gradient contributes zeros."""
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(torch.zeros(p.numel(), dtype=p.dtype, device=p.device))
            else:
                reject_sparse(p.grad, self)
                views.append(p.grad.view(-1))
        return torch.cat(views, 0)

    def add_to_params(self, step_size: Any, direction: torch.Tensor) -> None:
        """θ ← θ + step_size · direction, the flat direction cut back into the parameters."""
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(direction[offset : offset + numel].view_as(p), alpha=step_size)
            offset += numel

    def directional_evaluate(self, closure, x: list[torch.Tensor], t: Any, d: torch.Tensor):
        """(f, g) at θ = x + t d, for the line search; the parameters are put back to x."""
        self.add_to_params(t, d)
        loss = float(closure())
        flat_grad = self.flat_grad()
        for p, saved in zip(self._params, x, strict=True):
            p.copy_(saved)
        return loss, flat_grad

    # One step: up to max_iter iterations.

    @torch.no_grad()
    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss at the starting point."""
        check_closure(closure)
        group = self.param_groups[0]
        check_choice("line_search_fn", group["line_search_fn"], LINE_SEARCHES)
        closure = torch.enable_grad()(closure)
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss, flat_grad = float(orig_loss), self.flat_grad()
        state["func_evals"] += 1
        if flat_grad.abs().max() <= group["tolerance_grad"]:
            return orig_loss  # already stationary: no iteration, nothing else stored

        memory, current_evals = Memory.load(state), 1
        for n_iter in range(1, group["max_iter"] + 1):
            state["n_iter"] += 1
            d = self._direction(state, memory, flat_grad, group["history_size"])
            self._remember(memory, loss, flat_grad)
            t = memory.t = self._initial_step(state, flat_grad, lr_as_scalar(group["lr"]))
            gtd = flat_grad.dot(d)  # gᵀd, the slope along d
            if gtd > -group["tolerance_change"]:
                break
            last = n_iter == group["max_iter"]
            max_ls = group["max_eval"] - current_evals
            loss, flat_grad, memory.t, evals = self._move(
                closure, group, loss, flat_grad, t, d, gtd, last, max_ls
            )
            current_evals += evals
            state["func_evals"] += evals
            if last or self._should_stop(group, memory, loss, flat_grad, current_evals):
                break
        memory.save(state)
        return orig_loss

    @staticmethod
    def _direction(state: dict, memory: Memory, flat_grad, history_size: int) -> torch.Tensor:
        """d_k: −g at the first iteration ever, else −H_k g after adding the newest pair."""
        if state["n_iter"] == 1:
            memory.old_dirs, memory.old_stps, memory.ro, memory.H_diag = [], [], [], 1
            memory.d = flat_grad.neg()
            return memory.d
        update_memory(memory, flat_grad, history_size)
        if "al" not in state:
            state["al"] = [None] * history_size
        memory.d = two_loop_direction(
            flat_grad, memory.old_dirs, memory.old_stps, memory.ro, memory.H_diag, state["al"]
        )
        return memory.d

    @staticmethod
    def _remember(memory: Memory, loss: float, flat_grad: torch.Tensor) -> None:
        """Keep f_k and g_k for the stopping test and the next secant pair (y = g_{k+1} − g_k)."""
        if memory.prev_flat_grad is None:
            memory.prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
        else:
            memory.prev_flat_grad.copy_(flat_grad)
        memory.prev_loss = loss

    @staticmethod
    def _initial_step(state: dict, flat_grad: torch.Tensor, lr: Any) -> Any:
        """a_k before any line search: min(1, 1 / ‖g‖_1) γ at the first iteration ever, else γ."""
        if state["n_iter"] == 1:
            return min(1.0, 1.0 / flat_grad.abs().sum()) * lr
        return lr

    def _move(self, closure, group, loss, flat_grad, t, d, gtd, last, max_ls):
        """θ ← θ + a d; return (f, g, a, evaluations of f) at the new θ.

        With the strong-Wolfe search, a is the step it finds in at most 1 + ``max_ls``
        evaluations. Without, a = t and f is evaluated once, except after the last iteration,
        where f and g stay those of the previous point (torch: no use in a stochastic setting).
        """
        if group["line_search_fn"] == "strong_wolfe":
            x_init = [p.clone(memory_format=torch.contiguous_format) for p in self._params]

            def obj_func(x, t, d):
                return self.directional_evaluate(closure, x, t, d)

            loss, flat_grad, t, evals = strong_wolfe(
                obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_ls
            )
            self.add_to_params(t, d)
            return loss, flat_grad, t, evals
        self.add_to_params(t, d)
        if last:
            return loss, flat_grad, t, 0
        loss = float(closure())
        return loss, self.flat_grad(), t, 1

    @staticmethod
    def _should_stop(group: dict, memory: Memory, loss: float, flat_grad, current_evals) -> bool:
        """The stopping tests after a move (``max_iter`` is the loop's own)."""
        tolerance_change = group["tolerance_change"]
        return bool(
            current_evals >= group["max_eval"]
            or flat_grad.abs().max() <= group["tolerance_grad"]
            or memory.d.mul(memory.t).abs().max() <= tolerance_change
            or abs(loss - memory.prev_loss) < tolerance_change
        )
