"""Where the built front-end bundles live (``ai_sessions/static``, made by ``npm run build`` in ``js/``)."""

from __future__ import annotations

from pathlib import Path

from ..errors import AiSessionsError

STATIC = Path(__file__).resolve().parent.parent / "static"


def bundle(name: str) -> Path:
    """The path of bundle file ``name``; raises a clear error if the JS was never built.

    anywidget reads ``_esm``/``_css`` files when a widget class is defined, so this runs at import of
    the widget modules (never at ``import ai_sessions``).
    """
    path = STATIC / name
    if not path.is_file():
        raise AiSessionsError(f"the widget bundle {path} is missing",
                              hint="build it: cd js && npm ci && npm run build (pip install -e . also builds it)")
    return path
