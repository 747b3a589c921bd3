"""Run every notebook in full mode under conditions its committed outputs were not made with.

The committed outputs come from one run: this machine's native CPU kernels and ``SEED = 0``. A claim
that only holds for that run is a claim about one run, not about a method. This script re-runs the
notebooks under a matrix of *conditions*, each a set of environment variables for the kernel plus
the notebook's ``SEED`` parameter, and prints a table notebook x condition -> ``pass`` or the
assertion that failed:

* **kernels**: ``native`` (what torch, oneDNN and MKL pick for this CPU) or ``portable``
  (``ATEN_CPU_CAPABILITY=default``, ``ONEDNN_MAX_CPU_ISA=SSE41``, ``MKL_CBWR=COMPATIBLE``: the
  vectorised paths of another processor, so the last bits of every float differ, as they do on a
  learner's laptop; see FACTS.md);
* **seed**: ``SEED = 0`` (as committed) and two others.

Nothing is written into ``notebooks/``: executed copies go to ``build/claims/<condition>/``, a failed
run's partial notebook to ``build/claims/failed/<condition>/``, the table to ``build/claims.md`` and
``build/claims.json`` (``--report`` elsewhere). Exit status 1 when any cell failed.

``--ci`` (what ``make test`` runs) executes every notebook once, and that one run checks two things:
the claims under another condition (:data:`CI_CONDITIONS`: portable kernels and ``SEED = 1``) and the
committed outputs. It writes a copy of each notebook with its committed outputs and the parameters
cell's ``SEED`` set to the condition's seed into ``build/claims/<condition>-nbval/``, then runs nbval
(``pytest --nbval-lax``) on the copies with the condition's kernel variables: every cell must run
without error (the claims) and each cell tagged ``nbval-check-output`` must print what the committed
notebook printed. So those cells must print text that depends on neither the seed nor the CPU (a count,
a shape, ``True``), which is what makes them checkable on a machine other than the one that made the
outputs. One run instead of two (nbval on the committed seed, then the claims) keeps ``make test``
under 30 minutes.

Examples::

    python scripts/claims.py                              # the whole matrix (make claims)
    python scripts/claims.py --ci                         # nbval on portable/seed-1 copies (CI)
    python scripts/claims.py --kernels portable --seeds 1 notebooks/03_adaptive_methods.ipynb
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_notebooks as runner  # scripts/ is not a package

KERNELS = {
    "native": {},
    "portable": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_CBWR": "COMPATIBLE",
    },
}
SEEDS = (0, 1, 2)
# What CI runs: every notebook once, with other kernels and another seed at the same time, under
# nbval (see --ci above); make claims runs each change on its own.
CI_CONDITIONS = (("portable", 1),)
# --ci starts these first, slowest first (seconds under portable kernels in the last fresh-clone
# make test: 08 about 190, 12 150, 07 125, 03 and 09 115, A2 110, 10 105, 11 and 05 100). xdist hands a
# worker its next notebook when it is nearly done; by default it orders notebooks by their number of
# cells, which put the slowest (08, 22 cells) last and left one worker idle for minutes. Only the
# speed of make test depends on this list; notebooks not in it follow in the usual order.
CI_SLOWEST_FIRST = (
    "08_lr_finder_one_cycle",
    "12_beyond_one_machine",
    "07_transfer_learning",
    "03_adaptive_methods",
    "09_after_adam",
    "A2_lightning_optuna",
    "10_modern_schedules",
    "11_training_in_practice",
    "05_lr_schedules",
)
OUT = runner.BUILD / "claims"
_ARROW = re.compile(r"^\s*-+>\s*\d+\s(.*)$")


def condition_name(kernels: str, seed: int) -> str:
    """``portable-seed1`` and the like: a folder name and a table column."""
    return f"{kernels}-seed{seed}"


def failing_line(error: str) -> str:
    """One line for the table: the cell, the exception and the statement that raised it."""
    first = error.splitlines()[0] if error else ""
    match = re.match(r"cell (\d+) \(In \[[^\]]*\]\) raised (\w+): ?(.*)", first)
    if not match:
        return first[:160]
    cell, exc, message = match.groups()
    statement = ""
    for line in error.splitlines():
        arrow = _ARROW.match(line)  # IPython marks the raising line of the cell with "---> 19"
        if arrow:
            statement = arrow.group(1).strip()
    text = f"cell {cell}: {exc}"
    if message:
        text += f": {message}"
    if statement:
        text += f" [{statement}]"
    return text[:200]


def _run(task: tuple[str, str, int]) -> tuple[str, str, runner.Result]:
    notebook, kernels, seed = task
    name = condition_name(kernels, seed)
    result = runner.execute(
        notebook,
        OUT / name / Path(notebook).name,
        smoke=False,
        parameters={"SEED": seed},
        env=KERNELS[kernels],
        failed_dir=OUT / "failed" / name,
    )
    return Path(notebook).name, name, result


def run_matrix(notebooks: list[Path], conditions: list[tuple[str, int]], jobs: int) -> dict:
    """Execute every (notebook, condition); returns ``{notebook: {condition: Result}}``."""
    tasks = [(str(nb), k, s) for k, s in conditions for nb in notebooks]
    results: dict[str, dict[str, runner.Result]] = {nb.name: {} for nb in notebooks}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for nb, cond, result in pool.map(_run, tasks):
            status = "pass" if result.ok else "FAIL"
            print(f"{status} {nb} {cond} ({result.seconds:.0f} s)", flush=True)
            results[nb][cond] = result
    return results


def seeded_copy(source: Path, target: Path, seed: int) -> None:
    """Write ``source`` (outputs kept) to ``target`` with the parameters cell's ``SEED = <seed>``."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    cells = [
        c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]
    if not cells:
        raise ValueError(f"{source.name}: no code cell tagged 'parameters'")
    cells[0].source, n = re.subn(r"(?m)^SEED\s*=\s*\d+\s*$", f"SEED = {seed}", cells[0].source)
    if n != 1:
        raise ValueError(f"{source.name}: the parameters cell needs one line 'SEED = <integer>'")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def slowest_first(notebooks: list[Path]) -> list[Path]:
    """``notebooks`` with those of :data:`CI_SLOWEST_FIRST` first, in its order; the rest after."""
    rank = {name: i for i, name in enumerate(CI_SLOWEST_FIRST)}
    return sorted(notebooks, key=lambda nb: rank.get(nb.stem, len(rank)))


def nbval_under(notebooks: list[Path], condition: tuple[str, int], jobs: int) -> int:
    """nbval (``--nbval-lax``) on seeded copies of ``notebooks`` under ``condition``'s kernels;
    returns pytest's exit status."""
    kernels, seed = condition
    folder = OUT / f"{condition_name(kernels, seed)}-nbval"
    shutil.rmtree(folder, ignore_errors=True)
    copies = [folder / nb.name for nb in slowest_first(notebooks)]
    for copy in copies:
        seeded_copy(next(nb for nb in notebooks if nb.name == copy.name), copy, seed)
    env = {**runner.KERNEL_ENV, **os.environ, **KERNELS[kernels]}
    workers = ["-n", str(jobs), "--dist", "loadscope", "--no-loadscope-reorder"] if jobs > 1 else []
    command = [sys.executable, "-m", "pytest", *workers, "--nbval-lax", "--nbval-current-env"]
    command += ["-p", "no:cacheprovider", "--rootdir", str(runner.ROOT), *map(str, copies)]
    print(f"nbval under {condition_name(kernels, seed)}: {len(copies)} notebook(s) in {folder}")
    return subprocess.run(command, env=env, cwd=runner.ROOT, check=False).returncode


def table(results: dict, conditions: list[str]) -> str:
    """Markdown: one row per notebook, one column per condition."""
    lines = [
        "| notebook | " + " | ".join(conditions) + " |",
        "|---|" + "---|" * len(conditions),
    ]
    for nb, row in results.items():
        cells = [
            "pass" if row[c].ok else "FAIL " + failing_line(row[c].error).replace("|", "\\|")
            for c in conditions
        ]
        lines.append(f"| {nb} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", nargs="+", choices=sorted(KERNELS), default=sorted(KERNELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument(
        "--ci", action="store_true", help=f"nbval on copies under {CI_CONDITIONS} (make test)"
    )
    parser.add_argument("-j", "--jobs", type=int, default=2, help="notebooks at once (default 2)")
    parser.add_argument(
        "--report",
        type=Path,
        default=runner.BUILD / "claims.md",
        help="where the table goes (default build/claims.md; a .json beside it)",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"-j must be an integer >= 1, got {args.jobs}")
    if any(s < 0 for s in args.seeds):
        parser.error(f"--seeds must be integers >= 0, got {args.seeds}")
    notebooks = [p.resolve() for p in args.notebooks] or runner.course_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.ci:
        statuses = [nbval_under(notebooks, c, args.jobs) for c in CI_CONDITIONS]
        return max(statuses)
    conditions = [(k, s) for k in args.kernels for s in args.seeds]
    names = [condition_name(k, s) for k, s in conditions]
    print(f"{len(notebooks)} notebook(s) x {len(conditions)} condition(s), {args.jobs} at a time")
    start = time.perf_counter()
    results = run_matrix(notebooks, conditions, args.jobs)
    wall = time.perf_counter() - start
    text = table(results, names)
    print("\n" + text + f"\n\nwall time {wall:.0f} s")
    for nb, row in results.items():
        for cond, r in row.items():
            if not r.ok:
                print(f"\n=== {nb} under {cond} ===\n{r.error}", file=sys.stderr)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n")
    report = {
        "conditions": {
            n: {"kernels": k, "env": KERNELS[k], "SEED": s} for n, (k, s) in zip(names, conditions)
        },
        "wall_seconds": round(wall, 1),
        "results": {
            nb: {
                c: {"ok": r.ok, "seconds": r.seconds, "failure": failing_line(r.error)}
                for c, r in row.items()
            }
            for nb, row in results.items()
        },
    }
    args.report.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r.ok for row in results.values() for r in row.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
