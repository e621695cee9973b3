"""The SessionHub: one per kernel, holding its sessions and the runtime they share (loop, store, events,
settings, keys and the model catalogue)."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agents import find_agent, resolve_tools
from .approval import ApprovalBroker
from .catalogue import FallbackWarning as FallbackWarning  # re-exported: it was defined here
from .catalogue import ModelCatalogue
from .checks import check_params, check_text
from .conversation import Conversation
from .errors import AiSessionsError, SessionNotFound
from .events import EventBus
from .export import parse_export
from .frontends import messages_arrive_while_busy
from .keys import KeyStore
from .loop import HubLoop
from .mcp_servers import McpToolSource, inline_config
from .model import Event, EventKind, Message, MessageStatus, SessionRecord, SessionStatus, Usage, new_id, total_cost
from .oneoff import ASK_SESSION, OneOff
from .parts import Part
from .providers.base import Availability, ModelInfo
from .runtime import Runtime
from .search import SearchHit, check_query
from .session import Session
from .settings import Agent, Settings, config_dir, data_dir, load_settings
from .store import SessionSummary, Store
from .tools import check_approval

if TYPE_CHECKING:
    from .jobs import Job, JobInfo
    from .widgets import HubPanel

log = logging.getLogger(__name__)
SCOPE_ENV = "JPY_SESSION_NAME"


def default_scope() -> str:
    """The notebook this kernel belongs to (``JPY_SESSION_NAME``, set by Jupyter), else the cwd."""
    return os.environ.get(SCOPE_ENV) or os.getcwd()


@dataclass(frozen=True)
class SessionInfo:
    """A row of ``hub.sessions()``: enough to list a session without loading its messages.
    ``cost_partial`` is true when some replies' prices are unknown (``cost`` is then a lower bound)."""

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
    cost_partial: bool = False


class SessionHub:
    """All sessions of this kernel. Get the kernel's hub with :func:`ai_sessions.hub`.

    >>> hub = SessionHub(store_path=tmp / "s.db")   # doctest: +SKIP
    >>> s = hub.session("analysis")                  # doctest: +SKIP
    """

    def __init__(self, *, settings: Settings | None = None, store_path: Path | None = None,
                 keys: KeyStore | None = None, scope: str | None = None) -> None:
        settings = settings if settings is not None else load_settings()
        path = store_path or settings.store_path or data_dir() / "sessions.db"
        store = Store(path, events_days=settings.events_days)
        keys = keys if keys is not None else KeyStore(config_dir() / "keys.json")
        loop = HubLoop()
        self.runtime = Runtime(loop, store, EventBus(), settings, keys, ModelCatalogue(settings, keys, loop),
                               ApprovalBroker(lambda: loop.main.served and not messages_arrive_while_busy()))
        self.scope = scope or default_scope()
        self._sessions: dict[str, Session] = {}
        self._adopt_lock = threading.Lock()
        self._mcp: dict[str, McpToolSource] = {}
        self._asks: OneOff | None = None
        self._closed = False

    def __repr__(self) -> str:
        live = len(self._sessions)
        streaming = sum(s.status is SessionStatus.STREAMING for s in self._sessions.values())
        return (f"<SessionHub scope={self.scope!r} live={live} streaming={streaming} "
                f"store={str(self.runtime.store.path)!r}>")

    # -- shared parts -----------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def keys(self) -> KeyStore:
        return self.runtime.keys

    @property
    def events(self) -> EventBus:
        return self.runtime.bus

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` ran."""
        return self._closed

    # -- models (see ModelCatalogue) ------------------------------------------------------------------
    def resolve_model(self, full_name: str, *, strict: bool = False) -> tuple[str, str | None]:
        """``(model to use, why it differs from full_name or None)`` after the fallback rules (S4)."""
        return self.runtime.catalogue.resolve(full_name, strict=strict)

    def provider_availability(self, provider_name: str) -> Availability:
        """Whether ``provider_name`` can be used now, and why not."""
        return self.runtime.catalogue.availability(provider_name)

    def provider_names(self) -> list[str]:
        return self.runtime.catalogue.provider_names()

    def models(self) -> list[ModelInfo]:
        """Models of every provider (no network), unavailable ones with the reason."""
        return self.runtime.catalogue.models()

    def refresh_models(self, timeout: float = 15.0) -> list[ModelInfo]:
        """Ask every usable provider for its live model list, then return :meth:`models`."""
        return self.runtime.catalogue.refresh(timeout)

    def register_model(self, name: str, fn: Callable[..., Any]) -> str:
        """Serve the Python function ``fn`` as model ``python:NAME``: ``fn(messages, **params)`` gets the
        history as ``[{"role", "content"}]`` dicts and returns text, or is a generator, async generator or
        coroutine of text (see :mod:`ai_sessions.providers.python_fn`). It streams, stops and persists like
        any model, and the chat's selector lists it under "Python". Returns the full model name.

        >>> hub.register_model("echo", lambda messages: messages[-1]["content"])   # doctest: +SKIP
        'python:echo'
        >>> hub.session("bot", model="python:echo")                                 # doctest: +SKIP
        """
        full_name = self.runtime.catalogue.provider("python").add(name, fn)  # type: ignore[attr-defined]
        self.runtime.catalogue.offer("python")
        return full_name

    def search(self, query: str, *, all_scopes: bool = False, limit: int = 50) -> list[SearchHit]:
        """The messages of this notebook's sessions (or of every notebook's) that best match ``query``,
        best first: each hit has ``.session_name``, ``.session_id``, ``.message_id``, ``.position`` (its
        place on its branch) and a ``.snippet`` with the matched words in bold. Words are matched whole,
        the last one also as a prefix; every word must occur.

        >>> hub.search("missing values")[0].snippet        # doctest: +SKIP
        'For **missing** **values** in `age`, the median …'
        """
        check_query(query, limit)
        return self.runtime.store.search(query, scope=None if all_scopes else self.scope, limit=limit)

    # -- sessions -------------------------------------------------------------------------------------
    def session(self, name: str | None = None, *, model: str | None = None, system_prompt: str | None = None,
                temperature: float | None = None, max_tokens: int | None = None,
                scope: str | None = None, tools: Any = None, agent: str | None = None) -> Session:
        """Get the session ``name`` of this notebook, creating it if needed (``model`` etc. apply to a new
        session; for an existing one a different ``model`` switches to it). Without a name, a new session
        gets the next free automatic name (``chat-1``, ``chat-2``, ...). ``tools``: functions (or tool
        sets, MCP servers) the model may call, added to ``session.tools``. ``agent``: start from the
        ``[agents.NAME]`` preset of the settings (its model, system prompt, parameters and tools; the
        arguments given here win)."""
        preset = find_agent(self.settings, agent) if agent is not None else None
        if preset is not None:
            model = model or preset.model
            system_prompt = system_prompt if system_prompt is not None else preset.system_prompt
            temperature = temperature if temperature is not None else preset.params.get("temperature")
            max_tokens = max_tokens if max_tokens is not None else preset.params.get("max_tokens")
            agent_tools = resolve_tools(preset, self.settings, self.mcp)  # a bad name fails before anything
        session = self._session(name, model=model, system_prompt=system_prompt, temperature=temperature,
                                max_tokens=max_tokens, scope=scope)
        if preset is not None:
            session.tools.add(agent_tools)
        if tools is not None:
            session.tools.add(tools if isinstance(tools, list | tuple) else [tools])
        return session

    def agents(self) -> list[Agent]:
        """The agent presets of the settings (``[agents.NAME]``): model, system prompt, params, tools."""
        return list(self.settings.agents.values())

    def mcp(self, name: str, *, command: list[str] | str | None = None, url: str | None = None,
            env: dict[str, str] | None = None, approval: str | None = None) -> McpToolSource:
        """The MCP server ``name``: from ``[mcp.NAME]`` in settings, or given here (``command=[...]`` for
        stdio, ``url=...`` for streamable HTTP). Add it to a session with ``s.tools.add(...)``; it starts on
        first use and stops with the hub."""
        if approval is not None:
            check_approval(approval)
        config = inline_config(name, command, url, env, approval, self.settings.mcp.get(name))
        existing = self._mcp.get(name)
        if existing is not None and existing.config == config:
            return existing
        if existing is not None:
            self.runtime.loop.call_soon(lambda: asyncio.ensure_future(existing.aclose()))
        source = self._mcp[name] = McpToolSource(config)
        return source

    def _session(self, name: str | None, *, model: str | None, system_prompt: str | None,
                 temperature: float | None, max_tokens: int | None, scope: str | None) -> Session:
        scope = scope or self.scope
        if name is not None:
            _check_name(name)  # an explicit "" is refused, not auto-named
        if system_prompt is not None:
            check_text(system_prompt, "system_prompt")
        for live in list(self._sessions.values()):  # snapshot: the hub thread may change it
            if name is not None and live.name == name and live.scope == scope:
                if model and model != live.requested_model:
                    live.switch_model(model, reason="requested by hub.session()")
                return live
        record = self.runtime.store.find_session(scope, name) if name is not None else None
        if record is None:
            requested = model or self.settings.defaults.model
            self.resolve_model(requested, strict=True)
            params = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
            check_params(params)
            # an automatic name is chosen inside the store's write transaction: sessions created at the
            # same moment (threads, kernels) each get their own
            record = SessionRecord(new_id(), name or "", scope, requested, params, system_prompt)
            stored = self.runtime.store.create_session(record, auto_name=None if name is not None else "chat")
            session = self._adopt(stored)
            if stored.id == record.id:
                self._emit(Event(EventKind.SESSION_CREATED, stored.id, {"name": stored.name, "model": requested}))
            elif model and model != stored.model:  # another kernel created it at the same moment
                session.switch_model(model, reason="requested by hub.session()")
        else:
            session = self._adopt(record)
            if model and model != record.model:
                session.switch_model(model, reason="requested by hub.session()")
        session.announce_fallback()
        return session

    def get(self, name_or_id: str) -> Session:
        """A session of this notebook by name, or any session by id; raises :class:`SessionNotFound`."""
        for live in list(self._sessions.values()):  # snapshot: the hub thread may change it
            if live.id == name_or_id or (live.name == name_or_id and live.scope == self.scope):
                return live
        store = self.runtime.store
        record = store.find_session(self.scope, name_or_id) or store.get_session(name_or_id)
        if record is None:
            raise SessionNotFound(f"no session named {name_or_id!r} in {self.scope}")
        return self._adopt(record)

    def sessions(self, *, all_scopes: bool = False) -> list[SessionInfo]:
        """The sessions of this notebook (or of every notebook), most recent first."""
        rows = self.runtime.store.list_sessions(None if all_scopes else self.scope)
        return [self._info(row) for row in rows if row.record.name != ASK_SESSION]

    def live_sessions(self) -> list[Session]:
        """Sessions loaded in this kernel."""
        return list(self._sessions.values())

    def close(self, name_or_id: str) -> None:
        """Stop a session's reply and release it; its history stays and ``hub.session(name)`` reopens it."""
        session = self.get(name_or_id)
        session.cancel()
        self.runtime.loop.call(self._close_live, session)

    def delete(self, name_or_id: str) -> None:
        """Delete a session and its whole history (its text leaves the store's files too)."""
        session = self.get(name_or_id)
        session.cancel()
        self.runtime.loop.call(self._close_live, session)
        self.runtime.store.delete_session(session.id)
        self._emit(Event(EventKind.SESSION_DELETED, session.id, {"name": session.name}))

    def fork(self, name_or_id: str, at: int | None = None, name: str | None = None) -> Session:
        """A new session holding a copy of the first ``at`` messages of session ``name_or_id`` (all by
        default), named ``name`` (default: ``<name>-fork-N``)."""
        source = self.get(name_or_id)
        messages = list(source.messages)
        if at is not None and (isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= len(messages)):
            raise AiSessionsError(f"fork point {at!r} is outside 0..{len(messages)}",
                                  hint="at is the number of messages to keep")
        kept = messages if at is None else messages[:at]
        if name is not None:
            _check_name(name)
        store = self.runtime.store
        if name is not None and store.find_session(source.scope, name) is not None:
            raise AiSessionsError(f"a session named {name!r} already exists", hint="choose another name")
        record = SessionRecord(new_id(), name or "", source.scope, source.requested_model, source.params,
                               source.system_prompt)
        record = store.create_session(record, auto_name=f"{source.name}-fork" if name is None else None)
        name = record.name
        copies = [m.with_(id=new_id(), session_id=record.id,
                          status=MessageStatus.INTERRUPTED if m.status is MessageStatus.STREAMING else m.status)
                  for m in kept]
        store.copy_messages(copies)
        self._emit(Event(EventKind.SESSION_CREATED, record.id, {"name": name, "forked_from": source.id,
                                                                "at": len(kept)}))
        return self._adopt(record)

    def import_session(self, text: str, name: str | None = None) -> Session:
        """Create a session in this notebook from ``session.export("json")`` text. Every field is checked
        before anything is stored."""
        data = parse_export(text, new_session_id=new_id())  # raises a one-line error for anything malformed
        name = data.name if name is None else name
        if not isinstance(name, str):
            raise AiSessionsError("the export names no session", hint="pass name='...' to import_session")
        _check_name(name)
        self.resolve_model(data.model, strict=True)
        store = self.runtime.store
        if store.find_session(self.scope, name) is not None:
            raise AiSessionsError(f"a session named {name!r} already exists here",
                                  hint="pass name='...' to import it under another name")
        record = SessionRecord(data.session_id, name, self.scope, data.model, data.params, data.system_prompt)
        record = store.import_session(record, data.messages, data.switches, data.head)  # one transaction
        self._emit(Event(EventKind.SESSION_CREATED, record.id, {"name": name, "imported": True}))
        return self._adopt(record)

    # -- jobs (jobs.py) -------------------------------------------------------------------------------
    def jobs(self, *, all_scopes: bool = False) -> list[JobInfo]:
        """The map jobs of this notebook (or of every notebook), newest first: live and batch, running or
        ended, also those of earlier kernels (a live job whose kernel died is ``interrupted``)."""
        from .jobs import list_jobs  # loaded on first use, like the batch machinery

        return list_jobs(self.runtime, None if all_scopes else self.scope)

    def job(self, ident: str) -> Job:
        """A stored job by id (or a unique start of it, or the provider's job id): ``refresh()``,
        ``wait()``, ``cancel()``, ``results()``, ``rerun()``."""
        from .jobs import get_job

        return get_job(self.runtime, self, ident)

    def on(self, kind: EventKind | str, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on each event of ``kind`` (``"*"`` for all), always from the hub thread.
        Returns a function that unsubscribes."""
        return self.runtime.bus.on(kind, callback)

    def panel(self) -> HubPanel:
        """The hub panel widget: every session of this notebook, with stop, close, delete and open (the
        widgets layer is loaded on first use: the one documented upward import)."""
        from .widgets import HubPanel

        return HubPanel(hub=self)

    @property
    def usage(self) -> Usage:
        """Tokens in/out over every stored session of this notebook, one-off questions included."""
        return Usage.total(row.usage for row in self.runtime.store.list_sessions(self.scope))

    @property
    def cost(self) -> float | None:
        """Cost in USD over every stored session of this notebook, one-off questions included."""
        return total_cost(row.cost for row in self.runtime.store.list_sessions(self.scope))

    # -- one-off questions and metrics ----------------------------------------------------------------
    @property
    def asks(self) -> OneOff:
        """This notebook's one-off questions: ``submit(prompt, model=...)`` runs one in the background,
        ``cancel()`` stops those in flight (see :meth:`ask`)."""
        with self._adopt_lock:
            if self._asks is None:
                self._asks = OneOff(self.runtime, self.scope)
            return self._asks

    def ask(self, prompt: str | Sequence[Part], model: str | None = None, **params: Any) -> Message:
        """A one-off question: a reply that belongs to no conversation (no history is sent, nothing joins
        any session). ``model`` defaults to the settings' default model ("auto" works too); ``params`` as
        for :meth:`Session.send`. Streamed and stoppable like any reply (a kernel interrupt keeps its
        text as ``stopped``); its usage and cost count in :attr:`usage` and :attr:`cost`.

        >>> hub.ask("What does `df.melt` do? One sentence.").content       # doctest: +SKIP
        """
        return self.asks.send(prompt, model, **params)

    def metrics(self, *, all_scopes: bool = False) -> Any:
        """Per model, over this notebook's sessions (or every notebook's), one-off questions included: a
        pandas DataFrame of replies, failures, failure rate, median and p90 latency to first token, tokens
        per second, tokens and cost (columns: docs/inspector.md).

        >>> hub.metrics()                                                    # doctest: +SKIP
        """
        from . import metrics

        return metrics.frame(metrics.scope_metrics(self.runtime.store, None if all_scopes else self.scope))

    # -- internals ------------------------------------------------------------------------------------
    def _adopt(self, record: SessionRecord) -> Session:
        """The one live Session of ``record`` (two threads asking at once get the same object)."""
        with self._adopt_lock:
            live = self._sessions.get(record.id)
            if live is not None:
                return live
            store = self.runtime.store
            messages = store.load_messages(record.id)
            conversation = Conversation(record.id, messages, store.load_switches(record.id, [m.id for m in messages]))
            session = Session(self.runtime, self, record, conversation)
            self._sessions[record.id] = session
            return session

    def _close_live(self, session: Session) -> None:
        session.mark_closed()
        self._sessions.pop(session.id, None)
        self._emit(Event(EventKind.SESSION_CLOSED, session.id, {"name": session.name}))

    def _info(self, row: SessionSummary) -> SessionInfo:
        live = self._sessions.get(row.record.id)
        return SessionInfo(row.record.id, row.record.name, row.record.scope,
                           live.model if live else row.record.model,
                           live.status.value if live else "stored", row.message_count,
                           row.usage, row.cost, row.last_activity, live is not None,
                           row.cost_partial)

    def _emit(self, event: Event) -> None:
        self.runtime.emit(event)

    def shutdown(self) -> None:
        """Stop every reply, close providers and the store. The hub cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        for session in list(self._sessions.values()):
            session.cancel()
        async def close_all() -> None:
            await asyncio.gather(self.runtime.catalogue.aclose(), *(m.aclose() for m in self._mcp.values()),
                                 return_exceptions=True)

        try:
            self.runtime.loop.run(close_all(), timeout=10)
        except Exception:
            log.exception("closing providers and MCP servers failed")
        self.runtime.loop.stop()
        for session in list(self._sessions.values()):
            session.mark_closed()  # a kept reference says so instead of waiting forever
        self._sessions.clear()
        self.runtime.store.close()


def _check_name(name: Any) -> None:
    if name == ASK_SESSION:
        raise AiSessionsError(f"the name {ASK_SESSION!r} is reserved: it holds the one-off questions of hub.ask()",
                              hint="choose another name")
    if isinstance(name, str) and not name.strip():
        raise AiSessionsError(f"bad session name {name!r}: a name cannot be empty or blank",
                              hint="pass a name such as 'analysis', or leave the name out to get an automatic one")
    if not isinstance(name, str) or len(name) > 200 or "\n" in name:
        raise AiSessionsError(f"bad session name {name!r}", hint="use a short single-line name, e.g. 'analysis'")
    check_text(name, "the session name")


_hub: SessionHub | None = None
_hub_lock = threading.Lock()


def hub() -> SessionHub:
    """This kernel's SessionHub, created on first use from settings.toml and the default store."""
    global _hub
    with _hub_lock:
        if _hub is None or _hub.closed:
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
