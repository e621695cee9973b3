"""Our side of the streaming figures: ``session.send`` through a hub with the store on and one bound
chat widget (no browser: ipywidgets' dummy comm, whose messages we count)."""

from __future__ import annotations

import threading
import time
from typing import Any

from .server import MODELS


class CommCounter:
    """Counts every comm message a widget sends (trait updates and custom messages) with its time."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self._lock = threading.Lock()
        self.messages: list[tuple[float, str]] = []
        comm = widget.comm
        original = comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            kind = str((data or {}).get("method"))
            if kind == "custom":
                kind = f"custom:{(data.get('content') or {}).get('type')}"
            with self._lock:
                self.messages.append((time.perf_counter(), kind))
            original(data=data, metadata=metadata, buffers=buffers)

        comm.send = send

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(1 for _, k in self.messages if kind is None or k == kind)

    def first(self, kind: str) -> float | None:
        with self._lock:
            return next((t for t, k in self.messages if k == kind), None)


class Ours:
    """Replies through ``session.send`` on ``hub``, one new session per reply (so every request carries
    the same one-turn history as the baseline's), with one chat widget bound to it."""

    def __init__(self, hub: Any, protocol: str, widget: bool = True) -> None:
        from ai_sessions import EventKind

        self.hub = hub
        self.model = f"{protocol}:{MODELS[protocol]}"
        self._n = 0
        self._first: float | None = None
        self._session_id = ""
        self.began = 0.0
        self._kind = EventKind.RESPONSE_DELTA
        self._unsubscribe: Any = None
        self.widget: Any = None
        self.comms: CommCounter | None = None
        if widget:
            from ai_sessions.widgets import ChatWidget

            self.widget = ChatWidget(session=self._next_session(), hub=hub)
            self.comms = CommCounter(self.widget)

    def _next_session(self) -> Any:
        self._n += 1
        return self.hub.session(f"reply-{self._n}", model=self.model)

    def _on_delta(self, event: Any) -> None:
        """The first delta's time of our session; then unsubscribe, so timing adds nothing to the other
        tokens."""
        if event.session_id != self._session_id:
            return
        if self._first is None:
            self._first = time.perf_counter()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def prepare(self) -> Any:
        """A fresh session bound to the widget (not timed)."""
        session = self._next_session()
        self._session_id = session.id
        if self.widget is not None:
            self.widget.session_id = session.id
            assert self.comms is not None
            self.comms.reset()
        self._first = None
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = self.hub.on(self._kind, self._on_delta)
        self.began = time.perf_counter()
        return session

    def run(self, prompt: str) -> tuple[float, float, str]:
        """(total seconds, seconds to the first delta event, text) of one reply."""
        session = self.prepare()
        self.began = began = time.perf_counter()
        message = session.send(prompt)
        total = time.perf_counter() - began
        return total, (self._first or time.perf_counter()) - began, message.content

    def first_token(self) -> float | None:
        """Seconds from the last reply's start to its first delta event on the hub (its first text)."""
        return None if self._first is None else self._first - self.began

    def first_flush(self) -> float | None:
        """Seconds from the last reply's start to the widget's first delta message (its first text sent
        to the browser)."""
        if self.comms is None:
            return None
        first = self.comms.first("custom:delta")
        return None if first is None else first - self.began
