"""The JupyterLab server the browser tests drive, and where their artifacts go."""

from __future__ import annotations

import json
import urllib.request
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
