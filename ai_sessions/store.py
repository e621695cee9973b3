"""SQLite persistence (WAL): sessions, messages (with their parts and blobs), model switches and events.

One connection, used only by the store's own thread; every public method may be called from any
thread (it runs on the store thread and waits), and :meth:`Store.defer` queues a write without
waiting. Several processes may share one file: writes take ``BEGIN IMMEDIATE`` under a busy timeout.

Deleted text does not linger: ``secure_delete`` zeroes freed pages, and a clear or delete ends with a
WAL checkpoint that truncates the log. Events keep ids and metadata only, and are pruned after
``events_days`` (settings ``[store] events_days``, 90 by default).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from . import search as search_index
from . import tree as message_tree
from .errors import StoreError
from .migrations import MIGRATIONS
from .model import Event, Message, MessageStatus, ModelSwitch, Role, SessionRecord, Usage
from .parts import TextPart, binary_parts, map_binary, parts_from_dicts, search_text
from .search import SearchHit
from .tree import Node, Siblings

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
BUSY_TIMEOUT_MS = 30_000
WRITER = f"{socket.gethostname()}:{os.getpid()}"
DEFAULT_EVENTS_DAYS = 90


class _Head:
    """The parent of an appended message by default: the last message of the current branch."""

    def __repr__(self) -> str:
        return "HEAD"


HEAD: Any = _Head()


@dataclass(frozen=True)
class SessionSummary:
    """A session row with counts, for listings. ``cost_partial``: some replies have usage but no known
    price, so ``cost`` is a lower bound."""

    record: SessionRecord
    message_count: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    last_activity: float
    cost_partial: bool = False

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens)


def _on_store_thread(method: Callable[P, T]) -> Callable[P, T]:
    """Run the method on the store thread (waiting for it), turning SQLite's errors into a
    :class:`StoreError` that names the file and what to do."""

    @wraps(method)
    def run(self: Store, *args: Any, **kwargs: Any) -> T:
        if threading.current_thread() is self._thread:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise self._store_error(exc) from None
        return self.defer(run, self, *args, **kwargs).result()

    return run  # type: ignore[return-value]


class Store:
    """The session store at ``path`` (created if missing; never overwritten if unreadable)."""

    def __init__(self, path: Path, *, events_days: float = DEFAULT_EVENTS_DAYS) -> None:
        self.path = Path(path)
        self.events_days = events_days
        self._thread: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ai_sessions-store",
                                            initializer=self._bind_thread)
        self._conn: sqlite3.Connection | None = None
        try:
            self._executor.submit(self._open).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- lifecycle ------------------------------------------------------------------------------
    def _bind_thread(self) -> None:
        self._thread = threading.current_thread()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the session store {self.path} ({exc})",
                             hint="check the directory exists and is writable, or set AI_SESSIONS_DATA_DIR"
                             ) from None
        try:
            _configure(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_busy(exc):
                raise StoreError(
                    f"the session store {self.path} stayed locked by another process for "
                    f"{BUSY_TIMEOUT_MS / 1000:g} s",
                    hint="another kernel or script holds a long write on it: let it finish or stop it, "
                         "then try again") from None
            raise StoreError(
                f"the session store {self.path} is not a readable SQLite database ({exc})",
                hint=f"it was left untouched: move it aside (e.g. mv {self.path} {self.path}.bad) "
                     "and a new store is created on next start") from None
        self._conn = conn
        try:
            self._migrate()
            self._recover_interrupted()
            self._prune_events()
        except sqlite3.Error as exc:
            raise self._store_error(exc) from None

    def _store_error(self, exc: sqlite3.Error) -> StoreError:
        """A one-line error for a SQLite failure: a lock held too long, a damaged file, or else."""
        if _is_busy(exc):
            return StoreError(f"the session store {self.path} stayed locked by another process for "
                              f"{BUSY_TIMEOUT_MS / 1000:g} s",
                              hint="another kernel or script holds a long write on it: let it finish or stop it, "
                                   "then try again (nothing was written)")
        if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in str(exc) or "not a database" in str(exc)):
            return StoreError(f"the session store {self.path} is damaged ({exc})",
                              hint=f"close this kernel, move it aside (mv {self.path} {self.path}.bad) and "
                                   f"salvage it with: sqlite3 {self.path}.bad .recover | sqlite3 {self.path}")
        return StoreError(f"the session store {self.path} failed: {type(exc).__name__}: {exc}",
                          hint="check the disk has space and the file is writable, then try again")
    def close(self) -> None:
        """Finish queued writes and close the connection."""
        if self._conn is None:
            return
        def shut() -> None:
            assert self._conn is not None
            self._conn.close()
            self._conn = None

        try:
            self._executor.submit(shut).result()
        except RuntimeError:  # the interpreter is exiting and the pool is gone; WAL keeps what was committed
            return
        self._executor.shutdown(wait=True)

    def defer(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args)`` on the store thread without waiting (writes stay in order)."""
        try:
            return self._executor.submit(fn, *args, **kwargs)
        except RuntimeError:  # the pool was shut down by close() or at interpreter exit
            raise _closed_error() from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise _closed_error()
        return self._conn

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
            done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
            known = {name for name, _ in MIGRATIONS}
            if done - known:
                raise StoreError(
                    f"the session store {self.path} was written by a newer ai_sessions "
                    f"(unknown migrations: {', '.join(sorted(done - known))})",
                    hint="upgrade ai_sessions (pip install -U jupyter-ai-sessions)")
            for name, apply in MIGRATIONS:
                if name not in done:
                    log.info("applying store migration %s", name)
                    apply(db)
                    db.execute("INSERT INTO schema_migrations VALUES (?, julianday('now'))", (name,))

    def _prune_events(self) -> None:
        """Drop events older than ``events_days``."""
        cutoff = time.time() - self.events_days * 86_400
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE created_at < ?", (cutoff,))

    def _recover_interrupted(self) -> None:
        """Mark replies left ``streaming`` by processes that no longer run as ``interrupted``."""
        db = self._connection()
        rows = db.execute("SELECT id, writer FROM messages WHERE status = 'streaming'").fetchall()
        dead = [mid for mid, writer in rows if not _writer_alive(writer)]
        if dead:
            with self._tx() as db:
                db.executemany("UPDATE messages SET status = 'interrupted', error = ?, error_kind = ? "
                               "WHERE id = ? AND status = 'streaming'",
                               [("the kernel stopped while this reply was streaming", "interrupted", mid)
                                for mid in dead])
            log.info("marked %d reply(ies) from stopped kernels as interrupted", len(dead))

    @property
    def schema_version(self) -> int:
        return self._count("SELECT count(*) FROM schema_migrations")

    @_on_store_thread
    def _count(self, sql: str) -> int:
        return int(self._connection().execute(sql).fetchone()[0])

    # -- sessions -------------------------------------------------------------------------------
    @_on_store_thread
    def create_session(self, record: SessionRecord, *, auto_name: str | None = None) -> SessionRecord:
        """Insert ``record``; if its (scope, name) exists already (another kernel), return that one. With
        ``auto_name`` (a prefix), the record gets the first free ``PREFIX-N`` name of its scope, chosen
        inside the write transaction (so sessions created at the same moment never share a name)."""
        try:
            with self._tx() as db:
                if auto_name is not None:
                    record = record.with_(name=_free_name(db, record.scope, auto_name))
                self._insert_session(db, record)
        except sqlite3.IntegrityError:
            existing = self.find_session(record.scope, record.name)
            if existing is None:
                raise
            return existing
        return record

    @staticmethod
    def _insert_session(db: sqlite3.Connection, record: SessionRecord) -> None:
        db.execute(
            "INSERT INTO sessions (id, name, scope, model, params, system_prompt, fallback_reason, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (record.id, record.name, record.scope, record.model, json.dumps(record.params),
             record.system_prompt, record.fallback_reason, record.created_at, record.updated_at))

    @_on_store_thread
    def import_session(self, record: SessionRecord, messages: list[Message],
                       switches: list[ModelSwitch], head: str | None = None) -> SessionRecord:
        """Store a whole imported session in one transaction (all of it or nothing). ``messages`` carry
        their parent ids (parents first); ``head`` ends the current branch (default: the last message)."""
        head = head or (messages[-1].id if messages else None)
        parents = {m.id: m.parent_id for m in messages}
        path: list[str] = []
        step = head
        while step is not None and step in parents and len(path) <= len(parents):
            path.append(step)
            step = parents[step]
        path.reverse()
        with self._tx() as db:
            self._insert_session(db, record)
            self._insert_messages(db, messages)
            for switch in switches:  # exported at their place on the current branch
                index = min(switch.message_index, len(path))
                self._insert_switch(db, replace(switch, after_id=path[index - 1] if index else None))
            message_tree.set_head(db, record.id, head)
        return record

    @_on_store_thread
    def update_session(self, record: SessionRecord) -> None:
        with self._tx() as db:
            db.execute("UPDATE sessions SET name=?, model=?, params=?, system_prompt=?, fallback_reason=?, "
                       "updated_at=? WHERE id=?",
                       (record.name, record.model, json.dumps(record.params), record.system_prompt,
                        record.fallback_reason, record.updated_at, record.id))

    @_on_store_thread
    def find_session(self, scope: str, name: str) -> SessionRecord | None:
        row = self._connection().execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE scope=? AND name=?", (scope, name)).fetchone()
        return None if row is None else _session_from_row(row)

    @_on_store_thread
    def get_session(self, session_id: str) -> SessionRecord | None:
        row = self._connection().execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id=?", (session_id,)).fetchone()
        return None if row is None else _session_from_row(row)

    @_on_store_thread
    def list_sessions(self, scope: str | None = None) -> list[SessionSummary]:
        """Sessions (of ``scope``, or all) with message counts and usage, most recent first."""
        # Totals per session first (an index-ordered scan of this scope's messages), then the join: grouping
        # the joined rows instead sorts every message in a temp B-tree (2.4x slower with 50,000 messages).
        where, inner, args = (("WHERE s.scope = ?1", "WHERE session_id IN (SELECT id FROM sessions WHERE scope = ?1) ",
                               (scope,)) if scope is not None else ("", "", ()))
        rows = self._connection().execute(
            f"SELECT {_PREFIXED_SESSION_COLUMNS}, coalesce(t.n, 0), coalesce(t.tin, 0), coalesce(t.tout, 0), "
            "t.cost, max(s.updated_at, coalesce(t.last, 0)), coalesce(t.priced < t.used AND t.priced > 0, 0) "
            "FROM sessions s LEFT JOIN "
            "(SELECT session_id, count(*) AS n, sum(input_tokens) AS tin, sum(output_tokens) AS tout, "
            "sum(cost) AS cost, max(created_at) AS last, count(input_tokens) AS used, count(cost) AS priced "
            f"FROM messages {inner}GROUP BY session_id) t "
            f"ON t.session_id = s.id {where} ORDER BY 14 DESC", args).fetchall()
        return [SessionSummary(_session_from_row(r[:9]), *r[9:14], bool(r[14])) for r in rows]

    @_on_store_thread
    def delete_session(self, session_id: str) -> None:
        """Delete a session with its messages, switches, events and unused blobs, then empty the WAL so
        the text is in no file any more."""
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id=?", (session_id,))
            db.execute("DELETE FROM events WHERE session_id=?", (session_id,))
            self._drop_orphan_blobs(db)
        self.purge()

    @_on_store_thread
    def clear_session(self, session_id: str, purge: bool = True) -> None:
        """Delete a session's messages, model switches and events (the session stays), then (``purge``) take
        their text out of every file: see :meth:`purge`."""
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE session_id=?", (session_id,))
            db.execute("DELETE FROM model_switches WHERE session_id=?", (session_id,))
            db.execute("DELETE FROM events WHERE session_id=?", (session_id,))
            message_tree.set_head(db, session_id, None)
            self._drop_orphan_blobs(db)
        if purge:
            self.purge()

    @_on_store_thread
    def purge(self) -> None:
        """Deleted text out of every file: the search index merged (its segments keep a deleted row's
        words until then; about a second for 100,000 messages), then the WAL checkpointed and truncated.
        Sessions call it after a clear or delete from the caller's thread, not the hub loop's."""
        search_index.optimize(self._connection())
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it (deleted text must not stay in the log). Another
        connection reading at the same moment can keep the WAL from being truncated; SQLite then leaves it
        for the next checkpoint."""
        self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    @staticmethod
    def _drop_orphan_blobs(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM blobs WHERE hash NOT IN (SELECT hash FROM message_blobs)")

    # -- messages -------------------------------------------------------------------------------
    @_on_store_thread
    def append_message(self, message: Message) -> Message:
        """Insert ``message`` at the end of its session's current branch; returns it with its stored
        ``seq`` and ``parent_id``."""
        with self._tx() as db:
            return self._append(db, message, HEAD)

    @_on_store_thread
    def append_turn(self, user: Message | None, reply: Message,
                    parent: str | None = HEAD) -> tuple[Message | None, Message]:
        """Insert a prompt (if any) and the empty reply to it in one transaction: a process killed between
        the two can never leave a prompt without its reply. The first of them follows ``parent`` (by
        default the end of the current branch; another message starts a new branch there, None a new
        first message), and the reply ends the current branch."""
        with self._tx() as db:
            stored_user = self._append(db, user, parent) if user is not None else None
            return stored_user, self._append(db, reply, stored_user.id if stored_user is not None else parent)

    def _append(self, db: sqlite3.Connection, message: Message, parent: str | None) -> Message:
        if parent is HEAD:
            parent = message_tree.head(db, message.session_id)
        seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id=?",
                         (message.session_id,)).fetchone()[0]
        message = message.with_(seq=seq, parent_id=parent)
        self._insert_messages(db, [message])
        message_tree.set_head(db, message.session_id, message.id)
        return message

    def _insert_messages(self, db: sqlite3.Connection, messages: list[Message]) -> None:
        """Insert rows, each at the depth below its parent (parents first: in this list or stored)."""
        depths: dict[str, int] = {}
        rows = []
        for m in messages:
            if m.parent_id is None:
                depth = 0
            elif m.parent_id in depths:
                depth = depths[m.parent_id] + 1
            else:
                found = db.execute("SELECT depth FROM messages WHERE id=?", (m.parent_id,)).fetchone()
                depth = found[0] + 1 if found is not None else 0
            depths[m.id] = depth
            rows.append((*_message_row(m), depth, WRITER))
        db.executemany(f"INSERT INTO messages ({_MESSAGE_COLUMNS}, depth, writer) VALUES ({_MESSAGE_SLOTS}, ?, ?)",
                       rows)
        for message in messages:
            self._write_blobs(db, message)

    @staticmethod
    def _write_blobs(db: sqlite3.Connection, message: Message) -> None:
        """Store the bytes of a message's images and files once per hash, and note which it uses."""
        for part in binary_parts(message.parts):
            if part.data is not None:
                db.execute("INSERT OR IGNORE INTO blobs (hash, media_type, size, data, created_at) "
                           "VALUES (?,?,?,?,?)", (part.blob, part.media_type, len(part.data), part.data,
                                                  time.time()))
            db.execute("INSERT OR IGNORE INTO message_blobs (message_id, hash) VALUES (?,?)", (message.id, part.blob))

    @_on_store_thread
    def update_message(self, message: Message) -> None:
        """Write a message's parts, status, usage and error (a checkpoint or the final state)."""
        usage = message.usage
        with self._tx() as db:
            db.execute("UPDATE messages SET content=?, parts=?, model=?, status=?, input_tokens=?, output_tokens=?, "
                       "cache_read_tokens=?, cache_write_tokens=?, cost=?, error=?, error_kind=?, completed_at=? "
                       "WHERE id=?",
                       (*_text_columns(message), message.model, message.status.value,
                        *_usage_row(usage), message.cost, message.error, message.error_kind,
                        message.completed_at, message.id))
            self._write_blobs(db, message)

    @_on_store_thread
    def load_messages(self, session_id: str) -> list[Message]:
        """The messages of the session's current branch, first to last (images and files by hash:
        :meth:`blob` has their bytes)."""
        db = self._connection()
        head = message_tree.head(db, session_id)
        if head is None:
            return []
        # One index range scan of the session, the branch picked out here: walking up the tree in SQL costs a
        # lookup per message that must read past each row's text to its parent_id (5x slower on 10,000).
        rows = db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE session_id=? ORDER BY seq", (session_id,))
        return [_message_from_row(r) for r in message_tree.branch_rows(rows.fetchall(), head)]

    @_on_store_thread
    def load_all_messages(self, session_id: str) -> tuple[list[Message], str | None]:
        """Every message of the session, of every branch, in ``seq`` order, and the current branch's last
        message (for exports)."""
        db = self._connection()
        rows = db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE session_id=? ORDER BY seq", (session_id,))
        return [_message_from_row(r) for r in rows], message_tree.head(db, session_id)

    @_on_store_thread
    def tree(self, session_id: str) -> list[Node]:
        """The session's messages as tree nodes (ids, parents, roles; no text)."""
        return message_tree.nodes(self._connection(), session_id)

    @_on_store_thread
    def siblings(self, session_id: str, path: list[str]) -> dict[str, Siblings]:
        """For each message id of ``path`` that has siblings: its place among them (the chat's switcher).
        Reads only the session's fork points, through an index."""
        return message_tree.siblings(self._connection(), session_id, path)

    @_on_store_thread
    def checkout(self, session_id: str, message_id: str) -> str | None:
        """Make the newest branch through ``message_id`` the current one; returns its last message's id
        (None, changing nothing, if the session has no such message)."""
        with self._tx() as db:
            leaf = message_tree.latest_leaf(db, session_id, message_id)
            if leaf is not None:
                message_tree.set_head(db, session_id, leaf)
            return leaf

    @_on_store_thread
    def remove_messages(self, session_id: str, ids: list[str], head: str | None, purge: bool = True) -> None:
        """Delete the messages ``ids`` of a session: what followed them moves up to their nearest remaining
        ancestor, ``head`` ends the current branch. With ``purge`` their text then leaves every file of the
        store (the search index merged, the WAL truncated), as after a clear."""
        with self._tx() as db:
            message_tree.remove(db, session_id, ids, head)
            self._drop_orphan_blobs(db)
        if purge:
            self.purge()

    @_on_store_thread
    def delete_messages(self, session_id: str, from_seq: int = 1) -> None:
        """Delete the messages of a session from ``from_seq`` on (all by default); the current branch ends
        at the newest message left."""
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE session_id=? AND seq>=?", (session_id, from_seq))
            message_tree.set_head(db, session_id, None)
            self._drop_orphan_blobs(db)

    @_on_store_thread
    def copy_messages(self, messages: list[Message]) -> None:
        """Insert a conversation as one branch (fork, benchmarks): each message follows the one before it
        of its session, the last ends the current branch; ids, ``seq`` and parts are kept as given, blobs
        are shared, not copied."""
        previous: dict[str, str | None] = {}
        chained = []
        for message in messages:
            chained.append(message.with_(parent_id=previous.get(message.session_id)))
            previous[message.session_id] = message.id
        with self._tx() as db:
            self._insert_messages(db, chained)
            for session_id, last in previous.items():
                message_tree.set_head(db, session_id, last)

    @_on_store_thread
    def search(self, query: str, *, scope: str | None = None, limit: int = 50) -> list[SearchHit]:
        """The messages best matching ``query`` (words; see :mod:`ai_sessions.search`), in sessions of
        ``scope`` (all for None), best first."""
        return search_index.search(self._connection(), query, scope=scope, limit=limit)

    @_on_store_thread
    def reply_timings(self, session_id: str) -> dict[str, dict[str, float | None]]:
        """Per reply id, what its final event recorded: ``elapsed`` and ``first_token_s`` (seconds), for
        the chat's per-message details. Events are pruned after ``events_days``: older replies have none."""
        rows = self._connection().execute(
            "SELECT json_extract(payload, '$.id'), json_extract(payload, '$.elapsed'), "
            "json_extract(payload, '$.first_token_s') FROM events WHERE session_id=? AND kind IN "
            "('llm.response.completed', 'llm.response.failed') AND json_valid(payload)", (session_id,))
        return {mid: {"elapsed": elapsed, "first_token_s": first} for mid, elapsed, first in rows if mid}

    @_on_store_thread
    def blob(self, blob_hash: str) -> bytes:
        """The bytes stored under ``blob_hash``; raises :class:`StoreError` if they are gone."""
        row = self._connection().execute("SELECT data FROM blobs WHERE hash=?", (blob_hash,)).fetchone()
        if row is None:
            raise StoreError(f"the attachment {blob_hash} is missing from {self.path}",
                             hint="the message refers to data that was deleted; regenerate or remove the message")
        return bytes(row[0])

    @_on_store_thread
    def with_blob_data(self, messages: list[Message]) -> list[Message]:
        """``messages`` with the bytes of their images and files loaded (for exports)."""
        out = []
        for message in messages:
            if any(p.data is None for p in binary_parts(message.parts)):
                message = message.with_(parts=map_binary(
                    message.parts, lambda p: p if p.data is not None else p.with_data(self.blob(p.blob))))
            out.append(message)
        return out

    # -- tables kept by other modules (jobs: job_store.py) ----------------------------------------------
    @_on_store_thread
    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(db)`` in one write transaction on the store thread (for modules with tables of their own;
        queue it without waiting with ``store.defer(store.write, fn)``)."""
        with self._tx() as db:
            return fn(db)

    @_on_store_thread
    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(db)`` on the store thread, outside any write transaction."""
        return fn(self._connection())

    # -- switches and events ----------------------------------------------------------------------
    @_on_store_thread
    def add_switch(self, switch: ModelSwitch) -> None:
        with self._tx() as db:
            self._insert_switch(db, switch)

    @staticmethod
    def _insert_switch(db: sqlite3.Connection, switch: ModelSwitch) -> None:
        db.execute("INSERT INTO model_switches (session_id, from_model, to_model, message_index, reason, "
                   "created_at, after_id) VALUES (?,?,?,?,?,?,?)",
                   (switch.session_id, switch.from_model, switch.to_model, switch.message_index,
                    switch.reason, switch.created_at, switch.after_id))

    @_on_store_thread
    def reanchor_switches(self, session_id: str, deleted: list[str], anchor: str | None) -> None:
        """Messages ``deleted`` are gone and what followed them now follows ``anchor``: so do the switches
        that followed them."""
        if deleted:
            with self._tx() as db:
                db.execute(f"UPDATE model_switches SET after_id = ? WHERE session_id = ? AND after_id IN "
                           f"({','.join('?' * len(deleted))})", (anchor, session_id, *deleted))

    @_on_store_thread
    def load_switches(self, session_id: str, path: Sequence[str] | None = None) -> list[ModelSwitch]:
        """The switches of the branch ``path`` (its message ids, in order; the current branch by default),
        each at its place on it."""
        if path is None:
            path = [m.id for m in self.load_messages(session_id)]
        rows = self._connection().execute(
            "SELECT session_id, from_model, to_model, reason, created_at, after_id FROM model_switches "
            "WHERE session_id=? ORDER BY id", (session_id,))
        return switches_on(rows, path)

    @_on_store_thread
    def add_event(self, event: Event) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO events (session_id, kind, created_at, payload) VALUES (?,?,?,?)",
                       (event.session_id, event.kind.value, event.time,
                        json.dumps(event.stored_payload(), default=str)))

    @_on_store_thread
    def load_events(self, session_id: str) -> list[tuple[str, float, dict[str, Any]]]:
        rows = self._connection().execute(
            "SELECT kind, created_at, payload FROM events WHERE session_id=? ORDER BY id", (session_id,))
        return [(kind, at, json.loads(payload)) for kind, at, payload in rows]

    # -- timeline and metrics (ai_sessions.timeline, ai_sessions.metrics) ------------------------------
    @_on_store_thread
    def event_log(self, session_id: str | None = None, *, scope: str | None = None, after_id: int = 0,
                  kinds: Sequence[str] = (), skip: Sequence[str] = ()) -> list[list[Any]]:
        """Stored events as ``[id, session_id, kind, time, payload]`` lists in the order they happened: of
        ``session_id`` (newer than event ``after_id``), of every session of ``scope``, or of every session;
        only ``kinds`` if given, never ``skip`` (the timeline of a 10,000-message session reads ~15,000)."""
        where, args = ["id > ?"], [after_id]
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        elif scope is not None:
            where.append("session_id IN (SELECT id FROM sessions WHERE scope = ?)")
            args.append(scope)
        for names, test in ((kinds, "IN"), (skip, "NOT IN")):
            if names:
                where.append(f"kind {test} ({','.join('?' * len(names))})")
                args.extend(names)
        rows = self._connection().execute(
            f"SELECT id, session_id, kind, created_at, payload FROM events WHERE {' AND '.join(where)} ORDER BY id",
            args).fetchall()
        try:  # every payload at once: one json.loads per row would cost a third more
            payloads = json.loads("[" + ",".join([row[4] for row in rows]) + "]")
        except ValueError:
            payloads = None
        if payloads is None or len(payloads) != len(rows):  # a damaged payload: row by row, keeping what reads
            payloads = [_loads_or_empty(row[4]) for row in rows]
        return [[eid, sid, kind, at, payload] for (eid, sid, kind, at, _), payload in zip(rows, payloads, strict=True)]

    @_on_store_thread
    def message_statuses(self, message_ids: Sequence[str]) -> dict[str, str]:
        """The stored status of each of ``message_ids`` that still exists."""
        out: dict[str, str] = {}
        ids = list(message_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out.update(self._connection().execute(
                f"SELECT id, status FROM messages WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall())
        return out


_SESSION_COLUMNS = "id, name, scope, model, params, system_prompt, created_at, updated_at, fallback_reason"
_PREFIXED_SESSION_COLUMNS = ", ".join(f"s.{c}" for c in _SESSION_COLUMNS.split(", "))
_MESSAGE_COLUMNS = ("id, session_id, seq, role, content, parts, model, status, input_tokens, output_tokens, "
                    "cache_read_tokens, cache_write_tokens, cost, error, error_kind, created_at, completed_at, "
                    "parent_id")
_MESSAGE_SLOTS = ",".join("?" * 18)


def _loads_or_empty(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorname", "").startswith(
        ("SQLITE_BUSY", "SQLITE_LOCKED"))


def _configure(conn: sqlite3.Connection) -> None:
    """Set the connection up, waiting out other processes that open the same new file at once.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers BUSY at once, without its
    busy handler, when two connections race for it; so that step is retried with jittered backoff.
    """
    from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

    @retry(retry=retry_if_exception(_is_busy), wait=wait_random_exponential(multiplier=0.01, max=0.25),
           stop=stop_after_delay(BUSY_TIMEOUT_MS / 1000), reraise=True)
    def setup() -> None:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed: deleted text leaves the file
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()

    setup()


def _closed_error() -> StoreError:
    return StoreError("the session store is closed (its hub was shut down)",
                      hint="get a new hub with ai_sessions.hub()")


def _session_from_row(row: tuple[Any, ...]) -> SessionRecord:
    sid, name, scope, model, params, system, created, updated, *rest = row
    return SessionRecord(id=sid, name=name, scope=scope, model=model, params=json.loads(params),
                         system_prompt=system, created_at=created, updated_at=updated,
                         fallback_reason=rest[0] if rest else None)


def _free_name(db: sqlite3.Connection, scope: str, prefix: str) -> str:
    taken = {row[0] for row in db.execute("SELECT name FROM sessions WHERE scope=? AND name LIKE ?",
                                          (scope, f"{prefix}-%"))}
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"


def _parts_json(m: Message) -> str | None:
    """NULL for a text-only message (``content`` holds it), else the parts as JSON (bytes by hash)."""
    if all(isinstance(p, TextPart) for p in m.parts) and len(m.parts) <= 1:
        return None
    return json.dumps([p.to_dict() for p in m.parts], ensure_ascii=False)


def _usage_row(usage: Usage | None) -> tuple[int | None, ...]:
    if usage is None:
        return (None, None, None, None)
    return (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens or None, usage.cache_write_tokens or None)


def switches_on(rows: Any, path: Sequence[str]) -> list[ModelSwitch]:
    """``(session_id, from, to, reason, created_at, after_id)`` rows of switches placed on branch ``path``:
    those before its first message or after one of its messages; the others belong to other branches."""
    place = {message_id: i + 1 for i, message_id in enumerate(path)}
    switches = []
    for session_id, from_model, to_model, reason, created_at, after_id in rows:
        index = 0 if after_id is None else place.get(after_id)
        if index is not None:
            switches.append(ModelSwitch(session_id, from_model, to_model, index, reason, created_at, after_id))
    return switches


def _text_columns(m: Message) -> tuple[str, str | None]:
    """``content`` and ``parts``: a text-only message's text and NULL, else what search finds it by (its
    text, tool calls and results, one paragraph each: the index covers ``content``) and the parts."""
    parts = _parts_json(m)
    return (m.content if parts is None else search_text(m.parts)), parts


def _message_row(m: Message) -> tuple[Any, ...]:
    return (m.id, m.session_id, m.seq, m.role.value, *_text_columns(m), m.model, m.status.value,
            *_usage_row(m.usage), m.cost, m.error, m.error_kind, m.created_at, m.completed_at, m.parent_id)


_ROLES = {role.value: role for role in Role}
_STATUSES = {status.value: status for status in MessageStatus}


def _message_from_row(row: tuple[Any, ...]) -> Message:
    # runs once per message of a loaded branch (a checkout reloads it): plain lookups, no enum calls
    (mid, sid, seq, role, content, parts, model, status, tin, tout, cread, cwrite, cost, error, error_kind, created,
     completed, parent) = row
    usage = None if tin is None and tout is None else Usage(tin or 0, tout or 0, cread or 0, cwrite or 0)
    if parts is not None:
        typed = parts_from_dicts(json.loads(parts))
    else:
        typed = (TextPart(content),) if content else ()
    return Message(mid, sid, seq, _ROLES[role], typed, model, _STATUSES[status], usage, cost, error, error_kind,
                   created, completed, parent)


def writer_alive(writer: str | None) -> bool:
    """Whether the process that wrote ``host:pid`` still runs (another host's: assumed so)."""
    return _writer_alive(writer)


def _writer_alive(writer: str | None) -> bool:
    if not writer:
        return False
    host, _, pid = writer.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine sharing the file: cannot tell, leave it alone
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
