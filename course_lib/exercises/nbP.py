r"""Self-checks for notebook P (the pitfalls clinic): one checker per pitfall, each running the
learner's fix on the tiny problem of :mod:`course_lib.experiments.pitfalls` and comparing what it
did (the rate of every update, the weights, the groups) with the right version.

A check prints "Correct: ..." or the first mismatch and a hint naming the mistake when it matches
one of the typical wrong versions (computed, not stored); it never raises on the learner's code:

    >>> check_step_order(None)
    Fill in your answer (replace None) and run the cell again.
    False
    >>> def unfinished(model, optimizer, scheduler, batches):
    ...     raise NotImplementedError
    >>> check_step_order(unfinished)
    Write the body of your function (replace `raise NotImplementedError`) and run the cell again.
    False

Symbols as in ``docs/notation.md``: :math:`\gamma_t` the rate at step :math:`t`, :math:`S` the
loss scale, :math:`c` the clipping threshold, :math:`\lambda` the weight decay, :math:`k` the
micro-batches per optimizer step, :math:`W` the warm-up steps, :math:`T` the steps of the schedule.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler as torch_sched

from course_lib import param_groups
from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_number as _read_number
from course_lib.experiments import pitfalls as P
from course_lib.training import fit

__all__ = [
    "ACCUMULATION",
    "COSINE",
    "LRS",
    "check_accumulation_schedule",
    "check_amp_clip",
    "check_amp_scheduler",
    "check_clipped_norm",
    "check_group_schedule",
    "check_keras_eps",
    "check_no_decay_groups",
    "check_resume",
    "check_step_order",
    "check_warmup_cosine",
    "check_warmup_plateau",
]

#: The accumulation exercise: micro-batches per step, optimizer steps, base rate.
ACCUMULATION = {"k": 3, "updates": 4, "lr": 0.1}
#: The warm-up + cosine exercise: warm-up steps W, total steps T, LinearLR's start factor.
COSINE = {"warmup": 3, "total": 10, "start": 0.1}
#: The per-group exercise: the two groups' base rates and the schedule's length.
LRS = {"features": 1e-3, "classifier": 1e-2, "total_steps": 6}


# --- shared ----------------------------------------------------------------------------------------


def read_function(answer, signature: str) -> bool:
    """True for a callable answer; otherwise print what to do (placeholder or wrong type)."""
    if _missing(answer):
        return False
    if not callable(answer):
        print(f"Answer with a function {signature}, got {answer!r}.")
        return False
    return True


def call(fn: Callable, *args) -> tuple[bool, Any]:
    """``(True, fn(*args))``, or ``(False, None)`` after saying what the learner's code raised."""
    try:
        return True, fn(*args)
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the cell again."
        )
    except Exception as error:  # the learner's code may raise anything: say what
        print(f"Your function raised {type(error).__name__}: {error}")
    return False, None


def same(a: Sequence[float], b: Sequence[float], rel: float = 1e-9) -> bool:
    """Two sequences of rates equal to rounding (same length)."""
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=rel, abs_tol=1e-15) for x, y in zip(a, b)
    )


def first_difference(got: Sequence[float], expected: Sequence[float]) -> str:
    """``"update t used 0.05, expected 0.1"`` for the first differing entry (or the lengths)."""
    for t, (g, e) in enumerate(zip(got, expected)):
        if not math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-15):
            return f"update {t} used lr {g:.6g}, expected {e:.6g}"
    return f"{len(got)} updates, expected {len(expected)}"


def fmt(values: Sequence[float]) -> str:
    """Rates for a message: ``[0.1, 0.05, ...]`` with 4 significant digits."""
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


# --- 1. the order of the two steps -----------------------------------------------------------------

STEP_ORDER_STEPS = 5


def check_step_order(answer) -> bool:
    """Pitfall 1 (code): ``fn(model, optimizer, scheduler, batches)`` trains one pass over
    ``batches`` (one optimizer step per batch) and steps the per-step ``StepLR(step_size=1,
    gamma=0.5)`` so that update :math:`t` uses :math:`\\gamma_t = 0.1 \\cdot 0.5^t`."""
    if not read_function(answer, "fn(model, optimizer, scheduler, batches)"):
        return False
    model, batches = P.tiny_model(), P.tiny_batches(STEP_ORDER_STEPS)
    opt = P.RecordingSGD(model.parameters(), lr=0.1)
    sched = torch_sched.StepLR(opt, step_size=1, gamma=0.5)
    ok, ran = call(P.caught, answer, model, opt, sched, batches)
    if not ok:
        return False
    messages = ran[1]
    expected = [0.1 * 0.5**t for t in range(STEP_ORDER_STEPS)]
    if len(opt.lrs) != STEP_ORDER_STEPS:
        print(
            f"optimizer.step() ran {len(opt.lrs)} times for {STEP_ORDER_STEPS} batches: once per batch."
        )
        return False
    if same(opt.lrs, expected) and not messages:
        print(f"Correct: every update used its own rate {fmt(expected)}, and torch did not warn.")
        return True
    print(f"The rates differ: {first_difference(opt.lrs, expected)}.")
    if same(opt.lrs, [*expected[1:], 0.1 * 0.5**STEP_ORDER_STEPS]) or any(
        "Detected call" in m for m in messages
    ):
        print("scheduler.step() runs before optimizer.step(): every update used the next step's "
              "rate and torch warned. Call optimizer.step() first, then scheduler.step().")  # fmt: skip
    elif same(opt.lrs, [0.1] * STEP_ORDER_STEPS):
        print(
            "The scheduler never stepped: call scheduler.step() once per batch, after optimizer.step()."
        )
    elif sched.last_epoch > STEP_ORDER_STEPS:
        print(
            f"The scheduler stepped {sched.last_epoch} times for {STEP_ORDER_STEPS} batches: once per batch."
        )
    else:
        print("Per batch: zero_grad, forward, backward, optimizer.step(), then scheduler.step().")
    return False


# --- 2. GradScaler's skipped steps -----------------------------------------------------------------

AMP_STEPS, AMP_SKIPS = 8, (0, 3)


def amp_setup():
    """Model, recording optimizer, per-step linear decay, scaler, batches, and the inf hook."""
    model, batches = P.tiny_model(), P.tiny_batches(AMP_STEPS)
    opt = P.RecordingSGD(model.parameters(), lr=0.1)
    sched = torch_sched.LambdaLR(opt, lambda t: P.linear_factor(t, AMP_STEPS))
    hook = P.inject_inf(model.weight, set(AMP_SKIPS))
    return model, opt, sched, torch.amp.GradScaler("cpu"), batches, hook


def check_amp_scheduler(answer) -> bool:
    """Pitfall 2 (code): ``fn(model, optimizer, scheduler, scaler, batches)``, the float16 loop of
    torch's AMP recipe (autocast, ``scaler.scale(loss).backward()``, ``scaler.step``,
    ``scaler.update``) with a per-step scheduler that advances only when the step was taken.

    The check makes the gradients ``inf`` at two steps, so ``GradScaler`` skips them; the real
    updates must use :math:`\\gamma_0, \\gamma_1, \\dots` in order and ``scheduler.last_epoch`` must
    count the real updates."""
    if not read_function(answer, "fn(model, optimizer, scheduler, scaler, batches)"):
        return False
    model, opt, sched, scaler, batches, hook = amp_setup()
    ok, ran = call(P.caught, answer, model, opt, sched, scaler, batches)
    hook.remove()
    if not ok:
        return False
    reference = P.amp_scheduler(protected=True, skip_at=AMP_SKIPS, steps=AMP_STEPS)
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        print("The weights are not finite: the overflowing steps were applied. Step through "
              "scaler.step(optimizer), which skips them, not optimizer.step().")  # fmt: skip
        return False
    if same(opt.lrs, reference.lrs) and sched.last_epoch == len(reference.lrs) and not ran[1]:
        print(f"Correct: {len(AMP_SKIPS)} steps skipped, the {len(reference.lrs)} real updates used "
              f"{fmt(reference.lrs)} and the scheduler counted {sched.last_epoch} steps.")  # fmt: skip
        return True
    print(f"The rates of the real updates differ: {first_difference(opt.lrs, reference.lrs)}.")
    if same(opt.lrs, P.amp_scheduler(False, AMP_SKIPS, AMP_STEPS).lrs):
        print("The scheduler stepped after the skipped steps too: the schedule runs ahead by one "
              "step per skip. Compare scaler.get_scale() before and after scaler.update() and "
              "step the scheduler only when it did not drop.")  # fmt: skip
    else:
        print(
            "Step the scheduler once per real update (the scale did not drop), after scaler.update()."
        )
    return False


# --- 3. accumulation: the scheduler and the loss ---------------------------------------------------


def accumulation_setup():
    """Model, recording optimizer, a linear decay over the optimizer steps, micro-batches."""
    k, updates = ACCUMULATION["k"], ACCUMULATION["updates"]
    model = P.tiny_model()
    opt = P.RecordingSGD(model.parameters(), lr=ACCUMULATION["lr"])
    sched = torch_sched.LambdaLR(opt, lambda t: P.linear_factor(t, updates))
    return model, opt, sched, P.tiny_batches(k * updates, size=4)


def accumulate_reference(weight: float, per_micro_batch: bool) -> tuple[list[float], torch.Tensor]:
    """Rates and final weights of the loop with each micro-batch's loss times ``weight`` and the
    scheduler stepped per optimizer step (or per micro-batch)."""
    model, opt, sched, batches = accumulation_setup()
    k = int(ACCUMULATION["k"])
    for i, (x, y) in enumerate(batches):
        (F.cross_entropy(model(x), y) * weight).backward()
        if (i + 1) % k == 0:
            opt.step()
            opt.zero_grad()
        if per_micro_batch or (i + 1) % k == 0:
            P.caught(sched.step)
    return opt.lrs, model.weight.detach().clone()


def fit_reference() -> tuple[list[float], torch.Tensor]:
    """Rates and final weights of ``fit(accumulation_steps=k)`` on the same micro-batches."""
    model, opt, sched, batches = accumulation_setup()
    fit(model, opt, P.tiny_loader(batches), 1, device="cpu", progress=False, scheduler=sched,
        scheduler_interval="step", accumulation_steps=int(ACCUMULATION["k"]))  # fmt: skip
    return opt.lrs, model.weight.detach().clone()


def check_accumulation_schedule(answer) -> bool:
    """Pitfall 3 (code): ``fn(model, optimizer, scheduler, micro_batches, k)`` makes one optimizer
    step per ``k`` micro-batches (equal sizes: weight each loss :math:`1/k`) and steps the
    scheduler once per optimizer step; compared with ``course_lib.training.fit(accumulation_steps=k)``."""
    if not read_function(answer, "fn(model, optimizer, scheduler, micro_batches, k)"):
        return False
    k, updates = int(ACCUMULATION["k"]), int(ACCUMULATION["updates"])
    model, opt, sched, batches = accumulation_setup()
    ok, _ = call(P.caught, answer, model, opt, sched, batches, k)
    if not ok:
        return False
    lrs, weight = fit_reference()
    got = model.weight.detach()
    if len(opt.lrs) != updates:
        print(f"optimizer.step() ran {len(opt.lrs)} times for {k * updates} micro-batches and k = "
              f"{k}: step once every k micro-batches.")  # fmt: skip
        return False
    if same(opt.lrs, lrs) and torch.allclose(got, weight, rtol=1e-5, atol=1e-7):
        print(
            f"Correct: {updates} optimizer steps at {fmt(lrs)}, the weights of fit(accumulation_steps={k})."
        )
        return True
    if not same(opt.lrs, lrs):
        print(f"The rates differ: {first_difference(opt.lrs, lrs)}.")
        if same(opt.lrs, accumulate_reference(1 / k, per_micro_batch=True)[0]):
            print(f"The scheduler stepped after every micro-batch: the schedule ran {k} times too "
                  "fast. Step it once per optimizer step.")  # fmt: skip
        return False
    print(f"The weights differ from fit's (by up to {(got - weight).abs().max().item():.2e}).")
    if torch.allclose(
        got, accumulate_reference(1.0, per_micro_batch=False)[1], rtol=1e-5, atol=1e-7
    ):
        print(
            f"The loss is not divided: the summed gradient is {k} times too large. Backward loss / k."
        )
    else:
        print("zero_grad once per optimizer step (after it), backward loss / k per micro-batch.")
    return False


# --- 4. warm-up and ReduceLROnPlateau ---------------------------------------------------------------


def check_warmup_plateau(answer) -> bool:
    """Pitfall 4 (code): ``fn(train_step, warmup, plateau, val_losses)`` runs one epoch per entry of
    ``val_losses``, ``PLATEAU["steps_per_epoch"]`` calls of ``train_step()`` each; the per-step
    ``warmup`` (a ``LambdaLR``) steps during the first ``PLATEAU["warmup"]`` steps only, and the
    per-epoch ``plateau`` (``ReduceLROnPlateau``) gets the epoch's loss once the warm-up is over."""
    if not read_function(answer, "fn(train_step, warmup, plateau, val_losses)"):
        return False
    train_step, opt, warm, plateau, losses = P.plateau_setup()
    ok, _ = call(answer, train_step, warm, plateau, losses)
    if not ok:
        return False
    expected = P.warmup_plateau("fixed")
    if same(opt.lrs, expected):
        print(f"Correct: warm-up to {P.PLATEAU_LR:g}, then halved by the plateau: {fmt(expected)}.")
        return True
    print(f"The rates differ: {first_difference(opt.lrs, expected)}.")
    if same(opt.lrs, P.warmup_plateau("warm-up all along")):
        print("The warm-up kept stepping after the warm-up: each LambdaLR step writes lr * f(t) "
              "into the group and erases the plateau's reduction. Stop stepping it after "
              f"{P.PLATEAU['warmup']} steps.")  # fmt: skip
    elif same(opt.lrs, P.warmup_plateau("plateau from the start")):
        print("The plateau scheduler counted the warm-up epochs as bad epochs: give it the loss "
              "only once the warm-up is over.")  # fmt: skip
    else:
        print(f"Warm-up: warmup.step() after each of the first {P.PLATEAU['warmup'] - 1} steps; "
              "then plateau.step(loss) at the end of each epoch.")  # fmt: skip
    return False


# --- 5. a warm-up + cosine factor for LambdaLR ------------------------------------------------------


def check_warmup_cosine(answer) -> bool:
    """Pitfall 5 (code): ``fn(t)``, the factor for ``LambdaLR`` equal at every step
    :math:`t = 0..T` to torch's ``SequentialLR([LinearLR(start_factor=0.1, total_iters=W),
    CosineAnnealingLR(T_max=T - W)], milestones=[W])`` with :math:`W, T` = ``COSINE``."""
    if not read_function(answer, "fn(t) -> factor"):
        return False
    w, total, start = int(COSINE["warmup"]), int(COSINE["total"]), COSINE["start"]
    expected, _ = P.sequential_reference(w, total, lr=1.0, start=start)
    ok, got = call(lambda: [float(answer(t)) for t in range(total + 1)])
    if not ok:
        return False
    got = list(got)
    if same(got, expected):
        print(f"Correct: equal to SequentialLR at every step: {fmt(expected)}.")
        return True
    t = next(
        i for i, (g, e) in enumerate(zip(got, expected)) if not math.isclose(g, e, abs_tol=1e-12)
    )
    print(f"At step {t} the factor is {got[t]:.6g}, SequentialLR's is {expected[t]:.6g}.")
    print(warmup_cosine_hint(got, expected, w, total, start))
    return False


def warmup_cosine_hint(got, expected, w: int, total: int, start: float) -> str:
    """The hint for a factor sequence ``got`` that matches a typical mistake."""
    cos = [0.5 * (1 + math.cos(math.pi * t / total)) for t in range(total + 1)]
    if same(got[:-1], expected[1:]):
        return "One step early: the value of step t belongs to factor(t), not factor(t + 1)."
    if same(got[1:], expected[:-1]):
        return f"One step late: at the milestone (t = {w}) the cosine starts from its own step 0."
    if same(got[w:], cos[w:]):
        return (
            f"The cosine counts from the milestone: use t - {w} and the period T - W = {total - w}."
        )
    if same(got[:w], [t / w for t in range(w)]):
        return f"LinearLR starts at start_factor = {start:g}: factor(t) = {start:g} + {1 - start:g} t / W."
    return "Warm-up: start_factor + (1 - start_factor) t / W for t < W; then 0.5 (1 + cos(pi (t - W) / (T - W)))."


# --- 6. resuming ------------------------------------------------------------------------------------

RESUME_BEFORE, RESUME_AFTER = 4, 4


def check_resume(answer) -> bool:
    """Pitfall 6 (code): ``fn(checkpoint, model, optimizer, scheduler)`` restores freshly built
    objects from ``checkpoint`` (``{"model", "optimizer", "scheduler"}``: the three ``state_dict``
    of a momentum-SGD run with a per-step cosine) so that the run continues exactly; ``fn`` may
    return a scheduler to use instead of the one it got."""
    if not read_function(answer, "fn(checkpoint, model, optimizer, scheduler)"):
        return False
    lrs, weight, _ = P.cosine_run(RESUME_BEFORE, RESUME_AFTER)
    ckpt = saved_run()
    model = P.tiny_model(seed=1)
    opt = P.RecordingSGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch_sched.CosineAnnealingLR(opt, T_max=RESUME_BEFORE + RESUME_AFTER)
    ok, new = call(answer, copy.deepcopy(ckpt), model, opt, sched)
    if not ok:
        return False
    if not torch.equal(model.weight, ckpt["model"]["weight"]):
        print(
            "The model's weights are not the checkpoint's: model.load_state_dict(checkpoint['model'])."
        )
        return False
    sched = new if new is not None else sched
    for batch in P.tiny_batches(RESUME_BEFORE + RESUME_AFTER)[RESUME_BEFORE:]:
        P.sgd_step(model, opt, batch)
        sched.step()
    if same(opt.lrs, lrs) and torch.equal(model.weight.detach(), weight):
        print(
            f"Correct: the resumed run used {fmt(lrs)} and ends with the same weights, bit for bit."
        )
        return True
    if not same(opt.lrs, lrs):
        print(f"The rates after resuming differ: {first_difference(opt.lrs, lrs)}.")
        print("The scheduler's state was not restored: the cosine started over. "
              "scheduler.load_state_dict(checkpoint['scheduler']).")  # fmt: skip
    else:
        print("Same rates, other weights: the optimizer's state (the momentum buffers) was not "
              "restored. optimizer.load_state_dict(checkpoint['optimizer']).")  # fmt: skip
    return False


def saved_run() -> dict:
    """The checkpoint of the first ``RESUME_BEFORE`` steps of :func:`~course_lib.experiments.pitfalls.cosine_run`."""
    model = P.tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch_sched.CosineAnnealingLR(opt, T_max=RESUME_BEFORE + RESUME_AFTER)
    for batch in P.tiny_batches(RESUME_BEFORE + RESUME_AFTER)[:RESUME_BEFORE]:
        P.sgd_step(model, opt, batch)
        sched.step()
    return copy.deepcopy(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
        }
    )


# --- 7. two groups, one schedule --------------------------------------------------------------------


def two_part_model() -> nn.Sequential:
    """``features`` (Linear 8 -> 4) and ``classifier`` (Linear 4 -> 3)."""
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(features=nn.Linear(P.FEATURES, 4), classifier=nn.Linear(4, P.CLASSES))
    )


def group_lrs(optimizer, scheduler, model, steps: int) -> dict[str, list[float]]:
    """The rate of the group holding each part's weight at steps ``0..steps - 1``."""
    parts = {name: getattr(model, name).weight for name in LRS if name != "total_steps"}
    index = {
        name: next(
            i for i, g in enumerate(optimizer.param_groups) if any(p is w for p in g["params"])
        )
        for name, w in parts.items()
    }
    out: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(steps):
        for name, i in index.items():
            out[name].append(float(optimizer.param_groups[i]["lr"]))
        optimizer.step()
        scheduler.step()
    return out


def check_group_schedule(answer) -> bool:
    """Pitfall 7 (code): ``fn(model, total_steps) -> (optimizer, scheduler)`` with two groups,
    ``model.features`` at ``LRS["features"]`` and ``model.classifier`` at ``LRS["classifier"]``,
    both annealed by one cosine :math:`\\gamma_g \\frac12 (1 + \\cos(\\pi t / T))` over ``total_steps``."""
    if not read_function(answer, "fn(model, total_steps) -> (optimizer, scheduler)"):
        return False
    model, total = two_part_model(), int(LRS["total_steps"])
    ok, built = call(answer, model, total)
    if not ok:
        return False
    if not (isinstance(built, tuple) and len(built) == 2):
        print(f"Return (optimizer, scheduler), got {built!r}.")
        return False
    opt, sched = built
    held = [p for g in opt.param_groups for p in g["params"]]
    if len(held) != 4 or any(all(p is not q for q in held) for p in model.parameters()):
        print("Every parameter of the model must be in exactly one group (4 tensors in all).")
        return False
    ok, lrs = call(group_lrs, opt, sched, model, total)
    if not ok:
        print("A group added after the scheduler was built is unknown to it (LambdaLR's zip). "
              "Build the optimizer with both groups first, then the scheduler.")  # fmt: skip
        return False
    return report_group_lrs(lrs, total)


def report_group_lrs(lrs: dict[str, list[float]], total: int) -> bool:
    """Compare each group's rates with its cosine; print the verdict and the hint."""
    cos = [0.5 * (1 + math.cos(math.pi * t / total)) for t in range(total)]
    wrong = [n for n, got in lrs.items() if not same(got, [LRS[n] * c for c in cos])]
    if not wrong:
        print(f"Correct: features from {LRS['features']:g}, classifier from {LRS['classifier']:g}, "
              f"one cosine over {total} steps for both.")  # fmt: skip
        return True
    name = wrong[0]
    print(
        f"The {name} group's rates differ: {first_difference(lrs[name], [LRS[name] * c for c in cos])}."
    )
    if same(lrs["features"], lrs["classifier"]):
        print("Both groups have the same rate: give each group dict its own 'lr'.")
    else:
        print(
            "Build the optimizer from two group dicts, then one CosineAnnealingLR(T_max=total_steps)."
        )
    return False


# --- 8. weight decay on biases and norms -----------------------------------------------------------


def check_no_decay_groups(answer) -> bool:
    """Pitfall 8 (code): ``fn(model, weight_decay) -> groups``, optimizer group dicts where weight
    matrices get ``weight_decay`` (:math:`\\lambda`) and biases and normalisation parameters get 0;
    compared with :func:`course_lib.param_groups.is_no_decay` on a model with a LayerNorm."""
    if not read_function(answer, "fn(model, weight_decay) -> list of group dicts"):
        return False
    model, lam = P.norm_model(), 0.01
    ok, groups = call(answer, model, lam)
    if not ok:
        return False
    ok, opt = call(torch.optim.AdamW, groups, 1e-3)
    if not ok:
        print("Return a list of dicts {'params': [...], 'weight_decay': ...} that AdamW accepts.")
        return False
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    held = [p for g in opt.param_groups for p in g["params"]]
    names = [n for n, p in model.named_parameters() if id(p) not in decay]
    if names or len(held) != len(list(model.parameters())):
        print(
            f"Every parameter in exactly one group: missing {names}"
            if names
            else "A parameter is in two groups."
        )
        return False
    return report_decay(model, decay, lam)


def report_decay(model: nn.Module, decay: dict[int, float], lam: float) -> bool:
    """Print the first parameter with the wrong decay and the hint; True when none."""
    owners = {id(p): m for m in model.modules() for p in m.parameters(recurse=False)}
    for name, p in model.named_parameters():
        skip = param_groups.is_no_decay(name, p, owners[id(p)])
        want = 0.0 if skip else lam
        if math.isclose(decay[id(p)], want, abs_tol=1e-15):
            continue
        print(f"{name} gets weight_decay {decay[id(p)]:g}, expected {want:g}.")
        if not skip:
            print(f"Weight matrices are what decay is for: give them weight_decay = {lam:g}.")
        elif isinstance(owners[id(p)], param_groups.NORM_TYPES):
            print("A norm layer's gain and shift: decaying them fights the normalisation. Put "
                  "every 1-D tensor (p.ndim <= 1) in the no-decay group.")  # fmt: skip
        else:
            print("A bias only shifts a unit: no decay for biases (names ending in .bias).")
        return False
    print("Correct: decay on the 2 weight matrices only; the biases and the LayerNorm get none.")
    return True


# --- 9. epsilon, Keras vs torch ---------------------------------------------------------------------

EPS_CASES = [(1e-7, 0.999, 1), (1e-7, 0.999, 10), (1e-8, 0.99, 3), (1e-3, 0.999, 100)]


def check_keras_eps(answer) -> bool:
    """Pitfall 9 (code): ``fn(epsilon, beta2, t)``, the ``eps`` for which torch's Adam step
    :math:`t` equals Keras's with ``epsilon``: Keras adds :math:`\\varepsilon` to
    :math:`\\sqrt{v_t}` before the bias correction, i.e. torch's form with
    :math:`\\varepsilon / \\sqrt{1 - \\beta_2^t}`."""
    if not read_function(answer, "fn(epsilon, beta2, t) -> eps"):
        return False
    for eps, b2, t in EPS_CASES:
        ok, got = call(answer, eps, b2, t)
        if not ok:
            return False
        expected = eps / math.sqrt(1 - b2**t)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            print(f"Answer with a function that returns a number, got {got!r}.")
            return False
        if not math.isclose(got, expected, rel_tol=1e-9):
            print(f"fn({eps:g}, {b2:g}, {t}) = {got:.6g}, expected {expected:.6g}.")
            print(keras_eps_hint(got, eps, b2, t))
            return False
    print("Correct: torch's eps = Keras's epsilon / sqrt(1 - beta2^t), 31.6 times larger at t = 1 "
          "with beta2 = 0.999, tending to epsilon as t grows.")  # fmt: skip
    return True


def keras_eps_hint(got: float, eps: float, b2: float, t: int) -> str:
    """The hint for a wrong conversion."""
    if math.isclose(got, eps, rel_tol=1e-9):
        return "The same epsilon is not the same step: Keras adds it to sqrt(v_t) before the bias correction."
    if math.isclose(got, eps * math.sqrt(1 - b2**t), rel_tol=1e-9):
        return "The inverse: Keras's epsilon counts for more at the start, divide by sqrt(1 - beta2^t)."
    if math.isclose(got, eps / (1 - b2**t), rel_tol=1e-9):
        return "Almost: the correction of v_t sits under the square root: sqrt(1 - beta2^t)."
    return "Write Keras's step as torch's m_hat / (sqrt(v_hat) + eps') and solve for eps'."


# --- 10. clipping under mixed precision -------------------------------------------------------------

CLIP = 0.1


def amp_clip_reference(order: str) -> torch.Tensor:
    """The weight after one fp16 step clipped to ``CLIP`` after (``"after"``) or before
    (``"before"``) ``unscale_``, or not clipped (``"none"``)."""
    model, batch = P.tiny_model(), P.tiny_batches(1, size=32)[0]
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    scaler = torch.amp.GradScaler("cpu")
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(batch[0]), batch[1])
    scaler.scale(loss).backward()
    if order == "before":
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    scaler.unscale_(opt)
    if order == "after":
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    scaler.step(opt)
    scaler.update()
    return model.weight.detach().clone()


def check_amp_clip(answer) -> bool:
    """Pitfall 10 (code): ``fn(model, optimizer, scaler, batch, max_norm)``, one float16 step with
    a ``GradScaler`` whose gradient is clipped to global norm ``max_norm`` (:math:`c`) before the
    update: ``unscale_`` first, then ``clip_grad_norm_``, ``scaler.step``, ``scaler.update``."""
    if not read_function(answer, "fn(model, optimizer, scaler, batch, max_norm)"):
        return False
    model, batch = P.tiny_model(), P.tiny_batches(1, size=32)[0]
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    scaler = torch.amp.GradScaler("cpu")
    ok, _ = call(answer, model, opt, scaler, batch, CLIP)
    if not ok:
        return False
    got = model.weight.detach()
    if torch.allclose(got, amp_clip_reference("after"), rtol=1e-6, atol=1e-8):
        print(
            f"Correct: the true gradient g was clipped to ||g|| = {CLIP:g}, then the step was taken."
        )
        return True
    hints = {
        "before": "You clipped S g, the scaled gradient: after unscaling its norm is c / S = "
        f"{CLIP / 65536:.2e}, not c. Call scaler.unscale_(optimizer) before clip_grad_norm_.",
        "none": "The step was not clipped: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).",
    }
    for order, hint in hints.items():
        if torch.allclose(got, amp_clip_reference(order), rtol=1e-6, atol=1e-8):
            print(hint)
            return False
    if torch.equal(got, P.tiny_model().weight):
        print("The weights did not move: call scaler.step(optimizer) and scaler.update().")
    else:
        print(
            "Scale the loss, backward, scaler.unscale_(optimizer), clip, scaler.step, scaler.update."
        )
    return False


def check_clipped_norm(
    answer, scale: float = 65536.0, max_norm: float = 1.0, norm: float = 5.0
) -> bool:
    """Numeric exercise: the norm of the gradient the optimizer gets when ``clip_grad_norm_(c)``
    runs on :math:`S g` before ``unscale_``, with :math:`\\|g\\|` = ``norm`` > :math:`c`: the scaled
    gradient is clipped to :math:`c`, then divided by :math:`S`: :math:`c / S`."""
    value = _read_number(answer)
    if value is None:
        return False
    expected = max_norm / scale
    if math.isclose(value, expected, rel_tol=1e-6):
        print(f"Correct: S g is clipped to c = {max_norm:g}, then divided by S: {expected:.3g}, "
              f"{norm * scale / max_norm:.0f} times less than ||g|| = {norm:g}.")  # fmt: skip
        return True
    if math.isclose(value, max_norm, rel_tol=1e-6):
        print(
            f"{max_norm:g} is what clipping after unscale_ gives; before, the division by S comes after."
        )
    elif math.isclose(value, norm, rel_tol=1e-6):
        print("Clipping does act here: ||S g|| is far above c, so S g is rescaled to norm c.")
    else:
        print(f"Not quite ({value:g}). Clip S g to norm c, then divide by S.")
    return False
