r"""Checkers for code: a learner's optimizer class or schedule function against torch, step by step.

:func:`check_optimizer` runs a ``torch.optim.Optimizer`` subclass and the reference (a torch.optim
class, or course_lib.optim's for the optimizers torch lacks) through the same small float64 grid
(``course_lib.exercises._parity``): one group, two groups with their own rate (and weight decay), a
parameter whose gradient comes late, a rate changed between steps, weight decay, ``maximize``, and a
``state_dict`` round trip (25 steps for one group and for the round trip, 12 + 13; 12 for each of the
others). Every parameter and every state entry is compared after
every step (relative 1e-10); the first difference is printed with a hint found by running the
reference under typical mistakes (``course_lib.exercises._variants``) and seeing which one the
learner's run follows. :func:`check_schedule` runs a factor function through torch's ``LambdaLR``
and compares every rate with a torch scheduler or a ``course_lib.schedules`` closed form.

Both print ``Correct: ...`` or what is wrong, return ``True``/``False`` and never raise on the
learner's code (a ``like`` they do not know is the notebook's mistake: ``ValueError``).

    >>> import torch
    >>> check_optimizer(torch.optim.Adam, like="Adam", lr=0.01)  # doctest: +ELLIPSIS
    Correct: your Adam matches torch.optim.Adam on 110 steps over 7 cases (one group, ...).
    True
    >>> check_schedule(lambda t: 0.5 ** (t // 10), like="StepLR", step_size=10, gamma=0.5)
    Correct: all 101 rates match torch.optim.lr_scheduler.StepLR (base lr 0.1), step for step.
    True
"""

from __future__ import annotations

import inspect
import traceback
from dataclasses import replace

import torch

from course_lib import optim as course_optim
from course_lib._validation import check_int, check_number
from course_lib.exercises._parity import (
    SHAPES,
    Case,
    Mismatch,
    Record,
    accepts,
    first_mismatch,
    records_match,
    run_case,
    start_params,
)
from course_lib.exercises._schedule_parity import (
    learner_rates,
    rate_close,
    reference_rates,
    schedule_hint,
)
from course_lib.exercises._variants import HINTS, variants_for

__all__ = ["check_optimizer", "check_schedule"]

#: torch.optim classes the grid supports (each passes its own check: tests/test_checkers.py)
TORCH_OPTIMIZERS = (
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "SGD",
)
#: course_lib.optim classes for optimizers torch lacks
COURSE_OPTIMIZERS = ("Lamb", "LARS", "Lion", "Yogi")

UNFINISHED = (
    "Write the body of step() (replace `raise NotImplementedError`) and run the cell again."
)
NOT_FILLED = "Fill in your answer (replace None) and run the cell again."
NO_GRAD = (
    "Decorate step with @torch.no_grad(): changing a parameter in place while autograd records "
    "it raises 'a leaf Variable that requires grad is being used in an in-place operation'."
)
NONE_GRAD = (
    "A parameter without a gradient (p.grad is None) must be skipped: start the loop over "
    "group['params'] with `if p.grad is None: continue` (torch makes no state for it either)."
)
LAZY = (
    "State for a parameter that has had no gradient yet: create the state lazily, at the first "
    "step where p.grad is not None (`if len(state) == 0: ...`), not in __init__."
)
EAGER = (
    "{ref_name} makes this state ({keys}) in __init__ for every parameter, before any gradient: "
    "create yours there too (self.state[p] for each p of each group)."
)
UNCHANGED = (
    "Your step left this parameter as it was: update it in place (p.add_(...), p.sub_(...), "
    "p.addcdiv_(...)); p = p - ... only gives the name p a new tensor."
)
ROUND_TRIP = (
    "After load_state_dict your run parts from torch's: keep every running quantity in "
    "self.state[p] (state_dict() saves only self.state and param_groups; attributes of the "
    "optimizer are lost)."
)
STEP_COUNT = (
    "state['step'] is t, the number of updates this parameter has had: increment it once per "
    "step, before using it (1 after the first step)."
)


def _reference(like: str):
    """The reference class called ``like`` and how to name it; ValueError for an unknown name."""
    choices = {n: (getattr(torch.optim, n), f"torch.optim.{n}") for n in TORCH_OPTIMIZERS}
    choices.update(
        {n: (getattr(course_optim, n), f"course_lib.optim.{n}") for n in COURSE_OPTIMIZERS}
    )
    by_lower = {k.lower(): (k, *v) for k, v in choices.items()}
    if not isinstance(like, str) or like.lower() not in by_lower:
        listed = ", ".join(repr(k) for k in sorted(choices, key=str.lower))
        raise ValueError(f"like must be one of {listed} (any case), got {like!r}")
    return by_lower[like.lower()]


def _cases(ref, cls, hyper: dict) -> tuple[list[Case], list[str]]:
    """The grid for this pair of classes, and the 'skipped' lines for options the learner lacks."""
    lr = hyper.get("lr", inspect.signature(ref.__init__).parameters["lr"].default)
    second: dict = {"lr": float(lr) * 0.5}
    both = {n: accepts(ref, n) and accepts(cls, n) for n in ("weight_decay", "maximize")}
    if both["weight_decay"]:
        second["weight_decay"] = 0.02
    cases = [
        Case("one group", steps=25),
        Case("two groups", steps=12, groups=(((0, 1), {}), ((2, 3), second))),
        Case("a late gradient", steps=12, late=2, late_steps=4),
        Case("a changing lr", steps=12, lr_changes=((5, 0.5), (9, 3.0))),
    ]
    if both["weight_decay"]:
        decay = {"weight_decay": hyper.get("weight_decay") or 0.1}
        cases.append(Case("weight decay", steps=12, options=decay))
    if both["maximize"]:
        cases.append(Case("maximize", steps=12, options={"maximize": True}))
    cases.append(Case("state_dict round trip", steps=25, resume_at=12))
    skipped = [
        f"skipped: your class takes no `{n}`" for n in both if accepts(ref, n) and not both[n]
    ]
    return cases, skipped


def _values(x) -> str:
    """A few numbers of a tensor (or the value itself), enough digits to see a small difference."""
    if isinstance(x, torch.Tensor):
        flat = x.detach().reshape(-1).tolist()
        shown = ", ".join(f"{v:.10g}" for v in flat[:4])
        return f"[{shown}{', ...' if len(flat) > 4 else ''}]"
    return repr(x)


def _unfinished(exc: NotImplementedError) -> str:
    """:data:`UNFINISHED`, naming the method that raised when it is not ``step`` (a hook to write)."""
    frames = traceback.extract_tb(exc.__traceback__)
    name = frames[-1].name if frames else "step"
    if name == "step" or not name.isidentifier():
        return UNFINISHED
    return UNFINISHED.replace("step()", f"{name}()")


def _error_message(case: Case, error: tuple[int, BaseException], cls) -> str:
    """What to print when the learner's class raised (in the constructor or at a step)."""
    step, exc = error
    text = str(exc)
    if isinstance(exc, NotImplementedError):
        return _unfinished(exc)
    where = "when built" if step == 0 else f"at step {step}"
    head = f'Case "{case.name}": your {cls.__name__} raised {type(exc).__name__} {where}: {text}'
    if isinstance(exc, RuntimeError) and "leaf Variable that requires grad" in text:
        return f"{head}\nHint: {NO_GRAD}"
    if isinstance(exc, (AttributeError, TypeError)) and "NoneType" in text:
        return f"{head}\nHint: {NONE_GRAD}"
    if step == 0 and isinstance(exc, TypeError):
        return f"{head}\nHint: your __init__ must take the arguments the reference takes."
    return head


def _describe(case: Case, m: Mismatch) -> str:
    """The first mismatch in words: case, step, parameter, what differs, both values."""
    shape = tuple(SHAPES[m.index])
    where = f'Case "{case.name}", step {m.step}, parameter {m.index} (shape {shape})'
    if m.what == "state keys":
        return f"{where}: the state keys differ: torch's {m.expected}, yours {m.got}."
    if m.what == "no state":
        return f"{where}: it has had no gradient yet, so no state; yours has {m.got}."
    return f"{where}: {'the parameter' if m.what == 'parameter' else m.what} differs.\n  expected {_values(m.expected)}\n  got      {_values(m.got)}"


def _fallback(case: Case, m: Mismatch, ref_name: str) -> str:
    """A hint read from where the mismatch is, when no typical mistake reproduces the run."""
    if m.what == "no state":
        return LAZY
    early = case.late == m.index and m.step <= case.late_steps
    if m.what == "state keys" and early and not m.got:
        return EAGER.format(ref_name=ref_name, keys=m.expected)
    if m.what == "state keys":
        return (
            f"{ref_name} keeps {m.expected} in self.state[p]; keep the running quantities there "
            "under torch's names (state_dict() saves only self.state and param_groups)."
        )
    if case.resume_at is not None and m.step > case.resume_at:
        return ROUND_TRIP
    if m.what == "state['step']":
        return STEP_COUNT
    by_case = {
        "two groups": HINTS["group_values"],
        "a changing lr": HINTS["group_values"],
        "maximize": HINTS["maximize"],
        "weight decay": f"Only the weight-decay case differs: check where weight_decay enters "
        f"{ref_name}'s rule (its documentation gives the formula).",
        "a late gradient": "Only the late-gradient case differs: each parameter's state (and "
        "its step count t) starts at its own first gradient.",
    }
    if case.name in by_case:
        return by_case[case.name]
    return (
        f"Compare your rule with {ref_name}'s formula line by line (signs, which average gets "
        "which beta, where eps goes, the order of the updates)."
    )


def _diagnose(like: str, ref, case: Case, hyper: dict, want: Record, got: Record, at: int):
    """The hint of the first typical mistake whose run the learner's parameters follow.

    The variants run a few steps past ``at``, the first wrong step, which is enough to tell them
    apart and keeps a wrong answer's check as quick as a right one's.
    """
    short = replace(case, steps=min(case.steps, max(at + 3, 6)))
    n = min(len(got.params), short.steps)
    try:
        variants = variants_for(like, ref, short, hyper)
    except Exception:  # arguments the variants cannot read: no diagnosis, the fallback hint
        return None
    for variant in variants:
        try:
            factory, v_case, v_hyper = variant.make(ref, short, hyper)
            rec = run_case(factory, v_case, v_hyper)
        except Exception:  # a variant that cannot be built for these arguments: try the next
            continue
        if rec.error is None and not records_match(want, rec, n):
            if records_match(got, rec, n):
                return HINTS[variant.key]
    return None


_REFERENCE_RUNS: dict[str, Record] = {}


def _reference_run(ref, case: Case, hyper: dict) -> Record:
    """``run_case(ref, case, hyper)``, kept: the reference's run is the same for every learner."""
    key = repr((ref, case, sorted(hyper.items())))
    if key not in _REFERENCE_RUNS:
        if len(_REFERENCE_RUNS) > 256:
            _REFERENCE_RUNS.clear()
        _REFERENCE_RUNS[key] = run_case(ref, case, hyper)
    return _REFERENCE_RUNS[key]


def _compare(like: str, ref, ref_name: str, case: Case, hyper: dict, cls) -> bool:
    """Run ``case`` on both classes; print the first difference and its hint."""
    # the reference resumes too: torch's own round trip is not always exact (NAdam's float32
    # mu_product comes back as float64), and the learner's must do what torch's does
    want = _reference_run(ref, case, hyper)
    if want.error is not None:
        raise want.error[1]
    got = run_case(cls, case, hyper)
    m = first_mismatch(want, got)
    if m is None and got.error is None:
        return True
    if m is None:
        assert got.error is not None
        print(_error_message(case, got.error, cls))
        return False
    print(_describe(case, m))
    before = got.params[m.step - 2] if m.step > 1 else start_params(case)
    same = isinstance(m.got, torch.Tensor) and m.got.dtype == before[m.index].dtype
    unchanged = same and m.got.shape == before[m.index].shape
    if m.what == "parameter" and unchanged and torch.equal(before[m.index], m.got):
        print("Hint: " + UNCHANGED)
        return False
    hint = None
    if m.what not in ("state keys", "no state"):
        hint = _diagnose(like, ref, case, hyper, want, got, m.step)
    print("Hint: " + (hint or _fallback(case, m, ref_name)))
    return False


def _closure_note(cls, hyper: dict) -> None:
    """One line when ``step(closure)`` does not call the closure or return its loss (not graded)."""
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)

    def closure():
        w.grad = torch.full_like(w, 0.5)
        return torch.tensor(1.25)

    try:
        loss = cls([w], **hyper).step(closure)
    except TypeError:
        print("note: your step() takes no closure; torch's take step(closure) and return its loss.")
        return
    except Exception:  # the learner's code: the graded cases already ran, this is a note only
        return
    if not isinstance(loss, (torch.Tensor, float)) or float(loss) != 1.25:
        print(
            "note: your step(closure) does not return the closure's loss (torch's optimizers do)."
        )


def check_optimizer(cls, like: str = "Adam", **hyper) -> bool:
    r"""Whether the learner's optimizer class ``cls`` behaves as the reference ``like`` with ``hyper``.

    Both are built as ``cls(groups, **hyper)`` on the same float64 parameters and fed the same
    gradients g_t; after every step of every case each parameter θ_t and each state entry (torch's
    names: ``step``, ``exp_avg``, ``exp_avg_sq``, ``momentum_buffer``, ``sum``, ``square_avg``, ...)
    must agree to 1e-10 relative. Cases for ``weight_decay`` and ``maximize`` run only when the
    learner's ``__init__`` takes them (a "skipped" line says so otherwise). Prints ``Correct: ...``
    or the first mismatch with a hint; returns True/False. ``like`` is one of
    :data:`TORCH_OPTIMIZERS` or :data:`COURSE_OPTIMIZERS` (any case), else ValueError.
    """
    name, ref, ref_name = _reference(like)
    ref([torch.zeros(1, dtype=torch.float64, requires_grad=True)], **hyper)  # its own errors
    if cls is None:
        print(NOT_FILLED)
        return False
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        print(f"Answer with a subclass of torch.optim.Optimizer (the class itself), got {cls!r}.")
        return False
    cases, skipped = _cases(ref, cls, hyper)
    for line in skipped:
        print(line)
    for case in cases:
        if not _compare(name, ref, ref_name, case, hyper, cls):
            return False
    _closure_note(cls, hyper)
    print(
        f"Correct: your {cls.__name__} matches {ref_name} on {sum(c.steps for c in cases)} steps "
        f"over {len(cases)} cases ({', '.join(c.name for c in cases)})."
    )
    return True


def check_schedule(
    fn, like: str = "warmup_cosine", base_lr: float = 0.1, total_steps: int = 100, **hyper
) -> bool:
    r"""Whether the factor function ``fn`` gives the schedule ``like`` through torch's ``LambdaLR``.

    LambdaLR sets :math:`\gamma_t = \gamma\,s(t)` with :math:`\gamma` = ``base_lr`` and
    :math:`s` = ``fn``; the rates before each of ``total_steps + 1`` steps are compared (1e-9
    relative) with the torch scheduler ``like`` built with ``hyper`` on an SGD of rate ``base_lr``,
    or with the ``course_lib.schedules`` closed form ``like`` (:data:`CLOSED_FORMS`), whose rate
    argument is ``base_lr`` and ``total_steps`` its T unless ``hyper`` gives them. The first wrong
    step is printed with both values and a hint. Returns True/False.
    """
    check_number("base_lr", base_lr, low=0.0, low_inclusive=False)
    check_int("total_steps", total_steps, low=1)
    want, ref_name = reference_rates(like, base_lr, total_steps, hyper)
    if fn is None:
        print(NOT_FILLED)
        return False
    got = learner_rates(fn, base_lr, len(want))
    if got is None:
        return False
    bad = [t for t, (g, w) in enumerate(zip(got, want)) if not rate_close(g, w)]
    if not bad:
        print(
            f"Correct: all {len(want)} rates match {ref_name} (base lr {base_lr:g}), step for step."
        )
        return True
    t = bad[0]
    print(
        f"Step {t} is wrong: LambdaLR gives lr {got[t]:.6g} (factor {got[t] / base_lr:.6g}), "
        f"{ref_name} wants {want[t]:.6g} (factor {want[t] / base_lr:.6g})."
    )
    hint = schedule_hint(like, base_lr, total_steps, hyper, want, got, bad)
    if hint:
        print("Hint: " + hint)
    return False
