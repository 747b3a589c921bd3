"""Each notebook runs cleanly in smoke mode, writes no files, and its nbval-checked text is stable.

Every notebook is executed once with ``SMOKE = True`` (papermill, the same code path as
``scripts/run_notebooks.py --smoke``) in a temporary copy of ``notebooks/`` that is also the kernel's
working directory. That one run proves: no cell errors, the copy gains no file, and the repository
gains no untracked or modified file (``git status --porcelain`` before/after; build/ and caches
ignored). Every notebook, the widget notebooks included: their JupyterLab run
(tests/browser/test_widgets_in_lab.py) is in full mode, as a learner runs them, so this is where their
``if SMOKE:`` branches run. That the cells tagged ``nbval-check-output`` print the same text run after
run (and on another CPU, with another seed) is checked where it matters, on full runs: ``make test``
ends with nbval on seeded copies of the committed notebooks (``scripts/claims.py --ci``), and for the
widget notebooks the JupyterLab run makes the same check.

The repository check assumes nobody else edits the tree during the run (true in CI and for
``make test``); a file another person creates meanwhile shows up as a false alarm.

Run time: one smoke run per notebook.
"""

import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from _tree import files, git_status

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _execute_in_copy(runner, notebook, workdir):
    """Smoke-run ``notebook`` with scripts/run_notebooks.py (``runner``) from a fresh copy of
    notebooks/ in ``workdir``; return what we check."""
    copy = workdir / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    files_before, git_before = files(copy), git_status()
    output = workdir / "out" / notebook.name
    start = time.perf_counter()
    result = runner.execute(copy / notebook.name, output, smoke=True, cwd=copy, timeout=300)
    seconds = time.perf_counter() - start
    new_files = sorted(files(copy) - files_before)
    git_after = git_status()
    new_git = sorted(git_after - git_before) if git_before is not None else None
    nb = nbformat.read(output, as_version=4) if result.ok else None
    return {"result": result, "nb": nb, "new_files": new_files, "new_git": new_git, "s": seconds}


def _fresh_dir(run_root, name):
    return Path(tempfile.mkdtemp(prefix=f"{Path(name).stem}-", dir=run_root))


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
    run = _execute_in_copy(runner, ROOT / "notebooks" / name, _fresh_dir(run_root, name))
    assert run["result"].ok, f"{name} failed in smoke mode:\n{run['result'].error}"
    assert not run["new_files"], f"{name} wrote files next to the notebooks: {run['new_files']}"
    if run["new_git"] is not None:
        assert not run["new_git"], f"{name} changed the repository: {run['new_git']}"
