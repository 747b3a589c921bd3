"""Self-checks for notebook 08 (LR range test and one-cycle).

Expected values are computed with ``course_lib.lr_finder`` and ``course_lib.schedulers``. The coding
exercise runs the learner's range test against :func:`course_lib.lr_finder.lr_find`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.lr_finder import LRFinderResult, lr_find, sweep_lrs
from course_lib.models import MLP
from course_lib.optim import SGD
from course_lib.schedulers import OneCycleLR

__all__ = [
    "RateWatchSGD",
    "check_comparison_runs",
    "check_onecycle_momentum",
    "check_range_test",
    "check_smoothed_loss",
    "check_sweep_lr",
    "reference_sweep",
    "run_sweep",
    "sweep_setup",
]


def check_sweep_lr(
    answer, start_lr: float = 1e-6, end_lr: float = 10.0, num_iter: int = 101, t: int = 50
) -> bool:
    """Exercise 1: the rate at step ``t`` of the exponential sweep.

    :math:`\\gamma_t = \\gamma_0 (\\gamma_1/\\gamma_0)^{t/(T-1)}` (:math:`\\gamma` the learning rate, as in
    ``docs/notation.md``): halfway through, the geometric mean :math:`\\sqrt{\\gamma_0 \\gamma_1}`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    expected = sweep_lrs(start_lr, end_lr, num_iter)[t]
    if math.isclose(value, expected, rel_tol=1e-3):
        print(f"Correct: {expected:.3g} = sqrt({start_lr:g} x {end_lr:g}), the geometric midpoint.")
        return True
    if math.isclose(value, (start_lr + end_lr) / 2, rel_tol=1e-3):
        print("That is the arithmetic midpoint: the sweep is exponential (equal steps in log lr).")
    else:
        print(
            f"Not quite ({value:g}). Plug t={t}, T={num_iter} into "
            "gamma_0 (gamma_1/gamma_0)^(t/(T-1))."
        )
    return False


def check_smoothed_loss(answer, losses=(2.0, 1.0), beta: float = 0.98) -> bool:
    """Exercise 2: the bias-corrected smoothed loss after the losses ``losses``.

    :math:`a_t = \\beta a_{t-1} + (1-\\beta) f_t` (:math:`f_t` the batch loss) from :math:`a_{-1} = 0`,
    then :math:`\\tilde f_t = a_t / (1 - \\beta^{t+1})`.
    """
    value = _read_number(answer)
    if value is None:
        return False
    avg = 0.0
    for loss in losses:
        avg = beta * avg + (1 - beta) * loss
    expected = avg / (1 - beta ** len(losses))
    if math.isclose(value, expected, rel_tol=1e-4):
        print(
            f"Correct: {expected:.4f}, a weighted mean of {list(losses)} that favours the newer "
            f"loss by 1/beta. Without the correction it would be {avg:.4f}."
        )
        return True
    if math.isclose(value, avg, rel_tol=1e-4):
        print("That is the raw average a_t: divide by 1 - beta^(t+1) to remove the bias towards 0.")
    elif math.isclose(value, sum(losses) / len(losses), rel_tol=1e-4):
        print("That is the plain mean; the moving average weights the newer loss a little more.")
    else:
        print(f"Not quite ({value:g}). Run the two-line recursion by hand for t = 0 and 1.")
    return False


def check_onecycle_momentum(answer, max_lr: float = 0.1, total_steps: int = 100) -> bool:
    """Exercise 3: SGD's momentum at the step where one-cycle's rate peaks.

    ``OneCycleLR`` (``cycle_momentum=True``) moves momentum opposite to the rate: ``max_momentum``
    (0.95) when the rate is lowest, ``base_momentum`` (0.85) at the rate's peak.
    """
    value = _read_number(answer)
    if value is None:
        return False
    opt = SGD([torch.zeros(1, requires_grad=True)], lr=max_lr, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=max_lr, total_steps=total_steps)
    lrs, moms = [], []
    for _ in range(total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    expected = moms[max(range(total_steps), key=lrs.__getitem__)]
    if math.isclose(value, expected, rel_tol=1e-6):
        print(
            f"Correct: {expected:g}. Momentum is lowest where the rate is highest, so the "
            "effective step lr / (1 - momentum) does not blow up at the peak."
        )
        return True
    if math.isclose(value, max(moms), rel_tol=1e-6):
        print(f"{max(moms):g} is the momentum at the start and the end, where the rate is lowest.")
    elif math.isclose(value, 0.9, rel_tol=1e-6):
        print("0.9 is the optimizer's own momentum; OneCycleLR overwrites it every step.")
    else:
        print(f"Not quite ({value:g}). Record param_groups[0]['momentum'] at each step.")
    return False


# --- the coding exercise: a range test that leaves no trace ---------------------------------------

#: The check's sweep: from START_LR to END_LR in NUM_ITER steps, over a loader of BATCHES batches
#: (restarted when it runs out), with SGD at rate LR and momentum MOMENTUM before the sweep.
START_LR, END_LR, NUM_ITER, BATCHES = 1e-4, 100.0, 40, 4
LR, MOMENTUM = 0.05, 0.9


def check_comparison_runs(
    answer, schedules: int = 3, candidates: int = 3, tune_seeds: int = 1, eval_seeds: int = 5
) -> bool:
    """Exercise 5: how many training runs a tuned, paired comparison of schedules takes.

    Each of the ``schedules`` is tuned over the same ``candidates`` rates on ``tune_seeds`` seeds
    (scored on the validation split), then re-trained at its kept rate on all training images on
    each of ``eval_seeds`` seeds (scored on the test set):
    :math:`S\\,(C\\,n_{\\text{tune}} + n_{\\text{eval}})` runs, the range test aside.
    """
    value = _read_number(answer)
    if value is None:
        return False
    tuning, evaluation = schedules * candidates * tune_seeds, schedules * eval_seeds
    if math.isclose(value, tuning + evaluation):
        print(
            f"Correct: {tuning} tuning runs on the validation split and {evaluation} re-trained "
            "runs scored on the test set; the same budget for every schedule."
        )
        return True
    if math.isclose(value, tuning):
        print(
            "That counts the tuning only: each schedule is then re-trained on every evaluation seed."
        )
    elif math.isclose(value, evaluation):
        print("That counts the evaluation only: each schedule first tries every candidate rate.")
    elif math.isclose(value, schedules * candidates * eval_seeds):
        print("Tuning runs on the tuning seed only, not on every evaluation seed; then re-train.")
    else:
        print(
            f"Not quite ({value:g}). Count the tuning runs (schedules x candidates x tuning seeds), "
            "then the evaluation runs (schedules x evaluation seeds)."
        )
    return False


class RateWatchSGD(torch.optim.SGD):
    """``torch.optim.SGD`` that records the rate of its first group at every ``step()``."""

    def __init__(self, params, lr: float = LR, momentum: float = MOMENTUM):
        super().__init__(params, lr=lr, momentum=momentum)
        self.used: list[float] = []

    def step(self, closure=None):
        self.used.append(float(self.param_groups[0]["lr"]))
        return super().step(closure)


def sweep_setup() -> tuple[nn.Module, RateWatchSGD, DataLoader]:
    """A float64 MLP, its SGD after one step (so the optimizer has state, as in mid-training) and a
    loader of :data:`BATCHES` batches in a fixed order."""
    g = torch.Generator().manual_seed(8)
    x = torch.randn(8 * BATCHES, 40, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (8 * BATCHES,), generator=g)
    model = MLP(hidden_sizes=(16,), seed=0).double()
    opt = RateWatchSGD(model.parameters())
    F.cross_entropy(model(x), y).backward()
    opt.step()
    opt.zero_grad()
    opt.used.clear()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, generator=torch.Generator())
    return model, opt, loader


def reference_sweep() -> tuple[LRFinderResult, list[float]]:
    """:func:`course_lib.lr_finder.lr_find` on :func:`sweep_setup`'s problem, and the rates its
    steps used."""
    model, opt, loader = sweep_setup()
    result = lr_find(
        model, opt, loader, start_lr=START_LR, end_lr=END_LR, num_iter=NUM_ITER, progress=False
    )
    return result, opt.used


def run_sweep(fn: Callable):
    """``fn(model, optimizer, loader, START_LR, END_LR, NUM_ITER)`` on the check's problem: the
    model, the optimizer, their states before and what ``fn`` returned; None after a hint."""
    model, opt, loader = sweep_setup()
    before = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    try:
        with torch.random.fork_rng(devices=[]):
            returned = fn(model, opt, loader, START_LR, END_LR, NUM_ITER)
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the "
            "cell again."
        )
        return None
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__}: {error}")
        return None
    return model, opt, before, returned


def read_pair(returned) -> tuple[list[float], list[float]] | None:
    """``returned`` as two lists of numbers of one length, or None after a hint."""
    try:
        lrs, smoothed = returned
        lrs, smoothed = [float(v) for v in lrs], [float(v) for v in smoothed]
    except (TypeError, ValueError):
        print(f"Return a pair (lrs, smoothed) of two lists of numbers, got {returned!r:.80}.")
        return None
    if len(lrs) != len(smoothed):
        print(f"lrs has {len(lrs)} values and smoothed {len(smoothed)}: one of each per step.")
        return None
    return lrs, smoothed


def rate_mistake(used: Sequence[float], t: int) -> str:
    """The hint for a sweep whose rate at step ``t`` is not :func:`sweep_lrs`'s."""
    expected = sweep_lrs(START_LR, END_LR, NUM_ITER)
    linear = [START_LR + (END_LR - START_LR) * s / (NUM_ITER - 1) for s in range(NUM_ITER)]
    over_t = [START_LR * (END_LR / START_LR) ** (s / NUM_ITER) for s in range(NUM_ITER)]
    known = [
        (linear, "The rates grow linearly: the sweep is exponential, start_lr * (end_lr / "
         "start_lr) ** (t / (num_iter - 1)), equal steps in log lr."),
        ([LR, *expected], "Each step used the previous step's rate (the first one the "
         "optimizer's own): set group['lr'] before optimizer.step(), not after."),
        (over_t, "The exponent is t / num_iter: use t / (num_iter - 1), so that the last step "
         "is at end_lr."),
    ]  # fmt: skip
    for rates, hint in known:
        if all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(used, rates)):
            return hint
    return f"Step {t} used lr {used[t]:.6g}; the sweep's rate there is {expected[t]:.6g}."


def smoothing_mistake(got: Sequence[float], result: LRFinderResult, t: int) -> str:
    """The hint for smoothed losses that are not ``lr_find``'s from step ``t`` on."""
    beta = 0.98
    uncorrected, avg = [], 0.0
    for loss in result.losses:
        avg = beta * avg + (1 - beta) * loss
        uncorrected.append(avg)
    n = min(len(got), len(result.losses))
    for values, hint in (
        (result.losses, "Those are the raw batch losses: return the smoothed ones, "
         "a_t = beta a_(t-1) + (1 - beta) f_t, divided by 1 - beta^(t+1)."),
        (uncorrected, "The moving average is not bias-corrected: it starts at 0 and so is "
         "far too low for the first steps. Divide a_t by 1 - beta^(t+1)."),
    ):  # fmt: skip
        if all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got[:n], values[:n])):
            return hint
    return (
        f"At step {t} the smoothed loss is {got[t]:.6g}; lr_find's is {result.smoothed[t]:.6g}. "
        "Smooth with beta = 0.98 and the bias correction."
    )


def stop_mistake(n: int, expected: int) -> str:
    """The hint for a sweep of ``n`` steps where ``lr_find`` made ``expected``."""
    if n == NUM_ITER:
        return (
            f"Your sweep ran all {NUM_ITER} steps; lr_find stopped after {expected}, when the "
            "smoothed loss exceeded 4 times its best so far (the loss had blown up): stop there."
        )
    if n == BATCHES:
        return (
            f"Your sweep stopped after {BATCHES} steps, when the loader ran out: start it again "
            "(iterate over it once more) until num_iter steps are done."
        )
    later = "later" if n > expected else "earlier"
    return (
        f"Your sweep stopped after {n} steps, lr_find after {expected} ({later}): stop at the "
        "first step whose smoothed loss exceeds 4 times the best so far, that step included."
    )


def restore_mistake(model: nn.Module, opt: torch.optim.Optimizer, before) -> str | None:
    """The hint when the model or the optimizer is not as it was before the sweep."""
    model_state, opt_state = before
    if not all(torch.equal(model_state[k], v) for k, v in model.state_dict().items()):
        return (
            "The model keeps the weights of the sweep's end: save copy.deepcopy("
            "model.state_dict()) before the sweep and load it back afterwards."
        )
    now = opt.state_dict()
    rates = [g["lr"] for g in now["param_groups"]]
    if rates != [g["lr"] for g in opt_state["param_groups"]]:
        return (
            f"The optimizer's lr is left at {rates[0]:.3g}, not its own {LR:g}: save "
            "copy.deepcopy(optimizer.state_dict()) before the sweep and load it back afterwards."
        )
    same = now["state"].keys() == opt_state["state"].keys() and all(
        torch.equal(v, now["state"][i][k])
        for i, s in opt_state["state"].items()
        for k, v in s.items()
    )
    if not same:
        return (
            "The optimizer's state (its momentum buffers) is the sweep's: restore "
            "optimizer.state_dict() too, not only the rate."
        )
    return None


def first_difference(got: Sequence[float], expected: Sequence[float]) -> int | None:
    """The first index (over the common length) where the two sequences differ, or None."""
    for t, (a, b) in enumerate(zip(got, expected)):
        if not math.isclose(a, b, rel_tol=1e-9):
            return t
    return None


def sweep_mistake(lrs, smoothed, used, result: LRFinderResult) -> str | None:
    """The first thing wrong with a sweep (rates used, rates returned, smoothing, stop), or None."""
    if not used:
        return "Your function never called optimizer.step(): train one step at each rate."
    t = first_difference(used, result.lrs)
    if t is not None:
        return rate_mistake(used, t)
    if first_difference(lrs, used) is not None:
        return "The lrs you return are not the rates your steps used: record group['lr'] per step."
    t = first_difference(smoothed, result.smoothed)
    if t is not None:
        return smoothing_mistake(smoothed, result, t)
    if len(smoothed) != len(result.smoothed):
        return stop_mistake(len(smoothed), len(result.smoothed))
    return None


def check_range_test(answer) -> bool:
    """Exercise 4 (code): ``fn(model, optimizer, loader, start_lr, end_lr, num_iter)`` runs the
    range test and returns ``(lrs, smoothed)``, leaving the model and the optimizer as they were.

    The check runs ``fn`` on a small MLP whose SGD has a rate and momentum buffers already, with a
    loader shorter than the sweep, and :func:`course_lib.lr_finder.lr_find` on the same problem. It
    compares the rate each ``optimizer.step()`` used (:math:`\\gamma_t = \\gamma_0
    (\\gamma_1/\\gamma_0)^{t/(T-1)}`), the returned rates, the smoothed losses
    (:math:`a_t = \\beta a_{t-1} + (1-\\beta) f_t`, :math:`\\tilde f_t = a_t/(1-\\beta^{t+1})`,
    :math:`\\beta = 0.98`), where the sweep stopped (:math:`\\tilde f_t > 4 \\min_{s \\le t}
    \\tilde f_s`), and the model's and the optimizer's states afterwards; the first mismatch gets
    the hint of its likely mistake.
    """
    if _missing(answer):
        return False
    if not callable(answer):
        print(
            "Answer with a function fn(model, optimizer, loader, start_lr, end_lr, num_iter), "
            f"got {answer!r}."
        )
        return False
    ran = run_sweep(answer)
    pair = None if ran is None else read_pair(ran[3])
    if ran is None or pair is None:
        return False
    model, opt, before, _ = ran
    result, _ = reference_sweep()
    hint = sweep_mistake(*pair, opt.used, result) or restore_mistake(model, opt, before)
    if hint is not None:
        print(hint)
        return False
    print(
        f"Correct: the same {len(result.lrs)} rates and smoothed losses as lr_find, stopped at "
        f"lr {result.lrs[-1]:.3g} on divergence, and the model and optimizer restored."
    )
    return True
