"""The built front end (``ai_sessions/static``, made by ``npm run build`` in ``js/``).

A widget's ``_esm`` and ``_css`` are synced traits, saved with every widget in a notebook. So the chat's
``_esm`` is a small loader (``chat.js``); its code (``chat-impl.js``), styles (``chat.css``) and KaTeX's fonts
stay files, served by the Jupyter server extension (:mod:`ai_sessions.server_extension`), or sent over the
comm by :func:`chat_bundle` where no server serves them. The hub panel is small and carries its files inline.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

from ..errors import AiSessionsError

STATIC = Path(__file__).resolve().parent.parent / "static"
_FONT_URL = re.compile(r'url\("?\./(fonts/[\w.-]+\.woff2)"?\)')


def _path(name: str) -> Path:
    path = STATIC / name
    if not path.is_file():
        raise AiSessionsError(f"the widget bundle {path} is missing",
                              hint="build it: cd js && npm ci && npm run build (pip install -e . also builds it)")
    return path


def bundle_text(name: str) -> str:
    """The text of bundle file ``name`` (read when a widget class is defined, never at ``import ai_sessions``).

    A string, not a ``Path``: anywidget watches a ``Path`` and keeps every widget instance alive through
    that watch. It ends with a newline, so anywidget never mistakes it for a file name.
    """
    return _path(name).read_text(encoding="utf-8").rstrip("\n") + "\n"


@functools.cache
def chat_bundle() -> dict[str, str]:
    """The chat's build id, code and styles (fonts inlined), for a view that asks the kernel for them."""
    js = bundle_text("chat-impl.js")
    match = re.search(r'export const buildId = "(\w+)";\s*$', js)
    css = _FONT_URL.sub(lambda m: f'url("data:font/woff2;base64,{_font(m.group(1))}")', bundle_text("chat.css"))
    return {"id": match.group(1) if match else "", "js": js, "css": css}


def _font(name: str) -> str:
    return base64.b64encode(_path(name).read_bytes()).decode("ascii")
