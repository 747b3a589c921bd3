"""``make lab``, checked as a learner uses it: the first notebook opened from the file browser runs.

The test starts ``make lab`` itself (so its ``setup`` step, idempotent, runs first) in a process group
of its own, on a free port of 127.0.0.1 and with a random token through the variables the Makefile
says it honours (``JUPYTER_PORT``, ``JUPYTER_TOKEN``; ``JUPYTER_PORT_RETRIES=0`` so a taken port fails
instead of moving elsewhere). Jupyter's config, data, runtime, workspace and user-settings folders
and the IPython dir are temporary, outside the repository; the user settings there turn JupyterLab's
autosave off (a learner's run must not rewrite the committed notebook), the news pop-up off and keep
every cell in the DOM; a ``jupyter_lab_config.json`` there exposes ``window.jupyterapp`` to read
kernel state, and a ``jupyter_server_config.json`` puts the checkpoint JupyterLab makes when it opens
a notebook into the temporary folder (a learner's ``make lab`` writes it to
``notebooks/.ipynb_checkpoints/``, which git ignores). Then, in headless Chromium: open the URL with the token, double-click
``00_training_loop.ipynb`` in the file browser, wait for its kernel, click Run > Run All Cells (full
mode, as a learner runs it: about 30 s, under the 60 s for which the brief would allow smoke mode),
and assert that every code cell ran with no error output. Finally the server is stopped (SIGTERM to
the process group; it shuts its kernels down), and the test asserts that the port is free, that no
process it started (server, kernel) is left, and that the repository is as before: ``git status`` and
every file of notebooks/ (hidden ones included) with its size and modification time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from _tree import git_status, snapshot

# The lighter of the two browser groups (conftest.BROWSER_GROUPS).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-2")]
ROOT = Path(__file__).resolve().parents[2]
FIRST = "00_training_loop.ipynb"
USER_SETTINGS = {"@jupyterlab/docmanager-extension:plugin": {"autosave": False}}


def _write_user_settings(folder: Path, settings: dict) -> None:
    """JupyterLab's user settings: ``<plugin package>/<plugin>.jupyterlab-settings`` files."""
    for plugin_id, values in settings.items():
        package, plugin = plugin_id.split(":")
        path = folder / package / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def _environment(home: Path, port: int, token: str, settings: dict) -> dict[str, str]:
    config = home / "config"
    config.mkdir()
    (config / "jupyter_lab_config.json").write_text(
        json.dumps({"LabApp": {"expose_app_in_browser": True}})
    )
    # Opening a notebook makes a checkpoint, by default in notebooks/.ipynb_checkpoints/ (git ignores
    # it, but it is a file written into the repository): an absolute folder keeps them all out.
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"FileCheckpoints": {"checkpoint_dir": str(home / "checkpoints")}})
    )
    _write_user_settings(home / "user-settings", settings | USER_SETTINGS)
    env = os.environ | {
        "JUPYTER_PORT": str(port),
        "JUPYTER_TOKEN": token,
        "JUPYTER_PORT_RETRIES": "0",
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    env.pop("MPLBACKEND", None)  # it would hide inline figures (FACTS.md)
    return env


def _http_status(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (make and jupyter); SIGKILL if it is still there after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _alive(processes: list[psutil.Process]) -> list[str]:
    left = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return left


def _open_from_file_browser(lab, name: str) -> None:
    lab.page.goto(f"{lab.server['base']}/lab?reset&token={lab.server['token']}")
    text = lab.page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
    entry = lab.page.locator(".jp-DirListing-item").filter(has=text)
    entry.wait_for(timeout=60_000)
    entry.dblclick()
    lab.page.wait_for_selector(".jp-Notebook", timeout=60_000)
    lab.wait_until(f"the kernel of {name} to be idle", lambda: lab.kernel_status() == "idle", 120)


def _run_first_notebook(lab, base: str, token: str) -> float:
    autosave = json.loads(
        urllib.request.build_opener(urllib.request.ProxyHandler({}))
        .open(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token={token}")
        .read()
    )["settings"]["autosave"]
    assert autosave is False, "the temporary user settings did not turn autosave off"
    _open_from_file_browser(lab, FIRST)
    seconds = lab.run_all_from_menu(timeout=300)
    errors = lab.error_outputs()
    assert not errors, f"{FIRST}: error output after Run All:\n" + "\n---\n".join(errors)
    assert lab.pending_cells() == 0, f"{FIRST}: not every code cell ran"
    assert lab.unsaved(), "Run All should leave unsaved outputs (autosave off)"
    return seconds


def test_make_lab_serves_the_course_and_the_first_notebook_runs_from_the_file_browser(
    lab_tools, tmp_path
):
    port, token = lab_tools.free_port(), secrets.token_hex(16)
    env = _environment(tmp_path, port, token, lab_tools.settings)
    git_before, notebooks_before = git_status(), snapshot(ROOT / "notebooks")
    log = (tmp_path / "make_lab.log").open("w")
    start = time.monotonic()
    proc = subprocess.Popen(
        ["make", "lab"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 300  # make setup is seconds when done; minutes on first use
        while time.monotonic() < deadline and proc.poll() is None:
            if lab_tools.status_ok(f"{base}/api/status?token={token}"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(
                f"make lab did not serve {base}:\n{(tmp_path / 'make_lab.log').read_text()[-3000:]}"
            )
        up = time.monotonic() - start
        assert _http_status(f"{base}/api/status") == 403, "make lab must require the token"
        lab = lab_tools.new_lab({"base": base, "token": token})
        seconds = _run_first_notebook(lab, base, token)
        started = psutil.Process(proc.pid).children(recursive=True)
        assert any("ipykernel" in " ".join(p.cmdline()) for p in started), "no kernel was started"
    finally:
        _stop(proc)
        log.close()
    print(f"make lab: serving after {up:.1f} s, {FIRST} Run All {seconds:.1f} s (full mode)")
    assert proc.returncode is not None
    assert _port_is_free(port), f"port {port} still in use after make lab was stopped"
    assert not _alive(started), f"processes left running: {_alive(started)}"
    notebooks_after = snapshot(ROOT / "notebooks")
    changed = sorted(
        k
        for k in notebooks_before | notebooks_after
        if notebooks_before.get(k) != notebooks_after.get(k)
    )
    assert not changed, f"make lab wrote into notebooks/: {changed}"
    if git_before is not None:
        git_after = git_status()
        assert git_after == git_before, f"the repository changed: {sorted(git_after ^ git_before)}"
