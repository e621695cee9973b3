"""A session's timeline: one record per stored event, with the numbers an inspector needs (latency to first
token, duration, tokens, cost, retries, error kind, switch reason, tool), built from the store's events and
messages only, so it is the same after a kernel restart.

``session.timeline()`` returns it as a pandas DataFrame (pandas is imported here, on first use, never at
``import ai_sessions``); the inspector widget uses the same records as plain dicts. The columns are
:data:`COLUMNS`; docs/inspector.md describes each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import MissingDependency
from .model import EventKind

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store

#: The timeline's columns, in order.
COLUMNS = ("time", "kind", "message", "message_id", "model", "status", "first_token_s", "duration_s",
           "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost", "retries",
           "retry_wait_s", "error_kind", "error", "switch_reason", "from_model", "tool")
_INTEGERS = ("message", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "retries")
_FLOATS = ("first_token_s", "duration_s", "cost", "retry_wait_s")
#: Events left out: each repeats, at the same moment, the request start or the reply's end.
SKIPPED = (EventKind.MESSAGE_USER.value, EventKind.MESSAGE_ASSISTANT.value)
_STARTED = EventKind.REQUEST_STARTED.value
#: The event that opens a reply's lane (a reply that failed over has one per model it asked).
REPLY_START = _STARTED
_RETRY = EventKind.REQUEST_RETRY.value
_FAILOVER = EventKind.REQUEST_FAILED.value
_ENDS = (EventKind.RESPONSE_COMPLETED.value, EventKind.RESPONSE_FAILED.value)
_SWITCH = EventKind.MODEL_SWITCHED.value
#: Reply statuses that mean a reply has not ended (still streaming, or its kernel died).
OPEN_STATUSES = ("streaming", "interrupted")


def open_replies(log: Iterable[Sequence[Any]]) -> list[str]:
    """Ids of the replies in ``log`` that started and have no end event (streaming, or cut by a dead kernel)."""
    started: dict[str, None] = {}
    for _eid, _sid, kind, _at, payload in log:
        if kind == _STARTED:
            started[payload.get("message_id")] = None
        elif kind in _ENDS:
            started.pop(payload.get("id"), None)
    return [mid for mid in started if mid]


def session_columns(store: Store, session_id: str, after_id: int = 0,
                    context: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """The timeline of one session as column lists (events newer than ``after_id``; pass the same
    ``context`` dict to successive calls so later rows know their reply's position and model)."""
    log = store.event_log(session_id, after_id=after_id, skip=SKIPPED)
    return event_columns(log, _statuses(store, log), context)


def rows_of(columns: dict[str, list[Any]], start: int = 0) -> list[dict[str, Any]]:
    """Rows ``start:`` of ``columns`` as dicts (``id``, ``session_id`` and :data:`COLUMNS`)."""
    names = ("id", "session_id", *COLUMNS)
    return [dict(zip(names, values, strict=True))
            for values in zip(*(columns[n][start:] for n in names), strict=True)]


def session_frame(store: Store, session_id: str) -> pd.DataFrame:
    """The timeline of one session as a DataFrame with :data:`COLUMNS` (see ``Session.timeline``)."""
    return frame(session_columns(store, session_id))


def frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A DataFrame of :data:`COLUMNS` from column lists: ``time`` as UTC timestamps, counts as nullable
    integers, seconds and cost as floats (NaN when unknown), the rest as text."""
    pd = require_pandas()
    import numpy as np

    data: dict[str, Any] = {"time": pd.to_datetime(np.array(columns["time"], dtype="float64"), unit="s", utc=True)}
    for name in COLUMNS[1:]:
        values = columns[name]
        if name in _INTEGERS:
            data[name] = pd.array(values, dtype="Int64")
        elif name in _FLOATS:
            data[name] = np.array(values, dtype="float64")  # None becomes NaN
        else:
            data[name] = values
    return pd.DataFrame(data, columns=list(COLUMNS))


def _statuses(store: Store, log: list[list[Any]]) -> dict[str, str]:
    ids = open_replies(log)
    return store.message_statuses(ids) if ids else {}


def require_pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependency("the timeline and metrics are pandas DataFrames, and pandas is not installed",
                                hint="pip install pandas") from None
    return pandas


def event_columns(log: Iterable[Sequence[Any]], statuses: dict[str, str],
                  context: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """Column lists of the timeline (plus ``id`` and ``session_id``). This runs once per event of a session
    (15,000 for 10,000 messages), so it appends to lists instead of building a dict per row. ``context``
    carries what earlier calls saw of each reply (for a log read in pieces)."""
    ids: list[int] = []
    sessions: list[str] = []
    time: list[float] = []
    kinds: list[str] = []
    message: list[int | None] = []
    message_id: list[str | None] = []
    model: list[str | None] = []
    status: list[str | None] = []
    first_token: list[float | None] = []
    duration: list[float | None] = []
    tokens_in: list[int | None] = []
    tokens_out: list[int | None] = []
    cache_read: list[int | None] = []
    cache_write: list[int | None] = []
    cost: list[float | None] = []
    retries: list[int | None] = []
    retry_wait: list[float | None] = []
    error_kind: list[str | None] = []
    error: list[str | None] = []
    switch_reason: list[str | None] = []
    from_model: list[str | None] = []
    tool: list[str | None] = []
    context = {} if context is None else context
    # message id -> (position, model) of its request; -> requests started (more than one after a failover)
    current: dict[str, tuple[int | None, str | None]] = context.setdefault("current", {})
    starts: dict[str, int] = context.setdefault("starts", {})
    for eid, sid, kind, at, p in log:
        ids.append(eid)
        sessions.append(sid)
        time.append(at)
        kinds.append(kind)
        pos = mid = mdl = st = fts = dur = err_kind = err = reason = source = name = None
        tin = tout = cread = cwrite = tries = None
        price = wait = None
        if kind in _ENDS:
            mid, pos, mdl, st = p.get("id"), p.get("seq"), p.get("model"), p.get("status")
            fts, dur, price, wait = p.get("first_token_s"), p.get("elapsed"), p.get("cost"), p.get("retry_wait_s")
            err_kind, err = p.get("error_kind"), p.get("error")
            attempts = p.get("attempts")  # of every model the reply asked: a failover is not a retry
            tries = max(0, attempts - starts.get(mid, 1)) if attempts else None
            usage = p.get("usage")
            if usage:
                tin, tout = usage.get("input_tokens"), usage.get("output_tokens")
                cread, cwrite = usage.get("cache_read_tokens", 0), usage.get("cache_write_tokens", 0)
        elif kind == _STARTED:
            mid, pos, mdl = p.get("message_id"), p.get("seq"), p.get("model")
            current[mid] = (pos, mdl)
            starts[mid] = starts.get(mid, 0) + 1
            st = statuses.get(mid)
        elif kind == _RETRY or kind == _FAILOVER:
            mid = p.get("message_id")
            pos, mdl = current.get(mid, (None, None))
            mdl = p.get("model", mdl)
            err_kind = p.get("kind") if kind == _RETRY else p.get("error_kind")
            err = p.get("reason") if kind == _RETRY else p.get("error")
            if kind == _RETRY:
                attempt, wait = p.get("attempt"), p.get("wait_s")
                tries = attempt - 1 if attempt else None
            else:
                dur = p.get("elapsed")
                attempts = p.get("attempts")
                tries = attempts - 1 if attempts else None
                st = "failed"
        elif kind == _SWITCH:
            index = p.get("message_index")
            pos = index + 1 if isinstance(index, int) else None
            mdl, source, reason = p.get("to"), p.get("from"), p.get("reason")
        elif kind.startswith("tool."):
            mid = p.get("message_id")
            pos, mdl = current.get(mid, (None, None))
            name = p.get("name") or p.get("tool")
            dur = p.get("elapsed", p.get("duration_s"))
            err_kind, st = p.get("error_kind"), p.get("status")
        else:
            mdl = p.get("model")
        message.append(pos)
        message_id.append(mid)
        model.append(mdl)
        status.append(st)
        first_token.append(fts)
        duration.append(dur)
        tokens_in.append(tin)
        tokens_out.append(tout)
        cache_read.append(cread)
        cache_write.append(cwrite)
        cost.append(price)
        retries.append(tries)
        retry_wait.append(wait)
        error_kind.append(err_kind)
        error.append(err)
        switch_reason.append(reason)
        from_model.append(source)
        tool.append(name)
    return {"id": ids, "session_id": sessions, "time": time, "kind": kinds, "message": message,
            "message_id": message_id, "model": model, "status": status, "first_token_s": first_token,
            "duration_s": duration, "input_tokens": tokens_in, "output_tokens": tokens_out,
            "cache_read_tokens": cache_read, "cache_write_tokens": cache_write, "cost": cost, "retries": retries,
            "retry_wait_s": retry_wait, "error_kind": error_kind, "error": error, "switch_reason": switch_reason,
            "from_model": from_model, "tool": tool}
