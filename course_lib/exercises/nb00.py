"""Self-checks for notebook 00 (training loop anatomy).

The coding exercise runs the learner's ``train_one_epoch`` on a small problem with dropout against
one epoch of :func:`course_lib.training.fit` and names what went wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.exercises._answers import missing as _missing
from course_lib.training import fit

__all__ = [
    "EpochWatch",
    "Snapshots",
    "WatchedSGD",
    "check_grad_factor",
    "check_num_parameters",
    "check_sgd_group_keys",
    "check_train_one_epoch",
    "epoch_setup",
    "reference_epoch",
    "run_epoch",
]


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


# --- the coding exercise: one epoch of the training loop ------------------------------------------

#: The check's batches: 22 examples in batches of 8, 8 and 6 (the last one shorter, as usual).
SIZES = (8, 8, 6)
#: SGD's rate :math:`\gamma` and momentum :math:`\mu`, the dropout probability and the check's seed.
LR, MOMENTUM, DROPOUT, SEED = 0.1, 0.9, 0.25, 0


def epoch_setup() -> tuple[nn.Module, DataLoader]:
    """The check's problem: a float64 MLP with dropout, left in eval mode (as after an evaluation),
    and a loader of :data:`SIZES` batches in a fixed order.

    The weights, inputs and labels come from a seeded generator, and the global RNG is left as it
    was; the loader has its own generator, so iterating it draws nothing from the global RNG that
    dropout uses.
    """
    g = torch.Generator().manual_seed(SEED)
    with torch.random.fork_rng(devices=[]):  # the layers' own initialisation draws: undo them
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(DROPOUT), nn.Linear(8, 3))
    model = model.double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    x = torch.randn(sum(SIZES), 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (sum(SIZES),), generator=g)
    loader = DataLoader(
        TensorDataset(x, y), batch_size=SIZES[0], generator=torch.Generator().manual_seed(SEED)
    )
    return model, loader


def weights(model: nn.Module) -> list[torch.Tensor]:
    """Copies of the model's parameters."""
    return [p.detach().clone() for p in model.parameters()]


class EpochWatch:
    """What a learner's epoch did, seen through hooks (the check's hints are read from it).

    ``training``: the model's mode at each forward; ``losses``: every loss ``loss_fn`` returned;
    ``clean``: per ``backward()``, whether every ``.grad`` was ``None`` or zero when it started;
    ``steps``: per ``optimizer.step()``, the number of backward passes since the previous step and
    whether a gradient was there; ``weights``: the parameters after each step.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.training: list[bool] = []
        self.losses: list[float] = []
        self.clean: list[bool] = []
        self.steps: list[tuple[int, bool]] = []
        self.weights: list[list[torch.Tensor]] = []
        self.backwards = 0
        model.register_forward_pre_hook(self.on_forward)

    def on_forward(self, module: nn.Module, args) -> None:
        self.training.append(module.training)

    def loss_fn(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy, recorded; its backward is recorded too (a hook on the loss tensor)."""
        loss = F.cross_entropy(outputs, targets)
        self.losses.append(loss.item())
        if loss.requires_grad:
            loss.register_hook(self.on_backward)
        return loss

    def on_backward(self, grad: torch.Tensor) -> None:
        params = self.model.parameters()
        self.clean.append(all(p.grad is None or not p.grad.any() for p in params))
        self.backwards += 1

    def on_step(self) -> None:
        present = any(p.grad is not None and p.grad.any() for p in self.model.parameters())
        self.steps.append((self.backwards, present))
        self.backwards = 0


class WatchedSGD(torch.optim.SGD):
    """``torch.optim.SGD`` that tells an :class:`EpochWatch` about each step (before and after)."""

    def __init__(self, params, watch: EpochWatch, lr: float = LR, momentum: float = MOMENTUM):
        super().__init__(params, lr=lr, momentum=momentum)
        self.watch = watch

    def step(self, closure=None):
        self.watch.on_step()
        loss = super().step(closure)
        self.watch.weights.append(weights(self.watch.model))
        return loss


class Snapshots:
    """A ``fit`` callback keeping the parameters after every step."""

    def __init__(self) -> None:
        self.weights: list[list[torch.Tensor]] = []

    def on_step_end(self, state) -> None:
        self.weights.append(weights(state.model))


def reference_epoch() -> tuple[list[list[torch.Tensor]], float, list[float]]:
    """One epoch of :func:`course_lib.training.fit` on :func:`epoch_setup`'s problem, dropout seeded
    with :data:`SEED`: the weights after each step, the epoch's ``train_loss`` (the batch losses
    weighted by batch size, :math:`\\sum_b n_b L_b / \\sum_b n_b`) and the batch losses."""
    model, loader = epoch_setup()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    snaps = Snapshots()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        history = fit(model, opt, loader, 1, device="cpu", progress=False, callbacks=[snaps])
    return snaps.weights, history.train_loss[0], history.step_loss


def run_epoch(fn: Callable) -> tuple[EpochWatch, object] | None:
    """``fn(model, optimizer, loader, loss_fn)`` on the check's problem, watched: the watch and what
    ``fn`` returned; None after a hint when it did not finish. The global RNG is left as it was."""
    model, loader = epoch_setup()
    watch = EpochWatch(model)
    opt = WatchedSGD(model.parameters(), watch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        try:
            returned = fn(model, opt, loader, watch.loss_fn)
        except NotImplementedError:
            print(
                "Write the body of your function (replace `raise NotImplementedError`) and run "
                "the cell again."
            )
            return None
        except Exception as error:  # the learner's code may raise anything: say what
            print(f"Your function raised {type(error).__name__}: {error}")
            if "inplace operation" in str(error):
                print(
                    "optimizer.step() changed the weights in place before loss.backward() used "
                    "them: per batch, backward() first, then step()."
                )
            return None
    return watch, returned


def close(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> bool:
    """Equal weights up to float64 rounding."""
    return all(torch.allclose(p, q, rtol=1e-9, atol=1e-12) for p, q in zip(a, b))


def step_mistake(watch: EpochWatch, k: int) -> str:
    """The likely mistake behind a wrong step ``k`` (0-based), read from what the watch saw."""
    backwards, present = watch.steps[k]
    first = sum(b for b, _ in watch.steps[:k])
    if backwards == 0:
        return (
            "optimizer.step() ran before loss.backward(): the step found no gradient of this "
            "batch. Per batch: zero_grad, forward, loss, backward, and only then step."
        )
    if not present:
        return (
            "zero_grad ran between backward() and step(): it wiped the gradient, so step() had "
            "nothing to apply and the weights did not move. Zero the gradients before backward()."
        )
    if not all(watch.clean[first : first + backwards]):
        return (
            "The gradients accumulate: backward() adds into .grad and nothing cleared the previous "
            "batch's. Call optimizer.zero_grad() once per batch, before loss.backward()."
        )
    if not all(watch.training):
        return (
            "The model was in eval mode, so dropout was off: call model.train() before the loop "
            "(the model comes to you in eval mode, as after an evaluation)."
        )
    return (
        "Per batch: optimizer.zero_grad(), loss = loss_fn(model(x), y), loss.backward(), "
        "optimizer.step()."
    )


def steps_counted(watch: EpochWatch) -> bool:
    """True when the learner made one optimizer step per batch; otherwise False after a hint."""
    n, batches = len(watch.steps), len(SIZES)
    if n == batches:
        return True
    if not watch.losses:
        print(
            "Your function never called loss_fn: compute each batch's loss with "
            "loss_fn(model(x), y)."
        )
    elif n == 0:
        print(
            "Your function never called optimizer.step() (of the optimizer it was given): call it "
            "once per batch, after loss.backward()."
        )
    else:
        print(
            f"Your function called optimizer.step() {n} times for {batches} batches: one per batch."
        )
    return False


def weights_match(watch: EpochWatch, reference: list[list[torch.Tensor]]) -> bool:
    """True when the weights after every step equal ``fit``'s; otherwise False after the first
    mismatch (batch, parameter, how far off) and its likely mistake."""
    names = [name for name, _ in watch.model.named_parameters()]
    for k, (got, expected) in enumerate(zip(watch.weights, reference)):
        if close(got, expected):
            continue
        i = next(j for j, (a, b) in enumerate(zip(got, expected)) if not close([a], [b]))
        diff = (got[i] - expected[i]).abs().max().item()
        print(
            f"The weights after batch {k + 1} of {len(SIZES)} differ from fit's, first in "
            f"{names[i]} (by up to {diff:.2e})."
        )
        print(step_mistake(watch, k))
        return False
    return True


def loss_mistake(value: float, batch_losses: Sequence[float]) -> str:
    """The hint for a returned loss that is not the epoch's batch-size-weighted mean."""
    n = sum(SIZES)
    weighted = sum(s * loss for s, loss in zip(SIZES, batch_losses))
    sizes = ", ".join(map(str, SIZES[:-1])) + f" and {SIZES[-1]}"
    known = [
        (sum(batch_losses) / len(batch_losses), f"That is the plain mean of the batch losses, "
         f"but the batches hold {sizes} examples: weight each batch's loss by its size "
         f"(loss.item() * len(y)) and divide by the number of examples, as fit does."),
        (batch_losses[-1], "That is the last batch's loss: add up the losses of every batch."),
        (sum(batch_losses), "That is the sum of the batch losses: weight each by its batch size "
         "and divide by the number of examples."),
        (weighted, f"That is the sum of loss x batch size: divide it by the number of "
         f"examples ({n})."),
    ]  # fmt: skip
    for candidate, hint in known:
        if math.isclose(value, candidate, rel_tol=1e-9):
            return hint
    return f"Return the mean over the {n} examples: sum of loss.item() * len(y), divided by {n}."


def loss_matches(returned, expected: float, batch_losses: Sequence[float]) -> bool:
    """True when ``returned`` is ``fit``'s ``train_loss``; otherwise False after a hint."""
    if returned is None:
        print("Your function returned None: return the epoch's mean training loss (a float).")
        return False
    if isinstance(returned, torch.Tensor):
        returned = returned.detach()
    try:
        value = float(returned)
    except (TypeError, ValueError, RuntimeError):
        print(f"Return the epoch's mean loss as one number, got {type(returned).__name__}.")
        return False
    if math.isclose(value, expected, rel_tol=1e-9):
        return True
    print(f"The weights are right, but the mean loss {value:.6f} is not fit's {expected:.6f}.")
    print(loss_mistake(value, batch_losses))
    return False


def check_train_one_epoch(answer) -> bool:
    """Exercise 4 (code): ``fn(model, optimizer, loader, loss_fn)`` trains ``model`` for one epoch
    and returns its mean training loss :math:`\\sum_b n_b L_b / \\sum_b n_b` (batch :math:`b` of
    :math:`n_b` examples and mean loss :math:`L_b`).

    The check runs ``fn`` on a small MLP with dropout, handed over in eval mode, with SGD
    (:math:`\\gamma` = ``LR``, :math:`\\mu` = ``MOMENTUM``) over batches of :data:`SIZES`, and one
    epoch of :func:`course_lib.training.fit` on the same problem and dropout seed. It compares the
    weights after every batch, then the returned loss with ``fit``'s ``train_loss``; a mismatch
    names the batch and parameter and, read from hooks on the loss and the optimizer, the likely
    mistake: ``zero_grad`` missing, ``zero_grad`` after ``backward``, ``step`` before ``backward``,
    no ``model.train()``, an unweighted mean over batches of unequal sizes.
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function fn(model, optimizer, loader, loss_fn), got {answer!r}.")
        return False
    ran = run_epoch(answer)
    if ran is None:
        return False
    watch, returned = ran
    if not steps_counted(watch):
        return False
    reference, expected, batch_losses = reference_epoch()
    if not weights_match(watch, reference) or not loss_matches(returned, expected, batch_losses):
        return False
    print(
        f"Correct: the weights after each of the {len(SIZES)} batches and the mean loss "
        f"{expected:.4f} (weighted by batch size) equal one epoch of fit, dropout on."
    )
    return True
