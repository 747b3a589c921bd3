"""torch.distributed on CPU: 2 gloo processes launched with torchrun on a free port, bounded in time.

Four launches in all (start-up dominates, so each carries several checks): one that runs the DDP and
ZeRO studies on a tiny problem, one whose rank 1 raises, one that hangs past a short timeout and one
that never calls ``run_worker``. After each, the launch's process group must be gone and its
temporary folder removed.
"""

import os
import tempfile
import time
import warnings
from pathlib import Path

import pytest
import torch

from course_lib import distributed
from course_lib.data import Split
from course_lib.distributed import studies

pytestmark = pytest.mark.xdist_group("distributed")

TIMEOUT = 120.0
STEPS, BATCH = 4, 16


def _group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _split(n: int = 64) -> Split:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 40, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Split(x, y, x[:8], y[:8])


SCRIPT = """
from course_lib.distributed import run_worker, studies

run_worker(
    studies.combined_study,
    ddp=dict(steps={steps}, batch_size={batch}, lr=0.1),
    sharding=dict(steps={steps}, batch_size={batch}, lr=1e-3, save_at=1),
)
"""


@pytest.fixture(scope="module")
def studied():
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        start = time.perf_counter()
        result = distributed.launch(
            SCRIPT.format(steps=STEPS, batch=BATCH),
            inputs={"split": _split(), "checkpoint_dir": checkpoint_dir},
            timeout=TIMEOUT,
        )
        wall = time.perf_counter() - start
    return result, wall


def test_a_launch_returns_every_ranks_value_and_leaves_no_process_or_folder(studied):
    result, wall = studied
    assert [v["ddp"]["rank"] for v in result.values] == [0, 1]
    assert all(v["ddp"]["world_size"] == 2 for v in result.values)
    assert wall < TIMEOUT
    assert _group_is_gone(result.pgid)
    assert result.folder and not Path(result.folder).exists()


def test_ddp_gradients_equal_the_full_batch_gradient_and_the_local_one_does_not(studied):
    for value in studied[0].values:
        grads = value["ddp"]["gradients"]
        assert grads["float64"]["ddp"] < 1e-14 * max(1.0, grads["float64"]["scale"])
        assert grads["float32"]["ddp"] < 1e-6
        for dtype in ("float64", "float32"):  # without the all-reduce a rank is visibly off
            assert grads[dtype]["local"] > 1e3 * grads[dtype]["ddp"] + 1e-4


def test_ddp_training_equals_one_process_with_the_global_batch_and_ranks_agree(studied):
    split = _split()
    rank0, rank1 = (v["ddp"]["runs"] for v in studied[0].values)
    for dtype, tol in (("float64", 1e-12), ("float32", 1e-5)):
        ref = studies.single_process_run(
            split, steps=STEPS, batch_size=BATCH, lr=0.1, dtype=getattr(torch, dtype)
        )
        assert max(abs(a - b) for a, b in zip(rank0[dtype]["losses"], ref["losses"])) < tol
        assert studies.max_abs_diff(rank0[dtype]["params"], ref["params"]) < tol
        assert rank0[dtype]["hparams"] == rank1[dtype]["hparams"] == ref["hparams"]
        assert studies.max_abs_diff(rank0[dtype]["params"], rank1[dtype]["params"]) == 0.0


def test_zero_shards_adam_state_by_the_partition_and_matches_unsharded_adam(studied):
    values = studied[0].values
    for name in studies.OPTIMIZERS:
        full = values[0]["sharding"]["adam"][name]
        zero = [v["sharding"]["zero"][name] for v in values]
        total = sum(z["owned_numel"] for z in zero)
        assert total == sum(p.numel() for p in full["params"].values())
        # exp_avg and exp_avg_sq (4 bytes each) per owned element, a 4-byte step per owned tensor
        assert [z["state_bytes"] for z in zero] == [
            8 * z["owned_numel"] + 4 * z["owned_tensors"] for z in zero
        ]
        assert sum(z["state_bytes"] for z in zero) == full["state_bytes"]
        largest = max(p.numel() for p in full["params"].values())
        assert max(z["owned_numel"] for z in zero) <= total / 2 + largest / 2  # sorted greedy
        assert studies.max_abs_diff(zero[0]["params"], full["params"]) < 1e-6
        assert "consolidat" in zero[0]["dcp_error"]


def test_fsdp2_holds_half_of_adams_state_per_rank_and_matches_unsharded_adam(studied):
    values = studied[0].values
    full = values[0]["sharding"]["adam"]["torch.optim.Adam"]
    fsdp = [v["sharding"]["fsdp"] for v in values]
    numel, tensors = sum(p.numel() for p in full["params"].values()), len(full["params"])
    assert [f["local_param_numel"] for f in fsdp] == [numel // 2] * 2  # every row count is even
    # half of exp_avg and exp_avg_sq on each rank; Adam's 4-byte step per tensor on both
    assert [f["state_bytes"] for f in fsdp] == [8 * numel // 2 + 4 * tensors] * 2
    assert studies.max_abs_diff(fsdp[0]["params"], full["params"]) < 1e-6


def test_a_raising_worker_surfaces_its_error_and_the_group_is_shut_down():
    script = (
        "from course_lib.distributed import run_worker, studies\n"
        "run_worker(studies.failing_study, message='boom from rank 1')\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python exception is never retried
        with pytest.raises(distributed.LaunchError) as info:
            distributed.launch(script, timeout=TIMEOUT, retries=1)
    error = info.value
    assert not isinstance(error, distributed.LaunchTimeout)
    assert not error.crashed and error.root_signal is None and not error.saved
    assert error.returncode not in (0, None)
    assert "ValueError: boom from rank 1" in error.tails[1]
    assert "ValueError: boom from rank 1" in str(error)
    assert "rank 1: ValueError: boom from rank 1" in error.summary()
    assert _group_is_gone(error.pgid)
    assert error.folder and not Path(error.folder).exists()


def test_a_rank_that_dies_of_a_signal_is_a_crash_and_retries_start_the_launch_again(tmp_path):
    marker = tmp_path / "crashed-once"
    script = (
        "from course_lib.distributed import run_worker, studies\n"
        f"run_worker(studies.crashing_study, marker={str(marker)!r})\n"
    )
    with pytest.warns(RuntimeWarning, match="crashed outside Python") as caught:
        result = distributed.launch(script, timeout=TIMEOUT, retries=1)
    assert result.values == [0, 1] and marker.exists()
    (warning,) = [w for w in caught if "crashed outside Python" in str(w.message)]
    assert "attempt 1 of 2" in str(warning.message)
    assert "the first rank to fail killed by signal 6 (SIGABRT)" in str(warning.message)
    assert _group_is_gone(result.pgid) and not Path(result.folder).exists()


def test_a_rank_that_aborts_after_its_value_was_saved_is_reported_as_a_crash_at_shutdown():
    script = (
        "import os\n"
        "from course_lib.distributed import run_worker, studies\n"
        "if run_worker(studies.failing_study, failing_rank=-1) == 1:  # no rank fails\n"
        "    os.abort()  # rank 1 dies after the process group is destroyed\n"
    )
    with pytest.raises(distributed.LaunchError) as info:
        distributed.launch(script, timeout=TIMEOUT)
    error = info.value
    assert error.crashed and error.root_signal == 6 and error.saved
    assert "killed by signal 6 (SIGABRT), after rank 0 had saved every rank's value" in str(error)


HANGING = (
    "from course_lib.distributed import run_worker, studies\n"
    "run_worker(studies.hanging_study, seconds=600)\n"
)


def test_a_hanging_launch_is_killed_at_its_timeout_with_its_whole_group():
    start = time.perf_counter()
    with pytest.raises(distributed.LaunchTimeout, match=r"ran past timeout=6 s") as info:
        distributed.launch(HANGING, timeout=6)
    assert time.perf_counter() - start < 6 + 10
    assert info.value.returncode is None
    assert _group_is_gone(info.value.pgid)
    assert info.value.folder and not Path(info.value.folder).exists()


def test_a_script_that_never_calls_run_worker_is_an_error_not_a_silent_none():
    with pytest.raises(distributed.LaunchError, match="saved no result"):
        distributed.launch("print('no result')\n", timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------
# Without launches
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [0, 1, 3, 4, 9])
def test_the_ranks_local_batches_together_are_the_one_process_global_batch(step):
    parts = [
        studies.local_batch(40, 8, step, seed=3, rank=r, world_size=2).tolist() for r in range(2)
    ]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(studies.global_batch(40, 8, step, seed=3).tolist())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"script": ""}, TypeError, "script must be a non-empty string"),
        ({"script": "pass", "nproc_per_node": 0}, ValueError, "nproc_per_node must be an integer"),
        ({"script": "pass", "timeout": 0}, ValueError, "timeout must be a finite number > 0"),
        ({"script": "pass", "inputs": [1]}, TypeError, "inputs must be a dict"),
        ({"script": "pass", "retries": 4}, ValueError, "retries must be an integer"),
    ],
)
def test_launch_rejects_bad_arguments_before_starting_anything(kwargs, error, match):
    with pytest.raises(error, match=match):
        distributed.launch(**kwargs)


def test_the_batch_helpers_reject_batches_that_do_not_split_evenly():
    with pytest.raises(ValueError, match=r"multiples of world_size \(2\)"):
        studies.local_batch(40, 7, 0, seed=0, rank=0, world_size=2)
    with pytest.raises(ValueError, match="different keys"):
        studies.max_abs_diff({"a": torch.zeros(1)}, {"b": torch.zeros(1)})
