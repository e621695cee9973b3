"""The hub panel: every session of the notebook at a glance, with Stop, Close, Delete and Open chat, and
the jobs (maps) still running.

Rows are refreshed from ``hub.sessions()`` (a store query, run off the hub loop) a moment after any
session event, never per token. When a reply ends, the panel's views are told; a view shows a notice if
no chat of that session is on screen. Job rows take their counts from this kernel's runs and pollers, or
for a job followed by no one here, from the provider's last report stored with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anywidget
import traitlets

from .. import job_store
from ..errors import AiSessionsError
from ..hub import SessionHub
from ..model import Event, EventKind
from ._bundle import bundle
from .feed import HubFeed, feed_for

log = logging.getLogger(__name__)
REFRESH_DELAY_S = 0.1


class HubPanel(anywidget.AnyWidget):
    """All sessions of this notebook's hub. Show it with ``ai_sessions.hub().panel()``."""

    _esm = bundle("panel.js")
    _css = bundle("panel.css")

    scope = traitlets.Unicode("").tag(sync=True)
    #: One dict per session: id, name, model, status, message_count, last_activity, tokens, cost, live.
    sessions = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: One dict per job not ended: id, session, mode, model, state, provider_state, completed, failed, total.
    jobs = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, hub: SessionHub | None = None, **kwargs: Any) -> None:
        if hub is None:
            from ..hub import hub as kernel_hub

            hub = kernel_hub()
        self._hub = hub
        self._feed: HubFeed = feed_for(hub)
        self._refresh_handle: Any = None
        self._refresh_task: asyncio.Future[None] | None = None
        self._names: dict[str, str] = {}
        super().__init__(scope=hub.scope, **kwargs)
        self.on_msg(self._on_view_msg)
        self._unlisten = self._feed.listen_all(self._on_event)
        streaming: set[str] = set()
        active: dict[str, Any] = {}
        self._feed.run_on_hub(lambda: (streaming.update(self._feed.streaming()), active.update(self._active())))
        self._apply(self._rows(streaming))
        self.jobs = self._job_rows(active)

    def __repr__(self) -> str:  # deterministic (nbval compares text/plain); the scope is a local path
        return "HubPanel()"

    def close(self) -> None:
        self._unlisten()
        super().close()

    # -- rows ---------------------------------------------------------------------------------------
    def _rows(self, streaming: set[str]) -> list[dict[str, Any]]:
        rows = []
        for info in self._hub.sessions():
            status = "streaming" if info.id in streaming else ("idle" if info.live else "stored")
            rows.append({"id": info.id, "name": info.name, "model": info.model, "status": status,
                         "message_count": info.message_count, "last_activity": info.last_activity,
                         "input_tokens": info.usage.input_tokens, "output_tokens": info.usage.output_tokens,
                         "cost": info.cost, "live": info.live})
        return rows

    def _apply(self, rows: list[dict[str, Any]]) -> None:
        self._names = {row["id"]: row["name"] for row in rows}
        self.sessions = rows

    def _active(self) -> dict[str, dict[str, Any]]:
        """(hub thread) Progress of the jobs this kernel runs or polls, by job id."""
        return {job_id: dict(run.snapshot()) for job_id, run in self._hub.runtime.active_jobs.items()}

    def _job_rows(self, active: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for record in job_store.listing(self._hub.store, self._hub.scope):
            if record.state == "ended":
                continue
            now = active.get(record.id) or record.counts or {}
            rows.append({"id": record.id, "session": self._names.get(record.session_id, ""), "mode": record.mode,
                         "model": record.model, "state": record.state,
                         "provider_state": now.get("provider_state"), "completed": now.get("completed"),
                         "failed": now.get("failed"), "total": record.total,
                         "followed": record.id in active})
        return rows

    def _schedule_refresh(self) -> None:
        if self._refresh_handle is None:
            self._refresh_handle = self._feed.call_later(REFRESH_DELAY_S, self._start_refresh)

    def _start_refresh(self) -> None:
        self._refresh_handle = None
        self._refresh_task = asyncio.ensure_future(self._refresh(self._feed.streaming(), self._active()))

    async def _refresh(self, streaming: set[str], active: dict[str, dict[str, Any]]) -> None:
        def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            sessions = self._rows(streaming)
            self._names = {row["id"]: row["name"] for row in sessions}
            return sessions, self._job_rows(active)

        try:
            sessions, jobs = await asyncio.get_running_loop().run_in_executor(None, rows)
        except Exception:
            log.exception("refreshing the hub panel failed")
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
        self._schedule_refresh()

    # -- browser actions (kernel main thread) -------------------------------------------------------
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
                from .tab import open_tab

                open_tab(self._hub.get(session_id))
            self._feed.run_soon(self._schedule_refresh)
        except AiSessionsError as exc:
            self.send({"type": "notice", "text": str(exc)})
        except Exception as exc:
            log.exception("hub panel action %r failed", kind)
            self.send({"type": "notice", "text": f"{type(exc).__name__}: {exc}"})
