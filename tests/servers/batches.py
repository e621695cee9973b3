"""Batch jobs for the fake servers, advanced by the test (never by time), so polling is deterministic.

Each server has ``server.batches`` (a :class:`Batches`); the provider modules (``openai_batch``,
``anthropic_batch``, ``gemini_batch``) create jobs from their API calls and render them in their own
wire shapes. A job's requests are processed in order when the test says so::

    job = server.batches.latest()                     # or server.batches.get("batch_test_001")
    server.batches.advance(completed=2)               # validating/pending -> in progress; 2 more requests done
    server.batches.finish()                           # every remaining request done; the job ends "completed"
    server.batches.finish(fail=["r3"], expire=["r4"])  # ... r3 errors (a 500), r4 expires (job ends "expired")
    server.batches.expire()                           # the window ran out: every pending request expires
    server.batches.fail_job("bad input")              # the whole job fails (OpenAI, Gemini only)

Every control takes an optional job id first (default: the newest job). A processed request is answered
exactly like a non-streaming request to the server (same rules, same deterministic replies, 4xx errors
for invalid requests; scripted replies are not used). Cancelling through the API leaves an OpenAI or
Anthropic job ``cancelling`` until the test calls :meth:`Batches.finish`, which cancels every request not
yet processed (a Gemini job is cancelled at once, as its API has no cancelling state).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CREATED = 1_700_000_000

#: (status, body) of a failed request, for ``finish(fail=...)``
Failure = Callable[[], tuple[int, Any]]


@dataclass
class Item:
    """One request of a job."""

    key: str  # custom_id (OpenAI, Anthropic), or the index of an inlined Gemini request
    model: str
    request: Any  # the request body, as the provider's generation endpoint takes it
    meta: Any = None  # provider extras echoed back (Gemini's per-request metadata)
    state: str = "pending"  # pending | succeeded | errored | expired | canceled
    status: int = 0  # the HTTP status of the result
    body: Any = None  # the response body (succeeded) or error body (errored)


@dataclass
class Job:
    """One batch job. ``state``: validating | in_progress | cancelling | ended; ``ending``: how it ended."""

    id: str
    items: list[Item]
    state: str = "validating"
    ending: str = ""  # completed | expired | cancelled | failed
    error: str = ""  # why the whole job failed
    times: dict[str, int] = field(default_factory=dict)  # event (created, in_progress, ...) -> unix time
    info: dict[str, Any] = field(default_factory=dict)  # provider fields (input_file_id, endpoint, ...)

    def count(self, *states: str) -> int:
        return sum(item.state in states for item in self.items)


@dataclass
class Batches:
    """The server's batch jobs and uploaded files, with the test's controls."""

    run: Callable[[str, Any], tuple[int, Any]]  # (model, request) -> (status, body), as a plain request
    failure: Failure
    jobs: dict[str, Job] = field(default_factory=dict)
    files: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)  # id -> (metadata, content)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: int = CREATED
    _numbers: dict[str, int] = field(default_factory=dict)

    def now(self) -> int:
        """A deterministic clock: every call is one second later."""
        with self.lock:
            self._clock += 1
            return self._clock

    def new_id(self, prefix: str) -> str:
        with self.lock:
            self._numbers[prefix] = number = self._numbers.get(prefix, 0) + 1
            return f"{prefix}{number:03d}"

    def add(self, job: Job) -> Job:
        with self.lock:
            job.times["created"] = self.now()
            self.jobs[job.id] = job
            return job

    def get(self, job_id: str | None = None) -> Job:
        with self.lock:
            if job_id is None:
                return self.latest()
            return self.jobs[job_id]

    def latest(self) -> Job:
        with self.lock:
            if not self.jobs:
                raise LookupError("no batch job yet")
            return list(self.jobs.values())[-1]

    # -- test controls ------------------------------------------------------------------------------
    def advance(self, job_id: str | None = None, completed: int = 1) -> Job:
        """Start the job (if it was validating) and process its next ``completed`` pending requests."""
        with self.lock:
            job = self._open(job_id)
            self._start(job)
            for item in [i for i in job.items if i.state == "pending"][:completed]:
                self._process(item)
            return job

    def finish(self, job_id: str | None = None, fail: Iterable[str] = (), expire: Iterable[str] = ()) -> Job:
        """Process every pending request (those keyed in ``fail`` error, in ``expire`` expire) and end the job:
        ``expired`` if any request expired, ``cancelled`` if it was cancelling, else ``completed``."""
        with self.lock:
            job = self._open(job_id)
            fail, expire = set(fail), set(expire)
            unknown = (fail | expire) - {i.key for i in job.items}
            if unknown:
                raise KeyError(f"no request {sorted(unknown)} in {job.id}")
            self._start(job)
            cancelling = job.state == "cancelling"
            for item in job.items:
                if item.state != "pending":
                    continue
                if cancelling:
                    item.state = "canceled"
                elif item.key in expire:
                    item.state = "expired"
                elif item.key in fail:
                    item.status, item.body = self.failure()
                    item.state = "errored"
                else:
                    self._process(item)
            ending = "cancelled" if cancelling else "expired" if job.count("expired") else "completed"
            return self._end(job, ending)

    def expire(self, job_id: str | None = None) -> Job:
        """The completion window ran out: every pending request expires, and so does the job."""
        with self.lock:
            job = self._open(job_id)
            return self.finish(job.id, expire=[i.key for i in job.items if i.state == "pending"])

    def fail_job(self, job_id: str | None = None, message: str = "The batch failed.") -> Job:
        """The whole job fails (as a job whose input did not validate); no request is processed."""
        with self.lock:
            job = self._open(job_id)
            job.error = message
            return self._end(job, "failed")

    def cancel(self, job_id: str, settle: bool = False) -> Job:
        """What the API's cancel does: ``cancelling`` (``settle``: cancelled at once)."""
        with self.lock:
            job = self.jobs[job_id]
            if job.state in ("validating", "in_progress"):
                job.state = "cancelling"
                job.times["cancelling"] = self.now()
                if settle:
                    self.finish(job.id)
            return job

    # -- internals ------------------------------------------------------------------------------------
    def _open(self, job_id: str | None) -> Job:
        job = self.get(job_id)
        if job.state == "ended":
            raise ValueError(f"{job.id} already ended ({job.ending})")
        return job

    def _start(self, job: Job) -> None:
        if job.state == "validating":
            job.state = "in_progress"
            job.times["in_progress"] = self.now()

    def _process(self, item: Item) -> None:
        item.status, item.body = self.run(item.model, item.request)
        item.state = "succeeded" if item.status == 200 else "errored"

    def _end(self, job: Job, ending: str) -> Job:
        job.state, job.ending = "ended", ending
        if ending != "failed":
            job.times["finalizing"] = self.now()
        job.times[ending] = job.times["ended"] = self.now()
        return job
