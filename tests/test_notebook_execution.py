"""Each notebook runs cleanly in smoke mode, writes no files, and its nbval-checked text is stable.

Every notebook is executed once with ``SMOKE = True`` (papermill, the same code path as
``scripts/run_notebooks.py --smoke``) in a temporary copy of ``notebooks/`` that is also the kernel's
working directory. That one run proves: no cell errors, the copy gains no file, and the repository
gains no untracked or modified file (``git status --porcelain`` before/after; build/ and caches
ignored). Notebooks with cells tagged ``nbval-check-output`` are executed a second time and those
cells' text outputs must be identical, so nbval's comparison on the committed outputs is meaningful.

The repository check assumes nobody else edits the tree during the run (true in CI and for
``make test``); a file another person creates meanwhile shows up as a false alarm.

Both tests of one notebook share the first run (cached per worker process; the ``xdist_group`` mark
keeps them on one worker under ``--dist loadgroup``). Run time: one or two smoke runs per notebook.
"""

import functools
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHECK_TAG = "nbval-check-output"
# Paths that executing notebooks or tests may create without breaking "writes no file": build outputs
# and interpreter/tool caches.
IGNORED_PARTS = {
    "build",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".venv",
}


def _files(folder):
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and not IGNORED_PARTS & set(p.relative_to(folder).parts)
    }


def _git_status():
    """Set of ``git status --porcelain`` lines outside ignored paths, or None without git."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    proc = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    lines = set()
    for line in proc.stdout.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not IGNORED_PARTS & set(Path(path).parts):
            lines.add(line)
    return lines


def _checked_texts(nb):
    """Text outputs of the cells tagged nbval-check-output, in order, streams joined (what nbval compares)."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or CHECK_TAG not in cell.metadata.get("tags", []):
            continue
        for out in cell.outputs:
            if out.output_type == "stream":
                # The kernel flushes a stream in chunks whose boundaries depend on timing: join
                # consecutive chunks of one stream, as nbval does, and compare the text.
                last = texts[-1] if texts else None
                if last is not None and last[0] == cell.source and last[1] == out.name:
                    texts[-1] = (cell.source, out.name, last[2] + out.text)
                else:
                    texts.append((cell.source, out.name, out.text))
            elif out.output_type in ("execute_result", "display_data"):
                for mime in ("text/plain", "text/html", "text/latex", "text/markdown"):
                    if mime in out.data:
                        texts.append((cell.source, mime, out.data[mime]))
    return texts


def _execute_in_copy(runner, notebook, workdir):
    """Smoke-run ``notebook`` with scripts/run_notebooks.py (``runner``) from a fresh copy of
    notebooks/ in ``workdir``; return what we check."""
    copy = workdir / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    files_before, git_before = _files(copy), _git_status()
    output = workdir / "out" / notebook.name
    start = time.perf_counter()
    result = runner.execute(copy / notebook.name, output, smoke=True, cwd=copy, timeout=300)
    seconds = time.perf_counter() - start
    new_files = sorted(_files(copy) - files_before)
    git_after = _git_status()
    new_git = sorted(git_after - git_before) if git_before is not None else None
    nb = nbformat.read(output, as_version=4) if result.ok else None
    return {"result": result, "nb": nb, "new_files": new_files, "new_git": new_git, "s": seconds}


def _fresh_dir(run_root, name):
    return Path(tempfile.mkdtemp(prefix=f"{Path(name).stem}-", dir=run_root))


@functools.cache
def _first_run(runner, name, run_root):
    return _execute_in_copy(runner, ROOT / "notebooks" / name, _fresh_dir(run_root, name))


def _params():
    return [
        pytest.param(p.name, id=p.stem, marks=pytest.mark.xdist_group(f"nb-{p.stem}"))
        for p in NOTEBOOKS
    ]


@pytest.fixture(scope="session")
def run_root(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke_runs")


@pytest.fixture(scope="session")
def runner(load_script):
    return load_script("scripts/run_notebooks.py")


@pytest.mark.notebook
@pytest.mark.parametrize("name", _params())
def test_smoke_run_has_no_error_and_writes_no_file(name, run_root, runner):
    run = _first_run(runner, name, run_root)
    assert run["result"].ok, f"{name} failed in smoke mode:\n{run['result'].error}"
    assert not run["new_files"], f"{name} wrote files next to the notebooks: {run['new_files']}"
    if run["new_git"] is not None:
        assert not run["new_git"], f"{name} changed the repository: {run['new_git']}"


@pytest.mark.notebook
@pytest.mark.parametrize("name", _params())
def test_nbval_checked_outputs_are_identical_in_two_runs(name, run_root, runner):
    source = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    tagged = [c for c in source.cells if CHECK_TAG in c.metadata.get("tags", [])]
    if not tagged:
        pytest.skip(f"{name} has no cell tagged {CHECK_TAG}")
    first = _first_run(runner, name, run_root)
    assert first["result"].ok, f"{name} failed in smoke mode:\n{first['result'].error}"
    second = _execute_in_copy(runner, ROOT / "notebooks" / name, _fresh_dir(run_root, name))
    assert second["result"].ok, f"{name} failed on the second smoke run:\n{second['result'].error}"
    texts_1, texts_2 = _checked_texts(first["nb"]), _checked_texts(second["nb"])
    assert texts_1, f"the {CHECK_TAG} cells of {name} printed nothing to compare"
    assert len(texts_1) == len(texts_2), (
        f"{name}: the checked cells printed a different number of outputs"
    )
    for (src, kind, a), (_, _, b) in zip(texts_1, texts_2, strict=True):
        assert a == b, f"{kind} of the cell\n{src}\nchanged between two runs:\n{a!r}\nvs\n{b!r}"
