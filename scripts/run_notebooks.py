"""Execute the course notebooks with papermill, in parallel, and report the wall time of each.

Two execution modes:

* ``--smoke``: ``-p SMOKE True``, outputs into ``build/smoke/NN_topic.ipynb`` (the committed
  notebooks are not touched). This is what CI runs on every change.
* ``--inplace``: a full run (no parameters injected, so no ``injected-parameters`` cell), outputs
  written back into ``notebooks/NN_topic.ipynb``. The run goes to a temporary file first and replaces
  the committed notebook only when every cell succeeded; a failed run is kept in ``build/failed/``.

Every kernel runs with ``cwd=notebooks/`` and ``OMP_NUM_THREADS=1``; ``-j`` notebooks run at once
(one process each, two was measured fastest on 2 cores). Papermill's volatile metadata (per-cell
start/end times, the notebook-level ``papermill`` block with machine paths, ``execution`` timestamps)
is stripped so that a re-run only changes what really changed (``--clean`` only strips it, no run).
Timings are printed as a table and written to ``build/timings_<mode>.json``. The exit status is 1
when any notebook failed; the failing cell's source and traceback are printed.

nbclient's emulation of ``ipywidgets.Output`` is switched off (it was measured to hang runs): widget
views and their state are still stored, but what an Output widget captured is not in that state.

Examples::

    python scripts/run_notebooks.py --smoke               # every notebook, smoke mode, 2 at a time
    python scripts/run_notebooks.py --inplace -j 2        # full run, outputs committed
    python scripts/run_notebooks.py --smoke notebooks/03_adaptive_methods.ipynb
    python scripts/run_notebooks.py --clean               # strip run records, execute nothing
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
KERNEL = "python3"

# What the Makefile exports; set here too so the script behaves the same when run by hand.
KERNEL_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "KERAS_BACKEND": "torch",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "JUPYTER_PLATFORM_DIRS": "1",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Result:
    """Outcome of executing one notebook."""

    notebook: str
    ok: bool
    seconds: float
    output: str
    error: str = ""


def _rel(path: Path) -> str:
    """``path`` relative to the repository when inside it (no machine paths in reports)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks in course order (00, 01, ..., then A1, A2 and P: plain sorting gives exactly that)."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def strip_volatile_metadata(nb) -> None:
    """Remove what changes on every run although the notebook did not: timings and machine paths.

    Deletes the notebook-level ``papermill`` block (start/end times, input/output paths), and per cell
    papermill's ``papermill`` block (start/end time, duration, status), nbclient's ``execution``
    timestamps and the empty ``tags`` lists papermill adds. Outputs, tags, slideshow metadata
    and the stored widget state are kept.
    """
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]  # papermill adds an empty list to every cell


class NotebookTimeout(Exception):
    """The whole notebook run took longer than allowed."""


class _Watchdog:
    """Raise :class:`NotebookTimeout` in the main thread after ``seconds`` (SIGALRM; POSIX only)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self._previous = None
        self._armed = False

    def _fire(self, signum, frame):
        raise NotebookTimeout(f"the notebook ran longer than {self.seconds:.0f} s")

    def start(self) -> None:
        if not self.seconds or not hasattr(signal, "SIGALRM"):
            return
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self._armed = True

    def stop(self) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)
            self._armed = False


def _format_error(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        source = "\n".join("    " + line for line in exc.source.splitlines()[:15])
        trace = _ANSI.sub("", "\n".join(exc.traceback))
        return (
            f"cell {exc.cell_index} (In [{exc.exec_count}]) raised {exc.ename}: {exc.evalue}\n"
            f"  source:\n{source}\n  traceback:\n{trace}"
        )
    return f"{type(exc).__name__}: {exc}"


def execute(
    notebook: str | os.PathLike,
    output: str | os.PathLike,
    *,
    smoke: bool,
    cwd: str | os.PathLike = NOTEBOOKS,
    timeout: float | None = 600,
    notebook_timeout: float | None = 1800,
    parameters: dict | None = None,
    env: dict[str, str] | None = None,
    failed_dir: str | os.PathLike | None = None,
) -> Result:
    """Run one notebook with papermill and write the cleaned result to ``output``.

    Args:
        notebook: the notebook to run (never modified unless ``output`` is the same path).
        output: where the executed notebook goes; written only after a successful run (a failed
            run's partly executed notebook, with papermill's error marker, goes to build/failed/).
        smoke: inject ``SMOKE = True`` after the ``parameters`` cell.
        cwd: the kernel's working directory.
        timeout: seconds one cell may take (None: no limit).
        notebook_timeout: seconds the whole run may take (None: no limit). A watchdog, because a
            lost kernel message was seen to leave papermill waiting on an idle kernel for good.
        parameters: more values injected after the ``parameters`` cell (e.g. ``{"SEED": 1}``).
        env: environment variables for the kernel (e.g. torch's portable kernels); the calling
            process's environment is restored afterwards.
        failed_dir: where a failed run's notebook goes (default ``build/failed/``).

    Returns:
        a :class:`Result` with the wall time (kernel start included) and the error text on failure.
    """
    import nbformat
    import papermill

    for key, value in KERNEL_ENV.items():
        os.environ.setdefault(key, value)
    params = {"SMOKE": True} if smoke else {}
    params.update(parameters or {})
    saved_env = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})  # the kernel is a child process: it inherits these
    notebook, output = Path(notebook), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    error = ""
    with tempfile.TemporaryDirectory(prefix="run_notebooks_") as tmpdir:
        tmp = Path(tmpdir) / notebook.name
        start = time.perf_counter()
        watchdog = _Watchdog(notebook_timeout)
        try:
            watchdog.start()
            papermill.execute_notebook(
                str(notebook),
                str(tmp),
                parameters=params or None,
                kernel_name=KERNEL,
                cwd=str(cwd),
                progress_bar=False,
                request_save_on_cell_execute=False,
                execution_timeout=timeout,
                # No client-side mimicry of ipywidgets' Output widget: nbclient echoes every output
                # captured by an Output back to the kernel, and a notebook whose explorer draws into an
                # Output stalled for >15 min with an idle kernel (03, cell 25); without it, 30 s.
                widget_registry={},
            )
        except Exception as exc:
            error = _format_error(exc)
        finally:
            watchdog.stop()
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seconds = time.perf_counter() - start
        if tmp.is_file():
            nb = nbformat.read(tmp, as_version=4)
            strip_volatile_metadata(nb)
            if not error:
                nbformat.write(nb, output)
            else:
                failed = Path(failed_dir or BUILD / "failed") / notebook.name
                failed.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, failed)
                error += f"\n  partly executed notebook: {_rel(failed)}"
    return Result(notebook.name, not error, round(seconds, 2), str(output), error)


def _run_one(args: tuple[str, str, bool, float | None]) -> Result:
    notebook, output, smoke, timeout = args
    return execute(notebook, output, smoke=smoke, timeout=timeout)


def run_all(
    notebooks: list[Path], mode: str, jobs: int = 2, timeout: float | None = 600
) -> tuple[list[Result], float]:
    """Execute ``notebooks`` in ``mode`` ("smoke" or "inplace") with ``jobs`` processes.

    Returns the results in the given order and the total wall time in seconds.
    """
    if mode not in ("smoke", "inplace"):
        raise ValueError(f"mode must be one of 'smoke', 'inplace', got {mode!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs}")
    tasks = []
    for nb in notebooks:
        out = BUILD / "smoke" / nb.name if mode == "smoke" else nb
        tasks.append((str(nb), str(out), mode == "smoke", timeout))
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(_run_one, tasks))
    return results, time.perf_counter() - start


def timings_table(results: list[Result], wall: float) -> str:
    """A markdown table: notebook | status | seconds, then the sum and the wall time."""
    lines = ["| notebook | status | seconds |", "|---|---|---:|"]
    for r in results:
        lines.append(f"| {r.notebook} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.1f} |")
    lines.append(f"| sum of notebooks | | {sum(r.seconds for r in results):.1f} |")
    lines.append(f"| wall time | | {wall:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true", help="SMOKE=True, outputs to build/smoke/")
    mode.add_argument("--inplace", action="store_true", help="full run, outputs written back")
    mode.add_argument(
        "--clean", action="store_true", help="only strip volatile metadata in place (no run)"
    )
    parser.add_argument("-j", "--jobs", type=int, default=2, help="notebooks at once (default 2)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds one cell may take (default 600)"
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"-j must be an integer >= 1, got {args.jobs}")
    notebooks = [p.resolve() for p in args.notebooks] or course_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if not notebooks:
        print("no notebooks found in notebooks/")
        return 0
    if args.clean:
        import nbformat

        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            strip_volatile_metadata(nb)
            nbformat.write(nb, path)
            print(f"cleaned {_rel(path)}")
        return 0
    mode_name = "smoke" if args.smoke else "inplace"
    print(f"running {len(notebooks)} notebook(s), mode {mode_name}, {args.jobs} at a time")
    results, wall = run_all(notebooks, mode_name, args.jobs, args.timeout)
    for r in results:
        if not r.ok:
            print(f"\n=== {r.notebook} FAILED ===\n{r.error}", file=sys.stderr)
    print(timings_table(results, wall))
    BUILD.mkdir(exist_ok=True)
    report = {
        "mode": mode_name,
        "jobs": args.jobs,
        "wall_seconds": round(wall, 2),
        "notebooks": [{**asdict(r), "output": _rel(Path(r.output))} for r in results],
    }
    (BUILD / f"timings_{mode_name}.json").write_text(json.dumps(report, indent=2) + "\n")
    failed = [r.notebook for r in results if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
