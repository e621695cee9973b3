"""Where the built front-end bundles live (``ai_sessions/static``, made by ``npm run build`` in ``js/``)."""

from __future__ import annotations

from pathlib import Path

from ..errors import AiSessionsError

STATIC = Path(__file__).resolve().parent.parent / "static"


def bundle(name: str) -> str:
    """The text of bundle file ``name``; raises a clear error if the JS was never built.

    Text, not a ``Path``: anywidget watches a ``Path`` ``_esm``/``_css`` for changes through a signal that
    holds every widget instance, so no closed widget would ever be freed. The text ends with a newline, so
    anywidget never mistakes it for a file name. Read when a widget class is defined (at import of the
    widget modules, never at ``import ai_sessions``).
    """
    path = STATIC / name
    if not path.is_file():
        raise AiSessionsError(f"the widget bundle {path} is missing",
                              hint="build it: cd js && npm ci && npm run build (pip install -e . also builds it)")
    return path.read_text(encoding="utf-8").rstrip("\n") + "\n"
