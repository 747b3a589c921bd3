"""The static book's explorers work without a kernel and without a network: their sliders move the plots.

``scripts/build_book.py --out <tmp>`` renders notebooks 01, 02 and 05 (their committed outputs, not
re-run); each page is opened in headless Chromium (conftest.py's ``browser``: Debian's chromium, the
course's launch flags) with every request that is not a local file aborted and counted (the local
MathJax is aborted too, see ``_offline_page``). On each page the test finds the Plotly figure that
the notebook's ``course_lib.plots.interactive`` cell stored, clicks the last tick of its slider, waits
for the slider to settle there, and checks that the traces the frames animate now hold exactly the
numbers of the last frame in the notebook (and differ from what was shown before), that the status
annotation is the last frame's, and that the page raised no JavaScript error and asked for nothing
on the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
PLOTLY = "application/vnd.plotly.v1+json"
PAGES = ["01_gradient_descent", "02_momentum_nesterov", "05_lr_schedules"]

# What a trace shows, as plain lists (plotly may hold typed arrays); the figure's graph div by id.
READ_TRACES = """([id, traces]) => {
  const gd = document.getElementById(id);
  const plain = (v) => (v === undefined || v === null ? null : Array.from(v));
  return {
    active: gd.layout.sliders[0].active,
    text: (gd.layout.annotations || []).map((a) => a.text),
    traces: traces.map((i) => ({x: plain(gd.data[i].x), y: plain(gd.data[i].y)})),
  };
}"""


def stored_figure(stem: str) -> dict:
    """The one plotly figure among the notebook's committed outputs."""
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    (figure,) = [o["data"][PLOTLY] for o in outputs if PLOTLY in o.get("data", {})]
    return figure


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static_book")
    paths = [str(ROOT / "notebooks" / f"{stem}.ipynb") for stem in PAGES]
    cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--out", str(out), *paths]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"build_book.py failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )
    return out


def _offline_page(browser):
    """A page that aborts (and records) every request that is not a local file, and records errors.

    The book's local MathJax is aborted too, without being recorded: typesetting three long pages
    is most of the CPU time of this test, and the maths is the offline-book test's subject.
    """
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    blocked, errors = [], []

    def route(r):
        url = r.request.url
        if url.startswith("file:") and "/_static/mathjax/" in url:
            r.abort()
        elif url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, blocked, errors


def _click_last_tick(page, div_id: str) -> None:
    """Click the slider's rail where its last tick is (what a reader does), through the real DOM."""
    slider = page.locator(f'[id="{div_id}"] .slider-container')
    slider.scroll_into_view_if_needed()  # mouse coordinates are the viewport's
    ticks = slider.locator("rect.slider-tick-rect")
    tick = ticks.nth(ticks.count() - 1).bounding_box()
    rail = slider.locator("rect.slider-rail-touch-rect").bounding_box()
    assert tick and rail, "the slider is not drawn"
    page.mouse.click(tick["x"] + tick["width"] / 2, rail["y"] + rail["height"] / 2)


def _as_floats(values) -> list:
    return [None if v is None else float(v) for v in values]


@pytest.mark.parametrize("stem", PAGES)
def test_book_page_slider_moves_the_plotted_data_offline_without_errors(browser, book, stem):
    figure = stored_figure(stem)
    last = figure["frames"][-1]
    traces = list(last["traces"])
    div_id = f"{stem}-plotly-1"
    page, blocked, errors = _offline_page(browser)
    try:
        page.goto((book / f"{stem}.html").as_uri())
        ticks = f'[id="{div_id}"] .slider-container rect.slider-tick-rect'
        page.wait_for_selector(ticks, state="attached", timeout=15000)
        before = page.evaluate(READ_TRACES, [div_id, traces])
        assert before["active"] == figure["layout"]["sliders"][0]["active"]
        _click_last_tick(page, div_id)
        target = len(figure["frames"]) - 1
        page.wait_for_function(
            f"() => document.getElementById('{div_id}').layout.sliders[0].active === {target}",
            timeout=10000,
        )
        page.wait_for_timeout(200)  # the animation's redraw (duration 0) finishes
        after = page.evaluate(READ_TRACES, [div_id, traces])
    finally:
        page.close()
    assert after["traces"] != before["traces"], f"{stem}: moving the slider changed no trace"
    for shown, stored in zip(after["traces"], last["data"]):
        assert _as_floats(shown["y"]) == _as_floats(stored["y"]), f"{stem}: not the last frame's y"
        if "x" in stored:
            assert _as_floats(shown["x"]) == _as_floats(stored["x"]), (
                f"{stem}: not the last frame's x"
            )
    assert after["text"] == [a["text"] for a in last["layout"]["annotations"]]
    assert not errors, f"{stem}: JavaScript errors: {errors}"
    assert not blocked, f"{stem}: the page asked the network for {json.dumps(blocked[:5])}"
