"""The worker side of a launch: join the process group, run one function, hand its result back.

A worker script is three lines::

    from course_lib.distributed import studies
    from course_lib.distributed.worker import run_worker
    run_worker(studies.ddp_study, steps=100)

:func:`run_worker` joins the gloo process group (torchrun sets ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``), adds the launch's inputs (what :func:`~course_lib.distributed.
launch.launch` was given as ``inputs``) to the keyword arguments, calls the function on every rank,
gathers the return values on rank 0 and saves them where the launcher reads them; the process group
is destroyed in ``finally``, also when the function raises.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

__all__ = ["INPUTS_ENV", "RESULT_ENV", "run_worker"]

RESULT_ENV = "COURSE_LIB_RESULT"
INPUTS_ENV = "COURSE_LIB_INPUTS"


def _inputs() -> dict:
    path = os.environ.get(INPUTS_ENV)
    return dict(torch.load(path, weights_only=False)) if path else {}


def _save(values: list) -> None:
    path = os.environ.get(RESULT_ENV)
    if path is None:  # run by hand with torchrun: nothing to hand back
        return
    partial = Path(path).with_suffix(".partial")
    torch.save(values, partial)
    partial.replace(path)  # the launcher never sees a half-written file


def run_worker(fn: Callable, /, *, timeout: float = 60.0, **kwargs):
    """Call ``fn(**inputs, **kwargs)`` on this rank inside a gloo process group; return its value.

    Rank 0 saves the list of every rank's return value (rank order) for the launcher. ``timeout``
    bounds each collective (seconds), so a rank waiting for a dead peer gives up.
    """
    dist.init_process_group("gloo", timeout=timedelta(seconds=timeout))
    try:
        value = fn(**_inputs(), **kwargs)
        values: list = [None] * dist.get_world_size()
        dist.all_gather_object(values, value)
        if dist.get_rank() == 0:
            _save(values)
        return value
    finally:
        dist.destroy_process_group()
