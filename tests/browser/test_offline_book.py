"""The static book and slides work with the network off: maths typeset, figures shown, slides advance.

``scripts/build_book.py`` renders two committed notebooks with the most maths (03 and 01), a tiny
notebook with a Plotly slider figure, and one slide deck (00) into a temporary folder, which is served
on 127.0.0.1. Headless Chromium opens the pages with every request that does not go to that server
aborted and recorded: the tests assert that none was attempted and that every local request was
answered (no 404: every MathJax, reveal.js and plotly.js file a page asks for was copied). On each
page the maths is typeset by the local MathJax (no raw ``$...$``, ``\\(`` or TeX macro left in the
prose, no MathJax error), every image has loaded, the index's links lead to the built pages, the
Plotly figures are drawn and their slider moves the figure, and the deck advances with ArrowRight
and shows typeset maths on a slide.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

# One group: the site is built once, on one xdist worker (make test runs --dist loadgroup).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("offline_book")]

ROOT = Path(__file__).resolve().parents[2]
BOOK = ("03_adaptive_methods", "01_gradient_descent")  # the committed notebooks with the most maths
DECK = "00_training_loop"  # a short deck with maths
DEMO = "plotly_demo"
RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\[()\[\]]|\\[A-Za-z]{2,}")

# True once MathJax has finished its start-up typesetting and nothing is queued after it.
MATHJAX_DONE = """() => window.MathJax && MathJax.Hub && MathJax.Hub.Startup
  && MathJax.Hub.Startup.signal.posted.includes("End")
  && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running"""
MATHJAX_TIMEOUT_MS = (
    90_000  # notebook 03's page takes about 5 s on an idle core, 25 s on a busy one
)
# The text a reader sees in rendered markdown (code, scripts and the screen-reader MathML removed).
PROSE = """root => [...root.querySelectorAll('.jp-RenderedMarkdown, .jp-MarkdownOutput')].map(el => {
  const copy = el.cloneNode(true);
  copy.querySelectorAll('code, pre, script, .MJX_Assistive_MathML').forEach(n => n.remove());
  return copy.textContent;
}).join('\\n')"""


def plotly_figure() -> dict:
    """A plotly mime bundle: one line whose slope a slider sets through three animation frames."""
    xs = [0, 1, 2, 3]
    frames = [{"name": str(k), "data": [{"y": [k * x for x in xs]}]} for k in (1, 2, 3)]
    steps = [
        {
            "label": f["name"],
            "method": "animate",
            "args": [[f["name"]], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}],
        }
        for f in frames
    ]
    return {
        "data": [{"type": "scatter", "x": xs, "y": xs, "mode": "lines"}],
        "layout": {"title": {"text": "slope"}, "sliders": [{"active": 0, "steps": steps}]},
        "frames": frames,
        "config": {"displayModeBar": False},
    }


def plotly_notebook():
    """A tiny notebook with a heading, some maths and one stored Plotly output."""
    output = new_output(
        "display_data",
        data={"application/vnd.plotly.v1+json": plotly_figure(), "text/plain": "fig"},
    )
    cell = new_code_cell("fig.show()", outputs=[output], execution_count=1)
    nb = new_notebook(
        cells=[new_markdown_cell("# Plotly demo\nA slope $k$ set by a slider, $y = k x$."), cell]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory, load_script):
    """The built site, served on 127.0.0.1: yields its base URL and folder."""
    tmp = tmp_path_factory.mktemp("offline_book")
    nbformat.write(plotly_notebook(), tmp / f"{DEMO}.ipynb")
    out = tmp / "site"
    book = load_script("scripts/build_book.py")
    names = (*BOOK, DECK)
    pages = [ROOT / "notebooks" / f"{name}.ipynb" for name in names] + [tmp / f"{DEMO}.ipynb"]
    deck = ROOT / "notebooks" / f"{DECK}.ipynb"
    assert book.main(["--slides", "--out", str(out), str(deck)]) == 0
    assert book.main(["--out", str(out), *map(str, pages)]) == 0  # the index links the deck too
    handler = functools.partial(_Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{server.server_address[1]}/", "out": out}
    server.shutdown()
    server.server_close()


class Offline:
    """A page whose requests outside the local server are aborted and recorded, with failures."""

    def __init__(self, context, base):
        self.base, self.blocked, self.failed = base, [], []
        context.route("**/*", self._route)
        self.page = context.new_page()
        self.page.on("response", self._response)
        self.page.set_default_timeout(60_000)  # plotly.js is 4.8 MB to parse on a busy machine

    def _route(self, route):
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def open(self, path):
        self.page.goto(self.base + path, wait_until="load", timeout=MATHJAX_TIMEOUT_MS)
        self.wait_for_maths()

    def wait_for_maths(self):
        self.page.wait_for_function(MATHJAX_DONE, timeout=MATHJAX_TIMEOUT_MS, polling=200)

    def assert_offline(self):
        assert not self.blocked, f"requests outside 127.0.0.1 were attempted: {self.blocked}"
        assert not self.failed, f"local requests failed (a file not copied?): {self.failed}"

    def assert_maths_typeset(self, root="document.body"):
        counts = self.page.evaluate(
            f"""() => {{ const root = {root};
            return {{tex: root.querySelectorAll('script[type^="math/tex"]').length,
                     shown: [...root.querySelectorAll('.MathJax, .MathJax_Display')]
                              .filter(e => e.getBoundingClientRect().width > 0).length,
                     errors: root.querySelectorAll('.MathJax_Error, .noError, merror').length}}; }}"""
        )
        assert counts["tex"] > 0, "no maths was found by MathJax (did it load?)"
        assert counts["errors"] == 0, f"MathJax errors: {counts}"
        prose = self.page.evaluate(f"() => ({PROSE})({root})")
        raw = RAW_TEX.findall(prose)
        assert not raw, f"raw TeX left in the text: {raw[:10]}"
        return counts


@pytest.fixture
def offline(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Offline(context, site["base"])
    context.close()


@pytest.mark.parametrize("name", BOOK)
def test_book_page_typesets_maths_and_shows_figures_offline(offline, name):
    offline.open(f"{name}.html")
    counts = offline.assert_maths_typeset()
    assert counts["shown"] >= counts["tex"], f"{name}: not every formula is shown: {counts}"
    broken = offline.page.evaluate(
        "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.src.slice(0, 60))"
    )
    images = offline.page.evaluate("() => document.images.length")
    assert images > 0 and not broken, f"{name}: {len(broken)} of {images} images did not load"
    plots = offline.page.evaluate(
        "() => [...document.querySelectorAll('.course-plotly')].map(d => "
        "d.classList.contains('js-plotly-plot') && !!d.querySelector('.main-svg'))"
    )
    assert all(plots), f"{name}: Plotly figures not drawn: {plots}"
    offline.assert_offline()


def test_index_links_lead_to_the_built_pages_offline(offline, site):
    offline.open("index.html")
    offline.assert_maths_typeset()
    hrefs = offline.page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
    expected = {f"{n}.html" for n in (*BOOK, DECK, DEMO)} | {f"slides/{DECK}.slides.html"}
    assert expected <= {h.removeprefix(site["base"]) for h in hrefs}, hrefs
    for href in hrefs:
        assert offline.page.request.get(href).status == 200, href
    offline.page.click(f'a[href="{DECK}.html"]')  # the shortest page
    offline.page.wait_for_load_state("load")
    assert offline.page.url == site["base"] + f"{DECK}.html"
    offline.assert_offline()


def test_plotly_slider_figure_moves_offline(offline):
    offline.open(f"{DEMO}.html")
    page = offline.page
    page.wait_for_selector(".course-plotly.js-plotly-plot .slider-container")
    frames = page.evaluate(
        "() => document.querySelector('.course-plotly')._transitionData._frames.length"
    )
    assert frames == 3
    rail = page.query_selector(".course-plotly .slider-rail-touch-rect").bounding_box()
    page.mouse.click(rail["x"] + rail["width"] - 2, rail["y"] + rail["height"] / 2)
    page.wait_for_function(
        "() => JSON.stringify(document.querySelector('.course-plotly').data[0].y) === '[0,3,6,9]'"
    )
    offline.assert_offline()


def test_slides_advance_and_typeset_maths_offline(offline):
    offline.open(f"slides/{DECK}.slides.html")
    page = offline.page
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")
    before = page.evaluate("() => JSON.stringify(Reveal.getIndices())")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => JSON.stringify(Reveal.getIndices()) !== {json.dumps(before)}")
    found = page.evaluate(
        """() => { const leaf = [...document.querySelectorAll('.reveal .slides section')]
              .find(s => !s.querySelector('section') && s.querySelector('script[type^="math/tex"]'));
            if (!leaf) return false;
            const i = Reveal.getIndices(leaf); Reveal.slide(i.h, i.v); return true; }"""
    )
    assert found, "no slide with maths in the deck"
    offline.wait_for_maths()
    counts = offline.assert_maths_typeset("Reveal.getCurrentSlide()")
    assert counts["shown"] > 0, f"the maths on the current slide is not shown: {counts}"
    offline.assert_offline()
