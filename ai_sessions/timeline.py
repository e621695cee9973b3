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
    return [dict(zip(NAMES, values, strict=True))
            for values in zip(*(columns[n][start:] for n in NAMES), strict=True)]


def session_frame(store: Store, session_id: str) -> pd.DataFrame:
    """The timeline of one session as a DataFrame with :data:`COLUMNS` (see ``Session.timeline``)."""
    return frame(session_columns(store, session_id))


def frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A DataFrame of :data:`COLUMNS` from column lists: ``time`` as UTC timestamps, counts as nullable
    integers, seconds and cost as floats (NaN when unknown), the rest as text."""
    pd = require_pandas()
    import numpy as np

    count = len(columns["time"])
    data: dict[str, Any] = {"time": pd.to_datetime(np.array(columns["time"], dtype="float64"), unit="s", utc=True)}
    for name in COLUMNS[1:]:
        values = columns[name]
        if name in _INTEGERS:  # nullable integers, built from a mask (pd.array(values) is twice as slow)
            mask = np.fromiter((v is None for v in values), dtype=bool, count=count)
            numbers = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=count)
            data[name] = pd.arrays.IntegerArray(numbers, mask)
        elif name in _FLOATS:
            data[name] = np.array(values, dtype="float64")  # None becomes NaN
        else:  # text as objects: the same dtype on pandas 2 and 3, and no per-column inference
            data[name] = pd.Series(values, dtype=object)
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


#: The names of :func:`event_columns`' lists: the event's id and session, then :data:`COLUMNS`.
NAMES = ("id", "session_id", *COLUMNS)
_NONE9 = (None,) * 9


def event_columns(log: Iterable[Sequence[Any]], statuses: dict[str, str],
                  context: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """Column lists of the timeline (:data:`NAMES`). This runs once per event of a session (15,000 for 10,000
    messages): one tuple per row, transposed once at the end. ``context`` carries what earlier calls saw of
    each reply (for a log read in pieces)."""
    context = {} if context is None else context
    # message id -> (position, model) of its request; -> requests started (more than one after a failover)
    current: dict[str, tuple[int | None, str | None]] = context.setdefault("current", {})
    starts: dict[str, int] = context.setdefault("starts", {})
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for eid, sid, kind, at, p in log:
        get = p.get
        if kind in _ENDS:
            mid = get("id")
            usage = get("usage")
            if usage:
                tokens = (usage.get("input_tokens"), usage.get("output_tokens"), usage.get("cache_read_tokens", 0),
                          usage.get("cache_write_tokens", 0))
            else:
                tokens = (None, None, None, None)
            attempts = get("attempts")  # of every model the reply asked: a failover is not a retry
            append((eid, sid, at, kind, get("seq"), mid, get("model"), get("status"), get("first_token_s"),
                    get("elapsed"), *tokens, get("cost"), max(0, attempts - starts.get(mid, 1)) if attempts else None,
                    get("retry_wait_s"), get("error_kind"), get("error"), None, None, None))
        elif kind == _STARTED:
            mid, pos, mdl = get("message_id"), get("seq"), get("model")
            current[mid] = (pos, mdl)
            starts[mid] = starts.get(mid, 0) + 1
            append((eid, sid, at, kind, pos, mid, mdl, statuses.get(mid), *_NONE9, None, None, None, None, None))
        elif kind == _RETRY:
            mid = get("message_id")
            pos, mdl = current.get(mid, (None, None))
            attempt = get("attempt")
            append((eid, sid, at, kind, pos, mid, get("model", mdl), None, None, None, None, None, None, None, None,
                    attempt - 1 if attempt else None, get("wait_s"), get("kind"), get("reason"), None, None, None))
        elif kind == _FAILOVER:
            mid = get("message_id")
            pos, mdl = current.get(mid, (None, None))
            attempts = get("attempts")
            append((eid, sid, at, kind, pos, mid, get("model", mdl), "failed", None, get("elapsed"), None, None, None,
                    None, None, attempts - 1 if attempts else None, None, get("error_kind"), get("error"), None, None,
                    None))
        elif kind == _SWITCH:
            index = get("message_index")
            append((eid, sid, at, kind, index + 1 if isinstance(index, int) else None, None, get("to"), *_NONE9,
                    None, None, None, get("reason"), get("from"), None))
        elif kind.startswith("tool."):
            mid = get("message_id")
            pos, mdl = current.get(mid, (None, None))
            append((eid, sid, at, kind, pos, mid, mdl, get("status"), None, get("elapsed", get("duration_s")), None,
                    None, None, None, None, None, None, get("error_kind"), None, None, None,
                    get("name") or get("tool")))
        else:
            append((eid, sid, at, kind, None, None, get("model"), *_NONE9, None, None, None, None, None, None))
    if not rows:
        return {name: [] for name in NAMES}
    return {name: list(values) for name, values in zip(NAMES, zip(*rows, strict=True), strict=True)}
