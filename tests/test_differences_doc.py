"""docs/differences.md: every test its table names exists, and every row names one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "differences.md"


def rows() -> list[list[str]]:
    """Every body row of the file's tables (against torch, against the reference packages)."""
    lines = [line for line in TABLE.read_text().splitlines() if line.startswith("| ")]
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return [row for row in cells if row[-1] != "Test"]


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_row_has_five_cells_and_names_one_test():
    table = rows()
    assert len(table) >= 20
    for row in table:
        assert len(row) == 5, row
        assert re.fullmatch(r"tests/test_\w+\.py::test_\w+", row[4]), row


def test_every_named_test_exists():
    missing = []
    for row in rows():
        path, name = row[4].split("::")
        if name not in functions_in(ROOT / path):
            missing.append(row[4])
    assert missing == []
