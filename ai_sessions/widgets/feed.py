"""One event follower per hub for the widgets: it tracks the replies in flight (their text so far, so a
view opened mid-reply can catch up) and routes events to widgets by session id.

Every callback runs on the hub thread. Events emitted from other threads (a session created from a
cell, a delete) are handed to the hub loop first, so widget state is only ever touched on that thread.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model import Event, EventKind
from ..throttle import Throttle

if TYPE_CHECKING:
    from ..hub import SessionHub

log = logging.getLogger(__name__)
Listener = Callable[[Event], None]
_RETRY_KEYS = ("attempt", "max_attempts", "wait_s", "until", "kind", "reason")
_TOOL_EVENTS = (EventKind.TOOL_APPROVAL_REQUESTED, EventKind.TOOL_APPROVAL_DECIDED, EventKind.TOOL_CALL_STARTED,
                EventKind.TOOL_CALL_FINISHED)
_ENDS = (EventKind.RESPONSE_COMPLETED, EventKind.RESPONSE_FAILED, EventKind.SESSION_CLOSED,
         EventKind.SESSION_DELETED)


@dataclass
class LiveReply:
    """A reply being streamed: its text so far and its timing (epoch seconds)."""

    message_id: str
    model: str | None
    started_at: float
    #: False when the feed began following mid-reply, so ``text`` misses the beginning.
    whole: bool = True
    first_token_at: float | None = None
    tokens: int = 0
    parts: list[str] = field(default_factory=list)
    #: While the reply waits to retry after a transient error: attempt, max_attempts, wait_s, until, kind, reason.
    retry: dict[str, object] | None = None
    #: Tool calls waiting for approval and running now: call id -> tool name (in call order).
    approving: dict[str, str] = field(default_factory=dict)
    running: dict[str, str] = field(default_factory=dict)
    _joined: str = ""
    _joined_parts: int = 0

    @property
    def text(self) -> str:
        if self._joined_parts != len(self.parts):
            self._joined = "".join(self.parts)
            self._joined_parts = len(self.parts)
        return self._joined

    def progress(self) -> dict[str, object]:
        """The chat's ``progress`` trait value for this reply (the shape is ProgressData in contract.py)."""
        retrying = self.retry is not None and time.time() < float(self.retry["until"])  # type: ignore[arg-type]
        state = "streaming" if self.first_token_at else "retrying" if retrying else "waiting"
        data: dict[str, object] = {"message_id": self.message_id, "state": state, "started_at": self.started_at,
                                   "first_token_at": self.first_token_at, "tokens": self.tokens, "model": self.model}
        if state == "retrying":
            data["retry"] = self.retry
        if self.approving or self.running:
            kind, calls = ("approval", self.approving) if self.approving else ("tool", self.running)
            data["activity"] = {"kind": kind, "names": list(dict.fromkeys(calls.values()))}
        return data


def track_tool(reply: LiveReply, event: Event) -> None:
    """Follow a reply's tool calls: which wait for approval, which run (for the progress bar)."""
    call_id, name = str(event.payload.get("call_id", "")), str(event.payload.get("name", ""))
    if event.kind is EventKind.TOOL_APPROVAL_REQUESTED:
        if event.payload.get("by", "chat") == "chat":  # the user is asked (not an approve= callback)
            reply.approving[call_id] = name
    elif event.kind is EventKind.TOOL_APPROVAL_DECIDED:
        reply.approving.pop(call_id, None)
    elif event.kind is EventKind.TOOL_CALL_STARTED:
        reply.running[call_id] = name
    else:
        reply.running.pop(call_id, None)


class HubFeed:
    """Follows one hub's events for its widgets. Get it with :func:`feed_for`."""

    def __init__(self, hub: SessionHub) -> None:
        self._hub = hub
        self._loop = hub.runtime.loop
        self._live: dict[str, LiveReply] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._everything: list[Listener] = []
        self._lock = threading.Lock()
        self._unsubscribe = hub.on("*", self._on_event)

    # -- subscriptions (any thread) -------------------------------------------------------------
    def listen(self, session_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on the hub thread for each event of ``session_id``."""
        with self._lock:
            self._listeners.setdefault(session_id, []).append(listener)

        def stop() -> None:
            with self._lock:
                listeners = self._listeners.get(session_id, [])
                if listener in listeners:
                    listeners.remove(listener)
                if not listeners:
                    self._listeners.pop(session_id, None)

        return stop

    def listen_all(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on the hub thread for every event of the hub."""
        with self._lock:
            self._everything.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._everything:
                    self._everything.remove(listener)

        return stop

    # -- state (hub thread) ---------------------------------------------------------------------
    def live(self, session_id: str) -> LiveReply | None:
        """The reply ``session_id`` is streaming, or None."""
        return self._live.get(session_id)

    def streaming(self) -> set[str]:
        """Ids of the sessions streaming a reply now."""
        return set(self._live)

    def run_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the hub thread (now if already there)."""
        self._loop.call_soon(fn)

    def call_later(self, delay: float, fn: Callable[[], None]) -> object | None:
        """Run ``fn`` on the hub thread after ``delay`` seconds; returns a handle with ``cancel()``."""
        return self._loop.call_later(delay, fn)

    def throttle(self, interval: float, fn: Callable[[], None]) -> Throttle:
        """A :class:`~ai_sessions.throttle.Throttle` running ``fn`` on the hub thread at most every
        ``interval`` seconds (poke it on the hub thread)."""
        return Throttle(lambda: self._loop.loop, interval, fn)

    def run_on_hub(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the hub thread and wait for it."""
        self._loop.call(fn)

    # -- internals --------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        self.run_soon(lambda: self._dispatch(event))

    def _dispatch(self, event: Event) -> None:
        self._track(event)
        with self._lock:
            listeners = [*self._listeners.get(event.session_id, ()), *self._everything]
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("widget listener %r failed on %s", listener, event.kind.value)

    def _track(self, event: Event) -> None:
        sid, payload = event.session_id, event.payload
        if event.kind is EventKind.REQUEST_STARTED:
            self._live[sid] = LiveReply(payload["message_id"], payload.get("model"), event.time)
        elif event.kind is EventKind.RESPONSE_DELTA:
            reply = self._live.get(sid)
            if reply is None or reply.message_id != payload["message_id"]:
                reply = LiveReply(payload["message_id"], None, event.time, whole=False)
                self._live[sid] = reply
            reply.parts.append(payload["text"])
            reply.tokens += payload.get("pieces", 1)
            if reply.first_token_at is None:
                reply.first_token_at = event.time or time.time()
        elif event.kind is EventKind.REQUEST_RETRY:
            reply = self._live.get(sid)
            if reply is not None and reply.message_id == payload.get("message_id"):
                reply.retry = {key: payload[key] for key in _RETRY_KEYS}
        elif event.kind in _TOOL_EVENTS:
            reply = self._live.get(sid)
            if reply is not None and reply.message_id == payload.get("message_id"):
                track_tool(reply, event)
        elif event.kind in _ENDS:
            self._live.pop(sid, None)


_feeds: weakref.WeakKeyDictionary[SessionHub, HubFeed] = weakref.WeakKeyDictionary()
_feeds_lock = threading.Lock()


def feed_for(hub: SessionHub) -> HubFeed:
    """The feed of ``hub`` (created on first use)."""
    with _feeds_lock:
        feed = _feeds.get(hub)
        if feed is None:
            feed = _feeds[hub] = HubFeed(hub)
        return feed
