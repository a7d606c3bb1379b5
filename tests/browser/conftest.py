"""JupyterLab on 127.0.0.1 for browser tests, and a notebook that shows the registry browser.

`lab` is a factory fixture: ``lab(notebook_path)`` copies the notebook into a
fresh root folder, starts JupyterLab there (free port, random token, isolated
config / runtime / IPython folders, the news toast silenced) and returns a
:class:`LabServer`; every server is stopped at the end of the test. Playwright
is driven with its sync API (``sync_playwright()``) and Debian's Chromium; the
pytest-playwright fixtures are never requested.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, need

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
STARTUP_TIMEOUT = 120  # seconds; the machine is small and shared


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture
def chromium():
    """Skip (or fail under MODELSERVICE_REQUIRE_SERVICES=1) without Chromium, Playwright or JupyterLab."""
    need(os.access(CHROMIUM, os.X_OK), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    need(_importable("playwright"), "the playwright package is not installed")
    need(_importable("jupyterlab"), "JupyterLab is not installed")
    return CHROMIUM


@dataclass
class LabServer:
    """A running JupyterLab: where it listens and the notebook it serves."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path
    notebook: str
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def notebook_url(self) -> str:
        return f"{self.base_url}/lab/tree/{self.notebook}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the server and its kernels
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
            except ProcessLookupError:
                pass


def start_lab(notebook: Path, home: Path) -> LabServer:
    """Copy ``notebook`` (with its folder's other files) into ``home/root`` and serve it."""
    root = home / "root"
    shutil.copytree(notebook.parent, root)
    settings = home / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    })
    port, token = free_port(), secrets.token_hex(16)
    log = home / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
             f"--LabApp.user_settings_dir={settings}", "--allow-root"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = LabServer(process, port, token, root, notebook.name, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"JupyterLab did not answer in {STARTUP_TIMEOUT} s:\n{server.log_tail()}")
        time.sleep(0.5)


@pytest.fixture
def lab(tmp_path, chromium):
    """Factory: ``lab(notebook_path)`` → a running :class:`LabServer`, stopped after the test."""
    servers: list[LabServer] = []

    def start(notebook: Path) -> LabServer:
        server = start_lab(Path(notebook), tmp_path / f"lab{len(servers)}")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def browser_notebook(folder: Path, models_directory: Path) -> Path:
    """Write a notebook that trains and saves three small models and shows ``RegistryBrowser``."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    })
    nb.cells = [
        new_markdown_cell("# Registry browser"),
        new_code_cell(
            "from sklearn.datasets import load_iris\n"
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from jupyter_modelservice import ModelService\n\n"
            "X, y = load_iris(return_X_y=True, as_frame=True)\n"
            f"service = ModelService(models_directory={str(models_directory)!r})\n"
            "for model_id, cls, params in [\n"
            "    ('forest', RandomForestClassifier, {'n_estimators': 10, 'random_state': 0}),\n"
            "    ('forest', RandomForestClassifier, {'n_estimators': 20, 'random_state': 1}),\n"
            "    ('logreg', LogisticRegression, {'max_iter': 500}),\n"
            "]:\n"
            "    service.train_model(cls, X, y, model_id=model_id, **params)\n"
            "    service.save_model(model_id)"
        ),
        new_code_cell(
            "from jupyter_modelservice.widgets import RegistryBrowser\n\n"
            "RegistryBrowser(service)"
        ),
    ]
    path = folder / "registry_browser.ipynb"
    nbformat.write(nb, path)
    return path
