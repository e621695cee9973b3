"""The hub panel: every session of the notebook at a glance, with Stop, Close, Delete, Open chat and Inspect,
and the jobs (maps) still running.

Rows are refreshed from ``hub.sessions()`` (a store query, run off the hub loop) a moment after any
session event, never per token. When a reply ends, the panel's views are told; a view shows a notice if
no chat of that session is on screen. Job rows take their counts from this kernel's runs and pollers, or
for a job followed by no one here, from the provider's last report stored with it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import traitlets

from .. import job_store
from ..errors import AiSessionsError
from ..hub import SessionHub
from ..model import Event, EventKind
from ..throttle import PANEL_REFRESH_S
from ._base import KernelWidget
from ._bundle import bundle_text
from .feed import HubFeed, feed_for

log = logging.getLogger(__name__)
SEARCH_LIMIT = 30
_reveals = itertools.count(1)


def reveal_value(session: Any, message_id: str) -> dict[str, Any]:
    """The chat's ``reveal`` for a search hit: its branch checked out if another is shown (not while a
    reply streams), and the message to scroll to."""
    if message_id not in {m.id for m in session.messages} and session.live_reply is None:
        session.checkout(message_id)
    return {"message_id": message_id, "nonce": next(_reveals)}


class HubPanel(KernelWidget):
    """All sessions of this notebook's hub. Show it with ``ai_sessions.hub().panel()``."""

    _esm = bundle_text("panel.js")
    _css = bundle_text("panel.css")

    #: One dict per session: id, name, model, status, message_count, last_activity, tokens, cost,
    #: cost_partial (some prices unknown: cost is a floor), live. Shapes: contract.py.
    sessions = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Chats shown inside the panel where no tab can open (Notebook 7): model_id, session_id, name.
    inline_chats = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: One dict per job not ended: id, session, mode, model, state, provider_state, completed, failed, total.
    jobs = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, hub: SessionHub | None = None, **kwargs: Any) -> None:
        if hub is None:
            from ..hub import hub as kernel_hub

            hub = kernel_hub()
        self._hub = hub
        self._feed: HubFeed = feed_for(hub)
        #: Rows are rebuilt at once after a quiet spell, then at most every PANEL_REFRESH_S (event bursts).
        self._refresher = self._feed.throttle(PANEL_REFRESH_S, self._start_refresh)
        self._refresh_task: asyncio.Future[None] | None = None
        self._names: dict[str, str] = {}
        self._inline: dict[str, Any] = {}
        super().__init__(**kwargs)
        self.on_msg(self._on_view_msg)
        self._unlisten = self._feed.listen_all(self._on_event)
        streaming: set[str] = set()
        active: dict[str, Any] = {}
        self._feed.run_on_hub(lambda: (streaming.update(self._feed.streaming()), active.update(self._active())))
        sessions, jobs = _panel_rows(hub, streaming, active)
        self._apply(sessions)
        self.jobs = jobs

    def __repr__(self) -> str:  # deterministic (nbval compares text/plain); the scope is a local path
        return "HubPanel()"

    @property
    def scope(self) -> str:
        """The hub's scope (a local path: kept out of the synced state, so out of saved notebooks)."""
        return self._hub.scope

    def close(self) -> None:
        """Stop following the hub (a pending refresh included) and close the widget."""
        self._unlisten()
        for chat in self._inline.values():
            chat.close()
        self._inline.clear()
        self._feed.run_soon(self._stop_refresh)
        super().close()

    def _stop_refresh(self) -> None:
        self._refresher.cancel()
        task, self._refresh_task = self._refresh_task, None
        if task is not None:
            task.cancel()

    # -- rows ---------------------------------------------------------------------------------------
    def _apply(self, rows: list[dict[str, Any]]) -> None:
        self._names = {row["id"]: row["name"] for row in rows}
        self.sessions = rows

    def _active(self) -> dict[str, dict[str, Any]]:
        """(hub thread) Progress of the jobs this kernel runs or polls, by job id."""
        return {job_id: dict(run.snapshot()) for job_id, run in self._hub.runtime.active_jobs.items()}

    def _start_refresh(self) -> None:
        self._refresh_task = asyncio.ensure_future(self._refresh(self._feed.streaming(), self._active()))

    async def _refresh(self, streaming: set[str], active: dict[str, dict[str, Any]]) -> None:
        try:
            # the worker holds the hub, not this widget: a closed panel is freed even mid-refresh
            sessions, jobs = await asyncio.get_running_loop().run_in_executor(None, _panel_rows, self._hub,
                                                                              streaming, active)
        except Exception:
            log.exception("refreshing the hub panel failed")
            return
        if asyncio.current_task() is not self._refresh_task:  # a newer refresh started meanwhile: its rows win
            return
        self._apply(sessions)
        self.jobs = jobs

    # -- events (hub thread) ----------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.RESPONSE_DELTA:
            return
        if event.kind in (EventKind.RESPONSE_COMPLETED, EventKind.RESPONSE_FAILED):
            self.send({"type": "finished", "session_id": event.session_id,
                       "name": self._names.get(event.session_id, ""),
                       "status": event.payload.get("status", "complete")})
        self._refresher.poke()

    # -- browser actions (kernel main thread) -------------------------------------------------------
    def _open_chat(self, session_id: str, tabs: Any, message_id: str | None = None) -> None:
        """In a tab where the page has tabs; else (Notebook 7) inside the panel, saying why. With
        ``message_id`` (a search hit) the chat shows that message's branch and scrolls to it."""
        from .chat import ChatWidget
        from .front_end import FRONT_END
        from .tab import open_tab

        session = self._hub.get(session_id)
        if isinstance(tabs, bool):
            FRONT_END.tabs = tabs
        reveal = reveal_value(session, message_id) if message_id else {}
        if FRONT_END.tabs is not False:
            tab = open_tab(session, show_in_cell=False)  # a panel action has no cell output to show it in
            tab.widget.reveal = reveal
            return
        shown = next((c for c in self.inline_chats if c["session_id"] == session.id), None)
        if shown is not None:
            if reveal and shown["model_id"] in self._inline:
                self._inline[shown["model_id"]].reveal = reveal
            return
        chat = ChatWidget(session=session, reveal=reveal)
        self._inline[chat.model_id] = chat
        self.inline_chats = [*self.inline_chats, {"model_id": chat.model_id, "session_id": session.id,
                                                  "name": session.name}]

    def _search(self, query: str, all_scopes: bool) -> None:
        """Answer the Search sessions box (a store query of a few ms; kernel main thread)."""
        try:
            hits = [hit.to_dict() for hit in self._hub.search(query, all_scopes=all_scopes, limit=SEARCH_LIMIT)]
            self.send({"type": "search_results", "query": query, "hits": hits, "error": None})
        except AiSessionsError as exc:
            self.send({"type": "search_results", "query": query, "hits": [], "error": str(exc)})

    def _close_inline(self, model_id: str) -> None:
        chat = self._inline.pop(model_id, None)
        self.inline_chats = [c for c in self.inline_chats if c["model_id"] != model_id]
        if chat is not None:
            chat.close()

    def _on_view_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        kind = content.get("type")
        session_id = str(content.get("session_id", ""))
        try:
            if kind == "stop":
                self._hub.get(session_id).cancel(wait=0)
            elif kind == "close":
                self._hub.close(session_id)
            elif kind == "delete":
                self._hub.delete(session_id)
            elif kind == "open":
                message_id = content.get("message_id")
                self._open_chat(session_id, content.get("tabs"), str(message_id) if message_id else None)
            elif kind == "close_inline":
                self._close_inline(str(content.get("model_id", "")))
            elif kind == "inspect":  # the row's Inspect button: the session's inspector in a new tab
                from .inspector import open_inspector

                open_inspector(self._hub.get(session_id))
            elif kind == "search":
                self._search(str(content.get("query", "")), bool(content.get("all_scopes")))
                return
            self._feed.run_soon(self._refresher.poke)
        except AiSessionsError as exc:
            self.send({"type": "notice", "text": str(exc)})
        except Exception as exc:
            log.exception("hub panel action %r failed", kind)
            self.send({"type": "notice", "text": f"{type(exc).__name__}: {exc}"})


def _session_rows(hub: SessionHub, streaming: set[str]) -> list[dict[str, Any]]:
    """The panel's rows: one per session of the hub's notebook (a store query)."""
    rows = []
    for info in hub.sessions():
        status = "streaming" if info.id in streaming else ("idle" if info.live else "stored")
        rows.append({"id": info.id, "name": info.name, "model": info.model, "status": status,
                     "message_count": info.message_count, "last_activity": info.last_activity,
                     "input_tokens": info.usage.input_tokens, "output_tokens": info.usage.output_tokens,
                     "cost": info.cost, "cost_partial": bool(info.cost_partial), "live": info.live})
    return rows


def _job_rows(hub: SessionHub, names: dict[str, str], active: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per job not ended; counts from this kernel's runs and pollers, else the last stored report."""
    rows = []
    for record in job_store.listing(hub.store, hub.scope):
        if record.state == "ended":
            continue
        now = active.get(record.id) or record.counts or {}
        rows.append({"id": record.id, "session": names.get(record.session_id, ""), "mode": record.mode,
                     "model": record.model, "state": record.state,
                     "provider_state": now.get("provider_state"), "completed": now.get("completed"),
                     "failed": now.get("failed"), "total": record.total,
                     "followed": record.id in active})
    return rows


def _panel_rows(hub: SessionHub, streaming: set[str], active: dict[str, dict[str, Any]]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The session rows and the job rows (store queries: run off the hub loop)."""
    sessions = _session_rows(hub, streaming)
    return sessions, _job_rows(hub, {row["id"]: row["name"] for row in sessions}, active)
