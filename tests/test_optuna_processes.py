"""One Optuna study, several worker processes: course_lib.integrations.optuna_processes (A2, part 4).

The scenario of notebook A2 on a toy objective (no training, so seconds): a 6-point grid, two worker
processes sharing one SQLite study, one of them killed in its second trial, then a new process that
resumes the study. It is run once per module (three process starts); the tests read it.
"""

from __future__ import annotations

import signal
import warnings

import pytest

optuna = pytest.importorskip("optuna")

from course_lib.integrations import optuna_processes as op  # noqa: E402

TrialState = optuna.trial.TrialState
GRID = {"x": [-1.0, 0.0, 1.0], "y": ["a", "b"]}


def _grid():
    return optuna.samplers.GridSampler(GRID, seed=0)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Two workers (3 trials each, worker 1 hangs in its 2nd and is killed), then a resume."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = tmp_path_factory.mktemp("optuna_study")
    url = op.sqlite_url(folder)
    storage = optuna.storages.RDBStorage(url)
    optuna.create_study(study_name="grid", storage=storage)
    objective = op.ToyObjective(delay=0.05)
    jobs = [
        op.WorkerJob(url, "grid", objective, 3, sampler=_grid()),
        op.WorkerJob(url, "grid", objective, 3, sampler=_grid(), hang_at=2),
    ]
    with op.Workers(jobs, timeout=120) as workers:
        killed = workers.kill_when_hanging(1)
        first = workers.wait()
    study = optuna.load_study(study_name="grid", storage=storage)
    after_kill = op.state_counts(study)
    resume = op.WorkerJob(url, "grid", objective, None, sampler=_grid(), resume=True)
    with op.Workers([resume], timeout=120) as resumed:
        second = resumed.wait()
    single = optuna.create_study(sampler=_grid())
    single.optimize(objective, n_trials=6)
    out = {
        "killed": killed,
        "first": first,
        "second": second,
        "after_kill": after_kill,
        "states": op.state_counts(study),
        "trials": study.get_trials(),
        "content": op.study_content(study),
        "duplicates": op.duplicate_params(study),
        "single": single,
        "processes": [*workers.processes, *resumed.processes],
    }
    storage.remove_session()
    storage.engine.dispose()
    out["files"] = sorted(p.name for p in folder.iterdir())
    return out


def test_two_workers_a_kill_and_a_resume_store_exactly_the_single_process_content(scenario):
    single = scenario["single"]
    assert scenario["content"] == op.study_content(single)
    assert len(scenario["content"]) == 6
    assert sorted(v for _, v in scenario["content"]) == [0.0, 1.0, 1.0, 2.0, 4.0, 5.0]
    best = min(v for _, v in scenario["content"])
    assert best == single.best_value == 0.0


def test_no_grid_point_is_completed_twice(scenario):
    assert scenario["duplicates"] == []
    done = [t for t in scenario["trials"] if t.state == TrialState.COMPLETE]
    assert len(done) == 6


def test_the_killed_workers_trial_stays_running_then_fails_and_its_retry_completes(scenario):
    assert scenario["after_kill"] == {"COMPLETE": 4, "RUNNING": 1}
    assert scenario["states"] == {"COMPLETE": 6, "FAIL": 1}
    retried = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number
    (lost,) = [t for t in scenario["trials"] if t.state == TrialState.FAIL]
    (retry,) = [t for t in scenario["trials"] if retried(t) is not None]
    assert retried(retry) == lost.number
    assert retry.params == lost.params and retry.state == TrialState.COMPLETE


def test_return_codes_say_who_was_killed_and_no_worker_is_left_alive(scenario):
    assert scenario["killed"] == -signal.SIGKILL
    assert scenario["first"] == [0, -signal.SIGKILL]
    assert scenario["second"] == [0]
    assert all(p.poll() is not None for p in scenario["processes"])


def test_the_workers_write_only_the_database_file(scenario):
    assert scenario["files"] == ["studies.db"]


def test_workers_past_their_deadline_are_killed_with_a_timeout_error(tmp_path):
    url = op.sqlite_url(tmp_path)
    storage = optuna.storages.RDBStorage(url)
    optuna.create_study(study_name="toy", storage=storage)
    storage.engine.dispose()
    frozen = op.WorkerJob(url, "toy", op.ToyObjective(), 1, hang_at=1, timeout=60)
    workers = op.Workers([frozen], timeout=0.5)
    with pytest.raises(TimeoutError, match=r"worker 0 still running after 0.5 s: killed"):
        with workers:
            workers.wait()
    assert workers.returncodes == [-signal.SIGKILL]


def test_leaving_the_block_by_an_exception_kills_and_reaps_the_workers(tmp_path):
    frozen = op.WorkerJob(op.sqlite_url(tmp_path), "none", op.ToyObjective(), 1, hang_at=1)
    workers = op.Workers([frozen], timeout=60)
    with pytest.raises(KeyError, match="raised inside the block"):
        with workers:
            raise KeyError("raised inside the block")
    assert workers.returncodes == [-signal.SIGKILL]


def test_fail_stale_trials_within_fails_a_trial_whose_heartbeat_stopped_and_requeues_it(tmp_path):
    storage = op.heartbeat_storage(op.sqlite_url(tmp_path), heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), trial.number
    )
    storage.record_heartbeat(trial_id)  # then nothing beats any more: a dead worker
    with pytest.raises(TimeoutError, match=r"trials \[0\] still RUNNING after 0 s"):
        op.fail_stale_trials_within(study, timeout=0)
    assert op.fail_stale_trials_within(study, timeout=30) == [0]
    assert op.state_counts(study) == {"FAIL": 1, "WAITING": 1}
    waiting = study.get_trials(states=(TrialState.WAITING,))[0]
    assert waiting.params == study.trials[0].params
    storage.engine.dispose()


def _tpe(seed):
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tpe_workers_with_one_seed_propose_the_same_random_start_up_points(seed):
    study = op.replay_workers(op.ToyObjective(), [_tpe(seed), _tpe(seed)], rounds=8)
    pairs = [(study.trials[2 * r].params, study.trials[2 * r + 1].params) for r in range(8)]
    assert [a == b for a, b in pairs[:2]] == [True, True]  # 4 start-up trials: 2 rounds
    assert len(op.duplicate_params(study)) >= 2 and len(study.trials) == 16


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tpe_workers_asking_side_by_side_do_not_give_the_sequential_study(seed):
    toy = op.ToyObjective()
    sequential = optuna.create_study(sampler=_tpe(seed))
    sequential.optimize(toy, n_trials=16)
    parallel = op.replay_workers(toy, [_tpe(seed), _tpe(seed + 1)], rounds=8)
    again = op.replay_workers(toy, [_tpe(seed), _tpe(seed + 1)], rounds=8)
    assert op.study_content(parallel) != op.study_content(sequential)
    assert op.study_content(parallel) == op.study_content(again), "the replay is reproducible"


def test_content_duplicates_and_states_of_a_study():
    study = optuna.create_study(sampler=_grid())
    for point in ({"x": 0.0, "y": "a"}, {"x": 0.0, "y": "a"}, {"x": 1.0, "y": "b"}):
        study.enqueue_trial(point)
    study.optimize(op.ToyObjective(), n_trials=3)
    study.ask()  # left RUNNING
    assert op.study_content(study) == frozenset(
        {((("x", 0.0), ("y", "a")), 1.0), ((("x", 1.0), ("y", "b")), 1.0)}
    )
    assert op.duplicate_params(study) == [(("x", 0.0), ("y", "a"))]
    assert op.state_counts(study) == {"COMPLETE": 3, "RUNNING": 1}


def test_sqlite_url_is_absolute():
    assert op.sqlite_url("/a/b", "s.db") == "sqlite:////a/b/s.db"
    assert op.sqlite_url(".").startswith("sqlite:////")
    with pytest.raises(ValueError, match=r"name must be a file name without '/', got 'a/b\.db'"):
        op.sqlite_url(".", "a/b.db")


_URL = "sqlite:////nowhere/studies.db"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"storage_url": "studies.db"}, ValueError, "storage_url must be an RDB URL"),
        ({"study_name": ""}, ValueError, "study_name must be a non-empty string, got ''"),
        ({"objective": 3}, TypeError, r"objective must be callable \(trial -> value\), got 3"),
        ({"n_trials": 0}, ValueError, "n_trials must be an integer >= 1, got 0"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number > 0, got 0"),
        ({"hang_at": 0}, ValueError, "hang_at must be an integer >= 1, got 0"),
        ({"resume": 1}, TypeError, "resume must be True or False, got 1"),
        ({"grace_period": 1}, ValueError, "grace_period must be an integer >= 2, got 1"),
        ({"num_threads": 0}, ValueError, "num_threads must be an integer >= 1, got 0"),
    ],
)
def test_worker_job_rejects_bad_arguments_at_construction(kwargs, error, message):
    args = {"storage_url": _URL, "study_name": "s", "objective": op.ToyObjective(), "n_trials": 1}
    with pytest.raises(error, match=message):
        op.WorkerJob(**{**args, **kwargs})


def test_workers_and_helpers_reject_bad_arguments():
    job = op.WorkerJob(_URL, "s", op.ToyObjective(), 1)
    with pytest.raises(ValueError, match="jobs must hold at least one value"):
        op.Workers([])
    with pytest.raises(TypeError, match="jobs\\[0\\] must be a WorkerJob, got int"):
        op.Workers([1])
    with pytest.raises(ValueError, match="timeout must be a finite number > 0, got -1"):
        op.Workers([job], timeout=-1)
    with pytest.raises(ValueError, match=r"jobs\[0\] has hang_at=None: it never hangs"):
        op.Workers([job]).kill_when_hanging(0)
    with pytest.raises(ValueError, match="index must be an integer in \\[0, 0\\], got 1"):
        op.Workers([job]).kill_when_hanging(1)
    with pytest.raises(ValueError, match="grace_period must be an integer >= 3, got 2"):
        op.heartbeat_storage(_URL, heartbeat_interval=2, grace_period=2)
    with pytest.raises(ValueError, match="delay must be a finite number >= 0, got -1"):
        op.ToyObjective(delay=-1)
    with pytest.raises(ValueError, match="rounds must be an integer >= 1, got 0"):
        op.replay_workers(op.ToyObjective(), [_tpe(0)], rounds=0)


def test_a_worker_reads_only_a_pickled_worker_job(monkeypatch):
    import io
    import pickle
    import sys

    stdin = io.TextIOWrapper(io.BytesIO(pickle.dumps({"not": "a job"})))
    monkeypatch.setattr(sys, "stdin", stdin)
    with warnings.catch_warnings(), pytest.raises(TypeError, match="got dict"):
        op.worker_main()
