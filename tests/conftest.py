"""Fixtures shared by the test modules.

``load_script``: the files in ``scripts/`` and ``benchmarks/`` are not a package; tests import them
through this fixture (``runner = load_script("scripts/run_notebooks.py")``), once per session.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(relative_path: str):
    """Import a script once; its folder is on ``sys.path`` meanwhile (claims.py imports run_notebooks)."""
    path = ROOT / relative_path
    name = "course_script_" + path.stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no Python script at {path}")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))
        try:
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        finally:
            sys.path.remove(str(path.parent))
    return sys.modules[name]


@pytest.fixture(scope="session")
def load_script():
    """A function ``load_script(relative_path) -> module`` for scripts/ and benchmarks/ files."""
    return _load


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT
