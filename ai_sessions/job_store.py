"""The store's job tables (migration ``m007_batch_jobs``): one ``jobs`` row per map run, live or through a
provider's Batch API, one ``job_items`` row per input (what was asked, written once), and one
``job_results`` row per item that has its result (an item without one is ``pending``).

Every function runs its SQL on the store thread through ``Store.write`` / ``Store.read``. Results land
exactly once: :func:`land` inserts a result only where an item has none (the primary key refuses a
second), so downloading a provider's results again after a kernel restart (even one that died half-way
through storing them) changes nothing that already landed, and usage and cost are never counted twice.
Results are appended, never rewritten in place: storing them costs a few microseconds per item.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from .model import Usage
from .store import writer_alive

if TYPE_CHECKING:
    from .store import Store

#: Job states. ``collecting``: the provider finished and its results are being stored.
STATES = ("submitting", "running", "cancelling", "collecting", "ended", "interrupted")
#: Item statuses: ``pending`` until a result lands.
ITEM_STATUSES = ("pending", "ok", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class JobRecord:
    """A ``jobs`` row. ``request`` holds what every item's request shares (parameters, system prompt,
    history); ``counts`` the provider's last report; ``estimate`` the estimate made before submitting."""

    id: str
    session_id: str
    scope: str
    mode: str  # live | batch
    model: str
    state: str
    template: str
    input_kind: str  # list | series | frame
    total: int
    provider_job_id: str | None = None
    outcome: str | None = None  # completed | expired | cancelled | failed, once ended
    schema_name: str | None = None
    schema: dict[str, Any] | None = None
    request: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] | None = None
    error: str | None = None
    parent_id: str | None = None
    writer: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    def with_(self, **changes: Any) -> JobRecord:
        return replace(self, updated_at=time.time(), **changes)


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item as a job is created: where it sits, its input's key, the id the provider echoes back, the
    hash of its request and its prompt."""

    position: int
    key: Any
    custom_id: str
    request_hash: str
    prompt: str


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item. ``data`` is the validated structured result (JSON)."""

    position: int
    status: str
    text: str | None = None
    data: Any = None
    usage: Usage | None = None
    cost: float | None = None
    error: str | None = None
    error_kind: str | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as stored: its input's key and prompt, and its result so far."""

    key: Any
    prompt: str
    custom_id: str
    request_hash: str
    result: ItemResult


@dataclass(frozen=True)
class JobTotals:
    """Counts by item status, and the usage and cost of the items that have them."""

    counts: dict[str, int]
    usage: Usage
    cost: float | None

    @property
    def done(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "pending")


_JSON_COLUMNS = ("schema", "request", "counts", "estimate")
_COLUMNS = tuple(f.name for f in fields(JobRecord))


# -- jobs -----------------------------------------------------------------------------------------------
def create(store: Store, record: JobRecord, items: Iterable[NewItem]) -> None:
    """Insert a job and its items in one transaction (``items`` may be a generator: never held twice)."""

    def write(db: sqlite3.Connection) -> None:
        db.execute(f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                   _job_row(record))
        db.executemany("INSERT INTO job_items (job_id, position, key, custom_id, request_hash, prompt) "
                       "VALUES (?,?,?,?,?,?)",
                       ((record.id, i.position, _key_json(i.key), i.custom_id, i.request_hash, i.prompt)
                        for i in items))

    store.write(write)


def save(store: Store, record: JobRecord) -> None:
    """Write every column of ``record``."""
    sets = ", ".join(f"{c}=?" for c in _COLUMNS[1:])
    store.write(lambda db: db.execute(f"UPDATE jobs SET {sets} WHERE id=?", (*_job_row(record)[1:], record.id)))


def get(store: Store, ident: str) -> JobRecord | None:
    """The job with id ``ident``, the provider's job id ``ident``, or the one job whose id starts with it."""

    def read(db: sqlite3.Connection) -> list[Any]:
        cols = ", ".join(_COLUMNS)
        rows = db.execute(f"SELECT {cols} FROM jobs WHERE id=? OR provider_job_id=?", (ident, ident)).fetchall()
        if not rows and len(ident) >= 4:
            rows = db.execute(f"SELECT {cols} FROM jobs WHERE id LIKE ? || '%' ESCAPE '\\' LIMIT 2",
                              (ident.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"),)).fetchall()
        return rows

    rows = store.read(read)
    return _record(rows[0]) if len(rows) == 1 else None


def listing(store: Store, scope: str | None = None) -> list[JobRecord]:
    """Jobs (of ``scope``, or all), newest first; live jobs whose kernel died are marked ``interrupted``."""
    recover(store)
    where, args = ("WHERE scope=?", (scope,)) if scope is not None else ("", ())
    rows = store.read(lambda db: db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs {where} "
                                            "ORDER BY created_at DESC", args).fetchall())
    return [_record(r) for r in rows]


def recover(store: Store) -> int:
    """Mark running live jobs whose kernel (``writer``) is gone as ``interrupted``; returns how many."""
    rows = store.read(lambda db: db.execute("SELECT id, writer FROM jobs WHERE mode='live' AND state IN "
                                            "('submitting', 'running', 'cancelling')").fetchall())
    dead = [job_id for job_id, writer in rows if not writer_alive(writer)]
    if dead:
        now = time.time()
        store.write(lambda db: db.executemany(
            "UPDATE jobs SET state='interrupted', error=?, updated_at=? WHERE id=? AND state != 'ended'",
            [("the kernel stopped while this job ran; rerun() runs the unfinished items", now, d) for d in dead]))
    return len(dead)


def delete(store: Store, job_id: str) -> None:
    store.write(lambda db: db.execute("DELETE FROM jobs WHERE id=?", (job_id,)))


def totals(store: Store, job_ids: Sequence[str]) -> dict[str, JobTotals]:
    """Counts by status, usage and cost per job (one grouped query)."""
    if not job_ids:
        return {}
    marks = ",".join("?" * len(job_ids))

    def read(db: sqlite3.Connection) -> tuple[list[Any], dict[str, int]]:
        rows = db.execute(
            "SELECT job_id, status, count(*), sum(coalesce(input_tokens, 0)), sum(coalesce(output_tokens, 0)), "
            "sum(coalesce(cache_read_tokens, 0)), sum(coalesce(cache_write_tokens, 0)), sum(cost), count(cost) "
            f"FROM job_results WHERE job_id IN ({marks}) GROUP BY job_id, status", tuple(job_ids)).fetchall()
        sizes = dict(db.execute(f"SELECT id, total FROM jobs WHERE id IN ({marks})", tuple(job_ids)).fetchall())
        return rows, sizes

    rows, sizes = store.read(read)
    out: dict[str, JobTotals] = {job_id: JobTotals({}, Usage(), None) for job_id in job_ids}
    for job_id, status, n, tin, tout, cread, cwrite, cost, priced in rows:
        before = out[job_id]
        cost_sum = before.cost if not priced else (before.cost or 0.0) + cost
        out[job_id] = JobTotals({**before.counts, status: n}, before.usage + Usage(tin, tout, cread, cwrite), cost_sum)
    for job_id, total in sizes.items():
        done = out[job_id].done
        if total > done:
            out[job_id] = JobTotals({**out[job_id].counts, "pending": total - done}, out[job_id].usage,
                                    out[job_id].cost)
    return out


# -- items ----------------------------------------------------------------------------------------------
def land(store: Store, job_id: str, results: Sequence[ItemResult]) -> int:
    """Store ``results`` for items without one (an item that has its result keeps it: a result lands once);
    returns how many landed."""
    if not results:
        return 0
    now = time.time()

    def write(db: sqlite3.Connection) -> int:
        before = db.total_changes
        db.executemany(
            "INSERT OR IGNORE INTO job_results (job_id, position, status, text, data, input_tokens, output_tokens, "
            "cache_read_tokens, cache_write_tokens, cost, error, error_kind, attempts, completed_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(job_id, r.position, r.status, r.text, None if r.data is None else json.dumps(r.data, ensure_ascii=False),
              *_usage(r.usage), r.cost, r.error, r.error_kind, r.attempts, now) for r in results])
        return db.total_changes - before

    return store.write(write)


def reopen(store: Store, job_id: str, positions: Iterable[int]) -> None:
    """Make items ``pending`` again (a retry in this kernel replaces their failed results; a success stays)."""
    store.write(lambda db: db.executemany(
        "DELETE FROM job_results WHERE job_id=? AND position=? AND status != 'ok'", [(job_id, p) for p in positions]))


def settle_pending(store: Store, job_id: str, status: str, error: str, error_kind: str) -> int:
    """Give every item still ``pending`` the final ``status`` (expired, cancelled or failed)."""
    now = time.time()

    def write(db: sqlite3.Connection) -> int:
        return db.execute("INSERT OR IGNORE INTO job_results (job_id, position, status, error, error_kind, "
                          "completed_at) SELECT job_id, position, ?, ?, ?, ? FROM job_items WHERE job_id=?",
                          (status, error, error_kind, now, job_id)).rowcount

    return store.write(write)


def items(store: Store, job_id: str, statuses: Sequence[str] | None = None) -> list[StoredItem]:
    """The items of a job in input order (only those with ``statuses``, if given)."""
    where, args = "", (job_id,)
    if statuses:
        where = f" AND coalesce(r.status, 'pending') IN ({','.join('?' * len(statuses))})"
        args = (job_id, *statuses)
    rows = store.read(lambda db: db.execute(
        "SELECT i.position, i.key, i.prompt, i.custom_id, i.request_hash, coalesce(r.status, 'pending'), r.text, "
        "r.data, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.cost, r.error, "
        "r.error_kind, coalesce(r.attempts, 0) FROM job_items i LEFT JOIN job_results r "
        f"ON r.job_id = i.job_id AND r.position = i.position WHERE i.job_id=?{where} ORDER BY i.position",
        args).fetchall())
    out = []
    for (position, key, prompt, custom_id, request_hash, status, text, data, tin, tout, cread, cwrite, cost,
         error, kind, attempts) in rows:
        usage = None if tin is None and tout is None else Usage(tin or 0, tout or 0, cread or 0, cwrite or 0)
        result = ItemResult(position, status, text, None if data is None else json.loads(data), usage, cost,
                            error, kind, attempts)
        out.append(StoredItem(_key_value(key), prompt, custom_id, request_hash, result))
    return out


# -- rows -------------------------------------------------------------------------------------------------
def _job_row(record: JobRecord) -> tuple[Any, ...]:
    values = []
    for name in _COLUMNS:
        value = getattr(record, name)
        values.append(json.dumps(value, ensure_ascii=False, default=str) if name in _JSON_COLUMNS and
                      value is not None else value)
    return tuple(values)


def _record(row: Sequence[Any]) -> JobRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        if values[name] is not None:
            values[name] = json.loads(values[name])
    return JobRecord(**values)


def _usage(usage: Usage | None) -> tuple[int | None, ...]:
    if usage is None:
        return (None, None, None, None)
    return (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens or None, usage.cache_write_tokens or None)


def _key_json(key: Any) -> str:
    """An input's index label as JSON (a label JSON cannot hold is kept as its text)."""
    key = key.item() if hasattr(key, "item") and callable(key.item) else key  # numpy scalars
    try:
        return json.dumps(key, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps({"$text": str(key)})


def _key_value(text: str) -> Any:
    value = json.loads(text)
    return value["$text"] if isinstance(value, dict) and set(value) == {"$text"} else value


def set_state(store: Store, job_id: str, state: str, *, outcome: str | None = None, error: str | None = None,
              provider_job_id: str | None = None, counts: dict[str, Any] | None = None) -> None:
    """Change a job's state (and what comes with it) without rewriting the rest of its row."""
    now = time.time()
    changes: dict[str, Any] = {"state": state, "updated_at": now}
    if state == "ended":
        changes |= {"outcome": outcome, "ended_at": now}
    if error is not None:
        changes["error"] = error
    if provider_job_id is not None:
        changes["provider_job_id"] = provider_job_id
    if counts is not None:
        changes["counts"] = json.dumps(counts, default=str)
    sets = ", ".join(f"{k}=?" for k in changes)
    store.write(lambda db: db.execute(f"UPDATE jobs SET {sets} WHERE id=?", (*changes.values(), job_id)))


def set_writer(store: Store, job_id: str, writer: str) -> None:
    """The kernel (``host:pid``) now running a live job (a job whose writer died is ``interrupted``)."""
    store.write(lambda db: db.execute("UPDATE jobs SET writer=? WHERE id=?", (writer, job_id)))
