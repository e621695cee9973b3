"""A session in a JupyterLab main-area tab, through jupyterlab-sidecar.

Closing the tab removes the chat's view; the view tells the kernel, which then closes the tab's widgets.
The session and its history stay (``hub.session(name)`` or another ``open_tab()`` shows them again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .chat import ChatWidget

if TYPE_CHECKING:
    from ..session import Session


class ChatTab:
    """An open tab showing one session (returned by ``session.open_tab()``)."""

    def __init__(self, session: Session, *, title: str | None = None) -> None:
        from sidecar import Sidecar

        self.name = session.name
        self.widget = ChatWidget(session=session)
        self.sidecar: Any = Sidecar(title=title or session.name, anchor="tab-after")
        self.widget.on_views_closed = self.close
        self.sidecar.append_display_data(self.widget)
        self._open = True

    @property
    def is_open(self) -> bool:
        """False once the tab was closed (by the user in JupyterLab, or with :meth:`close`)."""
        return self._open

    def close(self) -> None:
        """Close the tab and release its widgets (the session stays)."""
        if not self._open:
            return
        self._open = False
        self.widget.on_views_closed = None
        self.widget.close()
        self.sidecar.close()

    def __repr__(self) -> str:
        return f"ChatTab(session={self.name!r}, open={self._open})"


def open_tab(session: Session, *, title: str | None = None) -> ChatTab:
    """Show ``session`` in a new JupyterLab tab titled with its name (or ``title``)."""
    return ChatTab(session, title=title)
