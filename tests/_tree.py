"""What a notebook run may not change: the files of a folder and the repository's ``git status``.

Shared by the papermill smoke runs (tests/test_notebook_execution.py) and the JupyterLab runs
(tests/browser/test_widgets_in_lab.py): both take a snapshot before a run and assert that nothing was
added after it. Build outputs and interpreter or tool caches are not counted (``IGNORED_PARTS``).
``make lab`` on the real notebooks/ (tests/browser/test_make_lab.py) is held to more: :func:`snapshot`
sees every file, hidden and cache folders included, with its size and modification time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Paths that executing notebooks or tests may create without breaking "writes no file": build outputs
# and interpreter/tool caches (JupyterLab's own checkpoints and LSP documents included).
IGNORED_PARTS = {
    "build",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".virtual_documents",
    ".mypy_cache",
    ".venv",
}


def files(folder: Path) -> set[str]:
    """Every file under ``folder`` (relative paths) outside the ignored parts."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and not IGNORED_PARTS & set(p.relative_to(folder).parts)
    }


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``, nothing ignored: relative path -> (size, mtime in ns)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def git_status() -> set[str] | None:
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
