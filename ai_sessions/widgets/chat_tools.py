"""The chat's kernel side for tools and context (issue 12): approval cards, ``@`` completion and the
objects it attaches, cells added to the notebook, agents in the selector, and image bytes for thumbnails.

A :class:`ChatTools` belongs to one :class:`~ai_sessions.widgets.chat.ChatWidget` and talks to it only
through its synced traits, ``send`` and ``view_count``. While the widget is bound to a session it

- asks the hub's :class:`~ai_sessions.approval.ApprovalBroker` to route that session's approvals here
  whenever a view is open, lists the calls waiting in the ``approvals`` trait, and passes the user's
  answer back (``approve`` message);
- offers itself as the session's front end (``frontends.register_frontend``), so ``insert_cell`` adds a
  cell below the chat through the browser (never by writing the .ipynb);
- answers ``variables`` requests with the names, types and shapes of the user's variables (never their
  values), and turns the ``@name`` s of a sent message into attached descriptions (``context.describe``).

Browser messages are handled on the kernel's main thread, or on a subshell thread where the front end
delivers them while a cell runs; hub events on the hub thread.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AiSessionsError
from ..frontends import register_frontend
from ..model import Event, EventKind, new_id
from ..parts import Part, TextPart, binary_parts

if TYPE_CHECKING:
    from ..hub import SessionHub
    from ..session import Session

log = logging.getLogger(__name__)
#: Seconds ``insert_cell`` waits for a view to add the cell.
INSERT_TIMEOUT_S = 20.0
_APPROVAL_EVENTS = (EventKind.TOOL_APPROVAL_REQUESTED, EventKind.TOOL_APPROVAL_DECIDED)
TOOL_EVENTS = (*_APPROVAL_EVENTS, EventKind.TOOL_CALL_STARTED, EventKind.TOOL_CALL_FINISHED)


@dataclass
class _Insert:
    """An ``insert_cell`` request waiting for the views' answers (hub loop)."""

    future: asyncio.Future[str]
    cell_type: str
    views: int
    errors: list[str] = field(default_factory=list)


class ChatTools:
    """Tools and context for one chat widget (see the module's docstring)."""

    def __init__(self, widget: Any, hub: SessionHub) -> None:
        self._widget = widget
        self._hub = hub
        self._session_id = ""
        self._unregister: list[Callable[[], None]] = []
        self._withdraw: Callable[[], None] | None = None
        self._inserts: dict[str, _Insert] = {}

    # -- binding (any thread) ---------------------------------------------------------------------------
    def bind(self, session_id: str) -> None:
        """Follow ``session_id``: its approvals come here while a view is open; ``insert_cell`` uses us."""
        self.unbind()
        self._session_id = session_id
        if session_id:
            self._unregister = [self._hub.runtime.approvals.register(session_id, lambda: self._widget.view_count > 0)]
            self.views_changed(self._widget.view_count)

    def unbind(self) -> None:
        for undo in self._unregister:
            undo()
        self._unregister = []
        self.views_changed(0)

    def views_changed(self, views: int) -> None:
        """Offer ourselves as the session's front end (``insert_cell``) only while a view is open: the
        session's chat on screen is then the one that adds the cell."""
        if views > 0 and self._withdraw is None and self._session_id:
            self._withdraw = register_frontend(self._session_id, self)
        elif views == 0 and self._withdraw is not None:
            self._withdraw()
            self._withdraw = None

    # -- hub thread ------------------------------------------------------------------------------------------
    def approvals(self, session: Session | None) -> list[dict[str, Any]]:
        """The ``approvals`` trait for ``session`` now (a view opened later shows what waits)."""
        if session is None:
            return []
        reply = session.live_reply
        message_id = reply.id if reply is not None else ""
        return [{"call_id": c.id, "message_id": message_id, "name": c.name, "source": c.source,
                 "arguments": dict(c.arguments)} for c in self._hub.runtime.approvals.pending(session.id)]

    def on_approval_event(self, event: Event) -> None:
        """(hub thread) A call waits for approval, or was answered: the ``approvals`` trait follows."""
        payload = event.payload
        rest = [a for a in self._widget.approvals if a["call_id"] != payload.get("call_id")]
        if event.kind is EventKind.TOOL_APPROVAL_REQUESTED and payload.get("by", "chat") == "chat":
            rest.append({"call_id": str(payload.get("call_id", "")), "message_id": str(payload.get("message_id", "")),
                         "name": str(payload.get("name", "")), "source": str(payload.get("source", "")),
                         "arguments": dict(payload.get("arguments") or {})})
        self._widget.approvals = rest

    def agents(self) -> list[dict[str, Any]]:
        """The ``agents`` trait: the settings' presets (never a key: settings hold none)."""
        return [{"name": a.name, "model": a.model, "description": a.description, "tools": list(a.tools)}
                for a in self._hub.agents()]

    async def insert_cell(self, source: str, cell_type: str) -> str:
        """(hub loop) Ask the chat's views to add a cell below the chat; returns where it went."""
        views = self._widget.view_count
        if views == 0:
            raise AiSessionsError("no view of the chat is open to add the cell",
                                  hint="show the session's chat (s.chat()) and ask again")
        request_id = new_id()
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inserts[request_id] = _Insert(future, cell_type, views)
        self._widget.send({"type": "insert_cell", "request_id": request_id, "source": source,
                           "cell_type": cell_type})
        try:
            async with asyncio.timeout(INSERT_TIMEOUT_S):
                return await future
        except TimeoutError:
            raise AiSessionsError(
                f"the chat did not add the cell within {INSERT_TIMEOUT_S:g} s",
                hint="the browser answers only when the kernel is free: don't block it with a cell while the "
                     "model adds cells (start the reply from the chat or with s.submit())") from None
        finally:
            self._inserts.pop(request_id, None)

    def _inserted(self, request_id: str, error: str | None, where: str) -> None:
        """(hub loop) A view's answer to an ``insert_cell`` request: the first success wins."""
        pending = self._inserts.get(request_id)
        if pending is None or pending.future.done():
            return
        if error is None:
            pending.future.set_result(f"added a {pending.cell_type} cell {where or 'to the notebook'}")
            return
        pending.errors.append(error)
        if len(pending.errors) >= pending.views:
            pending.future.set_exception(AiSessionsError(f"the chat could not add the cell: {pending.errors[0]}",
                                                         hint="open the notebook in JupyterLab or Notebook 7"))

    # -- browser messages (main thread, or a subshell thread) --------------------------------------------
    def handle(self, kind: str | None, content: dict[str, Any]) -> bool:
        """Handle a browser message of ours; False if ``kind`` is not one."""
        loop = self._hub.runtime.loop
        if kind == "approve":
            approvals = self._hub.runtime.approvals
            loop.call_soon(lambda: approvals.answer(str(content.get("call_id", "")), bool(content.get("approved")),
                                                    always=bool(content.get("always"))))
        elif kind == "variables":
            self._widget.send({"type": "variables", "request_id": str(content.get("request_id", "")),
                               "rows": variable_rows()})
        elif kind == "inserted":
            error = content.get("error")
            loop.call_soon(self._inserted, str(content.get("request_id", "")),
                           None if error is None else str(error), str(content.get("where", "")))
        elif kind == "use_agent":
            self._hub.get(self._session_id).use_agent(str(content.get("name", "")))
        elif kind == "blob":
            self._send_blob(str(content.get("blob", "")))
        else:
            return False
        return True

    def prompt(self, text: str, names: Sequence[Any]) -> str | tuple[Part, ...]:
        """The message to send for ``text``: with a description of each ``@name`` that names a variable of
        the user's namespace (the others stay plain text). Nothing else from the namespace is sent."""
        namespace = user_namespace()
        visible = {row["name"] for row in variable_rows(namespace)}
        wanted = [n for n in dict.fromkeys(str(n) for n in names) if n in visible]
        if not wanted:
            return text
        from ..context import describe

        budget = self._hub.settings.context.max_chars
        parts: list[Part] = [TextPart(text)]
        for name in wanted:
            parts.extend(describe(namespace[name], name, budget=budget))
        return tuple(parts)

    def _send_blob(self, blob: str) -> None:
        """An image of this session's messages, for a thumbnail (no other blob is ever sent)."""
        session = self._hub.get(self._session_id)
        part = next((p for m in session.messages for p in binary_parts(m.parts) if p.blob == blob), None)
        reply: dict[str, Any] = {"type": "blob", "blob": blob, "media_type": "", "data": None, "error": None}
        if part is None:
            reply["error"] = "no message of this session holds this image"
        else:
            try:
                data = part.data if part.data is not None else self._hub.store.blob(blob)
                reply |= {"media_type": part.media_type, "data": base64.b64encode(data).decode("ascii")}
            except Exception as exc:  # a blob missing from the store: say so in place of the thumbnail
                reply["error"] = f"{type(exc).__name__}: {exc}"
        self._widget.send(reply)


def user_namespace() -> dict[str, Any]:
    """A copy of the user's namespace (a copy: a cell may run meanwhile, on the main thread)."""
    shell = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # plain Python: the __main__ module's variables
        pass
    if shell is None:
        import __main__

        return dict(vars(__main__))
    return dict(shell.user_ns)


def variable_rows(namespace: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """``notebook.variable_rows`` of a copy of the namespace; a variable whose shape cannot be read
    (a property that raises) is listed without one."""
    from ..notebook import variable_rows as rows_of

    namespace = user_namespace() if namespace is None else namespace
    try:
        return rows_of(namespace)
    except Exception:
        rows = []
        for name, value in namespace.items():
            try:
                rows.extend(rows_of({name: value}))
            except Exception:
                rows.append({"name": name, "type": type(value).__name__, "shape": ""})
        return rows
