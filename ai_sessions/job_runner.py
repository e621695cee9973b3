"""Batch jobs on the hub loop: submitting to a provider's Batch API, polling it with backoff, and collecting
its results into the store exactly once.

Polling (:class:`Follower`) waits ``[batch] poll_interval_s`` after a poll that saw a change, and
:data:`BACKOFF` times longer after each poll that saw none, up to ``[batch] poll_max_s``. Collecting
streams the provider's results in chunks of :data:`COLLECT_CHUNK`, each landing in one transaction into
items still ``pending``; a kernel that dies half-way leaves the job ``collecting``, and the next refresh
collects again (what landed stays as it is). Requests the provider gives no result for take the job's
ending: ``expired``, ``cancelled`` or ``failed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import job_store
from .errors import AiSessionsError
from .job_store import ItemResult, JobRecord
from .model import Event, EventKind
from .providers.batch_api import BatchOutcome, BatchRequest, BatchStatus
from .store import writer_alive
from .throttle import PROGRESS_INTERVAL_S, Throttle

if TYPE_CHECKING:
    from .providers.batch_api import BatchService
    from .runtime import Runtime
    from .schemas import OutputSchema

log = logging.getLogger(__name__)
BACKOFF = 1.5
COLLECT_CHUNK = 500
#: What a request without a result becomes, by how its job ended.
UNANSWERED = {"expired": ("expired", "the provider's completion window ran out before this request ran"),
              "cancelled": ("cancelled", "the job was cancelled before this request ran"),
              "failed": ("failed", "the job failed"),
              "completed": ("failed", "the provider sent no result for this request")}


def custom_id(position: int) -> str:
    """The id an item's request carries (every API accepts it: ``[a-zA-Z0-9_-]{1,64}``)."""
    return f"i{position}"


def position_of(custom_id: str) -> int | None:
    return int(custom_id[1:]) if custom_id[:1] == "i" and custom_id[1:].isdigit() else None


def next_delay(delay: float, changed: bool, first: float, longest: float) -> float:
    """The wait before the next poll: back to ``first`` after a change, else :data:`BACKOFF` times longer."""
    return first if changed else min(longest, max(first, delay * BACKOFF))


def service_of(runtime: Runtime, full_model: str) -> BatchService:
    """The Batch API of ``full_model``'s provider; a clear error if it has none."""
    provider_name = full_model.partition(":")[0]
    provider = runtime.catalogue.provider(provider_name)
    service = provider.batch_service() if runtime.catalogue.capabilities(full_model).batch_api else None
    if service is None:
        raise AiSessionsError(f"{full_model} has no Batch API here, so mode='batch' cannot run",
                              hint="use mode='live', or a model of openai, anthropic or gemini for batch jobs")
    return service


async def submit(runtime: Runtime, record: JobRecord, requests: Sequence[BatchRequest]) -> JobRecord:
    """Send a stored ``submitting`` job to its provider; the record comes back ``running``."""
    service = service_of(runtime, record.model)
    store = runtime.store
    try:
        await service.provider.prepare()
        provider_job_id = await service.submit(requests, label=record.id)
    except BaseException as error:
        message = str(error) if isinstance(error, AiSessionsError) else f"{type(error).__name__}: {error}"
        await _defer(runtime, job_store.set_state, store, record.id, "ended", outcome="failed",
                     error=f"not submitted: {message}")
        await _defer(runtime, job_store.settle_pending, store, record.id, "failed", "the job was not submitted",
                     "not_submitted")
        raise
    await _defer(runtime, job_store.set_state, store, record.id, "running", provider_job_id=provider_job_id)
    runtime.emit(Event(EventKind.JOB_SUBMITTED, record.session_id, {
        "job_id": record.id, "mode": "batch", "model": record.model, "total": record.total,
        "provider_job_id": provider_job_id}))
    return record.with_(state="running", provider_job_id=provider_job_id)


async def refresh(runtime: Runtime, job_id: str, output: OutputSchema | None) -> tuple[JobRecord, BatchStatus | None]:
    """Poll a batch job once; when the provider says it ended, collect its results. Returns the record
    (as stored now) and the provider's status (None when it was not asked)."""
    store = runtime.store
    record = await _defer(runtime, job_store.get, store, job_id)
    if record is None:
        raise AiSessionsError(f"job {job_id} is not in the store any more", hint="list jobs with hub.jobs()")
    if record.ended or record.mode != "batch":
        return record, None
    if record.provider_job_id is None:  # the kernel stopped between storing the job and the provider's answer
        if record.state == "submitting" and not writer_alive(record.writer):
            await _defer(runtime, job_store.set_state, store, job_id, "ended", outcome="failed",
                         error="the kernel stopped while submitting: the provider may not have the job")
            await _defer(runtime, job_store.settle_pending, store, job_id, "failed", "not submitted", "not_submitted")
        return await _defer(runtime, job_store.get, store, job_id), None
    service = service_of(runtime, record.model)
    await service.provider.prepare()
    status = await service.status(record.provider_job_id)
    if status.state != "ended":
        await _defer(runtime, job_store.set_state, store, job_id, status.state, counts=status.to_dict())
        return record.with_(state=status.state, counts=status.to_dict()), status
    await collect(runtime, record, service, status, output)
    record = await _defer(runtime, job_store.get, store, job_id)
    runtime.emit(Event(EventKind.JOB_ENDED, record.session_id, {
        "job_id": job_id, "mode": "batch", "model": record.model, "outcome": record.outcome}))
    return record, status


async def collect(runtime: Runtime, record: JobRecord, service: BatchService, status: BatchStatus,
                  output: OutputSchema | None) -> None:
    """Store the results of an ended job (each lands once), settle the requests without one, end it."""
    store = runtime.store
    await _defer(runtime, job_store.set_state, store, record.id, "collecting", counts=status.to_dict())
    chunk: list[ItemResult] = []
    landed = 0
    assert record.provider_job_id is not None
    async for outcome in service.results(record.provider_job_id):
        result = result_of(runtime, record.model, outcome, output, service.price_factor)
        if result is not None:
            chunk.append(result)
        if len(chunk) >= COLLECT_CHUNK:
            landed += await _defer(runtime, job_store.land, store, record.id, chunk)
            chunk = []
    landed += await _defer(runtime, job_store.land, store, record.id, chunk)
    outcome_name = status.outcome or "completed"
    item_status, why = UNANSWERED.get(outcome_name, UNANSWERED["completed"])
    if outcome_name == "failed" and status.error:
        why = f"the job failed: {status.error}"
    await _defer(runtime, job_store.settle_pending, store, record.id, item_status, why, item_status)
    await _defer(runtime, job_store.set_state, store, record.id, "ended", outcome=outcome_name, error=status.error)
    log.info("job %s ended %s: %d results landed", record.id, outcome_name, landed)


def result_of(runtime: Runtime, full_model: str, outcome: BatchOutcome, output: OutputSchema | None,
              price_factor: float) -> ItemResult | None:
    """An item's result from the provider's outcome: validated against the schema, priced at batch rates."""
    position = position_of(outcome.custom_id)
    if position is None:
        log.warning("a batch result for an unknown request %r was skipped", outcome.custom_id)
        return None
    cost = runtime.catalogue.cost(full_model, outcome.usage)
    cost = None if cost is None else cost * price_factor
    if outcome.status != "ok":
        return ItemResult(position, outcome.status, outcome.text, None, outcome.usage, cost, outcome.error,
                          outcome.error_kind, 1)
    data = None
    if output is not None:
        try:
            _value, data = output.parse(outcome.text or "")
        except ValueError as problem:
            return ItemResult(position, "failed", outcome.text, None, outcome.usage, cost,
                              f"the reply does not match the schema {output.name}: {problem}", "invalid_output", 1)
    return ItemResult(position, "ok", outcome.text, data, outcome.usage, cost, None, None, 1)


async def _defer(runtime: Runtime, fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.wrap_future(runtime.store.defer(fn, *args, **kwargs))


class Follower:
    """Polls one batch job with backoff until its results are stored (one per job and kernel, on the hub
    loop); tells the session's widgets its progress. ``wake()`` polls now."""

    def __init__(self, runtime: Runtime, record: JobRecord, output: OutputSchema | None) -> None:
        self.runtime = runtime
        self.job_id = record.id
        self.session_id = record.session_id
        self.record = record
        self.status: BatchStatus | None = None
        self.output = output
        self.started = time.monotonic()
        self.error: str | None = None
        self.task: asyncio.Task[JobRecord] | None = None
        self._wake = asyncio.Event()
        self._throttle = Throttle(lambda: runtime.loop.loop, PROGRESS_INTERVAL_S, self._emit_progress)

    def start(self) -> asyncio.Task[JobRecord]:
        if self.task is None:
            self.task = asyncio.ensure_future(self._follow())
        return self.task

    def wake(self) -> None:
        self._wake.set()

    async def poll(self) -> JobRecord:
        """Poll once now (and collect if the job ended)."""
        self.record, status = await refresh(self.runtime, self.job_id, self.output)
        if status is not None:
            self.status = status
        self.error = None
        self._throttle.poke()
        return self.record

    async def _follow(self) -> JobRecord:
        settings = self.runtime.settings.batch
        delay = settings.poll_interval_s
        seen: Any = None
        try:
            while True:
                try:
                    record = await self.poll()
                except AiSessionsError as error:  # a failed poll: try again later
                    log.info("polling job %s failed: %s", self.job_id, error)
                    self.error = str(error)
                    record = self.record
                if record.ended:
                    self._throttle.now()
                    return record
                changed = record.counts != seen
                seen = record.counts
                delay = next_delay(delay, changed, settings.poll_interval_s, settings.poll_max_s)
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            self.runtime.active_jobs.pop(self.job_id, None)

    def snapshot(self) -> dict[str, Any]:
        """The job's progress now: counts from the provider (None where it reports none), state, estimate."""
        status, record = self.status, self.record
        total = record.total
        completed = status.completed if status is not None else None
        failed = status.failed if status is not None else None
        return {"mode": "batch", "state": record.state, "outcome": record.outcome,
                "provider_state": status.provider_state if status is not None else None, "total": total,
                "completed": completed, "failed": failed, "expires_at": status.expires_at if status else None,
                "elapsed": time.monotonic() - self.started, "done": record.ended, "error": self.error}

    def _emit_progress(self) -> None:
        snap = self.snapshot()
        word = {"running": "running at the provider", "cancelling": "cancelling", "collecting": "storing results",
                "submitting": "submitting"}.get(snap["state"], snap["state"])
        payload = {"completed": snap["completed"] or 0, "failed": snap["failed"] or 0, "total": snap["total"],
                   "active": f"batch job {word}", "done": snap["done"]}
        self.runtime.emit(Event(EventKind.SESSION_UPDATED, self.session_id, {"batch": payload}), persist=False)
