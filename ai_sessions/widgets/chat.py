"""The chat widget: one session's conversation in a cell (or a tab), kept in step with the hub.

Kernel side, a widget follows its session's events on the hub thread. Reply text is not sent per token:
deltas are collected and flushed at most every ``FLUSH_INTERVAL_S`` as one custom message carrying the
appended text, its offset (in UTF-16 code units, the browser's string indices) and a sequence number; when
the reply ends, the final text lands in the synced ``messages`` trait (so a saved notebook shows the
conversation). Browser actions (send, stop, ...) come as custom messages, which Jupyter delivers only while
the kernel's shell is idle. The shapes of traits and messages are declared in ``contract.py``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Sequence
from typing import Any

import traitlets

from ..errors import AiSessionsError, ProviderError, SessionNotFound
from ..frontends import note_message_thread
from ..hub import SessionHub
from ..model import Event, EventKind, Message, ModelSwitch, Role, SessionStatus
from ..session import Session
from ..throttle import FLUSH_INTERVAL_S
from ._base import KernelWidget
from ._bundle import bundle_text, chat_bundle
from .chat_extras import ACTIONS, BranchPlaces, ReplyTimings, act, message_dicts, prompt_of, settings_value
from .chat_tools import TOOL_EVENTS, ChatTools
from .feed import HubFeed, feed_for
from .front_end import FRONT_END
from .static_html import conversation_html

log = logging.getLogger(__name__)
_MESSAGE_EVENTS = (EventKind.MESSAGE_USER, EventKind.REQUEST_STARTED)
_END_EVENTS = (EventKind.RESPONSE_COMPLETED, EventKind.RESPONSE_FAILED)


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, as JavaScript counts it (an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


class ChatWidget(KernelWidget):
    """A chat bound to a hub session; show it as a cell's value.

    >>> s = ai_sessions.hub().session("analysis")     # doctest: +SKIP
    >>> s.chat()                                        # doctest: +SKIP
    >>> ChatWidget(session="analysis")                  # doctest: +SKIP

    ``session`` is a :class:`Session`, a session name of this notebook (created if needed) or None for
    a new session. Setting ``session_id`` binds the widget to another session. Any number of widgets
    (and views of one widget) may show one session; they stay in step.
    """

    #: A small loader: the chat's code and styles are loaded by URL once per page (see _bundle.py).
    _esm = bundle_text("chat.js")

    session_id = traitlets.Unicode("").tag(sync=True)
    session_name = traitlets.Unicode("").tag(sync=True)
    #: The model replies come from now (after any fallback).
    model = traitlets.Unicode("").tag(sync=True)
    #: open | closed | deleted | missing
    session_state = traitlets.Unicode("open").tag(sync=True)
    #: A standing notice, e.g. why another model answers (fallback).
    notice = traitlets.Unicode("").tag(sync=True)
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Model switches, each with the model that answered after it (``answered_by``).
    switches = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Models for the selector: provider, name, short_name, available, reason (never a key). A provider
    #: that lists no model is one entry with an empty name, so the selector still shows it and why.
    models = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The reply in flight (see LiveReply.progress), or {}.
    progress = traitlets.Dict().tag(sync=True)
    #: A batch run's {completed, failed, total, active, done}; once done, also elapsed_s and message_index
    #: (the browser shows a one-line summary there); {} before any batch.
    batch = traitlets.Dict().tag(sync=True)
    #: "tab": opened for a JupyterLab tab (``open_tab``); its views outside the tab point to it.
    placement = traitlets.Unicode("").tag(sync=True)
    #: Tool calls waiting for the user's approval (chat_tools.py).
    approvals = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The settings' agent presets, offered above the models.
    agents = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: This widget's model id: a view finds the notebook cell showing it by it (to add cells below).
    widget_id = traitlets.Unicode("").tag(sync=True)
    #: The Session settings popover: the session's own values, the inherited defaults, what the model takes
    #: besides text, the attachment limits (see chat_extras.settings_value).
    session_settings = traitlets.Dict().tag(sync=True)
    #: {message_id, nonce}: scroll the log to that message (a search hit opened from the panel), or {}.
    reveal = traitlets.Dict().tag(sync=True)

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
        #: Streamed text goes out at once after a quiet spell, then at most every FLUSH_INTERVAL_S.
        self._flusher = self._feed.throttle(FLUSH_INTERVAL_S, self._flush)
        self._seq = 0
        #: What was sent of the reply in flight: message id -> (code points, UTF-16 code units).
        self._sent: dict[str, tuple[int, int]] = {}
        self._pending_batch: dict[str, Any] | None = None
        #: (id, number of parts) of the last message as last synced: tool events sync only what changed.
        self._synced_parts: tuple[str, int] | None = None
        self._batch_started: float | None = None
        self._timings = ReplyTimings()
        self._places = BranchPlaces()
        self._views = 0
        self._views_seen = False
        #: A view of this widget said it is in a JupyterLab tab.
        self.shown_in_tab = False
        #: Called when the last view of a widget that had views goes away (used by tabs).
        self.on_views_closed: Any = None
        #: Called when a view says its page cannot open tabs (used by tabs).
        self.on_no_tabs: Any = None
        self._tools = ChatTools(self, hub)
        super().__init__(**kwargs)
        self.widget_id = self.model_id or ""
        self.on_msg(self._on_view_msg)
        self.session_id = session_id

    def __repr__(self) -> str:
        return f"ChatWidget(session={self.session_name or self.session_id!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The widget view, plus the conversation as static HTML for where no widget renders."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/html": conversation_html(self.session_name, self.messages)}, metadata

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
        self._tools.bind(change["new"])
        self._unlisten = self._feed.listen(change["new"], self._on_event)
        self._feed.run_on_hub(self._refresh_all)

    def _unbind(self) -> None:
        self._tools.unbind()
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._feed.run_soon(self._flusher.cancel)
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
                self.approvals = []
                return
            self.session_name = session.name
            self.session_state = "closed" if session.status is SessionStatus.CLOSED else "open"
            self._timings.load(session)
            self._sync_model(session)
            self._sync_messages(session)
            live = self._feed.live(session.id)
            self.progress = live.progress() if live else {}
            self.approvals = self._tools.approvals(session)
            self.batch = {}
        if self._feed.live(session.id):
            self._flusher.poke()

    def _sync_model(self, session: Session, *, models: bool = True) -> None:
        """The model shown, its notice and the settings popover; with ``models`` also the selector's list
        (a plain switch leaves the list as it is: nothing in it depends on the session's model)."""
        self.model = session.model
        reason = session.fallback_reason
        self.notice = f"Replies come from {session.model}: {reason}" if reason else ""
        self.session_settings = settings_value(session)
        if models:
            self._refresh_models()

    def _refresh_models(self) -> None:
        try:
            models = [auto_entry(self._hub), *({"provider": m.provider, "name": m.name, "short_name": m.short_name,
                                                "available": m.available, "reason": m.reason,
                                                "tools": m.capabilities.tools if m.capabilities is not None else None}
                                               for m in self._hub.models())]
            listed = {m["provider"] for m in models}
            for name in self._hub.provider_names():
                if name not in listed:  # e.g. Azure with no deployments named: still offered, with what to do
                    models.append(self._unlisted_provider(name))
            self.models = models
            self.agents = self._tools.agents()
        except Exception:
            log.exception("listing models failed")

    def _unlisted_provider(self, name: str) -> dict[str, Any]:
        availability = self._hub.provider_availability(name)
        config = self._hub.settings.provider_config(name)
        option = "deployments" if config is not None and config.kind == "azure" else "models"
        reason = availability.reason if not availability.ok else (
            f'no models listed: name them with `{option} = ["NAME"]` under [providers.{name}] in settings, '
            f"or use `{name}:NAME` from Python")
        return {"provider": name, "name": "", "short_name": "", "available": False, "reason": reason}

    def _sync_messages(self, session: Session) -> None:
        """The ``messages`` trait, and the switches placed among them (a clear drops both)."""
        messages = session.messages
        self.messages = message_dicts(session, self._timings, self._places)  # with branch places, reply timings
        self.switches = switch_dicts(session.model_switches, messages, session)
        self._synced_parts = (messages[-1].id, len(messages[-1].parts)) if messages else None

    # -- hub events (hub thread) --------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.RESPONSE_DELTA:
            live = self._feed.live(event.session_id)
            if live is not None and self.progress.get("state") != "streaming":
                self.progress = live.progress()
            self._flusher.poke()
            return
        if kind is EventKind.REQUEST_RETRY:
            self._refresh_progress()
            wait = float(event.payload.get("wait_s") or 0)
            self._feed.call_later(wait + 0.05, self._refresh_progress)  # back to "waiting" when the wait ends
            return
        if kind in TOOL_EVENTS:
            self._on_tool_event(event)
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
            self._flusher.poke()
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
                    self._flusher.reset()  # a new reply's first text goes out at once
            elif kind in _END_EVENTS:
                self._flusher.cancel()
                self._timings.note(event)
                self._sync_messages(session)
                self.progress = {}
                self.approvals = []
            elif kind is EventKind.MODEL_SWITCHED:
                self._sync_model(session, models=False)
                self.switches = switch_dicts(session.model_switches, session.messages, session)
            elif kind is EventKind.SESSION_UPDATED:
                if "fallback" in event.payload:
                    self._sync_model(session)
                    self.switches = switch_dicts(session.model_switches, session.messages, session)
                elif "notice" in event.payload:  # e.g. the model cannot call tools: say so until the model changes
                    said = f"{event.payload['notice']}."
                    self.notice = self.notice if said in self.notice else f"{self.notice} {said}".strip()
                else:
                    self._sync_messages(session)
                    if "params" in event.payload:
                        self.session_settings = settings_value(session)

    def _on_tool_event(self, event: Event) -> None:
        """(hub thread) Tools run or wait for approval: the progress bar says so, the reply shows its calls
        (stored before they run) and, once the round's calls are done, their results."""
        approval = event.kind in (EventKind.TOOL_APPROVAL_REQUESTED, EventKind.TOOL_APPROVAL_DECIDED)
        session = self._session or self._resolve()
        if session is None:
            if approval:
                self._tools.on_approval_event(event)
            return
        messages = session.messages
        with self.hold_sync():
            self._refresh_progress()
            if messages and (messages[-1].id, len(messages[-1].parts)) != self._synced_parts:
                self._sync_messages(session)  # the reply stored new parts (a round's calls) since the last sync
            if approval:  # after the messages: a card never shows before the call it asks about
                self._tools.on_approval_event(event)
        if event.kind is EventKind.TOOL_CALL_FINISHED:
            self._sync_when_stored(str(event.payload.get("message_id")), str(event.payload.get("call_id")))

    def _sync_when_stored(self, message_id: str, call_id: str, tries: int = 50) -> None:
        """(hub thread) Sync the messages once the reply holds the result of ``call_id``: the reply adds a
        round's results together, a few loop turns after their last ``tool.call.finished`` event."""
        session = self._session
        if session is None or self._unlisten is None:
            return
        message = next((m for m in reversed(session.messages) if m.id == message_id), None)
        if message is None:
            return
        if any(getattr(p, "call_id", None) == call_id for p in message.parts):
            self._sync_messages(session)
        elif tries > 0:
            self._feed.call_later(0, lambda: self._sync_when_stored(message_id, call_id, tries - 1))

    def _refresh_progress(self) -> None:
        """(hub thread) The progress trait from the reply in flight (nothing once it has ended)."""
        live = self._feed.live(self.session_id)
        if live is not None:
            self.progress = live.progress()

    def _flush(self) -> None:
        """Send the reply text appended since the last flush, as one custom message (hub thread)."""
        if self._unlisten is None:
            return
        live = self._feed.live(self.session_id)
        if live is not None and live.whole:
            chars, units = self._sent.get(live.message_id, (0, 0))
            text = live.text
            if len(text) > chars:
                piece = text[chars:]
                self._seq += 1
                self.send({"type": "delta", "message_id": live.message_id, "seq": self._seq, "offset": units,
                           "text": piece, "tokens": live.tokens})
                self._sent = {live.message_id: (len(text), units + utf16_len(piece))}
        if self._pending_batch is not None:
            batch, self._pending_batch = self._pending_batch, None
            self.batch = self._batch_value(batch)

    def _batch_value(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The ``batch`` trait for a batch event: as sent while it runs; once done, with its duration and
        the place of its summary line in the log."""
        if not batch.get("done"):
            if self._batch_started is None or self.batch.get("done"):  # a new batch
                self._batch_started = time.time()
            return batch
        if self.batch.get("done") and all(self.batch.get(k) == batch.get(k) for k in ("completed", "failed", "total")):
            return self.batch  # the same end, told twice
        elapsed = batch.get("elapsed_s")
        if elapsed is None and self._batch_started is not None:
            elapsed = round(time.time() - self._batch_started, 3)
        count = len(self._session.messages) if self._session is not None else 0
        return {**batch, "elapsed_s": elapsed, "message_index": count}

    # -- browser actions (kernel main thread) -------------------------------------------------------
    def _on_view_msg(self, _widget: Any, content: dict[str, Any], buffers: Any) -> None:
        note_message_thread()  # a message on a subshell thread: approvals can reach us while a cell runs
        kind = content.get("type")
        client_id = content.get("client_id")
        error: str | None = None
        try:
            if kind == "send":  # @-mentions describe variables; attachments' bytes come as the message's buffers
                session = self._live_session()
                prompt = self._tools.prompt(str(content.get("text", "")), content.get("context") or [])
                self._watch(session.submit(prompt_of(session, content, buffers, prompt)), client_id)
            elif kind in ACTIONS:  # edit, delete, checkout, retry, configure: chat_extras.py
                self._watch(act(self._live_session(), content), client_id)
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
            elif kind == "bundle":
                self.send({"type": "bundle", **chat_bundle()})
            elif kind == "view":
                self._count_view(bool(content.get("open")))
            elif kind == "where":
                self._placed(bool(content.get("tabs")), bool(content.get("in_tab")))
            elif kind == "inspect":  # the header's Inspect button: the inspector in a new tab
                from .inspector import open_inspector

                open_inspector(self._live_session())
            else:
                self._tools.handle(kind, content)
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
            self._flusher.poke()

    def _placed(self, tabs: bool, in_tab: bool) -> None:
        FRONT_END.tabs = tabs
        self.shown_in_tab = self.shown_in_tab or in_tab
        if not tabs and self.on_no_tabs is not None:
            self.on_no_tabs()

    def _count_view(self, opened: bool) -> None:
        self._views = self._views + 1 if opened else max(0, self._views - 1)
        self._views_seen = self._views_seen or opened
        self._tools.views_changed(self._views)
        if self._views == 0 and self._views_seen and not opened and self.on_views_closed is not None:
            self.on_views_closed()


def switch_dicts(switches: Sequence[ModelSwitch], messages: Sequence[Message],
                 session: Session) -> list[dict[str, Any]]:
    """The ``switches`` trait: each switch with the model that answered after it (``answered_by``: the
    first reply up to the next switch; for the last switch without a reply yet, the model that will).
    A switch placed past the last message (left over by a clear) is dropped."""
    result = []
    for i, switch in enumerate(switches):
        if switch.message_index > len(messages):
            continue
        end = switches[i + 1].message_index if i + 1 < len(switches) else len(messages)
        answered = next((m.model for m in messages[switch.message_index:end]
                         if m.role is Role.ASSISTANT and m.model), None)
        reason = None
        if answered is None and i == len(switches) - 1 and session.requested_model == switch.to_model:
            answered, reason = session.model, session.fallback_reason
        result.append({**switch.to_dict(), "answered_by": answered,
                       "fallback_reason": reason if answered != switch.to_model else None})
    return result
def auto_entry(hub: SessionHub) -> dict[str, Any]:
    """The selector's **Auto** entry (model="auto", see ai_sessions.auto): its candidates go in the tooltip."""
    settings = hub.settings
    return {"provider": "auto", "name": "auto", "short_name": "Auto", "available": True, "reason": None,
            "candidates": list(settings.auto.effective_candidates(settings.defaults.model))}
