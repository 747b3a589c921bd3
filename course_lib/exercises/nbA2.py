"""Self-checks for notebook A2 (Lightning and Optuna, one process and several)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from course_lib._validation import check_int
from course_lib.exercises._answers import missing as _missing
from course_lib.exercises._answers import read_integer as _read_integer
from course_lib.exercises._answers import read_real as _read_real

__all__ = [
    "check_log_uniform_fraction",
    "check_no_files_arguments",
    "check_scheduler_steps",
    "check_significant",
    "check_stop_after",
    "scheduler_steps",
]


def scheduler_steps(batches_per_epoch: int, epochs: int, accumulate_grad_batches: int = 1) -> int:
    """How often Lightning steps an ``interval="step"`` scheduler: once per OPTIMIZER step.

    With gradient accumulation over :math:`k` batches, an epoch of :math:`n` batches has
    :math:`\\lceil n / k \\rceil` optimizer steps (the last, partial group of batches steps too);
    this is ``trainer.estimated_stepping_batches``.

        >>> scheduler_steps(25, 4, accumulate_grad_batches=4)
        28
    """
    return math.ceil(batches_per_epoch / accumulate_grad_batches) * epochs


def check_scheduler_steps(
    answer, batches_per_epoch: int = 25, epochs: int = 4, accumulate: int = 4
):
    """Exercise 1: scheduler steps with gradient accumulation (``estimated_stepping_batches``)."""
    if _read_integer(answer) is None:
        return False
    expected = scheduler_steps(batches_per_epoch, epochs, accumulate)
    if answer == expected:
        print(
            f"Correct: {expected}. An 'interval: step' scheduler steps after each OPTIMIZER step: "
            f"ceil({batches_per_epoch}/{accumulate}) = {math.ceil(batches_per_epoch / accumulate)} "
            f"per epoch (the last partial group of batches steps too), times {epochs} epochs."
        )
        return True
    if answer == batches_per_epoch * epochs:
        print("Not quite: that counts batches. With accumulation the optimizer steps less often.")
    elif answer == (batches_per_epoch // accumulate) * epochs:
        print("Close: the last, incomplete group of batches of each epoch also ends in a step.")
    else:
        print(f"Not quite ({answer}). Count optimizer steps per epoch, then multiply by epochs.")
    return False


def check_log_uniform_fraction(answer, low: float = 1e-4, high: float = 1e-1, below: float = 1e-2):
    """Exercise 2: share of log-uniform draws in [low, high] that fall below ``below``."""
    value = _read_real(answer, "a number between 0 and 1")
    if value is None:
        return False
    expected = (math.log(below) - math.log(low)) / (math.log(high) - math.log(low))
    if abs(value - expected) < 0.01:
        print(
            f"Correct: {expected:.3f}. On a log scale each decade gets the same share: "
            f"{math.log10(below / low):g} of the {math.log10(high / low):g} decades lie below {below:g}."
        )
        return True
    linear = (below - low) / (high - low)
    if abs(value - linear) < 0.01:
        print(
            "Not quite: that is a uniform draw on a linear scale. With log=True, think in decades."
        )
    else:
        print(f"Not quite ({value:g}). Count decades: how many lie between {low:g} and {below:g}?")
    return False


def check_no_files_arguments(answer) -> bool:
    """Exercise 3: the two ``Trainer`` arguments that stop Lightning from writing files."""
    if _missing(answer):
        return False
    if isinstance(answer, str) or not isinstance(answer, (set, list, tuple, frozenset)):
        print(f"Answer with a set of argument names, e.g. {{'max_epochs'}}, got {answer!r}.")
        return False
    given = {str(a) for a in answer}
    needed = {"logger", "enable_checkpointing"}
    if given == needed:
        print(
            "Correct: logger=False (no lightning_logs/) and enable_checkpointing=False (no .ckpt "
            "files). default_root_dir only decides WHERE they would go."
        )
        return True
    if given == needed | {"default_root_dir"}:
        print(
            "Almost: logger and enable_checkpointing are the two that stop the writing; "
            "default_root_dir only moves the files (useful as a safety net). Answer with two."
        )
        return False
    missing = sorted(needed - given)
    print(
        f"Not quite. Still writing: {missing or 'nothing'}; not needed: "
        f"{sorted(given - needed) or 'none'}. Which two would each create files by default?"
    )
    return False


def _scores(name: str, values) -> np.ndarray | None:
    try:
        arr = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError):
        print(f"{name} must be a list of numbers.")
        return None
    if arr.size < 2:
        print(f"{name} needs at least two seeds to measure a spread.")
        return None
    return arr


def check_significant(answer, tuned: Sequence[float], default: Sequence[float]) -> bool:
    """Exercise 4: does the paired 95 % interval of ``tuned - default`` exclude zero?

    Both lists hold one result per fresh seed, in the same seed order, so they are paired: with
    :math:`d_s = a_s - b_s` over :math:`n` seeds the interval is
    :math:`\\bar d \\pm t_{n-1,0.975}\\,\\mathrm{std}(d)/\\sqrt n`
    (``course_lib.compare.paired_difference``). The seed-to-seed spread that both runs share cancels
    in :math:`d_s`; comparing the two means with their separate error bars would ignore that.
    """
    from course_lib import compare

    if _missing(answer):
        return False
    if not isinstance(answer, bool):
        print(f"Answer with True or False, got {answer!r}.")
        return False
    a, b = _scores("tuned", tuned), _scores("default", default)
    if a is None or b is None:
        return False
    if a.size != b.size:
        print(
            f"tuned and default must hold one result per seed each (paired), got {a.size} and "
            f"{b.size} values."
        )
        return False
    d = compare.paired_difference(
        a.tolist(), b.tolist(), names=("tuned", "default"), metric="test accuracy"
    )
    expected = d.excludes_zero()
    interval = f"[{d.low:+.3f}, {d.high:+.3f}]"
    if answer == expected:
        verdict = "excludes" if expected else "includes"
        print(
            f"Correct: the paired differences have mean {d.mean:+.3f} and 95% interval {interval} "
            f"over {d.n} seeds, which {verdict} zero: {d.verdict()}."
        )
        return True
    print(
        f"Not quite. Take the differences tuned - default seed by seed: mean {d.mean:+.3f}, 95% "
        f"t-interval {interval} over {d.n} seeds. Does it contain zero?"
    )
    return False


def _run_stop_after(stop_after, n: int):
    """A 6-point toy grid optimized with ``callbacks=[stop_after(n)]``; the study, or None."""
    import optuna

    from course_lib.integrations.optuna_processes import ToyObjective

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid: dict[str, Sequence[float | str]] = {"x": [0.0, 1.0, 2.0], "y": ["a", "b"]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid, seed=0))
    try:
        study.optimize(ToyObjective(), n_trials=6, callbacks=[stop_after(n)])
    except NotImplementedError:
        print(
            "Write the body of your function (replace `raise NotImplementedError`) and run the "
            "cell again."
        )
        return None
    except Exception as err:  # the learner's code: report, never raise
        print(f"Your callback raised {type(err).__name__}: {err}")
        return None
    return study


def _stopped_after(done: int, n: int) -> bool:
    """Whether ``done`` complete trials (of 6) are the ``n`` asked for; else a hint."""
    if done == n:
        return True
    if done == 6:
        print(
            f"Not yet: all 6 trials ran. Call study.stop() in the callback once {n} trials are "
            "COMPLETE; optimize then returns after the current trial."
        )
    else:
        print(
            f"Not quite: the study stopped after {done} complete trials, expected {n}. The callback "
            "runs after each trial, and the finished trial is already COMPLETE when it runs."
        )
    return False


def check_stop_after(stop_after, n: int = 2) -> bool:
    """Exercise 5 (code): ``stop_after(n)``, a callback that stops a study after ``n`` complete trials.

    Runs a 6-point ``GridSampler`` study of ``ToyObjective`` with ``callbacks=[stop_after(n)]``,
    checks that exactly ``n`` trials completed, then resumes it with a second ``optimize`` (until
    the grid sampler stops it) and checks that the resumed study evaluated every grid point once.
    """
    from optuna.trial import TrialState

    from course_lib.integrations.optuna_processes import (
        ToyObjective,
        duplicate_params,
        study_content,
    )

    check_int("n", n, low=1, high=5)  # the checker's own argument: fewer than the 6 grid points
    if _missing(stop_after):
        return False
    if not callable(stop_after):
        print(f"Answer with a function stop_after(n) that returns a callback, got {stop_after!r}.")
        return False
    study = _run_stop_after(stop_after, n)
    if study is None:
        return False
    if not _stopped_after(len(study.get_trials(states=(TrialState.COMPLETE,))), n):
        return False
    study.optimize(ToyObjective())  # n_trials=None: until the grid sampler stops the study
    points = len(study_content(study))
    if points != 6 or duplicate_params(study):
        print(f"Not quite: after resuming, {points} distinct grid points instead of 6.")
        return False
    print(
        f"Correct: the study stopped after {n} complete trials; a second optimize resumed it and "
        "the grid sampler finished the other 4 points, each once (its trials, not the process, "
        "hold the progress)."
    )
    return True
