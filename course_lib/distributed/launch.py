"""Start a worker script on several local processes with torchrun, and get its result back.

:func:`launch` writes the script into a fresh :class:`tempfile.TemporaryDirectory`, runs

    python -m torch.distributed.run --nproc_per_node N --master_addr 127.0.0.1
        --master_port <free port> --max_restarts 0 ... worker.py

in a process group of its own (``start_new_session``), waits at most ``timeout`` seconds, kills the
whole group when the time is up, and reads what rank 0 saved (:func:`course_lib.distributed.worker.
run_worker` writes it) before the folder is removed: nothing stays on disk, nothing stays running.
A failed or timed-out launch raises :class:`LaunchError` (or :class:`LaunchTimeout`) whose message
ends with the last lines of each rank's stderr, so a worker's exception reaches the notebook.

    >>> port = free_port()
    >>> 1024 <= port <= 65535
    True
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from course_lib._validation import check_int, check_number
from course_lib.distributed.worker import INPUTS_ENV, RESULT_ENV

__all__ = ["LaunchError", "LaunchResult", "LaunchTimeout", "free_port", "launch"]

TAIL_LINES = 12
_ROOT_CAUSE = re.compile(r"Root Cause.*?exitcode\s*:\s*(-?\d+)", re.DOTALL)
_EXCEPTION = re.compile(r"^(?:\[rank\d+\]:\s*)?((?:\w+\.)*\w*(?:Error|Exception|Interrupt)\b.*)$")


class LaunchError(RuntimeError):
    """A launch that failed.

    Attributes:
        returncode: torchrun's exit status (None after a timeout).
        tails: rank -> the last lines of that rank's stderr.
        pgid: the process group the launch ran in (gone by the time this is raised).
        folder: the launch's temporary folder (removed by the time this is caught).
        saved: whether rank 0 had saved every rank's value before the launch failed (the function
            finished on every rank; what failed came after, at shutdown).
        root_signal: the signal that ended the first rank to fail, from torchrun's report (6 for
            SIGABRT), or None when it exited with a status (a Python exception).
    """

    def __init__(
        self,
        message: str,
        returncode: int | None,
        tails: dict[int, str],
        pgid: int,
        *,
        saved: bool = False,
        root_signal: int | None = None,
    ):
        super().__init__(message)
        self.returncode = returncode
        self.tails = tails
        self.pgid = pgid
        self.folder = ""
        self.saved = saved
        self.root_signal = root_signal

    @property
    def crashed(self) -> bool:
        """Whether the first rank to fail died of a signal (an abort in native code, such as
        ``terminate called ...``, or a kill) rather than exiting with a Python exception.

        >>> LaunchError("x", 1, {}, 0, root_signal=6).crashed, LaunchError("x", 1, {}, 0).crashed
        (True, False)
        """
        return self.root_signal is not None

    def summary(self) -> str:
        """One line per rank: the last exception line of its stderr, without paths or tracebacks.

        >>> LaunchError("x", 1, {0: "", 1: "[rank1]: Traceback\\n[rank1]: ValueError: no"}, 0).summary()
        'rank 0: (no exception in its stderr)\\nrank 1: ValueError: no'
        """
        lines = []
        for rank, tail in self.tails.items():
            found = [_EXCEPTION.match(line) for line in tail.splitlines()]
            last = [m.group(1) for m in found if m]
            text = last[-1][:160] if last else "(no exception in its stderr)"
            lines.append(f"rank {rank}: {text}")
        return "\n".join(lines)


class LaunchTimeout(LaunchError):
    """A launch killed because it ran past its ``timeout``."""


@dataclass(frozen=True)
class LaunchResult:
    """What a launch returned: ``values[r]`` is rank r's return value, in rank order.

    ``pgid`` is the process group the launch ran in and ``folder`` its temporary folder (both gone
    when :func:`launch` returns); ``seconds`` the wall time from start to exit, start-up included.
    """

    values: list
    pgid: int
    seconds: float
    folder: str


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (the kernel picks it; another process may take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _command(script: Path, logs: Path, nproc_per_node: int, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc_per_node),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        "--max_restarts",
        "0",
        "--log-dir",
        str(logs),
        "--redirects",
        "3",
        str(script),
    ]


def _environment(result: Path, inputs: Path | None) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env[RESULT_ENV] = str(result)
    env.pop(INPUTS_ENV, None)
    if inputs is not None:
        env[INPUTS_ENV] = str(inputs)
    root = str(Path(__file__).resolve().parents[2])  # the workers import this course_lib
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _tails(logs: Path, nproc_per_node: int) -> dict[int, str]:
    """The last :data:`TAIL_LINES` lines of each rank's stderr (torchrun's per-rank log files)."""
    tails = {}
    for rank in range(nproc_per_node):
        files = sorted(logs.glob(f"**/attempt_*/{rank}/stderr.log"))
        text = files[-1].read_text(errors="replace") if files else ""
        tails[rank] = "\n".join(text.strip().splitlines()[-TAIL_LINES:])
    return tails


def _root_signal(launcher: Path) -> int | None:
    """The signal that ended torchrun's "Root Cause (first observed failure)" rank, if one did.

    torchrun reports that rank's ``exitcode``; a negative one is minus the signal number.
    """
    text = launcher.read_text(errors="replace") if launcher.exists() else ""
    found = _ROOT_CAUSE.search(text)
    return -int(found.group(1)) if found and int(found.group(1)) < 0 else None


def _signal_name(number: int) -> str:
    """``signal 6 (SIGABRT)``.

    >>> _signal_name(6), _signal_name(200)
    ('signal 6 (SIGABRT)', 'signal 200')
    """
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def _describe(tails: dict[int, str], launcher: Path | None = None) -> str:
    parts = []
    if launcher is not None and launcher.exists() and not any(tails.values()):
        lines = launcher.read_text(errors="replace").strip().splitlines()[-TAIL_LINES:]
        parts.append("  torchrun stderr (last lines):\n" + "\n".join("    " + x for x in lines))
    for rank, tail in tails.items():
        body = "\n".join("    " + line for line in tail.splitlines()) or "    (empty)"
        parts.append(f"  rank {rank} stderr (last lines):\n{body}")
    return "\n".join(parts)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the launch's whole process group (torchrun and every worker), then reap torchrun."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _wait(proc: subprocess.Popen, timeout: float, logs: Path, nproc: int) -> None:
    launcher = logs.parent / "torchrun.log"
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        tails = _tails(logs, nproc)
        raise LaunchTimeout(
            f"the launch ran past timeout={timeout:g} s and was killed (its whole process "
            f"group)\n{_describe(tails, launcher)}",
            None,
            tails,
            proc.pid,
        ) from None
    finally:
        _kill_group(proc)  # workers that outlived torchrun, if any
    if proc.returncode != 0:
        tails = _tails(logs, nproc)
        saved = (logs.parent / "result.pt").exists()
        root_signal = _root_signal(launcher)
        how = (
            f", the first rank to fail killed by {_signal_name(root_signal)}" if root_signal else ""
        )
        when = ", after rank 0 had saved every rank's value" if saved else ""
        raise LaunchError(
            f"the launch failed with exit status {proc.returncode}{how}{when}\n"
            f"{_describe(tails, launcher)}",
            proc.returncode,
            tails,
            proc.pid,
            saved=saved,
            root_signal=root_signal,
        )


def launch(
    script: str,
    *,
    inputs: dict | None = None,
    nproc_per_node: int = 2,
    timeout: float = 120.0,
    retries: int = 0,
) -> LaunchResult:
    """Run ``script`` (Python source) on ``nproc_per_node`` local processes with torchrun.

    The script ends by calling :func:`course_lib.distributed.worker.run_worker`, which saves the
    ranks' return values where this function reads them. Workers get ``OMP_NUM_THREADS=1``.

    Args:
        script: the worker program's source text.
        inputs: keyword arguments for the worker function that are data rather than literals
            (a data set made once here instead of once per rank), passed through a file.
        nproc_per_node: the number of processes (ranks), 1 to 8.
        timeout: seconds before the whole launch is killed (> 0), start-up included.
        retries: how many times a launch whose first failing rank died of a signal
            (:attr:`LaunchError.crashed`: an abort in native code, not a Python exception) is
            started again, from scratch in a fresh folder, with a ``RuntimeWarning`` that says what
            happened (0 to 3). A worker's Python exception and a timeout are never retried
            (torchrun's own ``--max_restarts`` would restart those too).

    Returns:
        :class:`LaunchResult` with the ranks' return values.

    Raises:
        LaunchTimeout: the launch ran past ``timeout``.
        LaunchError: a worker failed (the message ends with each rank's stderr tail) or returned
            nothing.
    """
    if not isinstance(script, str) or not script.strip():
        raise TypeError(f"script must be a non-empty string of Python source, got {script!r:.60}")
    check_int("nproc_per_node", nproc_per_node, low=1, high=8)
    check_number("timeout", timeout, low=0.0, low_inclusive=False)
    check_int("retries", retries, low=0, high=3)
    if inputs is not None and not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict of keyword arguments or None, got {inputs!r:.60}")
    for attempt in range(retries + 1):
        try:
            return _launch_once(script, inputs, nproc_per_node, float(timeout))
        except LaunchError as error:
            if isinstance(error, LaunchTimeout) or not error.crashed or attempt == retries:
                raise
            warnings.warn(
                f"the launch crashed outside Python (attempt {attempt + 1} of {retries + 1}), "
                f"started again:\n{error}",
                RuntimeWarning,
                stacklevel=2,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _launch_once(
    script: str, inputs: dict | None, nproc_per_node: int, timeout: float
) -> LaunchResult:
    with tempfile.TemporaryDirectory(prefix="course_lib_launch_") as folder:
        root = Path(folder)
        (root / "worker.py").write_text(script, encoding="utf-8")
        if inputs is not None:
            torch.save(inputs, root / "inputs.pt")
        start = time.perf_counter()
        try:
            pgid = _run(root, nproc_per_node, timeout, with_inputs=inputs is not None)
            values = _read_result(root, nproc_per_node, pgid)
        except LaunchError as error:
            error.folder = folder
            raise
        seconds = time.perf_counter() - start
    return LaunchResult(values, pgid, seconds, folder)


def _run(root: Path, nproc_per_node: int, timeout: float, *, with_inputs: bool) -> int:
    """torchrun on ``root/worker.py`` in a new session, waited for; returns its process group id."""
    command = _command(root / "worker.py", root / "logs", nproc_per_node, free_port())
    env = _environment(root / "result.pt", root / "inputs.pt" if with_inputs else None)
    with open(root / "torchrun.log", "wb") as launcher:
        proc = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=launcher,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait(proc, timeout, root / "logs", nproc_per_node)
    return proc.pid


def _read_result(root: Path, nproc_per_node: int, pgid: int) -> list:
    result = root / "result.pt"
    if not result.exists():
        tails = _tails(root / "logs", nproc_per_node)
        raise LaunchError(
            "the workers exited cleanly but saved no result: does the script call "
            f"run_worker?\n{_describe(tails)}",
            0,
            tails,
            pgid,
        )
    values: Any = torch.load(result, weights_only=False)
    return list(values)
