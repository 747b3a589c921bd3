"""Every committed notebook follows the course conventions (DESIGN.md) and carries clean outputs.

These checks read the notebook files only (no kernel), so they take milliseconds. Executing the
notebooks is tests/test_notebook_execution.py's job.
"""

import ast
import getpass
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

MAX_BYTES = 3 * 1024**2
MAX_TOTAL_BYTES = 20 * 1024**2
SECTIONS = ["Learning objectives", "Prerequisites", "Summary", "Exercises", "Further reading"]
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")
# Absolute paths of this machine, kernel temp files and object addresses vary between machines and
# leak who built the notebook.
MACHINE_MARKERS = ["/work/", "/root/", "/home/", "/tmp/", "ipykernel_", "/Users/", "C:\\Users"]
MEMORY_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def _user_markers():
    markers = [str(Path.home())] if str(Path.home()) not in ("/", "") else []
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return markers
    return [*markers, f"/{user}/", f"\\{user}\\"]


def _read(path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _text_outputs(cell):
    """(kind, text) for every textual output of a code cell."""
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            yield out.name, out.text
        elif out.output_type in ("execute_result", "display_data"):
            for mime in TEXT_MIMES:
                if mime in out.data:
                    text = out.data[mime]
                    yield mime, text if isinstance(text, str) else "".join(text)
        elif out.output_type == "error":
            yield "error", "\n".join(out.traceback)


notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


@notebook
def test_notebook_is_valid_nbformat4_with_the_python3_kernel(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    spec = nb.metadata.get("kernelspec", {})
    assert spec.get("name") == "python3", f"kernelspec name must be 'python3', got {spec!r}"
    assert spec.get("language") == "python"


@notebook
def test_first_code_cell_is_the_parameters_cell_with_smoke_false_and_an_int_seed(path):
    cells = _code_cells(_read(path))
    assert cells, "the notebook has no code cell"
    first = cells[0]
    assert "parameters" in first.metadata.get("tags", []), (
        "first code cell must be tagged parameters"
    )
    values = {}
    for stmt in ast.parse(first.source).body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1, (
            f"parameters cell holds plain assignments only, got: {ast.unparse(stmt)}"
        )
        target = stmt.targets[0]
        assert isinstance(target, ast.Name), f"assign to a plain name, got {ast.unparse(target)}"
        try:
            values[target.id] = ast.literal_eval(stmt.value)
        except ValueError:
            pytest.fail(f"parameter {target.id} must be a literal, got {ast.unparse(stmt.value)}")
    assert values.get("SMOKE") is False, "the parameters cell must set SMOKE = False"
    seed = values.get("SEED")
    assert isinstance(seed, int) and not isinstance(seed, bool), (
        f"SEED must be an int, got {seed!r}"
    )


@notebook
def test_outputs_come_from_one_in_order_run(path):
    """Execution counts 1..n over the non-empty code cells, as a fresh top-to-bottom run leaves them."""
    counts = []
    for i, cell in enumerate(_code_cells(_read(path))):
        if not cell.source.strip():
            assert cell.execution_count is None and not cell.outputs, (
                f"empty code cell {i} has output"
            )
            continue
        count = cell.execution_count
        assert count is not None, (
            f"code cell {i} was never executed (run it top to bottom: make book)"
        )
        counts.append(count)
        for out in cell.outputs:
            if out.output_type == "execute_result":
                assert out.execution_count == cell.execution_count, f"stale result in code cell {i}"
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts must be 1..{len(counts)} without gaps (one in-order run), got {counts}"
    )


@notebook
def test_no_stored_error_outputs(path):
    for i, cell in enumerate(_code_cells(_read(path))):
        for out in cell.outputs:
            assert out.output_type != "error", f"code cell {i} stored {out.ename}: {out.evalue}"


@notebook
def test_outputs_hold_no_machine_paths_user_names_or_memory_addresses(path):
    markers = MACHINE_MARKERS + _user_markers()
    for i, cell in enumerate(_code_cells(_read(path))):
        for kind, text in _text_outputs(cell):
            for marker in markers:
                assert marker not in text, (
                    f"code cell {i} ({kind}) shows {marker!r}: {text[:300]!r}"
                )
            if kind in ("text/plain", "stdout", "stderr"):
                found = MEMORY_ADDRESS.search(text)
                assert not found, f"code cell {i} ({kind}) shows a memory address {found.group()}"


@notebook
def test_notebook_file_is_small(path):
    size = path.stat().st_size
    assert size < MAX_BYTES, (
        f"{path.name} is {size / 1024**2:.1f} MB (limit 3 MB): fewer/smaller figures"
    )


def test_all_notebooks_together_are_small():
    total = sum(p.stat().st_size for p in NOTEBOOKS)
    assert total < MAX_TOTAL_BYTES, f"notebooks total {total / 1024**2:.1f} MB (limit 20 MB)"


@notebook
def test_notebook_has_a_title_and_the_design_sections_in_order(path):
    cells = _read(path).cells
    assert cells and cells[0].cell_type == "markdown", "the first cell is the markdown title"
    assert cells[0].source.lstrip().startswith("# "), "the first cell starts with a '# ' heading"
    where = {}
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            for section in SECTIONS:
                if line.strip() == f"## {section}":
                    where.setdefault(section, i)
    missing = [s for s in SECTIONS if s not in where]
    assert not missing, f"missing markdown headings: {', '.join('## ' + s for s in missing)}"
    order = sorted(SECTIONS, key=where.get)
    assert order == SECTIONS, f"sections must come in the order {SECTIONS}, got {order}"


@notebook
def test_intro_states_the_expected_run_time(path):
    markdown = "\n".join(c.source for c in _read(path).cells if c.cell_type == "markdown")
    assert re.search(r"Expected run time:?\s*\S", markdown), "state 'Expected run time: ...'"


@notebook
def test_every_cell_has_slideshow_metadata(path):
    for i, cell in enumerate(_read(path).cells):
        slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
        assert slide_type in SLIDE_TYPES, (
            f"cell {i}: slide_type {slide_type!r} not in {SLIDE_TYPES}"
        )


@notebook
def test_no_injected_parameters_cell(path):
    for i, cell in enumerate(_read(path).cells):
        assert "injected-parameters" not in cell.metadata.get("tags", []), (
            f"cell {i} was injected by papermill -p: commit a run without parameters"
        )


@notebook
def test_at_least_one_cell_is_checked_by_nbval(path):
    tagged = [
        c for c in _code_cells(_read(path)) if "nbval-check-output" in c.metadata.get("tags", [])
    ]
    assert tagged, "tag one or two cells with deterministic text output 'nbval-check-output'"
    assert all(any(True for _ in _text_outputs(c)) for c in tagged), (
        "a cell tagged nbval-check-output must have text output to compare"
    )


@notebook
def test_no_volatile_execution_metadata(path):
    """Per-run timings and paths make every re-run a large diff (scripts/run_notebooks.py strips them)."""
    nb = _read(path)
    keys = set(nb.metadata)
    assert "papermill" not in keys, (
        "notebook metadata holds papermill's run record: python scripts/run_notebooks.py --clean"
    )
    for i, cell in enumerate(nb.cells):
        noisy = {"papermill", "execution"} & set(cell.metadata)
        assert not noisy, (
            f"cell {i} metadata holds {noisy}: python scripts/run_notebooks.py --clean"
        )
