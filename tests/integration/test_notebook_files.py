"""Notebooks run and exported outside JupyterLab's live view: ``jupyter nbconvert --execute`` stores the
chats' final state, and an HTML export shows the conversation as text.

Kernels run this checkout (PYTHONPATH) against the fake OpenAI-protocol server of the browser tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
JUPYTER = str(Path(sys.executable).parent / "jupyter")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

pytest.importorskip("nbconvert")
nbformat = pytest.importorskip("nbformat")
if not (ROOT / "ai_sessions" / "static" / "chat.js").exists():
    pytest.skip("build the JS bundle first (cd js && npm run build)", allow_module_level=True)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def run_nbconvert(tmp_path: Path, fake: FakeOpenAI, cells: list[str], *args: str) -> Path:
    """Write a notebook of ``cells`` in ``tmp_path`` and run ``jupyter nbconvert`` on it with ``args``."""
    (tmp_path / "ai_sessions.toml").write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake.base}/v1"\nmodels = ["echo", "gated"]\n',
        encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test", "FAKE_BASE": fake.base}
    done = subprocess.run([JUPYTER, "nbconvert", *args, str(path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def widget_states(path: Path) -> list[dict[str, Any]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [m["state"] for m in nb["metadata"]["widgets"][WIDGET_STATE]["state"].values()]


def test_a_reply_ending_in_a_later_cell_is_saved_final(tmp_path, fake):
    # the reply starts in cell 2 and ends while cell 3 runs (the fake server holds it until /release)
    cells = [
        'import ai_sessions\ns = ai_sessions.hub().session("bg", model="fake:gated")\ns.chat()',
        'h = s.submit("hello there")',
        'import os, urllib.request\nurllib.request.urlopen(os.environ["FAKE_BASE"] + "/release").read()\n'
        'print(h.result(30).content)',
        "ai_sessions.hub().panel()",
    ]
    path = run_nbconvert(tmp_path, fake, cells, "--to", "notebook", "--execute", "--inplace")
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[2].outputs[0].text == "Echo: hello there\n"
    chats = [s for s in widget_states(path) if "messages" in s]
    assert len(chats) == 1
    assert [(m["role"], m["status"], m["content"]) for m in chats[0]["messages"]] == [
        ("user", "complete", "hello there"), ("assistant", "complete", "Echo: hello there")]
    assert chats[0]["progress"] == {}
    panel = next(s for s in widget_states(path) if "sessions" in s)
    assert [(r["name"], r["status"]) for r in panel["sessions"]] == [("bg", "idle")]


def test_html_export_shows_the_conversation_as_text(tmp_path, fake):
    cells = [
        'import ai_sessions\ns = ai_sessions.hub().session("shared", model="fake:echo")\n'
        's.send("compare <b>a</b> & **b**")\ns.chat()',
    ]
    # as JupyterLab saves by default (no widget state): viewers without widgets fall back to text/html
    path = run_nbconvert(tmp_path, fake, cells, "--to", "notebook", "--execute", "--inplace",
                         "--ExecutePreprocessor.store_widget_state=False")
    output = nbformat.read(path, as_version=4).cells[0].outputs[0]
    assert "application/vnd.jupyter.widget-view+json" in output["data"]
    assert output["data"]["text/plain"] == "ChatWidget(session='shared')"
    subprocess.run([JUPYTER, "nbconvert", "--to", "html", str(path)], cwd=tmp_path, check=True, capture_output=True,
                   timeout=120)
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert "AI chat “shared”" in page
    assert "compare &lt;b&gt;a&lt;/b&gt; &amp; **b**" in page  # escaped, markdown kept as written
    assert "Echo: compare &lt;b&gt;a&lt;/b&gt; &amp; **b**" in page
    assert "<b>a</b>" not in page
