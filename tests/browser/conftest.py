"""Browser tests: one real JupyterLab server per test session (127.0.0.1, temp root dir, token), driven by
Playwright in Debian's Chromium. Kernels get their own data and config dirs, no keyring, and an
``ai_sessions.toml`` that declares the local fake OpenAI-protocol server as provider ``fake``.

Run: ``.venv/bin/python -m pytest tests/browser -m browser``. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .fake_openai import FakeOpenAI
from .lab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, FAKE_SECRET, ROOT, LabServer, run_lab
from .notebook import Notebook, Notebook7

STARTUP_TIMEOUT_S = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("AI_SESSIONS_REQUIRE_BROWSER"):
        return  # `make test` / CI: a missing browser or bundle must fail, not skip
    if not Path(CHROMIUM).exists() or not (ROOT / "ai_sessions" / "static" / "chat.js").exists():
        skip = pytest.mark.skip(reason="needs /usr/bin/chromium and the built JS (cd js && npm run build)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[LabServer]:
    yield from _lab(tmp_path_factory, fake_openai, server_extension=True)


@pytest.fixture(scope="module")
def lab_without_extension(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[LabServer]:
    """A JupyterLab whose server does not serve ai_sessions' files (as one from another environment)."""
    yield from _lab(tmp_path_factory, fake_openai, server_extension=False)


def _lab(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, *,
         server_extension: bool) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab")
    root, settings = base / "root", base / "user-settings"
    root.mkdir()
    (root / "ai_sessions.toml").write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base}/v1"\n'
        f'models = ["echo", "steady", "slow", "hostile", "analyst"]\n'
        '[auto]\ncandidates = ["fake:echo", "fake:steady"]\n'
        '[agents.analyst]\nmodel = "fake:analyst"\ndescription = "answers questions about your data"\n'
        'tools = ["notebook"]\n', encoding="utf-8")
    widgets_settings = settings / "@jupyter-widgets" / "jupyterlab-manager"
    widgets_settings.mkdir(parents=True)
    (widgets_settings / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    notifications = settings / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "AI_SESSIONS_DATA_DIR": str(base / "data"), "AI_SESSIONS_CONFIG_DIR": str(base / "config"),
           "AI_SESSIONS_NO_KEYRING": "1", "OPENAI_API_KEY": FAKE_SECRET}
    for name in ("ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "AI_SESSIONS_SETTINGS",
                 "JPY_SESSION_NAME"):
        env.pop(name, None)
    with run_lab(base, root, env, fake_openai, settings, STARTUP_TIMEOUT_S,
                 server_extension=server_extension) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, lab: LabServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=lab.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()


def _notebooks(page: Any, lab: LabServer, kind: type[Notebook]) -> Iterator[Callable[[str], Notebook]]:
    opened: list[Notebook] = []

    def open_notebook(name: str) -> Notebook:
        nb = kind(page, lab, name).open()
        opened.append(nb)
        return nb

    yield open_notebook
    for nb in opened:
        lab.shutdown_kernels_of(nb.name)


@pytest.fixture
def notebook(page: Any, lab: LabServer) -> Iterator[Callable[[str], Notebook]]:
    """``notebook("name.ipynb")``: a new notebook open in JupyterLab; its kernel is shut down afterwards."""
    yield from _notebooks(page, lab, Notebook)


@pytest.fixture
def notebook7(page: Any, lab: LabServer) -> Iterator[Callable[[str], Notebook]]:
    """``notebook7("name.ipynb")``: a new notebook open in Jupyter Notebook 7 (same server)."""
    yield from _notebooks(page, lab, Notebook7)


@pytest.fixture(scope="session", autouse=True)
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
