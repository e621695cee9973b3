"""The inspector: a session's timeline as a picture (one lane per reply on a time axis; waiting for the first
token and streaming drawn apart; retries, failures and stops marked; model switches as vertical markers) and
its totals per model. The browser draws (js/src/inspector*.ts); the kernel keeps the state.

The events come from the store (``ai_sessions.timeline``), so an inspector opened after a restart shows the
same picture. While the session replies, new events are read incrementally (only those after the last one
seen) at most every ``INSPECTOR_REFRESH_S``; the reply in flight comes from the hub feed, so its lane grows
while it streams.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import traitlets

from ..errors import SessionNotFound
from ..hub import SessionHub
from ..metrics import per_model
from ..model import Event, EventKind, now
from ..session import Session
from ..throttle import INSPECTOR_REFRESH_S, Throttle
from ..timeline import REPLY_START, rows_of, session_columns
from ._base import KernelWidget
from ._bundle import bundle_text
from .feed import HubFeed, feed_for
from .front_end import FRONT_END

if TYPE_CHECKING:
    from concurrent.futures import Future

log = logging.getLogger(__name__)
#: Replies drawn at most (older ones are counted in ``hidden_replies``; the totals cover all).
DEFAULT_LIMIT = 100


class InspectorWidget(KernelWidget):
    """The timeline of one session as a picture, live while it replies. Show it with ``s.inspect()``.

    ``events`` are timeline rows (``time`` in epoch seconds) of the last ``limit`` replies; ``totals`` are
    the per-model rows of ``ai_sessions.metrics`` over the whole session; ``live`` is the reply in flight
    (as the chat's ``progress``); ``clock`` the kernel's time at the last update (the browser's clock may
    differ).
    """

    _esm = bundle_text("inspector.js")  # inline strings (a Path would keep every instance alive)
    _css = bundle_text("inspector.css")

    session_id = traitlets.Unicode("").tag(sync=True)
    session_name = traitlets.Unicode("").tag(sync=True)
    events = traitlets.List(traitlets.Dict()).tag(sync=True)
    totals = traitlets.List(traitlets.Dict()).tag(sync=True)
    live = traitlets.Dict().tag(sync=True)
    clock = traitlets.Float(0.0).tag(sync=True)
    hidden_replies = traitlets.Int(0).tag(sync=True)
    #: open | deleted | missing
    session_state = traitlets.Unicode("open").tag(sync=True)

    def __init__(self, session: Session | str | None = None, *, hub: SessionHub | None = None,
                 limit: int = DEFAULT_LIMIT, **kwargs: Any) -> None:
        if isinstance(session, Session):
            hub = hub or session.hub
        if hub is None:
            from ..hub import hub as kernel_hub

            hub = kernel_hub()
        target = session if isinstance(session, Session) else hub.get(session) if session else None
        if target is None:
            raise SessionNotFound("the inspector needs a session: s.inspect() or InspectorWidget(session='name')")
        self._hub = hub
        self._feed: HubFeed = feed_for(hub)
        self._limit = max(1, limit)
        self._columns: dict[str, list[Any]] = {}
        self._context: dict[str, Any] = {}
        self._last_id = 0
        self._pulling = False
        self._generation = 0
        self._pull_task: asyncio.Future[None] | None = None
        self._views = 0
        self._views_seen = False
        #: Called when the last view of a widget that had views goes away (used by tabs).
        self.on_views_closed: Any = None
        self._throttle = Throttle(lambda: hub.runtime.loop.loop, INSPECTOR_REFRESH_S, self._pull_soon)
        super().__init__(session_id=target.id, session_name=target.name, **kwargs)
        self.on_msg(self._on_view_msg)
        self._load(session_columns(hub.runtime.store, target.id, context=self._context))
        self._unlisten = self._feed.listen(target.id, self._on_event)
        self._feed.run_on_hub(self._sync_live)

    def __repr__(self) -> str:  # deterministic (nbval compares text/plain)
        return f"InspectorWidget(session={self.session_name!r})"

    def close(self) -> None:
        """Stop following the session and close the widget."""
        self._unlisten()
        self._feed.run_soon(self._throttle.cancel)
        super().close()

    # -- state --------------------------------------------------------------------------------------
    def _load(self, columns: dict[str, list[Any]]) -> None:
        """Add newly read timeline columns and update the traits (any thread, once; then the hub thread)."""
        if not self._columns:
            self._columns = {name: list(values) for name, values in columns.items()}
        else:
            for name, values in columns.items():
                self._columns[name].extend(values)
        ids = self._columns.get("id") or []
        if ids:
            self._last_id = ids[-1]
        start, hidden = self._first_shown()
        with self.hold_sync():
            self.events = rows_of(self._columns, start)
            self.hidden_replies = hidden
            self.totals = per_model(self._columns)
            self.clock = now()

    def _first_shown(self) -> tuple[int, int]:
        """The first row to show (the start of the ``limit``-th last reply) and how many replies are older."""
        starts: dict[str, int] = {}
        for index, (kind, mid) in enumerate(zip(self._columns.get("kind", []), self._columns.get("message_id", []),
                                                strict=True)):
            if kind == REPLY_START and mid not in starts:
                starts[mid] = index
        if len(starts) <= self._limit:
            return 0, 0
        firsts = list(starts.values())
        return firsts[-self._limit], len(firsts) - self._limit

    # -- hub events (hub thread) --------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.SESSION_DELETED:
            self.session_state = "deleted"
            return
        if event.kind is EventKind.SESSION_UPDATED and event.payload.get("cleared"):
            # the store dropped the session's events: start over (a read in flight is dropped too)
            self._columns, self._context, self._last_id = {}, {}, 0
            self._generation += 1
        if event.kind is EventKind.RESPONSE_DELTA:
            if self.live.get("state") != "streaming":
                self._sync_live()  # the first token: the lane starts streaming
            return
        self._sync_live()
        self._throttle.poke()

    def _sync_live(self) -> None:
        live = self._feed.live(self.session_id)
        with self.hold_sync():
            self.live = live.progress() if live is not None else {}
            self.clock = now()

    def _pull_soon(self) -> None:
        if self._pulling:  # one read at a time; the throttle pokes again on the next event
            self._throttle.poke()
            return
        self._pulling = True
        self._pull_task = asyncio.ensure_future(self._pull())

    async def _pull(self) -> None:
        store = self._hub.runtime.store
        generation = self._generation
        try:
            future: Future[dict[str, list[Any]]] = store.defer(session_columns, store, self.session_id,
                                                               self._last_id, self._context)
            columns = await asyncio.wrap_future(future)
            if columns["id"] and generation == self._generation:
                self._load(columns)
        except Exception:
            log.exception("refreshing the inspector failed")
        finally:
            self._pulling = False

    # -- browser messages (kernel main thread) ------------------------------------------------------
    def _on_view_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("type") == "view":
            opened = bool(content.get("open"))
            self._views = self._views + 1 if opened else max(0, self._views - 1)
            self._views_seen = self._views_seen or opened
            if self._views == 0 and self._views_seen and not opened and self.on_views_closed is not None:
                self.on_views_closed()


class InspectorTab:
    """An inspector in a JupyterLab main-area tab (from the hub panel's or a chat's **Inspect** button)."""

    def __init__(self, session: Session) -> None:
        from sidecar import Sidecar

        self.name = session.name
        self.widget = InspectorWidget(session=session)
        self.sidecar: Any = Sidecar(title=f"Inspect {session.name}", anchor="tab-after")
        self.widget.on_views_closed = self.close
        self.sidecar.append_display_data(self.widget)
        self._open = True

    @property
    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        """Close the tab and its widget (the session stays)."""
        if not self._open:
            return
        self._open = False
        self.widget.on_views_closed = None
        self.widget.close()
        self.sidecar.close()

    def __repr__(self) -> str:
        return f"InspectorTab(session={self.name!r}, open={self._open})"


def open_inspector(session: Session) -> InspectorTab:
    """Show the inspector of ``session`` in a new JupyterLab tab (only JupyterLab has tabs: elsewhere the
    error says to run ``s.inspect()`` in a cell)."""
    if FRONT_END.tabs is False:
        from ..errors import AiSessionsError

        raise AiSessionsError("the inspector opens in a tab, and only JupyterLab has tabs",
                              hint=f"run `hub.get({session.name!r}).inspect()` in a cell to see it here")
    return InspectorTab(session)
