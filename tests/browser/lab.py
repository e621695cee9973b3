"""The JupyterLab server the browser tests drive, and where their artifacts go."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: A key the kernels see (as OPENAI_API_KEY): it must never reach a widget's state or a saved notebook.
FAKE_SECRET = "sk-browser-test-SECRET-4242"


@dataclass
class LabServer:
    """A running JupyterLab: its URL, token, root dir, and the fake provider server next to it."""

    url: str
    token: str
    root: Path
    fake: FakeOpenAI

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def new_notebook(self, name: str) -> str:
        """Create ``name`` (one empty code cell, Python 3 kernel) in the server root."""
        notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c0", "metadata": {},
                               "outputs": [], "source": ""}],
                    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                    "nbformat": 4, "nbformat_minor": 5}
        self.api("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": notebook})
        return name

    def shutdown_kernels_of(self, path: str) -> None:
        for session in self.api("GET", "/api/sessions") or []:
            if session["path"] == path:
                self.api("DELETE", f"/api/sessions/{session['id']}")


@contextmanager
def run_lab(base: Path, root: Path, env: dict[str, str], fake: FakeOpenAI | None = None,
            settings: Path | None = None, startup_timeout: float = 60, base_url: str = "/",
            server_extension: bool = True) -> Iterator[LabServer]:
    """A JupyterLab server on 127.0.0.1 with its own config, runtime and workspace dirs under ``base``,
    serving ``root``; its kernels are shut down and the server stopped on exit. ``server_extension``: whether
    ai_sessions' server extension serves the front-end files (False: as a server from another environment)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    config = base / "jupyter-config"
    config.mkdir(exist_ok=True)
    # the server extension serving ai_sessions/static (installed with the package; enabled here too, so
    # the tests run this checkout's extension whatever the environment has installed)
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"ai_sessions.server_extension": server_extension}}}))
    log = (base / "server.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--expose-app-in-browser",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={settings or base / 'settings'}",
         f"--LabApp.workspaces_dir={base / 'workspaces'}", "--LabApp.news_url=",
         # Jupyter Notebook 7 on the same server (/tree, /notebooks/...), with the same settings
         "--JupyterNotebookApp.expose_app_in_browser=True",
         f"--JupyterNotebookApp.user_settings_dir={settings or base / 'settings'}",
         f"--JupyterNotebookApp.workspaces_dir={base / 'workspaces'}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
         f"--ServerApp.base_url={base_url}", "--allow-root"],
        cwd=root, stdout=log, stderr=subprocess.STDOUT,
        env={**env, "JUPYTER_CONFIG_DIR": str(config),
             "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"), "JUPYTER_PLATFORM_DIRS": "1"})
    server = LabServer(f"http://127.0.0.1:{port}{base_url.rstrip('/')}", token, root, fake)  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + startup_timeout
        while True:  # the server reports readiness only through HTTP
            try:
                server.api("GET", "/api/status")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(base / 'server.log').read_text()}") from None
                time.sleep(0.2)
        yield server
    finally:
        try:
            for kernel in server.api("GET", "/api/kernels") or []:
                server.api("DELETE", f"/api/kernels/{kernel['id']}")
        except OSError:
            pass
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(base / "jupyter-runtime", ignore_errors=True)
