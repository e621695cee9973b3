"""Jobs (B2): every ``map`` is a record in the store — live (requests from this kernel, each result written
as it finishes) or ``mode="batch"`` (one job through the provider's Batch API, at about half the price). A
job survives kernel restarts: ``hub.jobs()`` lists them, ``hub.job(id)`` gives a :class:`Job` to
``refresh()``, ``wait()``, ``cancel()``, read ``results()`` from, or ``rerun()`` what did not finish.

>>> df = s.map("Review: {text}", reviews["text"], schema=Review, mode="batch")   # doctest: +SKIP
>>> job = hub.jobs()[0]; hub.job(job.id).wait().results()                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import job_runner, job_store
from .batch import BatchItem, BatchOptions, BatchResult, BatchRun, check_history_branch, user_turn
from .batch_progress import in_kernel
from .errors import AiSessionsError
from .estimate import Estimate, confirm, estimate, from_dict
from .job_progress import JobProgressView
from .job_runner import Follower, custom_id, service_of
from .job_store import JobRecord, NewItem
from .model import Event, EventKind, Usage, new_id
from .providers.base import ChatRequest
from .providers.batch_api import BatchRequest
from .store import WRITER
from .throttle import PROGRESS_INTERVAL_S

if TYPE_CHECKING:
    from .runtime import Runtime
    from .schemas import OutputSchema
    from .session import Session

log = logging.getLogger(__name__)
#: Item statuses a rerun sends again.
UNFINISHED = ("pending", "failed", "expired", "cancelled")
_UNSET: Any = object()


@dataclass(frozen=True)
class JobInfo:
    """A row of ``hub.jobs()``. ``done`` counts items with a result (ok or not); ``failed`` those that
    ended without one (failed, expired, cancelled)."""

    id: str
    session_id: str
    mode: str
    model: str
    state: str
    outcome: str | None
    total: int
    done: int
    failed: int
    provider_job_id: str | None
    created_at: float
    usage: Usage
    cost: float | None


# -- records ----------------------------------------------------------------------------------------------
def input_kind(items: Any) -> str:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(items, pandas.DataFrame):
        return "frame"
    if pandas is not None and isinstance(items, pandas.Series):
        return "series"
    return "list"


def _settings_of(options: BatchOptions) -> dict[str, Any]:
    """What every item's request shares, as stored with the job (the schema is stored on its own)."""
    params = {k: v for k, v in options.params.items() if k != "schema"}
    return {"params": params, "include_history": options.include_history, "concurrency": options.concurrency,
            "attempts": options.attempts, "prefix": options.prefix, "history_branch": options.history_branch}


def _digest(session: Session, options: BatchOptions) -> str:
    """What every item's request hash starts from: model, system prompt, parameters, schema."""
    base = session.make_request(options.model.partition(":")[2], (), dict(options.params))
    schema = dict(options.schema.json_schema) if options.schema is not None else None
    shared = [options.model, base.system, base.temperature, base.max_tokens, dict(base.extra), schema,
              options.include_history, options.history_branch]
    return hashlib.sha256(json.dumps(shared, sort_keys=True, default=str).encode()).hexdigest()


def _new_items(items: Sequence[BatchItem], digest: str) -> Iterator[NewItem]:
    for item in items:
        request_hash = hashlib.sha256(f"{digest}\n{item.prompt}".encode()).hexdigest()
        yield NewItem(item.position, item.key, custom_id(item.position), request_hash, item.prompt)


def _record(session: Session, template: str, total: int, options: BatchOptions, kind: str, state: str, *,
            parent_id: str | None = None, estimate: Estimate | None = None) -> JobRecord:
    output = options.schema
    return JobRecord(new_id(), session.id, session.scope, options.mode, options.model, state, template, kind, total,
                     schema_name=output.name if output is not None else None,
                     schema=dict(output.json_schema) if output is not None else None, request=_settings_of(options),
                     estimate=estimate.to_dict() if estimate is not None else None, parent_id=parent_id,
                     writer=WRITER)


def _check_cost(session: Session, options: BatchOptions, requests: Sequence[ChatRequest], mode: str,
                service: Any, count: bool) -> Estimate:
    runtime = session.runtime
    prefix = len(options.prefix) + len(requests[0].system or "") if requests else 0
    est = runtime.loop.run(estimate(runtime, options.model, mode, requests, options.schema, service, prefix, count),
                           what="map()")
    confirm(est, runtime.settings.batch.confirm_above_usd, ask=in_kernel())
    return est


def _requests(session: Session, options: BatchOptions, items: Sequence[BatchItem]) -> list[ChatRequest]:
    """Every item's request (as a live map sends it; the batch adapters drop the streaming)."""
    history = session.runtime.loop.run(session.history(), what="map()") if options.include_history else ()
    base = dataclasses.replace(session.make_request(options.model.partition(":")[2], history, dict(options.params)),
                               cache_prefix=True)
    return [dataclasses.replace(base, turns=(*history, user_turn(item.prompt, options.prefix))) for item in items]


def start_live(session: Session, template: str, items: Sequence[BatchItem], options: BatchOptions, raw: Any, *,
               kind: str | None = None, parent_id: str | None = None) -> BatchOptions:
    """Store a live map as a job (after the cost check) and return its options carrying the job id."""
    runtime = session.runtime
    if items and runtime.settings.batch.confirm_above_usd is not None and in_kernel():
        _check_cost(session, options, _requests(session, options, items), "live", None, count=False)
    record = _record(session, template, len(items), options, kind or input_kind(raw), "running",
                     parent_id=parent_id)
    job_store.create(runtime.store, record, _new_items(items, _digest(session, options)))
    runtime.emit(Event(EventKind.JOB_SUBMITTED, session.id, {"job_id": record.id, "mode": "live",
                                                             "model": record.model, "total": record.total}))
    return dataclasses.replace(options, job_id=record.id)


def estimate_map(session: Session, template: str, items: Sequence[BatchItem], options: BatchOptions) -> Estimate:
    """``map(..., dry_run=True)``: what the map would use and cost; nothing is sent or stored."""
    runtime = session.runtime
    provider = runtime.catalogue.provider(options.model.partition(":")[0])
    service = service_of(runtime, options.model) if options.mode == "batch" else provider.batch_service()
    requests = _requests(session, options, items)
    prefix = len(options.prefix) + len(requests[0].system or "") if requests else 0

    async def run() -> Estimate:
        if service is not None:
            await service.provider.prepare()
        return await estimate(runtime, options.model, options.mode, requests, options.schema, service, prefix)

    return runtime.loop.run(run(), what="map(dry_run=True)")


# -- batch mode -------------------------------------------------------------------------------------------
def submit_batch_map(session: Session, template: str, items: Sequence[BatchItem], options: BatchOptions,
                     index: Any, raw: Any, *, kind: str | None = None, parent_id: str | None = None) -> Job:
    """Send a map to the provider's Batch API as one job; returns at once with the :class:`Job`."""
    runtime = session.runtime
    session.check_open()
    session.announce_fallback()
    service = service_of(runtime, options.model)
    if not items:
        raise AiSessionsError("a batch job needs at least one input", hint="pass a non-empty list or column")
    if len(items) > service.max_requests:
        raise AiSessionsError(f"{len(items):,} inputs are more than one {options.model.partition(':')[0]} batch job "
                              f"takes ({service.max_requests:,})",
                              hint=f"split the input, e.g. s.map(..., df.iloc[:{service.max_requests}], "
                                   "mode='batch')")
    requests = _requests(session, options, items)
    runtime.loop.run(service.provider.prepare(), what="map()")
    est = _check_cost(session, options, requests, "batch", service, count=True)
    record = _record(session, template, len(items), options, kind or input_kind(raw), "submitting",
                     parent_id=parent_id, estimate=est)
    job_store.create(runtime.store, record, _new_items(items, _digest(session, options)))
    batch = [BatchRequest(custom_id(item.position), request) for item, request in zip(items, requests, strict=True)]
    del requests
    record = runtime.loop.run(job_runner.submit(runtime, record, batch), what="map()")
    job = Job(runtime, record, session.hub, index=index, output=options.schema, items=items)
    job.follow()
    return job


def run_batch_map(session: Session, template: str, items: Sequence[BatchItem], options: BatchOptions, index: Any,
                  raw: Any, *, progress: bool = True) -> Any:
    """``map(..., mode="batch")``: submit, wait (polling with backoff, progress in the cell), results. An
    interrupt stops the waiting, not the job."""
    job = submit_batch_map(session, template, items, options, index, raw)
    job.wait(progress=progress)
    return job.results()


def retry_batch(result: BatchResult, todo: list[BatchItem], *, progress: bool = True) -> None:
    """``BatchResult.retry()`` of a batch job: its unfinished items as a new batch job, waited for; their
    results replace the failed ones in ``result``."""
    job = result.job
    if job is None:
        return
    again = job.rerun()
    again.wait(progress=progress)
    fresh = again.results()
    fresh_items = fresh.attrs["batch"].items if hasattr(fresh, "attrs") else fresh.items
    for old, new in zip(todo, fresh_items, strict=True):
        for name in ("status", "text", "error", "error_kind", "model", "usage", "cost", "attempts", "value", "data"):
            setattr(old, name, getattr(new, name))


# -- the handle -------------------------------------------------------------------------------------------
class Job:
    """A stored job (``hub.job(id)``): usable in any kernel that opens the same store.

    ``refresh()`` asks the provider once (and stores the results when it has ended); ``wait()`` polls with
    backoff until the results are stored; ``results()`` gives them like ``map`` does; ``rerun()`` sends
    failed, expired and cancelled items again as a new job; ``cancel()`` stops it."""

    def __init__(self, runtime: Runtime, record: JobRecord, hub: Any, *, index: Any = _UNSET,
                 output: OutputSchema | None = None, items: Sequence[BatchItem] | None = None) -> None:
        self._runtime = runtime
        self._record = record
        self._hub = hub
        self._index = index
        self._output = output
        self._inputs = {item.position: item.input for item in items} if items is not None else {}

    # -- what it is -----------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._record.id

    @property
    def mode(self) -> str:
        return self._record.mode

    @property
    def model(self) -> str:
        return self._record.model

    @property
    def provider_job_id(self) -> str | None:
        return self.record.provider_job_id

    @property
    def record(self) -> JobRecord:
        """The job's row as stored now."""
        record = job_store.get(self._runtime.store, self.id)
        if record is not None:
            self._record = record
        return self._record

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def outcome(self) -> str | None:
        return self.record.outcome

    @property
    def estimate(self) -> Estimate | None:
        """The estimate made before the job was sent (batch jobs)."""
        return from_dict(self._record.estimate)

    @property
    def usage(self) -> Usage:
        return job_store.totals(self._runtime.store, [self.id])[self.id].usage

    @property
    def cost(self) -> float | None:
        """USD of the items that have a result (batch items at the Batch API's price)."""
        return job_store.totals(self._runtime.store, [self.id])[self.id].cost

    def done(self) -> bool:
        return self.record.state in ("ended", "interrupted")

    @property
    def progress(self) -> dict[str, Any]:
        """``{mode, state, outcome, provider_state, total, completed, failed, expires_at, elapsed, done}``."""
        active = self._runtime.loop.call(self._runtime.active_jobs.get, self.id)
        record = self.record
        if isinstance(active, Follower) and not record.ended:
            return active.snapshot()
        counts = job_store.totals(self._runtime.store, [self.id])[self.id].counts
        ended = record.state in ("ended", "interrupted")
        return {"mode": record.mode, "state": record.state, "outcome": record.outcome,
                "provider_state": (record.counts or {}).get("provider_state"), "total": record.total,
                "completed": counts.get("ok", 0),
                "failed": sum(counts.get(s, 0) for s in ("failed", "expired", "cancelled")),
                "expires_at": None if ended else (record.counts or {}).get("expires_at"),
                "elapsed": (record.ended_at or time.time()) - record.created_at, "done": ended,
                "error": record.error if record.outcome == "failed" else None}

    def __repr__(self) -> str:
        p = self.progress
        return (f"<Job {self.id[:8]} {self.mode} {self.model} {p['state']}"
                + (f" {p['outcome']}" if p.get("outcome") else "") + f", {p['completed']}/{p['total']} done>")

    # -- actions ----------------------------------------------------------------------------------------
    def refresh(self) -> Job:
        """Ask the provider for the job's state now; once it has ended, its results are stored."""
        if self.mode == "batch" and not self.record.ended:
            self._runtime.loop.run(self._poll(), what="Job.refresh()")
        return self

    def follow(self) -> None:
        """Poll in the background (with backoff) until the results are stored; the session's chat shows
        the progress."""
        if self.mode == "batch" and not self.record.ended:
            self._runtime.loop.call(self._follower)

    def wait(self, timeout: float | None = None, *, progress: bool = True) -> Job:
        """Wait until the job has ended and its results are stored (polling with backoff, progress in
        the cell). A kernel interrupt stops the waiting, not the job."""
        loop = self._runtime.loop
        loop.refuse_wait("Job.wait()")
        view = JobProgressView() if progress and in_kernel() else None
        future = loop.submit(self._settled())
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    future.result(timeout=PROGRESS_INTERVAL_S)
                    break
                except TimeoutError:
                    if view is not None:
                        view.show(self.progress)
                    if deadline is not None and time.monotonic() > deadline:
                        future.cancel()
                        raise TimeoutError(f"job {self.id} did not end within {timeout} s") from None
        except KeyboardInterrupt:
            future.cancel()
            log.warning("stopped waiting; job %s keeps running (hub.job(%r).wait() waits again)", self.id, self.id)
            raise
        if view is not None:
            view.show(self.progress)
        return self

    def cancel(self) -> None:
        """Stop the job: a batch job is cancelled at the provider (what finished keeps its results; the rest
        ends ``cancelled`` once the provider says so), a live one stops in this kernel."""
        record = self.record
        if record.ended:
            return
        if record.mode == "live":
            run = self._runtime.loop.call(self._runtime.active_jobs.get, self.id)
            if isinstance(run, BatchRun):
                run.cancel()
            return
        if record.provider_job_id is None:
            raise AiSessionsError(f"job {self.id} has no provider job to cancel (state {record.state})")
        self._runtime.loop.run(self._cancel(record), what="Job.cancel()")

    def results(self) -> Any:
        """The results so far, like ``map`` returns them (items without a result yet are ``pending``)."""
        record = self.record
        output = self._schema(record)
        batch_items = []
        for stored in job_store.items(self._runtime.store, self.id):
            r = stored.result
            value = None
            if r.data is not None and output is not None:
                try:
                    value = output.load(r.data)
                except ValueError:
                    value = r.data
            batch_items.append(BatchItem(r.position, stored.key, self._inputs.get(r.position), stored.prompt, r.status,
                                         r.text, r.error, r.error_kind, record.model, r.usage, r.cost, r.attempts,
                                         value, r.data))
        options = self._options(record, output)
        result = BatchResult(self._hub.get(record.session_id), batch_items, options, self._index_for(record,
                                                                                                     batch_items))
        return result.output()

    def result(self, timeout: float | None = None) -> Any:
        """:meth:`wait`, then :meth:`results`."""
        return self.wait(timeout).results()

    def rerun(self, *, mode: str | None = None) -> Job:
        """A new job for the items without a result (failed, expired, cancelled; and pending ones of a job
        that was interrupted), with the same template, schema and settings; it runs in the background."""
        record = self.record
        if record.state not in ("ended", "interrupted"):
            raise AiSessionsError(f"job {self.id} is still {record.state}",
                                  hint="wait() for it, or cancel() it, before rerunning its items")
        todo = job_store.items(self._runtime.store, self.id, UNFINISHED)
        if not todo:
            raise AiSessionsError(f"job {self.id} has nothing to rerun: every item has a result")
        session = self._hub.get(record.session_id)
        output = self._schema(record)
        options = dataclasses.replace(self._options(record, output), mode=mode or record.mode, job_id=None)
        check_history_branch(session, options, f"job {self.id}")
        items = [BatchItem(i, s.key, self._inputs.get(s.result.position), s.prompt) for i, s in enumerate(todo)]
        index = None if record.input_kind == "list" else _pandas_index([s.key for s in todo])
        if options.mode == "batch":
            return submit_batch_map(session, record.template, items, options, index, None, kind=record.input_kind,
                                    parent_id=record.id)
        options = start_live(session, record.template, items, options, None, kind=record.input_kind,
                             parent_id=record.id)
        run = BatchRun(session, items, options)
        self._runtime.loop.submit(run.run())
        assert options.job_id is not None
        fresh = job_store.get(self._runtime.store, options.job_id)
        assert fresh is not None
        return Job(self._runtime, fresh, self._hub, index=index, output=output, items=items)

    def delete(self) -> None:
        """Remove the job and its results from the store (a running batch job is cancelled first)."""
        if not self.record.ended and self.mode == "batch" and self.record.provider_job_id:
            self.cancel()
        job_store.delete(self._runtime.store, self.id)

    # -- internals ----------------------------------------------------------------------------------------
    def _follower(self) -> Follower | None:
        """(hub loop) This kernel's poller of the job, started if needed (None for a live job)."""
        active = self._runtime.active_jobs.get(self.id)
        if isinstance(active, Follower) or self.mode != "batch":
            return active if isinstance(active, Follower) else None
        follower = Follower(self._runtime, self._record, self._schema(self._record))
        self._runtime.active_jobs[self.id] = follower
        follower.start()
        return follower

    async def _poll(self) -> None:
        follower = self._runtime.active_jobs.get(self.id)
        if isinstance(follower, Follower):
            await follower.poll()
            follower.wake()
        else:
            await job_runner.refresh(self._runtime, self.id, self._schema(self._record))

    async def _settled(self) -> None:
        """(hub loop) Until the job has ended here: a batch job polled to its end, a live run finished."""
        if self.mode == "batch":
            follower = self._follower()
            if follower is not None and follower.task is not None:
                follower.wake()  # a wait polls now, then with backoff
                await asyncio.shield(follower.task)
            return
        run = self._runtime.active_jobs.get(self.id)
        if isinstance(run, BatchRun):
            await run.settled()

    async def _cancel(self, record: JobRecord) -> None:
        service = service_of(self._runtime, record.model)
        await service.provider.prepare()
        assert record.provider_job_id is not None
        await service.cancel(record.provider_job_id)
        await self._poll()

    def _schema(self, record: JobRecord) -> OutputSchema | None:
        if self._output is not None or record.schema_name is None:
            return self._output
        from .schemas import lookup, stored_schema

        known = lookup(record.schema_name)
        self._output = known if known is not None else stored_schema(record.schema_name, record.schema or {})
        return self._output

    def _options(self, record: JobRecord, output: OutputSchema | None) -> BatchOptions:
        settings = record.request or {}
        params = dict(settings.get("params") or {})
        if output is not None:
            params["schema"] = output
        return BatchOptions(settings.get("concurrency") or 4, bool(settings.get("include_history")),
                            settings.get("attempts"), params, output, record.mode, record.id,
                            settings.get("prefix") or "", record.model, settings.get("history_branch"))

    def _index_for(self, record: JobRecord, items: list[BatchItem]) -> Any:
        if self._index is not _UNSET:
            return self._index
        return None if record.input_kind == "list" else _pandas_index([item.key for item in items])


def _pandas_index(keys: list[Any]) -> Any:
    import pandas as pd

    return pd.Index(keys)


# -- listing (the hub's jobs() and job()) --------------------------------------------------------------------
def list_jobs(runtime: Runtime, scope: str | None) -> list[JobInfo]:
    """Jobs of ``scope`` (or all), newest first, with their counts, usage and cost."""
    records = job_store.listing(runtime.store, scope)
    totals = job_store.totals(runtime.store, [r.id for r in records])
    out = []
    for r in records:
        t = totals[r.id]
        failed = sum(t.counts.get(s, 0) for s in ("failed", "expired", "cancelled"))
        out.append(JobInfo(r.id, r.session_id, r.mode, r.model, r.state, r.outcome, r.total, t.done, failed,
                           r.provider_job_id, r.created_at, t.usage, t.cost))
    return out


def get_job(runtime: Runtime, hub: Any, ident: str) -> Job:
    """The job ``ident`` (its id, a unique start of it, or the provider's job id)."""
    job_store.recover(runtime.store)
    record = job_store.get(runtime.store, ident)
    if record is None:
        raise AiSessionsError(f"no job {ident!r} in {runtime.store.path}", hint="list jobs with hub.jobs()")
    return Job(runtime, record, hub)

