"""torch.distributed on one machine: launch worker scripts with torchrun, and what they compute.

- :mod:`~course_lib.distributed.launch`: :func:`launch` writes a worker script to a temporary
  folder, runs it on N local processes with ``python -m torch.distributed.run`` (gloo, 127.0.0.1, a
  free port, no restarts) in a process group of its own, with a timeout, and returns each rank's
  value; :class:`LaunchError` / :class:`LaunchTimeout` carry each rank's stderr tail.
- :mod:`~course_lib.distributed.worker`: :func:`run_worker`, the body of a worker script.
- :mod:`~course_lib.distributed.studies`: notebook 12's experiments (DDP, ZeroRedundancyOptimizer,
  FSDP2, ``torch.distributed.checkpoint``) and the single-process runs they are compared with.

Everything is torch's own machinery; nothing here reimplements a collective.
"""

from course_lib.distributed import studies
from course_lib.distributed.launch import (
    LaunchError,
    LaunchResult,
    LaunchTimeout,
    free_port,
    launch,
)
from course_lib.distributed.worker import run_worker

__all__ = [
    "LaunchError",
    "LaunchResult",
    "LaunchTimeout",
    "free_port",
    "launch",
    "run_worker",
    "studies",
]
