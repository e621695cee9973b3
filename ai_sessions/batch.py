"""Batch runs: one prompt template over many inputs, with bounded concurrency, retries, progress and
results in input order (S12).

>>> results = s.map("Classify the sentiment of: {text}", df["review"], concurrency=4)   # doctest: +SKIP
>>> results.attrs["batch"].failures                                                       # doctest: +SKIP
>>> df = s.map("Review: {text}", reviews, schema=Review)   # a DataFrame, one column per field  # doctest: +SKIP

Each item is an independent request with the session's model, parameters and system prompt; items do
not enter the session's history (``include_history=True`` sends the history as context). A failed item
does not stop the batch: it is reported in ``failures`` and ``retry()`` runs it again. Interrupting the
kernel stops the batch and returns what finished; the rest is marked ``cancelled`` (and retryable).

Every map is a job in the store (``jobs.py``): a live one writes each finished item there as it goes, so a
kernel restart keeps what finished; ``mode="batch"`` hands the items to the provider's Batch API instead.
``concurrency`` workers take items in turn (no task per item: memory stays flat for 100,000 items).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .auto import AUTO, first_usable
from .batch_progress import ProgressView, in_kernel
from .checks import check_batch_options, check_reply_options
from .consume import consume
from .errors import AiSessionsError
from .model import Event, EventKind, Usage, total_cost
from .parts import TextPart
from .providers.base import ChatTurn
from .templates import field_root, fixed_prefix, placeholder_fields
from .throttle import PROGRESS_INTERVAL_S, Throttle

if TYPE_CHECKING:
    from .job_recorder import LiveRecorder
    from .schemas import OutputSchema
    from .session import Session

log = logging.getLogger(__name__)
ACTIVE_CHARS = 80


@dataclass(slots=True)
class BatchItem:
    """One input of a batch and what became of it. ``status``: pending, running, ok, failed, cancelled
    (``expired`` too for batch jobs). With ``schema=``, ``value`` is the validated object and ``data`` its
    JSON; ``text`` is the reply's text either way."""

    position: int
    key: Any  #: the input's index label (Series / DataFrame) or its position
    input: Any
    prompt: str
    status: str = "pending"
    text: str | None = None
    error: str | None = None
    error_kind: str | None = None
    model: str | None = None
    usage: Usage | None = None
    cost: float | None = None
    attempts: int = 0
    value: Any = None
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class BatchOptions:
    concurrency: int = 4
    include_history: bool = False
    attempts: int | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: structured output: each item's reply validated (one repair round), results as a DataFrame
    schema: OutputSchema | None = None
    #: ``live`` (requests from this kernel) or ``batch`` (the provider's Batch API)
    mode: str = "live"
    #: the stored job the results go to (None: not recorded)
    job_id: str | None = None
    #: the template's text before its first field: sent as its own part, first, so providers can cache it
    prefix: str = ""
    #: the model every item goes to (a ``model="auto"`` session's map sticks to its first usable candidate)
    model: str = ""
    #: with ``include_history``: the branch whose messages every item is sent with (``Session.branch``)
    history_branch: str | None = None


class BatchResult(list):
    """Reply texts in input order, ``None`` where an item failed; ``items`` has the details.

    With a pandas Series or DataFrame as input, :meth:`Session.map` returns a Series (same index) and
    this object is in its ``attrs["batch"]``.
    """

    def __init__(self, session: Session, items: list[BatchItem], options: BatchOptions,
                 index: Any = None) -> None:
        self.session = session
        self.items = items
        self.options = options
        self.index = index  # the pandas index of the input, or None for a list
        super().__init__(self._value(item) for item in items)

    def _value(self, item: BatchItem) -> Any:
        return item.value if self.options.schema is not None else item.text

    def refill(self) -> None:
        """Take the items' current results (after a run or retry)."""
        self[:] = [self._value(item) for item in self.items]

    @property
    def job(self) -> Any:
        """The stored job these results belong to (``hub.job(id)``), or None."""
        if self.options.job_id is None:
            return None
        return self.session.hub.job(self.options.job_id)

    @property
    def failures(self) -> list[BatchItem]:
        """Items that failed or were cancelled (``item.error`` says why)."""
        return [item for item in self.items if not item.ok]

    @property
    def usage(self) -> Usage:
        return Usage.total(item.usage for item in self.items)

    @property
    def cost(self) -> float | None:
        return total_cost(item.cost for item in self.items)

    def retry(self, *, progress: bool = True) -> Any:
        """Run the failed and cancelled items again (a batch job's as a new job); returns the results like
        ``map`` did."""
        todo = self.failures
        if todo and self.options.mode == "batch":
            from .jobs import retry_batch

            retry_batch(self, todo, progress=progress)
        elif todo:
            check_history_branch(self.session, self.options, "this map")
            for item in todo:
                item.status, item.error, item.error_kind = "pending", None, None
            execute(self.session, todo, self.options, progress=progress)
        self.refill()
        return self.output()

    def output(self) -> Any:
        """This result as returned to the user: itself (a list), a pandas Series for pandas input, or with
        ``schema=`` a DataFrame (one column per field, plus status and error) for pandas input."""
        if self.index is None:
            return self
        if self.options.schema is not None:
            from .job_output import frame

            return frame(self)
        import pandas as pd

        series = pd.Series(list(self), index=self.index, dtype=object)
        series.attrs["batch"] = self
        return series

    def summary(self) -> str:
        failed = len(self.failures)
        return f"{len(self.items) - failed}/{len(self.items)} done" + (f", {failed} failed" if failed else "")

    # pandas copies ``attrs`` deeply when it propagates them: share this object instead
    def __copy__(self) -> BatchResult:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> BatchResult:
        return self


# -- inputs -------------------------------------------------------------------------------------------
def prepare(template: str, items: Any) -> tuple[list[BatchItem], Any]:
    """Fill ``template`` for every input; returns the items and the pandas index (or None)."""
    if not isinstance(template, str):
        raise AiSessionsError("the template must be a string", hint='e.g. "Classify the sentiment of: {text}"')
    if isinstance(items, str | bytes | Mapping):
        raise AiSessionsError(f"map() needs a list, a pandas Series or a DataFrame, not a {type(items).__name__}",
                              hint="wrap a single input in a list")
    keys, inputs, index = _inputs(items)
    fields = placeholder_fields(template)
    batch_items = []
    for position, (key, value) in enumerate(zip(keys, inputs, strict=True)):
        batch_items.append(BatchItem(position, key, value, _fill(template, fields, value, key)))
    return batch_items, index


def _inputs(items: Any) -> tuple[list[Any], list[Any], Any]:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(items, pandas.DataFrame):
        rows = [row.to_dict() for _, row in items.iterrows()]
        return list(items.index), rows, items.index
    if pandas is not None and isinstance(items, pandas.Series):
        return list(items.index), list(items), items.index
    if not isinstance(items, Iterable):
        raise AiSessionsError(f"map() needs a list, a pandas Series or a DataFrame, not a {type(items).__name__}")
    values = list(items)
    return list(range(len(values))), values, None


def _fill(template: str, fields: list[str], value: Any, key: Any) -> str:
    try:
        if isinstance(value, Mapping):
            return template.format_map(value)
        names = {field_root(f) for f in fields} - {""}
        positional = sum(1 for f in fields if field_root(f) == "" or field_root(f).isdigit())
        if not fields:
            raise AiSessionsError("the template has no {placeholder} for the input",
                                  hint='e.g. "Classify the sentiment of: {text}"')
        if len({n for n in names if not n.isdigit()}) > 1:
            raise AiSessionsError(f"the template has several fields ({', '.join(sorted(names))}) but the inputs "
                                  "are single values", hint="pass a DataFrame or dicts to fill several fields")
        return template.format(*([value] * max(positional, 1)), **{n: value for n in names if not n.isdigit()})
    except AiSessionsError:
        raise
    except (KeyError, AttributeError, IndexError, TypeError, ValueError) as exc:
        raise AiSessionsError(f"cannot fill the template for input {key!r} ({type(exc).__name__}: {exc})",
                              hint="check the template's {fields} against the inputs") from None


# -- running ------------------------------------------------------------------------------------------
class BatchRun:
    """Runs items on the hub loop. Counters are plain values, readable from any thread."""

    def __init__(self, session: Session, items: list[BatchItem], options: BatchOptions) -> None:
        if options.concurrency < 1:
            raise AiSessionsError("concurrency must be at least 1")
        self.session = session
        self.items = items
        self.options = options
        self.total = len(items)
        self.completed = 0
        self.failed = 0
        self.active = ""
        self.started = time.monotonic()
        self._runtime = session.runtime
        self._tasks: list[asyncio.Future[Any]] = []
        self._run_task: asyncio.Task[None] | None = None
        self._stopped = False
        self._throttle = Throttle(lambda: self._runtime.loop.loop, PROGRESS_INTERVAL_S, self._emit_progress)
        self._recorder: LiveRecorder | None = None
        if options.job_id is not None:
            from .job_recorder import LiveRecorder

            self._recorder = LiveRecorder(self._runtime, options.job_id, session.id)

    # -- any thread ---------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        done = self.completed + self.failed
        return {"completed": self.completed, "failed": self.failed, "total": self.total,
                "active": self.active, "done": done >= self.total}

    def cancel(self) -> None:
        """Stop the batch: running items are cancelled, pending ones never start."""
        self._runtime.loop.call_soon(self._cancel_all)

    # -- hub loop -----------------------------------------------------------------------------------
    async def settled(self) -> None:
        """Wait until :meth:`run` has ended, if it started (scheduled before this, it has)."""
        if self._run_task is not None:
            await asyncio.wait([self._run_task])

    def _cancel_all(self) -> None:
        self._stopped = True
        for task in self._tasks:
            task.cancel()

    async def run(self) -> None:
        self._run_task = asyncio.current_task()
        full_model = self.options.model or self.session.model
        provider = self._runtime.catalogue.provider(full_model.partition(":")[0])
        if self._recorder is not None:
            self._recorder.start(item.position for item in self.items)
            self._runtime.active_jobs[self._recorder.job_id] = self
        try:
            await provider.prepare()
            history = await self.session.history() if self.options.include_history else ()
            base = dataclasses.replace(
                self.session.make_request(full_model.partition(":")[2], history, dict(self.options.params)),
                cache_prefix=True)
            pending = iter(self.items)

            async def worker() -> None:  # each worker takes the next item until none is left
                for item in pending:
                    if self._stopped:
                        return
                    request = dataclasses.replace(base, turns=(*history, user_turn(item.prompt, self.options.prefix)))
                    await self._run_item(item, provider, request, full_model)

            self._publish()
            self._tasks = [asyncio.ensure_future(worker()) for _ in range(min(self.options.concurrency, self.total))]
            if self._stopped:
                self._cancel_all()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for item in self.items:
                if item.status in ("pending", "running"):
                    item.status, item.error, item.error_kind = "cancelled", "cancelled before it finished", \
                        "cancelled"
                    self.failed += 1
                    self._record(item)
            self.active = ""
            self._publish(final=True)
            if self._recorder is not None:
                cancelled = any(item.status == "cancelled" for item in self.items)
                self._runtime.active_jobs.pop(self._recorder.job_id, None)
                await asyncio.shield(self._recorder.finish("cancelled" if cancelled else "completed"))

    async def _run_item(self, item: BatchItem, provider: Any, request: Any, full_model: str) -> None:
        item.status, item.model = "running", full_model
        self.active = item.prompt[:ACTIVE_CHARS]
        self._publish()
        parts: list[str] = []

        def count_attempt() -> None:
            item.attempts += 1

        async def ask(request: Any) -> Any:
            parts.clear()
            return await consume(provider, request, full_model=full_model, on_text=parts.append,
                                 attempts=self.options.attempts, on_attempt=count_attempt,
                                 incomplete_hint="retry the failed items")

        try:
            finished = await ask(request)
            usage = finished.usage
            item.text = "".join(parts)
            if self.options.schema is not None:  # validate; one repair round (structured.py)
                from .structured import settle

                async def repair(prompt: str) -> str:
                    nonlocal usage
                    turns = (*request.turns, ChatTurn("assistant", item.text or ""), ChatTurn("user", prompt))
                    again = await ask(dataclasses.replace(request, turns=turns))
                    usage = Usage.total([usage, again.usage]) if usage or again.usage else None
                    item.text = "".join(parts)
                    return item.text

                settled = await settle(self.options.schema, item.text, repair, provider=full_model)
                item.value, item.data = settled.value, settled.part.data
        except AiSessionsError as error:
            self._fail(item, str(error), getattr(error, "kind", "provider_error"))
            return
        except Exception as error:
            log.exception("batch item %r failed unexpectedly", item.key)
            self._fail(item, f"{type(error).__name__}: {error}", "provider_error")
            return
        item.usage = usage
        item.cost = self._runtime.catalogue.cost(full_model, usage)
        item.status = "ok"
        self.completed += 1
        self._record(item)
        self._publish()

    def _fail(self, item: BatchItem, error: str, kind: str) -> None:
        item.status, item.error, item.error_kind = "failed", error, kind
        self.failed += 1
        self._record(item)
        self._publish()

    def _record(self, item: BatchItem) -> None:
        if self._recorder is not None:
            self._recorder.record(item)

    def _publish(self, final: bool = False) -> None:
        """Tell the session's widgets (a transient session.updated with a ``batch`` payload, not stored),
        at most ~10 times a second."""
        if final:
            self._throttle.now()
        else:
            self._throttle.poke()

    def _emit_progress(self) -> None:
        self._runtime.emit(Event(EventKind.SESSION_UPDATED, self.session.id, {"batch": self.snapshot()}),
                           persist=False)


class BatchHandle:
    """A batch running in the background (from :meth:`Session.submit_map`)."""

    def __init__(self, run: BatchRun, future: concurrent.futures.Future[None], result: BatchResult) -> None:
        self._run = run
        self._future = future
        self._result = result

    @property
    def progress(self) -> dict[str, Any]:
        """``{completed, failed, total, active, done}`` now."""
        return self._run.snapshot()

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> None:
        """Stop the batch; what finished is kept, the rest is marked cancelled."""
        self._run.cancel()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the batch and return its results (a list, or a Series for pandas input)."""
        if not self._future.done():
            self._run.session.runtime.loop.refuse_wait("BatchHandle.result()")
        self._future.result(timeout)
        self._result.refill()
        return self._result.output()

    @property
    def job(self) -> Any:
        """The stored job of this batch (``hub.job(id)``)."""
        return self._result.job

    def __repr__(self) -> str:
        p = self.progress
        state = "" if self.done() else ", running"
        return f"<BatchHandle {p['completed']}/{p['total']} done, {p['failed']} failed{state}>"


# -- entry points ---------------------------------------------------------------------------------------
def map_items(session: Session, template: str, items: Any, *, concurrency: int = 4, include_history: bool = False,
              attempts: int | None = None, progress: bool = True, schema: Any = None, mode: str = "live",
              dry_run: bool = False, **params: Any) -> Any:
    """Run ``template`` over ``items`` and wait; see :meth:`Session.map`."""
    from . import jobs

    batch_items, index, options = _prepare_map(session, template, items, concurrency, include_history, attempts,
                                               schema, mode, params)
    if dry_run:
        return jobs.estimate_map(session, template, batch_items, options)
    if mode == "batch":
        return jobs.run_batch_map(session, template, batch_items, options, index, items, progress=progress)
    options = jobs.start_live(session, template, batch_items, options, items)
    result = BatchResult(session, batch_items, options, index)
    execute(session, batch_items, options, progress=progress)
    result.refill()
    return result.output()


def submit_items(session: Session, template: str, items: Any, *, concurrency: int = 4,
                 include_history: bool = False, attempts: int | None = None, schema: Any = None,
                 mode: str = "live", **params: Any) -> Any:
    """Start a batch in the background; see :meth:`Session.submit_map`."""
    from . import jobs

    batch_items, index, options = _prepare_map(session, template, items, concurrency, include_history, attempts,
                                               schema, mode, params)
    if mode == "batch":
        return jobs.submit_batch_map(session, template, batch_items, options, index, items)
    options = jobs.start_live(session, template, batch_items, options, items)
    session.check_open()
    session.announce_fallback()
    run = BatchRun(session, batch_items, options)
    future = session.runtime.loop.submit(run.run())
    return BatchHandle(run, future, BatchResult(session, batch_items, options, index))


def _prepare_map(session: Session, template: str, items: Any, concurrency: int, include_history: bool,
                 attempts: int | None, schema: Any, mode: str, params: dict[str, Any]
                 ) -> tuple[list[BatchItem], Any, BatchOptions]:
    """Check everything and fill the template for every input, before anything is sent or stored."""
    from .structured import prepare_output

    if mode not in ("live", "batch"):
        raise AiSessionsError(f"mode must be 'live' or 'batch', not {mode!r}",
                              hint="live: requests from this kernel; batch: the provider's Batch API (about half "
                                   "the price, results within 24 h)")
    check_batch_options(concurrency, attempts, include_history)
    check_reply_options(params)
    session.check_open()
    if schema is not None:
        params["schema"] = schema
    model = session.model
    if model == AUTO:  # one model for every item: the first candidate that can answer
        model = first_usable(session.runtime.settings, session.runtime.catalogue, schema=schema is not None)
    output = prepare_output(params, session.runtime.catalogue, model)
    batch_items, index = prepare(template, items)
    options = BatchOptions(concurrency, include_history, attempts, params, output, mode,
                           prefix=fixed_prefix(template), model=model,
                           history_branch=session.branch if include_history else None)
    return batch_items, index, options


def check_history_branch(session: Session, options: BatchOptions, what: str) -> None:
    """Refuse to send items with another branch's history than the one the job was asked with."""
    wanted = options.history_branch
    if not options.include_history or wanted is None or session.branch == wanted:
        return
    shown = [b.id for b in session.branches]
    hint = (f"show that branch first: s.checkout({wanted!r}), then ask again" if wanted in shown else
            "its messages were deleted: run a new map with the history you want")
    raise AiSessionsError(f"{what} was asked with the history of branch {wanted!r}, and session "
                          f"{session.name!r} now shows another", hint=hint)


def user_turn(prompt: str, prefix: str) -> ChatTurn:
    """An item's user turn: the template's fixed text first, as its own part (the cacheable prefix), then
    the rest of the prompt."""
    if prefix.strip() and len(prompt) > len(prefix) and prompt.startswith(prefix):
        return ChatTurn("user", (TextPart(prefix), TextPart(prompt[len(prefix):])))
    return ChatTurn("user", prompt)


def execute(session: Session, items: list[BatchItem], options: BatchOptions, *, progress: bool = True) -> None:
    """Run ``items`` and wait, showing progress in the cell. A kernel interrupt stops the batch."""
    loop = session.runtime.loop
    loop.refuse_wait("map()")
    session.check_open()
    session.announce_fallback()
    run = BatchRun(session, items, options)
    view = ProgressView() if progress and in_kernel() else None
    stopped = False
    try:
        future = loop.submit(run.run())  # an interrupt may land in here, once it is queued
        while True:
            try:
                future.result(timeout=PROGRESS_INTERVAL_S)
                break
            except TimeoutError:
                if view is not None:
                    view.update(run)
    except KeyboardInterrupt:
        stopped = True
        run.cancel()
        loop.submit(run.settled()).result(timeout=30)
    if view is not None:
        view.update(run, stopped=stopped)
    if stopped:
        log.warning("batch stopped: %d of %d done; retry() runs the rest", run.completed, run.total)
