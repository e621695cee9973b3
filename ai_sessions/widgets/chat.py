"""The chat widget: one session's conversation in a cell (or a tab), kept in step with the hub.

Kernel side, a widget follows its session's events on the hub thread. Reply text is not sent per token:
deltas are collected and flushed at most every ``FLUSH_INTERVAL_S`` as one custom message carrying the
appended text, its offset and a sequence number; when the reply ends, the final text lands in the synced
``messages`` trait (so a saved notebook shows the conversation). Browser actions (send, stop, ...) come
as custom messages, which Jupyter delivers only while the kernel's shell is idle.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from typing import Any

import anywidget
import traitlets

from ..errors import AiSessionsError, ProviderError, SessionNotFound
from ..hub import SessionHub
from ..model import Event, EventKind, SessionStatus
from ..session import Session
from ._bundle import bundle
from .feed import HubFeed, feed_for

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 0.05
_MESSAGE_EVENTS = (EventKind.MESSAGE_USER, EventKind.REQUEST_STARTED)
_END_EVENTS = (EventKind.RESPONSE_COMPLETED, EventKind.RESPONSE_FAILED)


class ChatWidget(anywidget.AnyWidget):
    """A chat bound to a hub session; show it as a cell's value.

    >>> s = ai_sessions.hub().session("analysis")     # doctest: +SKIP
    >>> s.chat()                                        # doctest: +SKIP
    >>> ChatWidget(session="analysis")                  # doctest: +SKIP

    ``session`` is a :class:`Session`, a session name of this notebook (created if needed) or None for
    a new session. Setting ``session_id`` binds the widget to another session. Any number of widgets
    (and views of one widget) may show one session; they stay in step.
    """

    _esm = bundle("chat.js")
    _css = bundle("chat.css")

    session_id = traitlets.Unicode("").tag(sync=True)
    session_name = traitlets.Unicode("").tag(sync=True)
    #: The model replies come from now (after any fallback).
    model = traitlets.Unicode("").tag(sync=True)
    #: open | closed | deleted | missing
    session_state = traitlets.Unicode("open").tag(sync=True)
    #: A standing notice, e.g. why another model answers (fallback).
    notice = traitlets.Unicode("").tag(sync=True)
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    switches = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Models for the selector: provider, name, short_name, available, reason (never a key).
    models = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The reply in flight (see LiveReply.progress), or {}.
    progress = traitlets.Dict().tag(sync=True)
    #: A batch run's {completed, failed, total, active, done}, or {}.
    batch = traitlets.Dict().tag(sync=True)

    def __init__(self, session: Session | str | None = None, *, hub: SessionHub | None = None,
                 **kwargs: Any) -> None:
        session_id = kwargs.pop("session_id", None)
        if isinstance(session, Session):
            hub = hub or session.hub
            session_id = session.id
        if hub is None:
            from ..hub import hub as kernel_hub

            hub = kernel_hub()
        if isinstance(session, str):
            session_id = hub.session(session).id
        elif not session_id:
            session_id = hub.session().id
        self._hub = hub
        self._feed: HubFeed = feed_for(hub)
        self._session: Session | None = None
        self._unlisten: Any = None
        self._flush_handle: Any = None
        self._last_flush = 0.0  # time.monotonic() of the last flush
        self._seq = 0
        self._sent: dict[str, int] = {}
        self._pending_batch: dict[str, Any] | None = None
        self._views = 0
        self._views_seen = False
        #: Called when the last view of a widget that had views goes away (used by tabs).
        self.on_views_closed: Any = None
        super().__init__(**kwargs)
        self.on_msg(self._on_view_msg)
        self.session_id = session_id

    def __repr__(self) -> str:
        return f"ChatWidget(session={self.session_name or self.session_id!r})"

    @property
    def session(self) -> Session | None:
        """The bound session (None if it was deleted or closed)."""
        return self._session

    @property
    def view_count(self) -> int:
        """Views of this widget open in the browser, as far as the kernel has heard."""
        return self._views

    def close(self) -> None:
        """Stop following the session and close the widget (the session and its history stay)."""
        self._unbind()
        super().close()

    # -- binding ----------------------------------------------------------------------------------
    @traitlets.observe("session_id")
    def _on_session_id(self, change: dict[str, Any]) -> None:
        self._unbind()
        if not change["new"]:
            return
        self._unlisten = self._feed.listen(change["new"], self._on_event)
        self._feed.run_on_hub(self._refresh_all)

    def _unbind(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        handle, self._flush_handle = self._flush_handle, None
        if handle is not None:
            self._feed.run_soon(handle.cancel)
        self._session = None

    def _resolve(self) -> Session | None:
        try:
            return self._hub.get(self.session_id)
        except SessionNotFound:
            return None

    def _refresh_all(self) -> None:
        """Every trait from the session (hub thread)."""
        self._session = session = self._resolve()
        self._sent.clear()
        with self.hold_sync():
            if session is None:
                self.session_state = "missing"
                self.messages, self.switches, self.progress, self.batch = [], [], {}, {}
                return
            self.session_name = session.name
            self.session_state = "closed" if session.status is SessionStatus.CLOSED else "open"
            self._sync_model(session)
            self._sync_messages(session)
            self.switches = [s.to_dict() for s in session.model_switches]
            live = self._feed.live(session.id)
            self.progress = live.progress() if live else {}
            self.batch = {}
        if self._feed.live(session.id):
            self._schedule_flush()

    def _sync_model(self, session: Session) -> None:
        self.model = session.model
        reason = session.fallback_reason
        self.notice = f"Replies come from {session.model}: {reason}" if reason else ""
        self._refresh_models()

    def _refresh_models(self) -> None:
        try:
            self.models = [{"provider": m.provider, "name": m.name, "short_name": m.short_name,
                            "available": m.available, "reason": m.reason} for m in self._hub.models()]
        except Exception:
            log.exception("listing models failed")

    def _sync_messages(self, session: Session) -> None:
        self.messages = [m.to_dict() for m in session.messages]

    # -- hub events (hub thread) --------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.RESPONSE_DELTA:
            live = self._feed.live(event.session_id)
            if live is not None and self.progress.get("state") != "streaming":
                self.progress = live.progress()
            self._schedule_flush()
            return
        if kind is EventKind.SESSION_DELETED:
            self._session = None
            with self.hold_sync():
                self.session_state = "deleted"
                self.messages, self.switches, self.progress, self.batch = [], [], {}, {}
            return
        if kind is EventKind.SESSION_CLOSED:
            self._session = None
            with self.hold_sync():
                self.session_state = "closed"
                self.progress = {}
            return
        if kind is EventKind.SESSION_UPDATED and "batch" in event.payload:
            self._pending_batch = dict(event.payload["batch"] or {})
            self._schedule_flush()
            if len(event.payload) == 1:
                return
        session = self._session or self._resolve()
        if session is None:
            return
        self._session = session
        with self.hold_sync():
            if kind in _MESSAGE_EVENTS:
                self.session_state = "open"
                self._sync_messages(session)
                if kind is EventKind.REQUEST_STARTED:
                    live = self._feed.live(session.id)
                    self.progress = live.progress() if live else {}
                    self._last_flush = float("-inf")  # a new reply's first text goes out at once
            elif kind in _END_EVENTS:
                self._cancel_flush()
                self._sync_messages(session)
                self.progress = {}
            elif kind is EventKind.MODEL_SWITCHED:
                self._sync_model(session)
                self.switches = [s.to_dict() for s in session.model_switches]
            elif kind is EventKind.SESSION_UPDATED:
                if "fallback" in event.payload:
                    self._sync_model(session)
                else:
                    self._sync_messages(session)

    def _schedule_flush(self) -> None:
        """Throttle with a leading edge: the first text after a quiet spell goes out at once (a busy
        loop could delay a timer), later text at most every ``FLUSH_INTERVAL_S``."""
        if self._flush_handle is not None:
            return
        wait = FLUSH_INTERVAL_S - (time.monotonic() - self._last_flush)
        if wait <= 0:
            self._flush()
        else:
            self._flush_handle = self._feed.call_later(wait, self._flush)

    def _cancel_flush(self) -> None:
        handle, self._flush_handle = self._flush_handle, None
        if handle is not None:
            handle.cancel()

    def _flush(self) -> None:
        """Send the reply text appended since the last flush, as one custom message (hub thread)."""
        self._flush_handle = None
        self._last_flush = time.monotonic()
        if self._unlisten is None:
            return
        live = self._feed.live(self.session_id)
        if live is not None and live.whole:
            sent = self._sent.get(live.message_id, 0)
            text = live.text
            if len(text) > sent:
                self._seq += 1
                self.send({"type": "delta", "message_id": live.message_id, "seq": self._seq, "offset": sent,
                           "text": text[sent:], "tokens": live.tokens})
                self._sent = {live.message_id: len(text)}
        if self._pending_batch is not None:
            batch, self._pending_batch = self._pending_batch, None
            self.batch = {} if batch.get("done") else batch

    # -- browser actions (kernel main thread) -------------------------------------------------------
    def _on_view_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        kind = content.get("type")
        client_id = content.get("client_id")
        error: str | None = None
        try:
            if kind == "send":
                self._watch(self._live_session().submit(str(content.get("text", ""))), client_id)
            elif kind == "regenerate":
                self._watch(self._live_session().submit_regenerate(), client_id)
            elif kind == "stop":
                if self._session is not None:
                    self._session.cancel(wait=0)
            elif kind == "clear":
                self._live_session().clear()
            elif kind == "switch_model":
                self._live_session().switch_model(str(content.get("model", "")), reason="chosen in the chat")
            elif kind == "refresh_models":
                self._feed.run_soon(self._refresh_models)
            elif kind == "hello":
                self._feed.run_soon(self._resend)
            elif kind == "view":
                self._count_view(bool(content.get("open")))
        except AiSessionsError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("chat action %r failed", kind)
            error = f"{type(exc).__name__}: {exc}"
        if client_id:
            self.send({"type": "ack", "client_id": client_id, "error": error})

    def _live_session(self) -> Session:
        """The bound session, reopened if it was closed."""
        session = self._hub.get(self.session_id)
        if session is not self._session:
            self._feed.run_on_hub(self._refresh_all)
        return session

    def _watch(self, handle: Any, client_id: str | None) -> None:
        """Report a reply that failed before producing a message (e.g. busy) back to the views."""
        future: concurrent.futures.Future[Any] | None = getattr(handle, "_future", None)
        if future is None or not client_id:
            return

        def done(fut: concurrent.futures.Future[Any]) -> None:
            if fut.cancelled():
                return
            exc = fut.exception()
            if isinstance(exc, AiSessionsError) and not isinstance(exc, ProviderError):
                self.send({"type": "ack", "client_id": client_id, "error": str(exc)})

        future.add_done_callback(done)

    def _resend(self) -> None:
        """A view asked for the whole reply text (it joined mid-reply or missed a message)."""
        live = self._feed.live(self.session_id)
        if live is not None:
            self._sent.pop(live.message_id, None)
            self._schedule_flush()

    def _count_view(self, opened: bool) -> None:
        self._views = self._views + 1 if opened else max(0, self._views - 1)
        self._views_seen = self._views_seen or opened
        if self._views == 0 and self._views_seen and not opened and self.on_views_closed is not None:
            self.on_views_closed()
