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

**The widget notebooks** (those with sliders) get that same CI run in JupyterLab instead, as a learner
runs them: tests/browser/test_widgets_in_lab.py opens a copy with the condition's ``SEED`` and no
outputs in a lab server whose kernels run under the condition's variables (:func:`condition_env`),
clicks Run All in headless Chromium, fails on any error output, saves the notebook from JupyterLab and
compares its checked cells with the committed ones exactly as nbval does (:func:`nbval_options`,
:func:`checked_output_mismatches`: nbval's own tag and comment parsing, stream coalescing and skipped
keys; no sanitizer, as in the nbval run), then moves the sliders. When all of that passed it writes a
*lab record* (``build/claims/lab/<condition>/<notebook>.json``) holding :func:`tree_fingerprint`, a
hash of every file of the working tree and of the installed packages, and the :func:`tree_manifest` it
hashes (so a stale record says which file or package changed). ``--ci`` leaves out of its
nbval run each notebook whose record matches the tree as it is now (:func:`lab_covered`), so in
``make test`` (browser tests first, then this script) a widget notebook runs once in full mode, in
the browser, not twice. A missing record (no Chromium: the browser tests skip), a failed lab run (no
record written) or any change to the tree since (a stale record) puts the notebook back into the
nbval run: nothing goes unchecked.

Examples::

    python scripts/claims.py                              # the whole matrix (make claims)
    python scripts/claims.py --ci                         # nbval on portable/seed-1 copies (CI)
    python scripts/claims.py --kernels portable --seeds 1 notebooks/03_adaptive_methods.ipynb
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from copy import deepcopy
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
    "13_what_a_step_costs",
    "07_transfer_learning",
    "03_adaptive_methods",
    "09_after_adam",
    "A2_lightning_optuna",
    "10_modern_schedules",
    "11_training_in_practice",
    "05_lr_schedules",
)
OUT = runner.BUILD / "claims"
LAB_RECORDS = OUT / "lab"  # build/claims/lab/<condition>/<notebook>.json, see lab_covered()
# What nbval leaves out when it compares a cell's outputs (nbval 0.11's IPyNbFile.skip_compare without
# --nbdime): metadata, counts, tracebacks, stream names (the stream's text stays, keyed by its name),
# widget model ids and images.
NBVAL_SKIP_COMPARE = frozenset(
    {
        "metadata",
        "traceback",
        "prompt_number",
        "output_type",
        "name",
        "execution_count",
        "application/vnd.jupyter.widget-view+json",
        "image/png",
        "image/jpeg",
    }
)
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


def condition_env(kernels: str) -> dict[str, str]:
    """The environment a kernel runs in under ``kernels`` (nbval here, the lab server in the tests)."""
    return {**runner.KERNEL_ENV, **os.environ, **KERNELS[kernels]}


def nbval_options(cell) -> dict[str, bool]:
    """How nbval ``--nbval-lax`` treats a code cell: ``check`` (compare outputs), ``skip``, ...

    nbval's own parsing of the cell's tags and ``# NBVAL_...`` comments, comments winning, then lax
    mode's default (outputs not compared).
    """
    from nbval.plugin import find_comment_markers, find_metadata_tags

    options = defaultdict(bool, find_metadata_tags(cell.metadata))
    options.update(find_comment_markers(cell.source))
    options.setdefault("check", False)
    return options


def lab_can_stand_in(nb) -> str:
    """Why Run All in JupyterLab would not do what nbval does for ``nb`` ("" when it would).

    nbval does not run a skipped cell and expects an exception from a ``raises-exception`` cell; Run
    All runs the first and stops at the second.
    """
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        options = nbval_options(cell)
        if options["skip"] or options["check_exception"]:
            return f"code cell {i} is skipped or expected to raise under nbval"
    return ""


def _compared(outputs) -> dict[str, list]:
    """``outputs`` as nbval compares them: streams merged, then values by key (mime types flattened)."""
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    flat: dict[str, list] = defaultdict(list)
    for out in transform_streams_for_comparison(coalesce_streams(deepcopy(outputs))):
        for key, value in out.items():
            if key in NBVAL_SKIP_COMPARE:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in NBVAL_SKIP_COMPARE:
                        flat[mime].append(data)
            else:
                flat[key].append(value)
    return flat


def checked_output_mismatches(committed, executed) -> list[str]:
    """Cells whose outputs nbval ``--nbval-lax`` would reject: one line per differing cell.

    ``committed`` is the reference notebook, ``executed`` a run of a copy of it (same cells); only
    cells nbval checks (:func:`nbval_options`) and that ran in the reference are compared.
    """
    ref = [c for c in committed.cells if c.cell_type == "code"]
    new = [c for c in executed.cells if c.cell_type == "code"]
    if len(ref) != len(new):
        return [f"the run has {len(new)} code cells, the committed notebook {len(ref)}"]
    problems = []
    for i, (r, n) in enumerate(zip(ref, new)):
        if not nbval_options(r)["check"] or r.execution_count is None:
            continue
        want, got = _compared(r.outputs), _compared(n.outputs)
        if want != got:
            keys = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            first = keys[0]
            problems.append(
                f"code cell {i}: {first!r} differs: committed {want.get(first)!r}, "
                f"run {got.get(first)!r}"[:600]
            )
    return problems


def tree_manifest(root: Path = runner.ROOT) -> dict | None:
    """What a notebook run depends on: ``{"python": ..., "packages": [...], "files": {path: sha256}}``
    for every file of the working tree (git's tracked and untracked, ignored ones left out; ``"-"``
    for a listed path that is not a file), the Python version and the packages installed in the
    environment's site-packages. None
    without git (then no lab record is ever trusted)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = {}
    for name in sorted(set(listed.decode().split("\0")) - {""}):
        path = root / name
        files[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"
    # The environment's site-packages, not sys.path: a process that imported setuptools has its
    # vendored packages (jaraco.*, zipp, wheel, ...) on sys.path, another process does not.
    site = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions(path=site)
    )
    return {"python": f"{sys.version}|{platform.machine()}", "packages": packages, "files": files}


def tree_fingerprint(root: Path = runner.ROOT) -> str | None:
    """sha256 of :func:`tree_manifest` (None without git)."""
    manifest = tree_manifest(root)
    return None if manifest is None else manifest_digest(manifest)


def manifest_digest(manifest: dict) -> str:
    """The fingerprint of a :func:`tree_manifest`."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def manifest_changes(old: dict, new: dict, limit: int = 10) -> list[str]:
    """What differs between two :func:`tree_manifest` s, one line each (at most ``limit``).

    >>> a = {"python": "3.11", "packages": ["x==1"], "files": {"a.py": "1", "b.py": "2"}}
    >>> b = {"python": "3.11", "packages": ["x==2"], "files": {"a.py": "9", "c.py": "3"}}
    >>> manifest_changes(a, b)
    ['package only before: x==1', 'package only now: x==2', 'file changed: a.py', \
'file only before: b.py', 'file only now: c.py']
    """
    lines = [] if old.get("python") == new.get("python") else ["the Python version differs"]
    was, now = set(old.get("packages", [])), set(new.get("packages", []))
    lines += [f"package only before: {p}" for p in sorted(was - now)]
    lines += [f"package only now: {p}" for p in sorted(now - was)]
    before, after = old.get("files", {}), new.get("files", {})
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            lines.append(f"file only before: {name}")
        elif name not in before:
            lines.append(f"file only now: {name}")
        elif before[name] != after[name]:
            lines.append(f"file changed: {name}")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def lab_record_path(notebook: str, condition: tuple[str, int]) -> Path:
    """Where the lab run of ``notebook`` (a file name) under ``condition`` leaves its record."""
    return LAB_RECORDS / condition_name(*condition) / (Path(notebook).stem + ".json")


def write_lab_record(notebook: str, condition: tuple[str, int], tree: str, **facts) -> Path:
    """Record that ``notebook`` passed the CI checks in JupyterLab on the tree ``tree`` (``facts``
    may hold its ``manifest``, so that a stale record can say what changed)."""
    path = lab_record_path(notebook, condition)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"notebook": Path(notebook).name, "condition": condition_name(*condition)}
    path.write_text(json.dumps({**record, "tree": tree, **facts}, indent=2) + "\n")
    return path


def lab_covered(notebooks: list[Path], condition: tuple[str, int]) -> list[Path]:
    """The ``notebooks`` whose lab record under ``condition`` was made on the tree as it is now.

    For a record made on another tree it prints what changed since, when the record says."""
    records = [lab_record_path(nb.name, condition) for nb in notebooks]
    if not any(r.is_file() for r in records):
        return []
    tree = tree_fingerprint()
    covered = []
    for nb, record in zip(notebooks, records):
        try:
            saved = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if tree is not None and saved.get("tree") == tree:
            covered.append(nb)
        elif tree is not None and isinstance(saved.get("manifest"), dict):
            changes = manifest_changes(saved["manifest"], tree_manifest() or {})
            print(f"{nb.name}: its lab record is stale; since it was made:", *changes, sep="\n  ")
    return covered


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
    env = condition_env(kernels)
    workers = ["-n", str(jobs), "--dist", "loadscope", "--no-loadscope-reorder"] if jobs > 1 else []
    command = [sys.executable, "-m", "pytest", *workers, "--nbval-lax", "--nbval-current-env"]
    command += ["-p", "no:cacheprovider", "--rootdir", str(runner.ROOT), *map(str, copies)]
    print(f"nbval under {condition_name(kernels, seed)}: {len(copies)} notebook(s) in {folder}")
    return subprocess.run(command, env=env, cwd=runner.ROOT, check=False).returncode


def ci_run(notebooks: list[Path], condition: tuple[str, int], jobs: int) -> int:
    """nbval under ``condition`` on the ``notebooks`` that no lab run of this tree covered."""
    covered = lab_covered(notebooks, condition)
    for nb in covered:
        print(f"{nb.name}: checked in JupyterLab under {condition_name(*condition)} on this tree")
    rest = [nb for nb in notebooks if nb not in covered]
    return nbval_under(rest, condition, jobs) if rest else 0


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
        return max(ci_run(notebooks, c, args.jobs) for c in CI_CONDITIONS)
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
