"""The README's course map: one line and one picture per notebook, the pictures taken from the notebooks.

For every notebook (course order) the picture is the PNG output of the code cell tagged ``course-map``
or, without such a cell, the notebook's first PNG output; it is written to ``docs/course_map/<stem>.png``
exactly as the notebook stored it. The line is the notebook's title and the first sentence under it
(the same text as the book's index, ``scripts/build_book.py``'s ``describe``). The README's table between
the markers ``<!-- course-map:start -->`` and ``<!-- course-map:end -->`` is regenerated.

    python scripts/course_map.py           # write docs/course_map/*.png and the README table
    python scripts/course_map.py --check   # exit 1 when either is out of date with the notebooks

``make book`` runs it after executing the notebooks; ``tests/test_course_map.py`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PICTURES = ROOT / "docs" / "course_map"
README = ROOT / "README.md"
START, END = "<!-- course-map:start -->", "<!-- course-map:end -->"
TAG = "course-map"


def _book():
    name = "course_build_book"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "build_book.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def picture(nb) -> bytes | None:
    """PNG bytes of the cell tagged ``course-map`` (else of the first PNG output), or None."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in cells if TAG in c.metadata.get("tags", [])]
    for cell in tagged or cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                return base64.b64decode(data["image/png"])
    return None


def build(notebooks: list[Path]) -> tuple[dict[Path, bytes], str]:
    """The pictures to write (path -> bytes) and the markdown table of the course map."""
    describe = _book().describe
    pictures, rows = {}, ["| # | Notebook | Picture from the notebook |", "|---|---|---|"]
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        info = describe(nb)
        number = path.stem.split("_", 1)[0]
        title = info["title"] or path.stem
        line = f"[**{title}**](notebooks/{path.name})"
        if info["description"]:
            line += f"<br>{info['description']}"
        if info["run_time"]:
            line += f"<br>*Run time: {info['run_time']}*"
        png = picture(nb)
        cell = ""
        if png is not None:
            target = PICTURES / f"{path.stem}.png"
            pictures[target] = png
            rel = target.relative_to(ROOT).as_posix()
            cell = f'<img src="{rel}" width="320" alt="a figure from {path.stem}">'
        rows.append(f"| {number} | {line} | {cell} |")
    return pictures, "\n".join(rows)


def _readme_with(table: str) -> str:
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {START} and {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when out of date")
    args = parser.parse_args(argv)
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    pictures, table = build(notebooks)
    readme = _readme_with(table)
    stale = [
        p.relative_to(ROOT).as_posix()
        for p, data in pictures.items()
        if not p.is_file() or p.read_bytes() != data
    ]
    extra = sorted(
        p.relative_to(ROOT).as_posix()
        for p in PICTURES.glob("*.png")
        if p not in pictures  # a picture of a notebook that is gone
    )
    if README.read_text(encoding="utf-8") != readme:
        stale.append("README.md")
    if args.check:
        if stale or extra:
            print("course map out of date (run: python scripts/course_map.py):", *stale, *extra)
            return 1
        print(f"course map up to date: {len(pictures)} pictures")
        return 0
    PICTURES.mkdir(parents=True, exist_ok=True)
    for p, data in pictures.items():
        p.write_bytes(data)
    for name in extra:
        (ROOT / name).unlink()
    README.write_text(readme, encoding="utf-8")
    print(f"wrote {len(pictures)} pictures to {PICTURES.relative_to(ROOT)} and the README table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
