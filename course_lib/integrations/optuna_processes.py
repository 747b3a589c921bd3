r"""One Optuna study shared by several worker processes through an SQLite file (notebook A2).

Optuna's workers never talk to each other: each one loads the study by name from a shared storage,
asks it for a trial, trains, and writes the result back. With an RDB storage (here an SQLite file,
``sqlite:///<folder>/studies.db``) the storage is the only thing they share, so a worker can be a
separate process, started, killed or restarted at any time.

- :class:`WorkerJob` says what one worker process does: which study, which objective (any picklable
  callable, e.g. :class:`~course_lib.integrations.optuna.MNIST1DObjective`), how many trials, and
  optionally in which of its trials it stops responding (``hang_at``, to kill it there).
- :class:`Workers` starts each job in a fresh interpreter (``python -c``, the pickled job on its
  stdin), waits for them with a deadline, kills a hanging one, and on leaving its ``with`` block
  kills and reaps whatever is still alive.
- :func:`heartbeat_storage`: an ``RDBStorage`` whose running trials beat every
  ``heartbeat_interval`` seconds; a trial whose worker died stops beating, is failed after
  ``grace_period`` seconds by ``optuna.storages.fail_stale_trials`` and re-queued (same parameters)
  by ``RetryHeartbeatStaleTrialCallback``. :func:`fail_stale_trials_within` waits for that.
- :func:`study_content` (the set of ``(params, value)`` of the completed trials),
  :func:`duplicate_params`, :func:`state_counts`: what two studies are compared by.
- :class:`ToyObjective` (a trial costs no training) and :func:`replay_workers` (workers whose asks
  overlap, replayed in one process) show why a model-based sampler such as TPE does not give the
  sequential study's trials when its workers run in parallel, while a grid does.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import optuna
import torch
from optuna.trial import TrialState

from course_lib._validation import check_callable, check_int, check_nonempty, check_number

__all__ = [
    "ToyObjective",
    "WorkerJob",
    "Workers",
    "duplicate_params",
    "fail_stale_trials_within",
    "heartbeat_storage",
    "replay_workers",
    "sqlite_url",
    "state_counts",
    "study_content",
    "worker_main",
]


def sqlite_url(folder, name: str = "studies.db") -> str:
    """The SQLAlchemy URL of the SQLite file ``folder/name`` (``sqlite:///`` + an absolute path).

    >>> sqlite_url("/tmp/x")
    'sqlite:////tmp/x/studies.db'
    """
    if not isinstance(name, str) or not name or os.sep in name:
        raise ValueError(f"name must be a file name without {os.sep!r}, got {name!r}")
    return "sqlite:///" + os.path.join(os.path.abspath(os.fspath(folder)), name)


def heartbeat_storage(
    url: str, heartbeat_interval: int = 1, grace_period: int = 2, max_retry: int = 1
) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` on ``url`` whose running trials beat, and whose stale trials are retried.

    A running trial records a heartbeat every ``heartbeat_interval`` seconds (a thread of its
    worker). ``optuna.storages.fail_stale_trials`` (which ``study.optimize`` calls before each
    trial) fails a RUNNING trial whose last beat is more than ``grace_period`` seconds old, then
    ``RetryHeartbeatStaleTrialCallback(max_retry)`` queues a WAITING copy with the same parameters
    and system attributes (a ``GridSampler`` trial keeps its grid point).
    """
    check_int("heartbeat_interval", heartbeat_interval, low=1)
    check_int("grace_period", grace_period, low=heartbeat_interval + 1)
    check_int("max_retry", max_retry, low=0)
    # SQLite lets one writer in at a time; the others wait up to 30 s (its default is 5 s)
    engine = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else None
    with warnings.catch_warnings():  # heartbeats are an experimental Optuna feature
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=retry,
        )


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process does: load ``study_name`` from ``storage_url`` and optimize it.

    Args:
        storage_url: an RDB URL, e.g. :func:`sqlite_url`; the study must exist already (create it
            once, in the parent, before starting workers: two workers creating it would race).
        study_name: the study's name in that storage.
        objective: a picklable ``trial -> value`` (a module-level callable, not a notebook lambda).
        n_trials: this worker's trials, or ``None``: until the sampler stops the study (a
            ``GridSampler`` stops it once every grid point is finished) or ``timeout``.
        sampler: the worker's own sampler (samplers are not stored; each worker brings one).
        pruner: the worker's pruner; default ``NopPruner`` (``load_study``'s default is a
            ``MedianPruner``, whose decisions depend on which trials finished first).
        timeout: seconds after which the worker starts no new trial; also how long a hang lasts.
        hang_at: stop responding in this worker's ``hang_at``-th trial (1-based), after its
            training and before its result is stored, as a frozen node would: the trial stays
            RUNNING, its parameters known, its value lost; its heartbeat goes on until the
            process is killed.
        resume: first fail (and re-queue) the trials a killed worker left RUNNING, waiting up to
            ``timeout`` for their heartbeats to go stale; only when no other worker is alive.
        heartbeat_interval, grace_period, max_retry: of :func:`heartbeat_storage`.
        num_threads: torch's intra-op threads in the worker (default: the parent's), so that a
            trial's floating-point results are those of the same trial in the parent.
    """

    storage_url: str
    study_name: str
    objective: Callable = field(repr=False)
    n_trials: int | None
    sampler: optuna.samplers.BaseSampler | None = field(default=None, repr=False)
    pruner: optuna.pruners.BasePruner | None = field(default=None, repr=False)
    timeout: float = 60.0
    hang_at: int | None = None
    resume: bool = False
    heartbeat_interval: int = 1
    grace_period: int = 2
    max_retry: int = 1
    num_threads: int = field(default_factory=torch.get_num_threads)

    def __post_init__(self):
        if not isinstance(self.storage_url, str) or "://" not in self.storage_url:
            raise ValueError(
                f"storage_url must be an RDB URL such as sqlite:///path, got {self.storage_url!r}"
            )
        if not isinstance(self.study_name, str) or not self.study_name:
            raise ValueError(f"study_name must be a non-empty string, got {self.study_name!r}")
        check_callable("objective", self.objective, "trial -> value")
        if self.n_trials is not None:
            check_int("n_trials", self.n_trials, low=1)
        check_number("timeout", self.timeout, low=0.0, low_inclusive=False)
        if self.hang_at is not None:
            check_int("hang_at", self.hang_at, low=1)
        if not isinstance(self.resume, bool):
            raise TypeError(f"resume must be True or False, got {self.resume!r}")
        check_int("heartbeat_interval", self.heartbeat_interval, low=1)
        check_int("grace_period", self.grace_period, low=self.heartbeat_interval + 1)
        check_int("max_retry", self.max_retry, low=0)
        check_int("num_threads", self.num_threads, low=1)


class _Hang:
    """``objective`` that, after its ``hang_at``-th call, says so on ``announce`` and sleeps."""

    def __init__(self, objective: Callable, job: WorkerJob, storage, announce) -> None:
        self.objective, self.hang_at, self.seconds = objective, job.hang_at, job.timeout
        self.study_name, self.storage, self.announce = job.study_name, storage, announce
        self.calls = 0

    def __call__(self, trial) -> float:
        self.calls += 1
        value = self.objective(trial)
        if self.calls == self.hang_at:
            # one heartbeat on record before anyone may kill us: Optuna never counts a RUNNING
            # trial without a heartbeat as stale, and the beating thread may not have written yet
            study_id = self.storage.get_study_id_from_name(self.study_name)
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            self.storage.record_heartbeat(trial_id)
            if self.announce is not None:  # what Workers.kill_when_hanging waits for
                print(f"{_HANGING} {trial.number}", file=self.announce, flush=True)
            time.sleep(self.seconds)  # killed before it ends, or the trial fails below
            raise RuntimeError(f"worker hung in trial {trial.number} for {self.seconds} s")
        return value


def run_worker(job: WorkerJob, announce=None) -> None:
    """What a worker process does with its :class:`WorkerJob`: load the study, optimize, close.

    A trial's heartbeat thread stops with the trial; the storage's connections are closed at the
    end, so the process leaves nothing behind but its trials in the database. ``announce``: a
    text stream told when the job's hang begins.
    """
    torch.set_num_threads(job.num_threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    storage = heartbeat_storage(
        job.storage_url, job.heartbeat_interval, job.grace_period, job.max_retry
    )
    pruner = job.pruner if job.pruner is not None else optuna.pruners.NopPruner()
    study = optuna.load_study(
        study_name=job.study_name, storage=storage, sampler=job.sampler, pruner=pruner
    )
    if job.resume:
        fail_stale_trials_within(study, job.timeout)
    objective = _Hang(job.objective, job, storage, announce)
    try:
        study.optimize(objective, n_trials=job.n_trials, timeout=job.timeout)
    finally:
        storage.remove_session()
        storage.engine.dispose()


def worker_main() -> None:
    """Entry point of a worker process: a pickled :class:`WorkerJob` on stdin, then run it.

    Pickled by value (tensors of the objective included): no file and no shared memory segment.
    stdout carries one line, when the job's hang begins; whatever the objective prints goes to
    stderr, so the parent never has a pipe to drain.
    """
    job = pickle.load(sys.stdin.buffer)
    if not isinstance(job, WorkerJob):
        raise TypeError(f"a worker reads a pickled WorkerJob on stdin, got {type(job).__name__}")
    announce, sys.stdout = sys.stdout, sys.stderr
    run_worker(job, announce)


def fail_stale_trials_within(study: optuna.Study, timeout: float = 30.0) -> list[int]:
    """Fail the RUNNING trials of dead workers, waiting until none is left; their numbers.

    Repeats ``optuna.storages.fail_stale_trials(study)`` until the study holds no RUNNING trial
    (a trial is stale ``grace_period`` seconds after its last heartbeat; the storage's callback
    re-queues it). Call it when no worker is alive, or it waits for their trials too.
    ``TimeoutError`` after ``timeout`` seconds.
    """
    check_number("timeout", timeout, low=0.0)
    deadline = time.monotonic() + timeout
    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    while True:
        optuna.storages.fail_stale_trials(study)
        left = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
        if not left:
            return running
        if time.monotonic() > deadline:
            raise TimeoutError(f"trials {left} still RUNNING after {timeout} s: is a worker alive?")
        time.sleep(0.2)


#: The line a hanging worker prints before it stops responding.
_HANGING = "optuna-worker hanging in trial"
#: How a worker process is started: a fresh interpreter that reads its job on stdin.
_WORKER_COMMAND = "from course_lib.integrations.optuna_processes import worker_main; worker_main()"


class Workers:
    """Worker processes for :class:`WorkerJob` s, with a deadline and a clean shutdown.

    ``with Workers(jobs, timeout) as w:`` starts one process per job, ``python -c`` in a fresh
    interpreter (nothing of the caller's state, threads or open database connections is
    inherited; nothing needs a ``__main__`` guard) with the pickled job on its stdin.
    ``w.wait()`` waits for them all; ``w.kill_when_hanging(i)`` kills job ``i`` (SIGKILL) once its
    hang began. Past the deadline every live worker is killed and ``TimeoutError`` raised; leaving
    the block, normally or by an exception, kills and reaps any worker still alive, so no process
    outlives it. ``w.returncodes``: one per job (``-9`` killed, ``None`` while alive).
    """

    def __init__(self, jobs: Sequence[WorkerJob], timeout: float = 120.0) -> None:
        self.jobs = check_nonempty("jobs", jobs)
        for i, job in enumerate(self.jobs):
            if not isinstance(job, WorkerJob):
                raise TypeError(f"jobs[{i}] must be a WorkerJob, got {type(job).__name__}")
        self.timeout = check_number("timeout", timeout, low=0.0, low_inclusive=False)
        self.processes: list[subprocess.Popen] = []
        self._deadline = math.inf

    def __enter__(self) -> Workers:
        self._deadline = time.monotonic() + self.timeout
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        try:
            for _ in self.jobs:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", _WORKER_COMMAND],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        env=env,
                    )
                )
            for job, process in zip(self.jobs, self.processes):  # all start, then all read
                assert process.stdin is not None
                process.stdin.write(pickle.dumps(job))
                process.stdin.close()
        except BaseException:
            self.shutdown()
            raise
        return self

    def _left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def wait(self) -> list[int | None]:
        """Wait for every worker before the deadline; their return codes (``TimeoutError`` past it)."""
        for i, process in enumerate(self.processes):
            try:
                process.wait(timeout=self._left())
            except subprocess.TimeoutExpired:
                self.shutdown()
                raise TimeoutError(
                    f"worker {i} still running after {self.timeout} s: killed"
                ) from None
        return self.returncodes

    def kill_when_hanging(self, index: int) -> int | None:
        """Wait until job ``index`` hangs (its ``hang_at``), kill it (SIGKILL), reap it; its code."""
        check_int("index", index, low=0, high=len(self.jobs) - 1)
        if self.jobs[index].hang_at is None:
            raise ValueError(f"jobs[{index}] has hang_at=None: it never hangs")
        process = self.processes[index]
        if not _read_until(process, _HANGING, self._deadline):
            self.shutdown()
            raise TimeoutError(f"worker {index} did not reach its hang within {self.timeout} s")
        process.kill()
        return process.wait()

    @property
    def returncodes(self) -> list[int | None]:
        return [p.poll() for p in self.processes]

    def shutdown(self) -> None:
        """Kill every live worker and reap them all (no zombie, no orphan)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()
            if process.stdout is not None:
                process.stdout.close()

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _read_until(process: subprocess.Popen, marker: str, deadline: float) -> bool:
    """Read ``process``'s stdout line by line until a line starts with ``marker`` or ``deadline``."""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
        if not ready:
            return False
        line = process.stdout.readline()
        if not line:  # the worker ended without hanging
            return False
        if line.decode(errors="replace").startswith(marker):
            return True
    return False


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def study_content(study: optuna.Study) -> frozenset[tuple[tuple, float]]:
    """The completed trials as a set of ``(sorted params items, value)``: what a study found.

    Trial numbers, states of failed or retried trials, timings and order are left out: two
    studies that evaluated the same points with the same results have the same content.
    """
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return frozenset((_key(t.params), float(cast(float, t.value))) for t in done)


def duplicate_params(study: optuna.Study) -> list[tuple]:
    """The parameter points completed more than once (sorted); ``[]`` when every point is unique."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    counts = Counter(_key(t.params) for t in done)
    return sorted(point for point, n in counts.items() if n > 1)


def state_counts(study: optuna.Study) -> dict[str, int]:
    """How many trials of ``study`` are in each state, e.g. ``{'COMPLETE': 6, 'FAIL': 1}``."""
    return dict(sorted(Counter(t.state.name for t in study.get_trials(deepcopy=False)).items()))


@dataclass(frozen=True)
class ToyObjective:
    r"""A trial that costs no training: :math:`f(x, y) = (x - 1)^2 + c_y`, minimized.

    ``x = trial.suggest_float("x", -4, 4)``, ``y = trial.suggest_categorical("y", ["a", "b"])``
    with :math:`c_a = 0, c_b = 1`; ``delay`` seconds of sleep stand for the training.

        >>> study = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [0.0, 1.0], "y": ["a", "b"]}))
        >>> study.optimize(ToyObjective(), n_trials=4)
        >>> sorted(v for _, v in study_content(study))
        [0.0, 1.0, 1.0, 2.0]
    """

    delay: float = 0.0

    def __post_init__(self):
        check_number("delay", self.delay, low=0.0)

    def __call__(self, trial) -> float:
        x = trial.suggest_float("x", -4.0, 4.0)
        y = trial.suggest_categorical("y", ["a", "b"])
        time.sleep(self.delay)
        return (x - 1.0) ** 2 + {"a": 0.0, "b": 1.0}[y]


def replay_workers(
    objective: Callable, samplers: Sequence[optuna.samplers.BaseSampler], rounds: int
) -> optuna.Study:
    """Workers whose trials overlap, replayed in one process: ``len(samplers)`` workers, one study.

    Each worker is a handle on the same in-memory study with its own sampler. In every round each
    worker asks for a trial before any of them tells its result, as when the workers' trials run
    at the same time: a sampler never sees the results of the trials running beside its own. The
    order is fixed, so the replay is reproducible, where real processes interleave by timing.
    """
    samplers = check_nonempty("samplers", samplers)
    check_int("rounds", rounds, low=1)
    storage = optuna.storages.InMemoryStorage()
    name = optuna.create_study(storage=storage).study_name
    handles = [optuna.load_study(study_name=name, storage=storage, sampler=s) for s in samplers]
    for _ in range(rounds):
        trials = [handle.ask() for handle in handles]
        for handle, trial in zip(handles, trials):
            handle.tell(trial, objective(trial))
    return handles[0]
