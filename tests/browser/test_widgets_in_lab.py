"""In JupyterLab (headless Chromium) every widget notebook runs without errors and its sliders work.

For each notebook with widgets (a temporary copy with ``SMOKE = True``, see conftest.py): open it,
Run All, wait for the kernel, assert no error output and no "Error displaying widget" and that a
widget rendered, then for every widget view with a slider press ArrowRight on its first slider
handle and assert that the slider's value moved and that what it drives (figure image data,
status text) changed, and that the run wrote no file in the lab's folder nor in the repository (this
run is also the notebook's smoke run: conftest.py skips the papermill one). A screenshot
of each lands in build/screenshots/<notebook>.png. The same check runs on a tiny demo notebook, so
the harness itself is tested even before the course has widget notebooks.
"""

import re

import pytest
from _tree import files, git_status

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _run_and_drive_every_slider(lab, name):
    lab.open(name)
    seconds = lab.run_all(timeout=120)
    errors = lab.error_outputs()
    assert not errors, f"{name}: error output after Run All:\n" + "\n---\n".join(errors)
    views = lab.widget_views()
    assert views, f"{name}: no widget was rendered after Run All"
    changes = []
    for i, view in enumerate(views):
        if not lab.has_slider(view):
            continue
        value_before, value_after, shown_before, shown_after = lab.move_slider(view)
        assert value_after != value_before, (
            f"{name}: widget {i}: the keyboard did not move the slider"
        )
        assert shown_after != shown_before, (
            f"{name}: widget {i}: moving the slider ({value_before} -> {value_after}) changed "
            "neither the figure nor the status text"
        )
        changes.append((value_before, value_after, shown_before, shown_after))
    errors = lab.error_outputs()
    assert not errors, f"{name}: error output after moving sliders:\n" + "\n---\n".join(errors)
    path = lab.screenshot(name, views[0])
    assert path.stat().st_size > 0
    print(
        f"{name}: Run All {seconds:.1f} s, {len(views)} widget(s), {len(changes)} slider(s) moved, "
        f"screenshot {path.name}"
    )
    return changes


def test_demo_slider_redraws_the_figure_and_the_status_text(lab, demo_name):
    (changes,) = _run_and_drive_every_slider(lab, demo_name)
    value_before, value_after, shown_before, shown_after = changes
    assert float(value_after) == pytest.approx(float(value_before) + 3 * 0.25)
    status = re.search(r"frequency (\d+\.\d+)", shown_after)
    assert status and float(status.group(1)) == pytest.approx(float(value_after)), shown_after[
        -200:
    ]
    assert shown_before.split("\n")[0] != shown_after.split("\n")[0], "the figure was not redrawn"


def test_widget_notebook_runs_and_its_sliders_drive_the_output(lab, lab_root, widget_notebook):
    """Also the notebook's smoke run of this session (conftest.py skips the papermill one)."""
    files_before, git_before = files(lab_root), git_status()
    _run_and_drive_every_slider(lab, widget_notebook)
    new_files = sorted(files(lab_root) - files_before)
    assert not new_files, f"{widget_notebook} wrote files next to the notebooks: {new_files}"
    git_after = git_status()
    if git_before is not None and git_after is not None:
        new_git = sorted(git_after - git_before)
        assert not new_git, f"{widget_notebook} changed the repository: {new_git}"
