"""The SessionHub: one per kernel, holding its sessions, providers, store and event bus."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AiSessionsError, SessionNotFound
from .events import EventBus
from .export import messages_from_export, parse_export, switches_from_export
from .hub_models import FallbackWarning as FallbackWarning  # re-exported: it was defined here
from .hub_models import HubModels
from .keys import KeyStore
from .model import Event, EventKind, MessageStatus, SessionRecord, SessionStatus, Usage, new_id, total_cost
from .providers.base import Provider
from .session import Session, check_params
from .settings import Settings, config_dir, data_dir, load_settings
from .store import SessionSummary, Store

if TYPE_CHECKING:
    from .widgets import HubPanel

log = logging.getLogger(__name__)
SCOPE_ENV = "JPY_SESSION_NAME"
_PERSISTED_KINDS = {k for k in EventKind if k is not EventKind.RESPONSE_DELTA}


def default_scope() -> str:
    """The notebook this kernel belongs to (``JPY_SESSION_NAME``, set by Jupyter), else the cwd."""
    return os.environ.get(SCOPE_ENV) or os.getcwd()


@dataclass(frozen=True)
class SessionInfo:
    """A row of ``hub.sessions()``: enough to list a session without loading its messages."""

    id: str
    name: str
    scope: str
    model: str
    status: str
    message_count: int
    usage: Usage
    cost: float | None
    last_activity: float
    live: bool


class SessionHub(HubModels):
    """All sessions of this kernel. Get the kernel's hub with :func:`ai_sessions.hub`. Its models and
    providers (``resolve_model``, ``provider_availability``, ``models``, ``refresh_models``) come from
    :class:`~ai_sessions.hub_models.HubModels`.

    >>> hub = SessionHub(store_path=tmp / "s.db")   # doctest: +SKIP
    >>> s = hub.session("analysis")                  # doctest: +SKIP
    """

    def __init__(self, *, settings: Settings | None = None, store_path: Path | None = None,
                 keys: KeyStore | None = None, scope: str | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        path = store_path or self.settings.store_path or data_dir() / "sessions.db"
        self._store = Store(path)
        self.keys = keys if keys is not None else KeyStore(config_dir() / "keys.json")
        self.scope = scope or default_scope()
        self.events = EventBus()
        from .loop import HubLoop

        self._loop = HubLoop()
        self._sessions: dict[str, Session] = {}
        self._providers: dict[str, Provider] = {}
        self._provider_lock = threading.Lock()
        self._adopt_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        live = len(self._sessions)
        streaming = sum(s.status is SessionStatus.STREAMING for s in self._sessions.values())
        return f"<SessionHub scope={self.scope!r} live={live} streaming={streaming} store={str(self._store.path)!r}>"

    # -- sessions -------------------------------------------------------------------------------
    def session(self, name: str | None = None, *, model: str | None = None, system_prompt: str | None = None,
                temperature: float | None = None, max_tokens: int | None = None,
                scope: str | None = None) -> Session:
        """Get the session ``name`` of this notebook, creating it if needed (``model`` etc. apply to a new
        session; for an existing one a different ``model`` switches to it)."""
        scope = scope or self.scope
        name = self._next_name(scope) if name is None else name  # an explicit "" is refused, not auto-named
        _check_name(name)
        for live in list(self._sessions.values()):  # snapshot: the hub thread may change it
            if live.name == name and live.scope == scope:
                if model and model != live.requested_model:
                    live.switch_model(model, reason="requested by hub.session()")
                return live
        record = self._store.find_session(scope, name)
        if record is None:
            requested = model or self.settings.defaults.model
            self.resolve_model(requested, strict=True)
            params = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
            check_params(params)
            record = SessionRecord(new_id(), name, scope, requested, params, system_prompt)
            record = self._store.create_session(record)
            session = self._adopt(record)
            self._emit(Event(EventKind.SESSION_CREATED, record.id, {"name": name, "model": requested}))
        else:
            session = self._adopt(record)
            if model and model != record.model:
                session.switch_model(model, reason="requested by hub.session()")
        session._announce_fallback()
        return session

    def get(self, name_or_id: str) -> Session:
        """A session of this notebook by name, or any session by id; raises :class:`SessionNotFound`."""
        for live in list(self._sessions.values()):  # snapshot: the hub thread may change it
            if live.id == name_or_id or (live.name == name_or_id and live.scope == self.scope):
                return live
        record = self._store.find_session(self.scope, name_or_id) or self._store.get_session(name_or_id)
        if record is None:
            raise SessionNotFound(f"no session named {name_or_id!r} in {self.scope}")
        return self._adopt(record)

    def sessions(self, *, all_scopes: bool = False) -> list[SessionInfo]:
        """The sessions of this notebook (or of every notebook), most recent first."""
        rows = self._store.list_sessions(None if all_scopes else self.scope)
        return [self._info(row) for row in rows]

    def live_sessions(self) -> list[Session]:
        """Sessions loaded in this kernel."""
        return list(self._sessions.values())

    def close(self, name_or_id: str) -> None:
        """Stop a session's reply and release it; its history stays and ``hub.session(name)`` reopens it."""
        session = self.get(name_or_id)
        session.cancel()
        self._loop.call(self._close_live, session)

    def delete(self, name_or_id: str) -> None:
        """Delete a session and its whole history."""
        session = self.get(name_or_id)
        session.cancel()
        self._loop.call(self._close_live, session)
        self._store.delete_session(session.id)
        self._emit(Event(EventKind.SESSION_DELETED, session.id, {"name": session.name}))

    def import_session(self, text: str, name: str | None = None) -> Session:
        """Create a session in this notebook from ``session.export("json")`` text."""
        meta, items, switches = parse_export(text)
        name = meta.get("name") if name is None else name
        if not isinstance(name, str):
            raise AiSessionsError("the export names no session", hint="pass name='...' to import_session")
        _check_name(name)
        if self._store.find_session(self.scope, name) is not None:
            raise AiSessionsError(f"a session named {name!r} already exists here",
                                  hint="pass name='...' to import it under another name")
        session_id = new_id()
        messages = messages_from_export(items, session_id)  # checked before anything is stored
        model_switches = switches_from_export(switches, session_id)
        record = SessionRecord(session_id, name, self.scope, meta.get("model") or self.settings.defaults.model,
                               meta.get("params") or {}, meta.get("system_prompt"))
        record = self._store.create_session(record)
        self._store.copy_messages(messages)
        for switch in model_switches:
            self._store.add_switch(switch)
        self._emit(Event(EventKind.SESSION_CREATED, record.id, {"name": name, "imported": True}))
        return self._adopt(record)

    def on(self, kind: EventKind | str, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on each event of ``kind`` (``"*"`` for all), from the hub thread.
        Returns a function that unsubscribes."""
        return self.events.on(kind, callback)

    def panel(self) -> HubPanel:
        """The hub panel widget: every session of this notebook, with stop, close, delete and open."""
        from .widgets import HubPanel

        return HubPanel(hub=self)

    @property
    def usage(self) -> Usage:
        """Tokens in/out over every stored session of this notebook."""
        return Usage.total(info.usage for info in self.sessions())

    @property
    def cost(self) -> float | None:
        return total_cost(info.cost for info in self.sessions())

    # -- internals ------------------------------------------------------------------------------
    def _adopt(self, record: SessionRecord) -> Session:
        """The one live Session of ``record`` (two threads asking at once get the same object)."""
        with self._adopt_lock:
            live = self._sessions.get(record.id)
            if live is not None:
                return live
            session = Session(self, record, self._store.load_messages(record.id),
                              self._store.load_switches(record.id))
            self._sessions[record.id] = session
            return session

    def _close_live(self, session: Session) -> None:
        session._status = SessionStatus.CLOSED
        self._sessions.pop(session.id, None)
        self._emit(Event(EventKind.SESSION_CLOSED, session.id, {"name": session.name}))

    def _fork(self, source: Session, at: int | None, name: str | None) -> Session:
        messages = list(source.messages)
        if at is not None and not 0 <= at <= len(messages):
            raise AiSessionsError(f"fork point {at} is outside 0..{len(messages)}",
                                  hint="at is the number of messages to keep")
        kept = messages if at is None else messages[:at]
        name = self._next_name(source.scope, prefix=f"{source.name}-fork") if name is None else name
        _check_name(name)
        if self._store.find_session(source.scope, name) is not None:
            raise AiSessionsError(f"a session named {name!r} already exists", hint="choose another name")
        record = SessionRecord(new_id(), name, source.scope, source.requested_model, source.params,
                               source.system_prompt)
        record = self._store.create_session(record)
        copies = [m.with_(id=new_id(), session_id=record.id,
                          status=MessageStatus.INTERRUPTED if m.status is MessageStatus.STREAMING else m.status)
                  for m in kept]
        self._store.copy_messages(copies)
        self._emit(Event(EventKind.SESSION_CREATED, record.id, {"name": name, "forked_from": source.id,
                                                                "at": len(kept)}))
        return self._adopt(record)

    def _next_name(self, scope: str, prefix: str = "chat") -> str:
        taken = {row.record.name for row in self._store.list_sessions(scope)}
        n = 1
        while f"{prefix}-{n}" in taken:
            n += 1
        return f"{prefix}-{n}"

    def _info(self, row: SessionSummary) -> SessionInfo:
        live = self._sessions.get(row.record.id)
        return SessionInfo(row.record.id, row.record.name, row.record.scope,
                           live.model if live else row.record.model,
                           live.status.value if live else "stored", row.message_count,
                           Usage(row.input_tokens, row.output_tokens), row.cost, row.last_activity, live is not None)

    def _emit(self, event: Event) -> None:
        if event.kind in _PERSISTED_KINDS and "batch" not in event.payload:  # batch progress is transient
            self._store.defer(self._store.add_event, event)
        self.events.emit(event)

    def shutdown(self) -> None:
        """Stop every reply, close providers and the store. The hub cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        for session in list(self._sessions.values()):
            session.cancel()

        async def close_providers() -> None:
            await asyncio.gather(*(p.aclose() for p in self._providers.values()), return_exceptions=True)

        try:
            self._loop.run(close_providers(), timeout=10)
        except Exception:
            log.exception("closing providers failed")
        self._loop.stop()
        for session in list(self._sessions.values()):
            session._status = SessionStatus.CLOSED  # a kept reference says so instead of waiting forever
        self._sessions.clear()
        self._store.close()


def _check_name(name: str) -> None:
    if isinstance(name, str) and not name.strip():
        raise AiSessionsError(f"bad session name {name!r}: a name cannot be empty or blank",
                              hint="pass a name such as 'analysis', or leave the name out to get an automatic one")
    if not isinstance(name, str) or len(name) > 200 or "\n" in name:
        raise AiSessionsError(f"bad session name {name!r}", hint="use a short single-line name, e.g. 'analysis'")


_hub: SessionHub | None = None
_hub_lock = threading.Lock()


def hub() -> SessionHub:
    """This kernel's SessionHub, created on first use from settings.toml and the default store."""
    global _hub
    with _hub_lock:
        if _hub is None or _hub._closed:
            _hub = SessionHub()
            _at_exit(_hub.shutdown)
        return _hub


def _at_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` at interpreter exit *before* thread pools shut down, so a reply streaming at
    exit can still be stored as stopped. ``threading._register_atexit`` is what concurrent.futures
    uses for its own pools; callbacks run newest first."""
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(callback)
            return
    except RuntimeError:  # already shutting down
        return
    atexit.register(callback)

