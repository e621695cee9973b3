"""A small typed event bus: ``on(kind, callback)`` and ``emit(event)``.

Callbacks run on the thread that emits (the hub thread for everything a session does).
A callback that raises is logged and never breaks the emitter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .model import Event, EventKind

log = logging.getLogger(__name__)

Callback = Callable[[Event], None]
ALL = "*"


class EventBus:
    """Routes events to callbacks registered for their kind (or for every kind with ``"*"``)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callback]] = {}
        #: Per kind, its callbacks then the "*" ones, rebuilt on (un)subscribe: emit runs once per streamed
        #: token, so it takes no lock and builds no list (replacing the dict is atomic for readers).
        self._routes: dict[EventKind, tuple[Callback, ...]] = {}
        self._lock = threading.Lock()

    def on(self, kind: EventKind | str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for each event of ``kind``; returns a function that unsubscribes."""
        key = _key(kind)
        with self._lock:
            self._subscribers.setdefault(key, []).append(callback)
            self._reroute()

        def unsubscribe() -> None:
            with self._lock:
                callbacks = self._subscribers.get(key, [])
                if callback in callbacks:
                    callbacks.remove(callback)
                    self._reroute()

        return unsubscribe

    def _reroute(self) -> None:
        every = self._subscribers.get(ALL, [])
        self._routes = {kind: (*self._subscribers.get(kind.value, ()), *every) for kind in EventKind}

    def emit(self, event: Event) -> None:
        for callback in self._routes.get(event.kind, ()):
            try:
                callback(event)
            except Exception:
                log.exception("event callback %r failed on %s", callback, event.kind.value)


def _key(kind: EventKind | str) -> str:
    if isinstance(kind, EventKind):
        return kind.value
    if kind == ALL:
        return ALL
    try:
        return EventKind(kind).value
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise ValueError(f"unknown event kind {kind!r}; known kinds: {known}, or '*'") from None
