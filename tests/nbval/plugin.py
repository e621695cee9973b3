"""nbval set-up for the example notebooks: every notebook runs in a fresh kernel with its own empty config
and data dirs (so its own session store), no provider keys, no keyring and no settings from the machine;
the embedded model answers, and nothing touches the network.

A pytest plugin (loaded by ``tests/nbval/pytest.ini``), not a ``conftest.py`` in ``notebooks/``: that folder
is what ``make lab`` opens, so it holds the tour notebooks only. Run (from the repository root)::

    pytest -p no:randomly --nbval notebooks/ --nbval-current-env -c tests/nbval/pytest.ini --rootdir .
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HIDDEN_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY",
              "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
              "OPENAI_API_VERSION", "JPY_SESSION_NAME", "AI_SESSIONS_SETTINGS")
_dirs: dict[str, Path] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Kernels inherit this process's environment when they start: clean it once."""
    for name in HIDDEN_ENV:
        os.environ.pop(name, None)
    os.environ["AI_SESSIONS_NO_KEYRING"] = "1"
    # the kernel runs in notebooks/: make the package importable without an install
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    _dirs["root"] = Path(tempfile.mkdtemp(prefix="ai_sessions-nbval-"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's kernel starts (at its first cell), point it at its own config and data dirs."""
    notebook = item.parent
    if notebook is None or getattr(notebook, "kernel", "no kernel") is not None:
        return
    key = str(getattr(notebook, "path", notebook.nodeid))
    if key in _dirs:
        return
    _dirs[key] = home = _dirs["root"] / Path(key).stem
    os.environ["AI_SESSIONS_CONFIG_DIR"] = str(home / "config")
    os.environ["AI_SESSIONS_DATA_DIR"] = str(home / "data")


def pytest_unconfigure(config: pytest.Config) -> None:
    root = _dirs.pop("root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
