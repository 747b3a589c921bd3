"""scripts/build_book.py makes pages and slides that load nothing from the network.

Unit tests of its helpers (the Plotly figure script, the book copy of a notebook, the offline head,
the asset check, the copies of MathJax and reveal.js) and one build of a tiny notebook (maths, a PNG
figure, a Plotly figure with frames, a widget view) into a temporary folder, as a page and as a deck,
whose every ``<script src>``, ``<link href>`` and ``<img src>`` must resolve inside that folder. The
browser test (tests/browser/test_offline_book.py) opens such pages with the network blocked.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

# One group: the tiny site is built once, on one xdist worker (make test runs --dist loadgroup).
pytestmark = pytest.mark.xdist_group("build_book")
ROOT = Path(__file__).resolve().parents[1]
# A 1x1 PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
FIGURE = {
    "data": [{"type": "scatter", "y": [1, 2], "name": "</script><b>x</b>"}],
    "layout": {"sliders": [{"steps": [{"method": "animate", "args": [["a"]]}]}]},
    "frames": [{"name": "a", "data": [{"y": [2, 1]}]}],
}


@pytest.fixture(scope="module")
def book(load_script):
    return load_script("scripts/build_book.py")


def tiny_notebook():
    """Maths, a PNG figure, a Plotly figure with frames and a widget view with stored state."""
    outputs = [
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        new_output("display_data", data={"application/vnd.plotly.v1+json": FIGURE}),
        new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "m1"},
                "text/plain": "w",
            },
        ),
    ]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# 99 · Tiny\nThe update $\\theta_{t+1} = \\theta_t - \\gamma g_t$."),
            new_code_cell("show()", outputs=outputs, execution_count=1),
        ]
    )
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def figure_payload(script: str) -> dict:
    """The JSON a :func:`plotly_html` script embeds, parsed back."""
    payload = re.search(r"var fig = (.*);\n", script).group(1)
    return json.loads(payload)


def test_plotly_html_draws_the_figure_and_adds_its_frames(book):
    script = book.plotly_html(FIGURE, "nb-plotly-1")
    assert '<div id="nb-plotly-1" class="course-plotly"></div>' in script
    assert (
        "Plotly.newPlot(div, fig.data" in script and "Plotly.addFrames(div, fig.frames)" in script
    )
    assert figure_payload(script) == FIGURE


def test_plotly_html_escapes_a_closing_script_tag_inside_the_figure(book):
    script = book.plotly_html(FIGURE, "d")
    assert script.count("</script>") == 1  # only the script's own end
    assert "<\\/script>" in script


@pytest.mark.parametrize("figure", [[1, 2], {"data": "scatter"}, "fig"])
def test_plotly_html_rejects_what_is_not_a_figure(book, figure):
    with pytest.raises(ValueError, match="a plotly figure must be a dict with a list 'data'"):
        book.plotly_html(figure, "d")


def test_prepare_for_book_draws_plotly_notes_widgets_and_drops_widget_state(book):
    nb = tiny_notebook()
    copy, has_plotly = book.prepare_for_book(nb, "99_tiny")
    png, plotly, widget = copy.cells[1].outputs
    assert has_plotly
    assert png.data == nb.cells[1].outputs[0].data  # other outputs untouched
    assert (
        list(plotly.data) == ["text/html"] and 'id="99_tiny-plotly-1"' in plotly.data["text/html"]
    )
    assert list(widget.data) == ["text/html"] and "make lab" in widget.data["text/html"]
    assert "widgets" not in copy.metadata
    assert "widgets" in nb.metadata and book.PLOTLY_MIME in nb.cells[1].outputs[1].data  # a copy


def test_prepare_for_book_reports_no_plotly_when_there_is_none(book):
    nb = new_notebook(cells=[new_code_cell("1", outputs=[new_output("stream", text="1\n")])])
    assert book.prepare_for_book(nb, "x")[1] is False


def test_offline_head_loads_the_local_mathjax_and_plotly_only_when_asked(book):
    head = book.offline_head("../_static", plotly=False)
    srcs = re.findall(r'<script src="([^"]+)"', head)
    assert srcs == ["../_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"]
    settings = json.loads(re.search(r"window.MathJax = (.*?);</script>", head).group(1))
    assert settings["HTML-CSS"]["webFont"] == "STIX-Web"  # the only web font the package ships
    with_plotly = book.offline_head("_static", plotly=True)
    assert '<script src="_static/plotly.min.js"></script>' in with_plotly


def test_nonlocal_assets_flags_urls_root_paths_and_missing_files(book, tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.js").write_text("")
    (tmp_path / "outside.css").write_text("")
    page = tmp_path / "sub" / "p.html"
    page.parent.mkdir()
    page.write_text(
        '<script src="../_static/a.js?v=1"></script><img src="data:image/png;base64,AA">'
        '<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="/abs.css">'
        '<img src="missing.png"><link href="../../outside.css"><a href="https://example.org">ok</a>'
    )
    problems = book.nonlocal_assets(page, tmp_path / "sub")
    assert problems == [
        f"<script> ../_static/a.js?v=1: no such file inside {tmp_path / 'sub'}",
        "<script> https://cdn.example/x.js: not a relative path",
        "<link> /abs.css: not a relative path",
        f"<img> missing.png: no such file inside {tmp_path / 'sub'}",
        f"<link> ../../outside.css: no such file inside {tmp_path / 'sub'}",
    ]
    assert book.nonlocal_assets(page, tmp_path)[:1] == [
        "<script> https://cdn.example/x.js: not a relative path"
    ]


def test_copy_mathjax_copies_the_combined_config_html_css_and_stix_fonts_only(book, tmp_path):
    size = book.copy_mathjax(tmp_path / "mathjax")
    root = tmp_path / "mathjax"
    for name in ("MathJax.js", "config/TeX-AMS-MML_HTMLorMML-full.js", "extensions/Safe.js"):
        assert (root / name).is_file(), name
    assert list((root / "fonts/HTML-CSS/STIX-Web/woff").glob("*.woff"))
    for left_out in ("jax/output/SVG", "localization", "extensions/a11y/mathmaps"):
        assert not (root / left_out).exists(), left_out
    assert size == book.folder_size(root) and 1e6 < size < 3e6


def test_copy_reveal_copies_dist_and_the_notes_plugin_without_source_maps(book, tmp_path):
    size = book.copy_reveal(None, tmp_path / "reveal.js")
    root = tmp_path / "reveal.js"
    assert "reveal.js 5.2.0" in (root / "dist/reveal.js").read_text()[:200]
    assert (root / "plugin/notes/notes.js").is_file() and (root / "dist/theme/white.css").is_file()
    assert not list(root.rglob("*.map")) and not list(root.rglob("*.esm.js"))
    assert size < 3e6
    theme = (root / "dist" / "theme" / f"{book.REVEAL_THEME}.css").read_text()
    imports = re.findall(r"@import url\(([^)]*)\)", theme)
    assert imports and all((root / "dist" / "theme" / i).is_file() for i in imports), imports


def test_check_reveal_names_the_missing_files(book, tmp_path):
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "reveal.js").write_text("")
    with pytest.raises(ValueError, match=r"without dist/reveal.css, plugin/notes/notes.js"):
        book.check_reveal(tmp_path)


def test_local_reveal_without_slides_is_a_usage_error(book, tmp_path, capsys):
    with pytest.raises(SystemExit):
        book.main(["--local-reveal", str(tmp_path), "--out", str(tmp_path)])
    assert "--local-reveal only applies with --slides" in capsys.readouterr().err


@pytest.fixture(scope="module")
def built(book, tmp_path_factory):
    """A tiny notebook built as a page and as a deck; the output folder and main's return codes."""
    tmp = tmp_path_factory.mktemp("tiny_book")
    nbformat.write(tiny_notebook(), tmp / "99_tiny.ipynb")
    out = tmp / "site"
    codes = [
        book.main(["--slides", "--out", str(out), str(tmp / "99_tiny.ipynb")]),
        book.main(["--out", str(out), str(tmp / "99_tiny.ipynb")]),
    ]
    return out, codes


def test_built_page_deck_and_index_load_only_files_inside_the_output_folder(book, built):
    out, codes = built
    assert codes == [0, 0]
    pages = [out / "99_tiny.html", out / "slides" / "99_tiny.slides.html", out / "index.html"]
    for page in pages:
        assert book.nonlocal_assets(page, out) == [], page.name
        text = page.read_text(encoding="utf-8")
        assert "require.min.js" not in text and "jquery" not in text.lower(), page.name
        assert "html-manager" not in text and "widget-state+json" not in text, page.name
    assert (out / "_static" / "plotly.min.js").stat().st_size > 1e6


def test_built_page_carries_the_plotly_figure_and_the_widget_note(built):
    out, _ = built
    page = (out / "99_tiny.html").read_text(encoding="utf-8")
    assert page.count('<script src="_static/plotly.min.js"></script>') == 1
    assert figure_payload(page[page.index('id="99_tiny-plotly-1"') :]) == FIGURE
    assert "Interactive widget: it needs a running Python kernel" in page
    deck = (out / "slides" / "99_tiny.slides.html").read_text(encoding="utf-8")
    assert '<script src="../_static/plotly.min.js"></script>' in deck
    assert 'var prefix = "../_static/reveal.js";' in deck


def test_index_links_the_page_and_the_deck(built):
    out, _ = built
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="99_tiny.html">read</a>' in index
    assert '<a href="slides/99_tiny.slides.html">slides</a>' in index


def test_reveal_prefix_loads_reveal_from_there_and_copies_nothing(book, tmp_path, monkeypatch):
    nbformat.write(tiny_notebook(), tmp_path / "99_tiny.ipynb")
    monkeypatch.setenv("REVEAL_PREFIX", "https://cdn.example/reveal.js")
    out = tmp_path / "site"
    assert book.main(["--slides", "--out", str(out), str(tmp_path / "99_tiny.ipynb")]) == 0
    assert not (out / "_static" / "reveal.js").exists()
    problems = book.nonlocal_assets(out / "slides" / "99_tiny.slides.html", out)
    assert problems == [
        "<link> https://cdn.example/reveal.js/dist/reveal.css: not a relative path",
        "<link> https://cdn.example/reveal.js/dist/theme/white.css: not a relative path",
    ]
