"""scripts/claims.py: the condition matrix, the failure line it prints, and its table."""

import importlib.metadata
import json

import pytest


@pytest.fixture(scope="module")
def claims(load_script):
    return load_script("scripts/claims.py")


ERROR = """cell 53 (In [31]) raised AssertionError: Adagrad's seeds spread the most
  source:
    assert max(stds, key=stds.get) == "Adagrad", "Adagrad's seeds spread the most"
  traceback:
---------------------------------------------------------------------------
AssertionError                            Traceback (most recent call last)
Cell In[31], line 19
     18 stds = {n: cs.std(n, "test_acc") for n in names}
---> 19 assert max(stds, key=stds.get) == "Adagrad", "Adagrad's seeds spread the most"
"""


def test_failing_line_names_the_cell_the_exception_and_the_statement(claims):
    line = claims.failing_line(ERROR)
    assert line.startswith("cell 53: AssertionError: Adagrad's seeds spread the most")
    assert line.endswith(
        '[assert max(stds, key=stds.get) == "Adagrad", "Adagrad\'s seeds spread the most"]'
    )


def test_failing_line_of_an_assert_without_message_still_shows_the_statement(claims):
    error = "cell 4 (In [2]) raised AssertionError: \n---> 7 assert x < 0.05\n"
    assert claims.failing_line(error) == "cell 4: AssertionError [assert x < 0.05]"
    assert claims.failing_line("NotebookTimeout: ran longer than 1800 s") == (
        "NotebookTimeout: ran longer than 1800 s"
    )


def test_the_portable_condition_sets_the_three_variables_facts_md_names(claims):
    assert claims.KERNELS["native"] == {}
    assert claims.KERNELS["portable"] == {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_CBWR": "COMPATIBLE",
    }
    kernels = {k for k, _ in claims.CI_CONDITIONS}
    seeds = {s for _, s in claims.CI_CONDITIONS}
    assert "portable" in kernels and seeds - {0}, "CI covers other kernels and another seed"


def test_table_has_a_row_per_notebook_and_a_column_per_condition(claims):
    ok = claims.runner.Result("a.ipynb", True, 1.0, "out")
    bad = claims.runner.Result("a.ipynb", False, 1.0, "out", ERROR)
    text = claims.table(
        {"a.ipynb": {"native-seed1": ok, "portable-seed0": bad}}, ["native-seed1", "portable-seed0"]
    )
    lines = text.splitlines()
    assert lines[0] == "| notebook | native-seed1 | portable-seed0 |"
    assert lines[2].startswith("| a.ipynb | pass | FAIL cell 53: AssertionError")
    assert claims.condition_name("portable", 2) == "portable-seed2"


def _tiny_notebook(path, tagged_source):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    nb = new_notebook(
        cells=[
            new_code_cell("SMOKE = False\nSEED = 0", metadata={"tags": ["parameters"]}),
            new_code_cell(
                tagged_source,
                metadata={"tags": ["nbval-check-output"]},
                execution_count=1,
                outputs=[new_output("stream", name="stdout", text="0\n")],
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_seeded_copy_sets_the_seed_and_keeps_the_committed_outputs(claims, tmp_path):
    import nbformat

    _tiny_notebook(tmp_path / "a.ipynb", "print(SEED)")
    claims.seeded_copy(tmp_path / "a.ipynb", tmp_path / "out" / "a.ipynb", 3)
    nb = nbformat.read(tmp_path / "out" / "a.ipynb", as_version=4)
    assert nb.cells[0].source == "SMOKE = False\nSEED = 3"
    assert nb.cells[1].outputs[0].text == "0\n"
    bad = tmp_path / "b.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), bad)
    with pytest.raises(ValueError, match="no code cell tagged 'parameters'"):
        claims.seeded_copy(bad, tmp_path / "out" / "b.ipynb", 1)


@pytest.mark.slow
@pytest.mark.notebook
def test_ci_mode_fails_when_a_checked_output_depends_on_the_seed(claims, tmp_path, monkeypatch):
    """The CI run is nbval on seed-1 copies: a checked cell that prints the seed must fail it, one
    that prints a constant must pass."""
    monkeypatch.setattr(claims, "OUT", tmp_path / "claims")
    _tiny_notebook(tmp_path / "seed.ipynb", "print(SEED)")
    _tiny_notebook(tmp_path / "const.ipynb", "print(0)")
    condition = ("portable", 1)
    assert claims.nbval_under([tmp_path / "const.ipynb"], condition, jobs=1) == 0
    assert claims.nbval_under([tmp_path / "seed.ipynb"], condition, jobs=1) != 0


def test_ci_starts_the_slowest_notebooks_first_and_keeps_every_notebook(claims):
    notebooks = sorted((claims.runner.NOTEBOOKS).glob("*.ipynb"))
    ordered = claims.slowest_first(notebooks)
    assert sorted(ordered) == notebooks
    assert ordered[0].stem == claims.CI_SLOWEST_FIRST[0]
    names = {nb.stem for nb in notebooks}
    assert set(claims.CI_SLOWEST_FIRST) <= names, "CI_SLOWEST_FIRST names a notebook that is gone"
    rest = [nb for nb in ordered if nb.stem not in claims.CI_SLOWEST_FIRST]
    assert rest == [nb for nb in notebooks if nb.stem not in claims.CI_SLOWEST_FIRST]


def _checked_pair(committed_text, run_outputs, tags=("nbval-check-output",), source="x"):
    """A committed notebook whose one cell printed ``committed_text``, and a run with ``run_outputs``."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def notebook(outputs):
        cell = new_code_cell(source, metadata={"tags": list(tags)}, execution_count=1)
        cell.outputs = outputs
        return nbformat.from_dict(new_notebook(cells=[new_code_cell("SEED = 0"), cell]))

    committed = notebook([new_output("stream", name="stdout", text=committed_text)])
    return committed, notebook(run_outputs)


def test_checked_outputs_are_compared_as_nbval_compares_them(claims):
    from nbformat.v4 import new_output

    split = [new_output("stream", name="stdout", text=t) for t in ("3 of", " 3\n")]
    committed, ran = _checked_pair("3 of 3\n", split)
    assert claims.checked_output_mismatches(committed, ran) == [], "streams are merged first"
    image = new_output("display_data", data={"image/png": "AAAA"})
    committed, ran = _checked_pair("3 of 3\n", [*split, image])
    assert claims.checked_output_mismatches(committed, ran) == [], "images are never compared"
    text = new_output("display_data", data={"text/plain": "<Figure>"})
    committed, ran = _checked_pair("3 of 3\n", [*split, text])
    (line,) = claims.checked_output_mismatches(committed, ran)
    assert line == "code cell 1: 'text/plain' differs: committed None, run ['<Figure>']"
    committed, ran = _checked_pair(
        "3 of 3\n", [new_output("stream", name="stdout", text="2 of 3\n")]
    )
    (line,) = claims.checked_output_mismatches(committed, ran)
    assert line == "code cell 1: 'stdout' differs: committed ['3 of 3\\n'], run ['2 of 3\\n']"


def test_only_cells_nbval_checks_are_compared_tags_or_comments(claims):
    from nbformat.v4 import new_output

    other = [new_output("stream", name="stdout", text="anything\n")]
    committed, ran = _checked_pair("3 of 3\n", other, tags=())
    assert claims.checked_output_mismatches(committed, ran) == [], "lax mode: untagged cells pass"
    committed, ran = _checked_pair("3\n", other, tags=(), source="# NBVAL_CHECK_OUTPUT\nx")
    assert len(claims.checked_output_mismatches(committed, ran)) == 1, "nbval's comment marker"
    committed.cells[1].execution_count = None
    committed.cells[1].outputs = []
    assert claims.checked_output_mismatches(committed, ran) == [], (
        "an unrun reference is not checked"
    )
    ran.cells.pop()
    assert claims.checked_output_mismatches(committed, ran) == [
        "the run has 1 code cells, the committed notebook 2"
    ]


def test_the_lab_cannot_stand_in_for_nbval_on_skipped_or_raising_cells(claims):
    for tag in ("nbval-skip", "raises-exception"):
        committed, _ = _checked_pair("0\n", [], tags=(tag,))
        assert claims.lab_can_stand_in(committed) == (
            "code cell 1 is skipped or expected to raise under nbval"
        )
    committed, _ = _checked_pair("0\n", [])
    assert claims.lab_can_stand_in(committed) == ""


def test_a_lab_record_covers_its_notebook_only_on_the_tree_it_was_made_on(
    claims, tmp_path, monkeypatch
):
    monkeypatch.setattr(claims, "LAB_RECORDS", tmp_path / "lab")
    notebooks = [tmp_path / "a.ipynb", tmp_path / "b.ipynb"]
    condition = ("portable", 1)
    monkeypatch.setattr(claims, "tree_fingerprint", lambda: "tree-1")
    assert claims.lab_covered(notebooks, condition) == []
    path = claims.write_lab_record("a.ipynb", condition, "tree-1", run_all_seconds=1.0)
    assert path == tmp_path / "lab" / "portable-seed1" / "a.json"
    assert claims.lab_covered(notebooks, condition) == [notebooks[0]]
    assert claims.lab_covered(notebooks, ("portable", 2)) == [], "another condition"
    monkeypatch.setattr(claims, "tree_fingerprint", lambda: "tree-2")
    assert claims.lab_covered(notebooks, condition) == [], "a stale record"
    monkeypatch.setattr(claims, "tree_fingerprint", lambda: None)
    assert claims.lab_covered(notebooks, condition) == [], "no git, no trust"
    path.write_text("{not json")
    monkeypatch.setattr(claims, "tree_fingerprint", lambda: "tree-1")
    assert claims.lab_covered(notebooks, condition) == []


def test_the_tree_fingerprint_changes_with_any_file_git_would_see(claims, tmp_path):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is missing")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    first = claims.tree_fingerprint(tmp_path)
    assert first == claims.tree_fingerprint(tmp_path) and len(first) == 64
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.txt").write_text("ignored")
    assert claims.tree_fingerprint(tmp_path) == first, "ignored files do not count"
    (tmp_path / "a.py").write_text("x = 2\n")
    second = claims.tree_fingerprint(tmp_path)
    assert second != first, "a modified tracked file"
    (tmp_path / "new.py").write_text("")
    assert claims.tree_fingerprint(tmp_path) != second, "a new untracked file"
    assert claims.tree_fingerprint(tmp_path / "build" / "nowhere") is None


def test_ci_leaves_the_notebooks_the_lab_covered_out_of_the_nbval_run(claims, monkeypatch):
    notebooks = [claims.runner.ROOT / "a.ipynb", claims.runner.ROOT / "b.ipynb"]
    calls = []
    monkeypatch.setattr(claims, "nbval_under", lambda nbs, c, j: calls.append(nbs) or 7)
    monkeypatch.setattr(claims, "lab_covered", lambda nbs, c: nbs[:1])
    assert claims.ci_run(notebooks, ("portable", 1), 2) == 7
    assert calls == [notebooks[1:]]
    monkeypatch.setattr(claims, "lab_covered", lambda nbs, c: list(nbs))
    assert claims.ci_run(notebooks, ("portable", 1), 2) == 0
    assert len(calls) == 1, "nothing left for nbval"


def test_a_stale_lab_record_says_which_files_and_packages_changed_since(
    claims, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(claims, "LAB_RECORDS", tmp_path / "lab")
    then = {"python": "3.11", "packages": ["x==1"], "files": {"a.py": "1", "b.py": "2"}}
    now = {"python": "3.11", "packages": ["x==1"], "files": {"a.py": "1", "b.py": "3", "c": "4"}}
    assert claims.manifest_digest(then) != claims.manifest_digest(now)
    assert claims.manifest_digest(then) == claims.manifest_digest(json.loads(json.dumps(then)))
    claims.write_lab_record("a.ipynb", ("portable", 1), claims.manifest_digest(then), manifest=then)
    monkeypatch.setattr(claims, "tree_manifest", lambda: now)
    monkeypatch.setattr(claims, "tree_fingerprint", lambda: claims.manifest_digest(now))
    assert claims.lab_covered([tmp_path / "a.ipynb"], ("portable", 1)) == []
    out = capsys.readouterr().out
    assert "a.ipynb: its lab record is stale" in out
    assert "file changed: b.py" in out and "file only now: c" in out and "a.py" not in out
    many = {"files": {f"f{i}": str(i) for i in range(15)}}
    assert claims.manifest_changes({}, many, limit=10)[-1] == "... and 5 more"


def test_the_tree_fingerprint_is_the_digest_of_the_tree_manifest(claims):
    manifest = claims.tree_manifest()
    if manifest is None:
        pytest.skip("git is missing")
    assert "course_lib/__init__.py" in manifest["files"]
    assert any(p.startswith("torch==") for p in manifest["packages"])
    assert claims.tree_fingerprint() == claims.manifest_digest(manifest)


def test_the_tree_manifest_lists_the_environments_packages_not_what_sys_path_shows(
    claims, tmp_path, monkeypatch
):
    """Importing setuptools puts its vendored packages on sys.path (jaraco.*, zipp, wheel, ...):
    a lab run in a pytest worker that had imported it wrote records that CI's claims.py --ci, a
    process that had not, never matched."""
    before = claims.tree_manifest()
    if before is None:
        pytest.skip("git is missing")
    vendored = tmp_path / "vendor" / "vendored_pkg-9.9.dist-info"
    vendored.mkdir(parents=True)
    (vendored / "METADATA").write_text("Metadata-Version: 2.1\nName: vendored-pkg\nVersion: 9.9\n")
    monkeypatch.syspath_prepend(str(tmp_path / "vendor"))
    assert any(d.metadata["Name"] == "vendored-pkg" for d in importlib.metadata.distributions())
    assert claims.manifest_changes(before, claims.tree_manifest()) == []
