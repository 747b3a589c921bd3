"""One notation for the whole course (docs/notation.md), used by every notebook and docstring.

These checks catch the two collisions the course used to have: the learning rate written both as
gamma and as eta, and mu standing for both the momentum and the smallest curvature.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "course_lib").rglob("*.py"))
# Quoting a paper in its own letters is allowed when the line says so.
QUOTE = re.compile(r"Loshchilov|paper|their|Keras|keras|fastai|scikit|sklearn|Smith|Reddi", re.I)
ETA = re.compile(r"\\eta\b|η")
CURVATURE_MU = re.compile(r"L\s*/\s*\\mu|\\mu\s*=\s*\\lambda_\{?\\min|smallest curvature \$\\mu")


def _markdown_lines(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                yield i, line


def test_the_notation_page_defines_the_core_symbols():
    text = (ROOT / "docs" / "notation.md").read_text()
    for symbol, arg in [
        (r"\gamma", "`lr`"),
        (r"\mu", "`momentum`"),
        (r"\lambda", "`weight_decay`"),
        (r"\beta_1, \beta_2", "`betas`"),
        (r"\varepsilon", "`eps`"),
    ]:
        assert any(symbol in line and arg in line for line in text.splitlines()), (symbol, arg)
    assert r"\kappa = L/\ell" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_links_the_notation_page(path):
    assert any("notation.md" in line for _, line in _markdown_lines(path)), (
        f"{path.name} should link ../docs/notation.md once near the top"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_writes_the_learning_rate_as_gamma_and_mu_only_for_momentum(path):
    bad = [
        (i, line.strip()[:100])
        for i, line in _markdown_lines(path)
        if (ETA.search(line) and not QUOTE.search(line)) or CURVATURE_MU.search(line)
    ]
    assert not bad, f"{path.name}: eta for the rate or mu for a curvature in cells {bad}"


def test_docstrings_write_the_learning_rate_as_gamma():
    bad = []
    for path in SOURCES:
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            context = "\n".join(lines[max(0, n - 3) : n + 2])  # a quote says whose it is nearby
            if ETA.search(line) and not QUOTE.search(context):
                bad.append(f"{path.relative_to(ROOT)}:{n + 1}: {line.strip()[:80]}")
    assert not bad, "eta where docs/notation.md says gamma:\n" + "\n".join(bad)
