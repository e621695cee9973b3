"""The Jupyter server extension that serves the widgets' front-end files: installed with the package, and
serving ai_sessions/static below the server's base URL."""

from __future__ import annotations

import json
import os
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.lab import run_lab

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "ai_sessions" / "static"


def test_the_package_installs_the_config_that_enables_the_extension():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    (source, target), = shared.items()
    assert target == "etc/jupyter/jupyter_server_config.d/ai_sessions.json"  # read by every Jupyter server
    enabled = json.loads((ROOT / source).read_text(encoding="utf-8"))["ServerApp"]["jpserver_extensions"]
    assert enabled == {"ai_sessions.server_extension": True}
    from ai_sessions import server_extension

    assert server_extension._jupyter_server_extension_points() == [{"module": "ai_sessions.server_extension"}]


@pytest.mark.skipif(not (STATIC / "chat-impl.js").exists(), reason="build the JS bundle first (cd js && npm run build)")
def test_the_server_serves_the_bundle_below_its_base_url(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with run_lab(tmp_path, root, env, base_url="/some/base/") as lab:
        def get(path: str) -> tuple[int, bytes, str]:
            try:
                with urllib.request.urlopen(f"{lab.url}{path}", timeout=30) as response:  # no token: static files
                    return response.status, response.read(), response.headers.get("Content-Type", "")
            except urllib.error.HTTPError as error:
                return error.code, b"", ""

        status, body, kind = get("/ai-sessions/static/chat-impl.js?v=x")
        assert status == 200 and "javascript" in kind
        assert body == (STATIC / "chat-impl.js").read_bytes()
        status, css, kind = get("/ai-sessions/static/chat.css")
        assert status == 200 and kind.startswith("text/css")
        font = next(p for p in (STATIC / "fonts").iterdir() if p.name.startswith("KaTeX_Main-Regular"))
        assert f"./fonts/{font.name}".encode() in css
        assert get(f"/ai-sessions/static/fonts/{font.name}")[:2] == (200, font.read_bytes())
        assert get("/ai-sessions/static/../server_extension.py")[0] in (403, 404)
        assert get("/ai-sessions/static/nothing.js")[0] == 404
