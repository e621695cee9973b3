"""Store: migrations, corrupt files, interrupted replies, ordering."""

from __future__ import annotations

import sqlite3

import pytest

from ai_sessions.errors import StoreError
from ai_sessions.migrations import MIGRATIONS
from ai_sessions.model import Message, MessageStatus, Role, SessionRecord, new_id
from ai_sessions.store import Store


def test_new_store_is_wal_and_migrated(tmp_path):
    store = Store(tmp_path / "s.db")
    try:
        assert store.schema_version == len(MIGRATIONS)
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
    assert names == [name for name, _ in MIGRATIONS]


def test_corrupt_store_is_named_and_left_untouched(tmp_path):
    path = tmp_path / "sessions.db"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(path) in str(info.value) and "move it aside" in str(info.value)
    assert path.read_bytes() == garbage


def test_store_from_newer_version_is_refused(tmp_path):
    Store(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("INSERT INTO schema_migrations VALUES ('m999_future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer ai_sessions"):
        Store(tmp_path / "s.db")


def test_reply_left_streaming_by_dead_process_becomes_interrupted(tmp_path):
    store = Store(tmp_path / "s.db")
    record = store.create_session(SessionRecord(new_id(), "x", "scope", "local:smollm2"))
    store.append_message(Message(new_id(), record.id, 0, Role.USER, "q"))
    reply = store.append_message(Message(new_id(), record.id, 0, Role.ASSISTANT, "partial",
                                         status=MessageStatus.STREAMING))
    store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE messages SET writer = ? WHERE id = ?", (f"{__import__('socket').gethostname()}:999999",
                                                                 reply.id))
    conn.commit()
    conn.close()
    reopened = Store(tmp_path / "s.db")
    try:
        last = reopened.load_messages(record.id)[-1]
        assert last.status is MessageStatus.INTERRUPTED and last.content == "partial"
    finally:
        reopened.close()


def test_seq_is_assigned_by_the_store(tmp_path):
    store = Store(tmp_path / "s.db")
    try:
        record = store.create_session(SessionRecord(new_id(), "x", "scope", "m:m"))
        seqs = [store.append_message(Message(new_id(), record.id, 0, Role.USER, str(i))).seq for i in range(3)]
        assert seqs == [1, 2, 3]
        duplicate = store.create_session(SessionRecord(new_id(), "x", "scope", "m:m"))
        assert duplicate.id == record.id
    finally:
        store.close()


def test_a_closed_store_says_so(tmp_path):
    store = Store(tmp_path / "s.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_sessions()
    with pytest.raises(StoreError, match="closed"):
        store.defer(store.list_sessions)
    store.close()  # twice is fine


def test_store_of_the_first_schema_is_upgraded_in_place(tmp_path):
    """A file written before m002 keeps its data and gets the listing's covering index."""
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    name, first = MIGRATIONS[0]
    first(conn)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (name,))
    conn.close()
    store = Store(path)
    try:
        record = store.create_session(SessionRecord(new_id(), "x", "scope", "local:smollm2"))
        store.append_message(Message(new_id(), record.id, 0, Role.USER, "q"))
        [summary] = store.list_sessions("scope")
        assert summary.message_count == 1 and store.schema_version == len(MIGRATIONS)
    finally:
        store.close()
    conn = sqlite3.connect(path)
    plan = " ".join(str(row) for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT session_id, sum(cost), max(created_at) FROM messages GROUP BY session_id"))
    conn.close()
    assert "COVERING INDEX messages_totals" in plan
