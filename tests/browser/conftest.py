"""JupyterLab in headless Chromium: fixtures for the browser tests.

What they set up, once per test session (per xdist worker; the widget notebooks alternate between
the two ``xdist_group`` of :data:`BROWSER_GROUPS`, the other browser tests are in the first, so
``make test`` runs two lab servers on its two workers at once):

* ``lab_root``: a temporary copy of the widget notebooks (never the committed files), each as a
  learner opens it: ``SMOKE = False`` (full mode), outputs and stored widget state cleared, and the
  parameters cell's ``SEED`` set to the seed of scripts/claims.py's CI condition (``ci_condition``),
  plus ``browser_demo.ipynb``, a tiny slider -> figure + status notebook written here (the harness's
  own test case, run even when no course notebook has widgets).
* ``lab_server``: ``jupyter lab`` from this interpreter's environment on a free port of 127.0.0.1
  with a random token, its kernels under the CI condition's variables (``claims.condition_env``:
  portable CPU kernels, one thread), its config/data/runtime/workspace folders and IPython dir inside
  a temporary folder, the Jupyter news pop-up and update check off and every cell kept in the DOM
  (``overrides.json`` in a temporary ``app_settings_dir``), ``window.jupyterapp`` exposed.
* ``browser``: Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``);
  the tests are skipped with a reason when it is missing (``make browser-deps`` installs it as root).
* ``lab``: a :class:`Lab` driver on a fresh page: open a notebook, Run All (stopping at the first
  error), collect errors, save, move sliders with the keyboard, screenshot.

So the run of a widget notebook here is the full-mode run that ``scripts/claims.py --ci`` would
otherwise do under nbval (see its docstring and test_widgets_in_lab.py). Smoke mode is not run in the
browser: tests/test_notebook_execution.py smoke-runs every notebook with papermill.

Screenshots go to ``build/screenshots/<notebook>.png``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# FACTS.md: the flags that work as root in a container without a GPU or network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # the lab is on 127.0.0.1; never send it through a proxy from the env
]
SCREENSHOTS = ROOT / "build" / "screenshots"
# The widget notebooks' full runs take about 20 minutes of one core in make test; in one xdist group
# they would be one 20-minute chain on one worker, so they alternate between two groups.
BROWSER_GROUPS = ("browser", "browser-2")
DEMO = "browser_demo.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # mime type of a stored widget view
WIDGET_IMPORT = re.compile(
    r"^\s*(import ipywidgets|from ipywidgets |import course_lib\.widgets|from course_lib\.widgets"
    r"|from course_lib import .*\bwidgets\b)",
    re.MULTILINE,
)
SLIDER_HANDLE = ".widget-slider .noUi-handle, .widget-slider .ui-slider-handle"  # ipywidgets 8, 7
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell attached to the DOM, so selectors see outputs that are scrolled out of view.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


def has_widgets(nb) -> bool:
    """A notebook shows widgets: a stored widget view, or it imports course_lib.widgets/ipywidgets."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if any(WIDGET_VIEW in out.get("data", {}) for out in cell.get("outputs", [])):
            return True
        if re.search(
            r"course_lib\.widgets|from course_lib import .*\bwidgets\b|\bipywidgets\b", cell.source
        ):
            return True
    return False


def widget_notebooks() -> list[Path]:
    """The committed notebooks with widgets, in course order."""
    return [
        p
        for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
        if has_widgets(nbformat.read(p, as_version=4))
    ]


def full_mode_copy(src: Path, dst: Path, seed: int, claims) -> None:
    """Write ``src`` to ``dst`` as a learner opens it, in full mode with ``SEED = seed``: no outputs,
    no widget state (``SEED`` set by ``claims.seeded_copy``, ``claims`` being scripts/claims.py)."""
    nb = nbformat.read(src, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not params or not re.search(r"(?m)^SMOKE\s*=\s*False\b", params[0].source):
        raise ValueError(f"{src.name}: parameters cell has no line 'SMOKE = False'")
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, dst)
    claims.seeded_copy(dst, dst, seed)


def demo_notebook():
    """A slider that redraws a matplotlib figure in an Output and updates an HTML status line."""
    code = """\
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import clear_output, display

slider = widgets.FloatSlider(value=1.0, min=0.5, max=3.0, step=0.25, description="frequency")
out = widgets.Output()
status = widgets.HTML()


def redraw(change=None):
    t = np.linspace(0, 2 * np.pi, 200)
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot(t, np.sin(slider.value * t))
    with out:
        clear_output(wait=True)
        display(fig)
    plt.close(fig)
    status.value = f"frequency {slider.value:.2f}: {int(slider.value * 2)} full periods"


slider.observe(redraw, names="value")
redraw()
display(widgets.VBox([slider, out, status]))"""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Browser demo\nA slider drives a figure and a status line."),
            new_code_cell("SMOKE = False\nSEED = 0", metadata={"tags": ["parameters"]}),
            new_code_cell("%matplotlib inline"),
            new_code_cell(code),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def pytest_generate_tests(metafunc):
    """Parametrise ``widget_notebook`` over the committed notebooks that have widgets, every other
    one in the second of :data:`BROWSER_GROUPS` (``--dist loadgroup`` runs the two groups on two
    workers at once, each with its own lab server)."""
    if "widget_notebook" in metafunc.fixturenames:
        params = [
            pytest.param(p.name, id=p.stem, marks=pytest.mark.xdist_group(BROWSER_GROUPS[i % 2]))
            for i, p in enumerate(widget_notebooks())
        ]
        metafunc.parametrize("widget_notebook", params)


@pytest.fixture
def demo_name():
    """The harness's own slider notebook in the lab root."""
    return DEMO


@pytest.fixture(scope="session")
def chromium_path():
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (make browser-deps, as root)"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def claims(load_script):
    """scripts/claims.py: the CI condition, its environment, nbval's comparison, the lab records."""
    return load_script("scripts/claims.py")


@pytest.fixture(scope="session")
def ci_condition(claims):
    """The condition make test checks every notebook under (kernels, SEED): the lab runs under it."""
    return claims.CI_CONDITIONS[0]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory, claims, ci_condition):
    root = tmp_path_factory.mktemp("lab_root")
    for path in widget_notebooks():
        full_mode_copy(path, root / path.name, ci_condition[1], claims)
    nbformat.write(demo_notebook(), root / DEMO)
    return root


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_ok(url: str) -> bool:
    """``url`` answers 200 (no proxy: the servers are on 127.0.0.1)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def lab_server(lab_root, tmp_path_factory, chromium_path, claims, ci_condition):
    home = tmp_path_factory.mktemp("jupyter_home")
    settings = home / "app_settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(LAB_SETTINGS, indent=2))
    # The kernels inherit the server's environment: the CI condition's CPU kernels, one thread.
    env = claims.condition_env(ci_condition[0]) | {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    env.pop("MPLBACKEND", None)  # it would hide inline figures (FACTS.md)
    token = secrets.token_hex(16)
    log_path = home / "lab.log"
    for _attempt in range(3):  # the free port may be taken between choosing it and binding it
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={lab_root}",
            f"--LabApp.app_settings_dir={settings}",
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        log = log_path.open("w")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=lab_root)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if status_ok(f"{base}/api/status?token={token}"):
                break
            time.sleep(0.3)
        if proc.poll() is None and status_ok(f"{base}/api/status?token={token}"):
            break
        proc.kill()
        proc.wait()
        log.close()
    else:
        pytest.fail(f"jupyter lab did not start:\n{log_path.read_text()[-3000:]}")
    yield {"base": base, "token": token, "root": lab_root, "log": log_path}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def browser(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Lab:
    """Drives one JupyterLab page: open, run all, inspect outputs, move sliders, screenshot."""

    def __init__(self, page, server):
        self.page = page
        self.server = server

    def _current(self, expression: str):
        """Evaluate ``expression`` with ``nb`` bound to the current notebook panel (or null)."""
        return self.page.evaluate(
            "() => { const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            f" if (!nb || !nb.sessionContext) return null; return {expression}; }}"
        )

    def kernel_status(self):
        return self._current(
            "nb.sessionContext.session && nb.sessionContext.session.kernel"
            " ? nb.sessionContext.session.kernel.status : null"
        )

    def wait_until(self, what: str, check, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            self.page.wait_for_timeout(200)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def open(self, name: str, timeout: float = 60) -> None:
        """Open ``name`` (relative to the lab root) in a fresh workspace and wait for an idle kernel."""
        url = f"{self.server['base']}/lab/tree/{name}?reset&token={self.server['token']}"
        self.page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        self.page.wait_for_selector(".jp-Notebook", timeout=timeout * 1000)
        self.wait_until(
            f"the kernel of {name} to be idle", lambda: self.kernel_status() == "idle", timeout
        )

    def pending_cells(self) -> int:
        """Non-empty code cells without an execution count, or still marked ``[*]``."""
        return self._current(
            "nb.content.widgets.filter(c => c.model.type === 'code'"
            " && c.model.sharedModel.getSource().trim() !== ''"
            " && (c.model.executionCount === null"
            "     || (c.promptNode && c.promptNode.textContent.includes('*')))).length"
        )

    def started_cells(self) -> int:
        """Code cells that ran or are running (an execution count or a ``[*]`` prompt)."""
        return self._current(
            "nb.content.widgets.filter(c => c.model.type === 'code'"
            " && (c.model.executionCount !== null"
            "     || (c.promptNode && c.promptNode.textContent.includes('*')))).length"
        )

    def model_errors(self) -> list[str]:
        """Error outputs stored in the notebook's model: ``cell N: Name: message`` and the traceback's
        last lines (N counts code cells from 0, as nbval and scripts/claims.py do)."""
        return self._current(
            "nb.content.widgets.filter(c => c.model.type === 'code').flatMap((c, i) =>"
            " c.model.outputs.toJSON().filter(o => o.output_type === 'error')"
            " .map(o => 'cell ' + i + ': ' + o.ename + ': ' + o.evalue + '\\n'"
            "   + (o.traceback || []).slice(-4).join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '')))"
        )

    def run_all_from_menu(self, timeout: float = 60) -> float:
        """Click Run > Run All Cells in the menu bar, as a learner does, then wait as :meth:`run_all`."""
        start = time.monotonic()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        self.wait_until(
            "a cell to start",
            lambda: self.started_cells() > 0 or self.kernel_status() != "idle",
            15,
        )
        self.wait_for_run_all(timeout)
        return time.monotonic() - start

    def wait_for_run_all(self, timeout: float) -> None:
        """Until every cell ran and the kernel is idle, or a cell failed (Run All stops there)."""
        self.wait_until(
            "Run All to finish",
            lambda: (
                self.kernel_status() == "idle"
                and (self.pending_cells() == 0 or bool(self.model_errors()))
            ),
            timeout,
        )

    def run_all(self, timeout: float = 60) -> float:
        """Run > Run All Cells (the command), then :meth:`wait_for_run_all`; seconds taken.

        The command acts on the active notebook; if nothing started within 15 s (the panel was not
        active yet on a slow machine) it is activated and the command issued again.
        """
        start = time.monotonic()
        for _attempt in range(3):
            self.page.evaluate(
                "() => { const app = window.jupyterapp;"
                " app.shell.activateById(app.shell.currentWidget.id);"
                " app.commands.execute('notebook:run-all-cells'); }"
            )
            try:
                self.wait_until(
                    "a cell to start",
                    lambda: self.started_cells() > 0 or self.kernel_status() != "idle",
                    15,
                )
                break
            except AssertionError:
                continue
        self.wait_for_run_all(timeout)
        return time.monotonic() - start

    def error_outputs(self) -> list[str]:
        """Stored error outputs (model) and stderr/'Error displaying widget' outputs (DOM)."""
        errors = self.model_errors()
        for node in self.page.query_selector_all(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        ):
            text = node.inner_text()
            if "Error" in text or "Traceback" in text:
                errors.append(text[:500])
        for node in self.page.query_selector_all(".jp-OutputArea-output"):
            text = node.inner_text()
            if "Error displaying widget" in text:
                errors.append(text[:500])
        return errors

    def widget_views(self, timeout: float = 30):
        """The outermost rendered outputs that hold a widget (waits for the first one)."""
        try:
            self.page.wait_for_selector(
                ".jp-OutputArea-output .jupyter-widgets", state="attached", timeout=timeout * 1000
            )
        except Exception:  # none rendered: the caller asserts on the empty list
            return []
        outputs = self.page.query_selector_all(".jp-OutputArea-output")
        return [
            out
            for out in outputs
            if out.query_selector(".jupyter-widgets")
            and out.evaluate("e => !e.parentElement.closest('.jp-OutputArea-output')")
        ]

    def unsaved(self) -> bool:
        """The current notebook has changes not written to its file."""
        return self._current("nb.context.model.dirty") is True

    def save(self, timeout: float = 30) -> None:
        """File > Save Notebook, then wait until the model is no longer dirty."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        self.wait_until(
            "the notebook to be saved",
            lambda: not self.unsaved(),
            timeout,
        )

    @staticmethod
    def has_slider(view) -> bool:
        return view.query_selector(SLIDER_HANDLE) is not None

    @staticmethod
    def slider_value(view) -> str:
        """The first slider's value as its readout shows it (aria-valuenow when there is none)."""
        return view.evaluate(
            f"""el => {{
                const slider = el.querySelector('.widget-slider');
                const readout = slider.querySelector('.widget-readout');
                if (readout && readout.textContent.trim()) return readout.textContent.trim();
                return el.querySelector('{SLIDER_HANDLE}').getAttribute('aria-valuenow');
            }}"""
        )

    @staticmethod
    def fingerprint(view) -> str:
        """What a widget view shows apart from its controls: image data and text.

        Controls (sliders with their readouts, descriptions, buttons, inputs) are left out, so a
        change means the driven output changed; a ``Label`` status line (a div) is kept.
        """
        return view.evaluate(
            """el => {
                const copy = el.cloneNode(true);
                copy.querySelectorAll('.widget-slider, .widget-readout, label.widget-label, '
                    + '.widget-dropdown, .widget-button, .widget-toggle-buttons, '
                    + '.widget-checkbox, input, select, button').forEach(n => n.remove());
                const images = [...el.querySelectorAll('img')].map(i => i.src).join('|');
                return images + '\\n' + copy.textContent;
            }"""
        )

    def move_slider(self, view, presses: int = 3, timeout: float = 30):
        """Focus the view's first slider handle, press ArrowRight (ArrowLeft at the maximum).

        Returns (value before, value after, fingerprint before, fingerprint after).
        """
        handle = view.query_selector(SLIDER_HANDLE)
        handle.scroll_into_view_if_needed()
        before_value = self.slider_value(view)
        before = self.fingerprint(view)
        handle.focus()
        for _ in range(presses):
            self.page.keyboard.press("ArrowRight")
        if self.slider_value(view) == before_value:
            for _ in range(presses):
                self.page.keyboard.press("ArrowLeft")
        after_value = self.slider_value(view)
        # Each key press is one change the kernel answers; wait until the view changed and then
        # stayed the same for a second with the kernel idle (all presses handled).
        deadline = time.monotonic() + timeout
        after, stable_since = before, None
        while time.monotonic() < deadline:
            now = self.fingerprint(view)
            idle = self.kernel_status() == "idle"
            if now != after or not idle:
                after, stable_since = now, None
            elif after != before:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since >= 1.0:
                    break
            self.page.wait_for_timeout(200)
        return before_value, after_value, before, after

    def screenshot(self, name: str, view=None) -> Path:
        """Viewport screenshot (with ``view`` scrolled into sight) to build/screenshots/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if view is not None:
            view.scroll_into_view_if_needed()
        path = SCREENSHOTS / f"{Path(name).stem}.png"
        self.page.screenshot(path=str(path))
        return path


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


@pytest.fixture
def lab(browser, lab_server):
    context, page = _new_page(browser)
    yield Lab(page, lab_server)
    context.close()


@pytest.fixture
def lab_tools(browser):
    """For a test that starts its own server (test_make_lab.py): ``free_port()``, ``status_ok(url)``,
    the lab ``settings`` every browser test uses, and ``new_lab(server)``, a :class:`Lab` on a fresh
    page of ``server`` (a dict with ``base`` and ``token``), closed after the test."""
    contexts = []

    def new_lab(server) -> Lab:
        context, page = _new_page(browser)
        contexts.append(context)
        return Lab(page, server)

    yield SimpleNamespace(
        free_port=free_port, status_ok=status_ok, settings=LAB_SETTINGS, new_lab=new_lab
    )
    for context in contexts:
        context.close()
