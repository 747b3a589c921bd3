"""How long each notebook takes in smoke and in full mode (papermill, into a temporary folder).

Runs every notebook (or the ones given) once with ``SMOKE = True`` and once in full, ``-j`` at a time
(default 2, the CI setting on 2 cores), writing the executed copies into a temporary folder, so the
committed notebooks are never touched. Prints a markdown table (notebook | smoke s | full s), the sums,
the wall time of each pass, and whether the wall times meet the course targets: smoke < 120 s and
full < 600 s on 2 cores. It measures; it does not fail on a missed target (exit 1 only when a
notebook errors).

    python benchmarks/bench_notebooks.py                 # both passes, every notebook
    python benchmarks/bench_notebooks.py --smoke-only
    python benchmarks/bench_notebooks.py notebooks/01_gradient_descent.ipynb
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"smoke": 120.0, "full": 600.0}


def _runner():
    name = "course_run_notebooks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "run_notebooks.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _run(task):
    notebook, output, smoke = task
    return _runner().execute(notebook, output, smoke=smoke, timeout=900)


def run_pass(notebooks: list[Path], smoke: bool, jobs: int, out: Path):
    """Execute ``notebooks`` in one mode; returns (results in order, wall seconds)."""
    _runner()  # loaded here too, so results (its Result class) unpickle in this process
    tasks = [(str(nb), str(out / nb.name), smoke) for nb in notebooks]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(_run, tasks))
    return results, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=2, help="notebooks at once (default 2)")
    parser.add_argument("--smoke-only", action="store_true", help="skip the full pass")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"-j must be an integer >= 1, got {args.jobs}")
    notebooks = [p.resolve() for p in args.notebooks] or _runner().course_notebooks()
    if not notebooks:
        print("no notebooks found")
        return 0
    modes = ["smoke"] if args.smoke_only else ["smoke", "full"]
    seconds, walls, failures = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="bench_notebooks_") as tmp:
        for mode in modes:
            out = Path(tmp) / mode
            out.mkdir()
            results, walls[mode] = run_pass(notebooks, mode == "smoke", args.jobs, out)
            for r in results:
                seconds[(r.notebook, mode)] = r.seconds
                if not r.ok:
                    failures.append(f"{r.notebook} ({mode}):\n{r.error}")

    def fmt(values, key):
        return f"{values[key]:.1f}" if key in values else "-"

    sums = {m: sum(seconds[(nb.name, m)] for nb in notebooks) for m in modes}
    print(f"\n{len(notebooks)} notebook(s), {args.jobs} at a time\n")
    print("| notebook | smoke s | full s |")
    print("|---|---:|---:|")
    for nb in notebooks:
        print(
            f"| {nb.name} | {fmt(seconds, (nb.name, 'smoke'))} | {fmt(seconds, (nb.name, 'full'))} |"
        )
    print(f"| sum of notebooks | {fmt(sums, 'smoke')} | {fmt(sums, 'full')} |")
    print(f"| wall, {args.jobs} at a time | {fmt(walls, 'smoke')} | {fmt(walls, 'full')} |")
    for mode in modes:
        verdict = "meets" if walls[mode] < TARGETS[mode] else "MISSES"
        print(f"{mode}: wall {walls[mode]:.1f} s {verdict} the target < {TARGETS[mode]:.0f} s")
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
