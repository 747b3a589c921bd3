"""In JupyterLab (headless Chromium) every widget notebook runs in full mode without errors, prints
what the committed notebook printed in its checked cells, and its sliders work.

For each notebook with widgets, a learner's copy (``SMOKE = False``, no outputs; see conftest.py) is
opened in a lab server whose kernels run under scripts/claims.py's CI condition (portable CPU
kernels, ``SEED = 1``): Run All, wait for the kernel, assert no error output (so every assert of the
notebook held) and no "Error displaying widget" and that a widget rendered; save the notebook from
JupyterLab and compare its ``nbval-check-output`` cells with the committed notebook's the way nbval
does (``claims.checked_output_mismatches``); then for every widget view with a slider press
ArrowRight on its first slider handle and assert that the slider's value moved and that what it
drives (figure image data, status text) changed, and that the run wrote no file in the lab's folder
nor in the repository. A screenshot of each lands in build/screenshots/<notebook>.png.

That is everything ``scripts/claims.py --ci`` checks with nbval, so a passing run leaves a lab
record (``build/claims/lab/...``, tied to a fingerprint of the working tree) and ``claims.py --ci``,
which ``make test`` runs after the tests, skips that notebook's nbval run: each widget notebook runs
once in full mode, here. No record (Chromium missing, a failed run, a tree changed since) means the
nbval run happens. Smoke mode is papermill's job (tests/test_notebook_execution.py).

The same checks run on a tiny demo notebook, so the harness itself is tested even before the course
has widget notebooks.
"""

import re
import time

import nbformat
import pytest
from _tree import files, git_status

# Each widget notebook gets its xdist group from conftest.py (two groups, two workers); a second
# group mark here would be merged with it by xdist into a third group.
pytestmark = [pytest.mark.browser]
RUN_ALL_TIMEOUT = 900  # seconds: the slowest full run (08) takes about 200 s under portable kernels


def _run_without_error(lab, name):
    lab.open(name)
    seconds = lab.run_all(timeout=RUN_ALL_TIMEOUT)
    errors = lab.error_outputs()
    assert not errors, f"{name}: error output after Run All:\n" + "\n---\n".join(errors)
    return seconds


def _drive_every_slider(lab, name):
    views = lab.widget_views()
    assert views, f"{name}: no widget was rendered after Run All"
    changes = []
    for i, view in enumerate(views):
        if not lab.has_slider(view):
            continue
        value_before, value_after, shown_before, shown_after = lab.move_slider(view, timeout=60)
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
    return views, changes


@pytest.mark.xdist_group("browser")  # the first of conftest.BROWSER_GROUPS
def test_demo_slider_redraws_the_figure_and_the_status_text(lab, demo_name):
    _run_without_error(lab, demo_name)
    _views, (changes,) = _drive_every_slider(lab, demo_name)
    value_before, value_after, shown_before, shown_after = changes
    assert float(value_after) == pytest.approx(float(value_before) + 3 * 0.25)
    status = re.search(r"frequency (\d+\.\d+)", shown_after)
    assert status and float(status.group(1)) == pytest.approx(float(value_after)), shown_after[
        -200:
    ]
    assert shown_before.split("\n")[0] != shown_after.split("\n")[0], "the figure was not redrawn"


def test_widget_notebook_runs_in_full_mode_as_nbval_checks_it_and_its_sliders_drive_the_output(
    lab, lab_root, widget_notebook, claims, ci_condition, root
):
    """Also the notebook's claims-ci run of this tree (a lab record lets claims.py --ci skip it)."""
    record = claims.lab_record_path(widget_notebook, ci_condition)
    record.unlink(missing_ok=True)  # a failed run leaves no record, not an old one
    manifest = claims.tree_manifest()
    files_before, git_before = files(lab_root), git_status()
    start = time.monotonic()
    seconds = _run_without_error(lab, widget_notebook)
    lab.save()
    committed = nbformat.read(root / "notebooks" / widget_notebook, as_version=4)
    ran = nbformat.read(lab_root / widget_notebook, as_version=4)
    mismatches = claims.checked_output_mismatches(committed, ran)
    assert not mismatches, (
        f"{widget_notebook}: checked outputs differ from the committed ones (as nbval compares "
        "them):\n" + "\n".join(mismatches)
    )
    views, changes = _drive_every_slider(lab, widget_notebook)
    new_files = sorted(files(lab_root) - files_before)
    assert not new_files, f"{widget_notebook} wrote files next to the notebooks: {new_files}"
    git_after = git_status()
    if git_before is not None and git_after is not None:
        new_git = sorted(git_after - git_before)
        assert not new_git, f"{widget_notebook} changed the repository: {new_git}"
    total = time.monotonic() - start
    print(
        f"{widget_notebook}: Run All {seconds:.1f} s (full mode, {claims.condition_name(*ci_condition)}), "
        f"{len(views)} widget(s), {len(changes)} slider(s) moved, {total:.1f} s in all"
    )
    why_not = claims.lab_can_stand_in(committed)
    manifest_after = claims.tree_manifest()
    if manifest is not None and manifest_after is not None and manifest_after != manifest:
        print("the tree changed during the run, no lab record:",
              *claims.manifest_changes(manifest, manifest_after), sep="\n  ")  # fmt: skip
    elif manifest is not None and not why_not:
        tree = claims.manifest_digest(manifest)
        claims.write_lab_record(
            widget_notebook,
            ci_condition,
            tree,
            run_all_seconds=round(seconds, 1),
            manifest=manifest,
        )
