"""The README's course map shows every notebook with a picture that the notebook itself drew."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def course_map(load_script):
    return load_script("scripts/course_map.py")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_a_picture_for_the_course_map(path, course_map):
    nb = nbformat.read(path, as_version=4)
    png = course_map.picture(nb)
    assert png is not None, f"{path.name} stores no PNG figure for the README's course map"
    assert png.startswith(b"\x89PNG"), f"{path.name}: the course-map output is not a PNG"
    tagged = [c for c in nb.cells if "course-map" in c.metadata.get("tags", [])]
    assert len(tagged) <= 1, f"{path.name} tags {len(tagged)} cells course-map; tag one"


def test_readme_course_map_and_pictures_match_the_notebooks(capsys, course_map):
    status = course_map.main(["--check"])
    assert status == 0, capsys.readouterr().out


def test_readme_links_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if f"(notebooks/{p.name})" not in readme]
    assert not missing, f"README.md's course map misses {missing}"
