"""A session in a JupyterLab main-area tab, through jupyterlab-sidecar.

Closing the tab removes the chat's view; the view tells the kernel, which then closes the tab's widgets.
The session and its history stay (``hub.session(name)`` or another ``open_tab()`` shows them again).

Only JupyterLab has tabs: Jupyter Notebook 7 and VS Code create no view of a sidecar. So ``open_tab()`` also
shows the chat in the cell output: there, in JupyterLab, a line says the chat is open in a tab; elsewhere
it is the chat itself, saying why. A tab is reported open only once the front end is known to have tabs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .chat import ChatWidget
from .front_end import FRONT_END

if TYPE_CHECKING:
    from ..session import Session


class ChatTab:
    """A chat opened for a tab (returned by ``session.open_tab()``)."""

    def __init__(self, session: Session, *, title: str | None = None, show_in_cell: bool = True) -> None:
        self.name = session.name
        self.widget = ChatWidget(session=session, placement="tab")
        self.widget.on_views_closed = self.close
        self.widget.on_no_tabs = self._no_tabs
        self.sidecar: Any = None
        self._closed = False
        if FRONT_END.tabs is not False:
            from sidecar import Sidecar

            self.sidecar = Sidecar(title=title or session.name, anchor="tab-after")
            self.sidecar.append_display_data(self.widget)
        if show_in_cell:
            from IPython.display import display

            display(self.widget)

    @property
    def is_open(self) -> bool:
        """True while the chat is in a tab: the front end has tabs (or a view in the tab said so) and the tab
        was not closed. False in Jupyter Notebook 7 and VS Code, where the chat shows in the cell output."""
        if self._closed or self.sidecar is None:
            return False
        return self.widget.shown_in_tab or FRONT_END.tabs is True

    def close(self) -> None:
        """Close the tab and release its widgets (the session stays)."""
        if self._closed:
            return
        self._closed = True
        self.widget.on_views_closed = self.widget.on_no_tabs = None
        self.widget.close()
        if self.sidecar is not None:
            self.sidecar.close()

    def _no_tabs(self) -> None:
        """A view said its page cannot open tabs: drop the sidecar nobody can see (the cell shows the chat)."""
        sidecar, self.sidecar = self.sidecar, None
        if sidecar is not None:
            sidecar.close()

    def __repr__(self) -> str:
        if self.is_open or self._closed:
            why = ""
        elif self.sidecar is None:
            why = ", shown in the cell output: tabs need JupyterLab"
        else:
            why = ", not confirmed by the front end yet"
        return f"ChatTab(session={self.name!r}, open={self.is_open}{why})"


def open_tab(session: Session, *, title: str | None = None, show_in_cell: bool = True) -> ChatTab:
    """Show ``session`` in a new JupyterLab tab titled with its name (or ``title``).

    With ``show_in_cell`` the cell output shows it too: a line pointing to the tab in JupyterLab, the chat
    itself where no tab can open (Jupyter Notebook 7, VS Code)."""
    return ChatTab(session, title=title, show_in_cell=show_in_cell)
