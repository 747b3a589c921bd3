"""A built wheel works without the repository: installed into a fresh venv, it loads the backbone.

The editable install of ``.venv`` would hide a missing file (it reads the package from the working
tree), so the wheel goes into a temporary venv made from the base interpreter. That venv sees the
course's dependencies through a ``.pth`` line naming ``.venv``'s site-packages: a directory added that
way does not have its own ``.pth`` files run, so the editable finder of ``course_lib`` stays off and
the only ``course_lib`` importable is the one inside the temporary venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import torch

from course_lib.models import pretrained_cnn

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

# Run by the temporary venv's python from a folder outside the repository: where course_lib came
# from, and the logits of the pretrained CNN on a fixed input.
PROBE = """
import json, sys, torch
import course_lib, course_lib.models as m
model = m.pretrained_cnn(seed=0).eval()
x = torch.linspace(-1.0, 1.0, 2 * 40).reshape(2, 40)
with torch.no_grad():
    logits = model(x)
print(json.dumps({"file": course_lib.__file__, "pt": str(m.BACKBONE_PT), "path": sys.path,
                  "logits": logits.tolist()}))
"""


def _build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of the sources (setuptools writes build/ and egg-info beside them)."""
    src = out / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "course_lib", src / "course_lib", ignore=shutil.ignore_patterns("__pycache__")
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)], check=True
    )
    (wheel,) = out.glob("course_lib-*.whl")
    return wheel


def _venv_with_wheel(wheel: Path, venv: Path) -> Path:
    """A venv of the base interpreter with ``wheel`` installed and ``.venv``'s packages on its path."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "course_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--quiet",
        "--python",
        str(python),
    ]
    subprocess.run([*pip, "install", "--no-deps", "--no-index", str(wheel)], check=True)
    return python


def test_wheel_installed_in_a_fresh_venv_loads_the_backbone(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "course_lib/assets/backbone_cnn.pt" in names
    assert "course_lib/assets/backbone_cnn.json" in names
    python = _venv_with_wheel(wheel, tmp_path / "venv")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run = subprocess.run(
        [python, "-c", PROBE], cwd=outside, env=env, check=True, capture_output=True, text=True
    )
    probe = json.loads(run.stdout)
    venv = (tmp_path / "venv").resolve()
    assert Path(probe["file"]).resolve().is_relative_to(venv), probe["file"]
    assert Path(probe["pt"]).resolve().is_relative_to(venv), probe["pt"]
    assert not any(Path(p).resolve() == ROOT for p in probe["path"] if p)
    expected = pretrained_cnn(seed=0).eval()(torch.linspace(-1.0, 1.0, 80).reshape(2, 40))
    torch.testing.assert_close(torch.tensor(probe["logits"]), expected.detach(), rtol=0, atol=0)
