"""A live map's results, streamed into its job's rows as items finish (so a kernel restart keeps what
finished, and nothing is held twice in memory): buffered, and written by the store thread in order at most
every ``throttle.RESULTS_FLUSH_S`` or every :data:`MAX_BUFFER` items."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import job_store
from .job_store import ItemResult
from .model import Event, EventKind
from .store import WRITER
from .throttle import RESULTS_FLUSH_S, Throttle

if TYPE_CHECKING:
    from .runtime import Runtime

MAX_BUFFER = 500


class LiveRecorder:
    """Writes the results of one live job's items (call every method on the hub loop)."""

    def __init__(self, runtime: Runtime, job_id: str, session_id: str) -> None:
        self.job_id = job_id
        self.session_id = session_id
        self._runtime = runtime
        self._store = runtime.store
        self._buffer: list[ItemResult] = []
        self._throttle = Throttle(lambda: runtime.loop.loop, RESULTS_FLUSH_S, self.flush)

    def start(self, positions: Iterable[int]) -> None:
        """The job runs (again) in this kernel: items being retried take new results."""
        store = self._store
        store.defer(job_store.reopen, store, self.job_id, list(positions))
        store.defer(job_store.set_state, store, self.job_id, "running")
        store.defer(job_store.set_writer, store, self.job_id, WRITER)

    def record(self, item: Any) -> None:
        """``item`` (a finished BatchItem) goes to the store with the next flush."""
        data = item.data if item.status == "ok" else None
        self._buffer.append(ItemResult(item.position, item.status, item.text, data, item.usage, item.cost,
                                       item.error, item.error_kind, item.attempts))
        if len(self._buffer) >= MAX_BUFFER:
            self._throttle.now()
        else:
            self._throttle.poke()

    def flush(self) -> None:
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self._store.defer(job_store.land, self._store, self.job_id, batch)

    async def finish(self, outcome: str) -> None:
        """Write what is buffered and end the job (waits until the store has it all)."""
        self._throttle.cancel()
        self.flush()
        store = self._store
        await asyncio.wrap_future(store.defer(job_store.set_state, store, self.job_id, "ended", outcome=outcome))
        self._runtime.emit(Event(EventKind.JOB_ENDED, self.session_id, {"job_id": self.job_id, "mode": "live",
                                                                        "outcome": outcome}))
