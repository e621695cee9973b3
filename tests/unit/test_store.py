"""Store: migrations, corrupt files, interrupted replies, ordering; turns stored whole, deleted text gone from
every file, and every SQLite failure a clear StoreError."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid

import pytest

from ai_sessions.errors import AiSessionsError, StoreError
from ai_sessions.migrations import MIGRATIONS
from ai_sessions.model import Message, MessageStatus, Role, SessionRecord, new_id
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Settings, load_settings
from ai_sessions.store import Store
from tests.scripted import SCRIPTS, Script


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


# -- issue 9: atomic turns, text that leaves, SQLite failures as StoreError ------------------------------
SCRIPTED = {"scripted": ProviderConfig("scripted", "scripted")}


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    return make_hub(settings=Settings(providers=SCRIPTED))


def _store_files(path):
    """The database and its -wal and -shm files, as they are on disk."""
    return {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}


def _files_holding(path, text: str) -> list[str]:
    return [name for name, data in _store_files(path).items() if text.encode() in data]


def test_a_prompt_and_its_empty_reply_are_stored_together_or_not_at_all(shub, make_hub):
    """Issue 9, item 4: when the reply row cannot be written, the prompt is not left behind alone (the
    next prompt would merge with it in the history)."""
    SCRIPTS["m"] = Script(chunks=["turns={turns}"])
    s = shub.session("a", model="scripted:m")
    s.send("first")
    conn = sqlite3.connect(shub.store.path, isolation_level=None)
    conn.execute("CREATE TRIGGER no_reply BEFORE INSERT ON messages WHEN NEW.role = 'assistant' "
                 "BEGIN SELECT RAISE(ABORT, 'injected failure of the second insert'); END")
    with pytest.raises(StoreError, match="injected failure"):
        s.send("lost?")
    conn.execute("DROP TRIGGER no_reply")
    conn.close()
    expected = [(Role.USER, "first"), (Role.ASSISTANT, "turns=1")]
    assert [(m.role, m.content) for m in shub.store.load_messages(s.id)] == expected
    assert [(m.role, m.content) for m in s.messages] == expected
    assert s.send("second").content == "turns=3"  # the history holds no prompt without its reply
    assert [(t.role, t.content) for t in SCRIPTS["m"].requests[-1].turns] == [
        ("user", "first"), ("assistant", "turns=1"), ("user", "second")]
    shub.shutdown()
    again = make_hub(settings=shub.settings).session("a")
    assert [m.content for m in again.messages] == ["first", "turns=1", "second", "turns=3"]


@pytest.mark.parametrize("how", ["clear", "delete"])
def test_cleared_or_deleted_text_is_in_no_file_of_the_store(shub, how):
    """Issue 9, item 7: after clear() or delete() the text is nowhere in the database files (not in
    events, free pages or the WAL)."""
    marker, system = f"zebra-{uuid.uuid4().hex}", f"gnu-{uuid.uuid4().hex}"
    SCRIPTS["m"] = Script(chunks=["you said: ", "{last}"])
    s = shub.session("a", model="scripted:m")
    keep = shub.session("b", model="scripted:m")
    keep.send("another conversation, kept")
    s.configure(system_prompt=f"always mention {system}")
    s.send(f"the password is {marker}")
    s.switch_model("scripted:n", reason=f"compare {marker}")
    path = shub.store.path
    assert _files_holding(path, marker) and _files_holding(path, system)  # stored: the scan finds them
    if how == "clear":
        s.clear()
        assert s.system_prompt == f"always mention {system}"  # the session and its settings stay
    else:
        shub.delete("a")
        assert _files_holding(path, system) == []
    assert _files_holding(path, marker) == []
    assert [m.content for m in keep.messages] == ["another conversation, kept", "you said: another conversation, kept"]


def test_events_keep_ids_and_metadata_not_the_text(shub):
    marker = f"okapi-{uuid.uuid4().hex}"
    SCRIPTS["m"] = Script(chunks=["echo ", "{last}"])
    s = shub.session("a", model="scripted:m")
    s.configure(system_prompt=f"{marker} is the topic")
    reply = s.send(marker)
    shub.runtime.loop.call(lambda: None)
    events = shub.store.load_events(s.id)
    kinds = [kind for kind, _, _ in events]
    for kind in ("message.user", "llm.request.started", "llm.response.completed", "message.assistant"):
        assert kind in kinds
    assert marker not in json.dumps([payload for _, _, payload in events])
    completed = next(p for k, _, p in events if k == "llm.response.completed")
    assert completed["id"] == reply.id and completed["status"] == "complete" and "elapsed" in completed
    assert [m.content for m in s.messages] == [marker, f"echo {marker}"]  # the messages keep it


def test_events_older_than_events_days_are_pruned(shub, make_hub, tmp_path):
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text("[store]\nevents_days = 2\n")
    settings = dataclasses.replace(load_settings([settings_file]), providers=SCRIPTED)
    assert settings.events_days == 2
    old, recent = shub.session("old", model="scripted:m"), shub.session("recent", model="scripted:m")
    old.send("hi")
    recent.send("hi")
    path = shub.store.path
    shub.shutdown()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET created_at = created_at - 3 * 86400 WHERE session_id = ?", (old.id,))
    conn.commit()
    conn.close()
    store = make_hub(settings=settings).store
    assert store.load_events(old.id) == [] and store.load_events(recent.id) != []
    assert [m.content for m in store.load_messages(old.id)] == ["hi", "Hello world"]  # messages stay


@pytest.mark.parametrize("where", ["prompt", "session name", "system prompt", "per-reply system prompt",
                                   "configured system prompt", "switch reason"])
def test_a_lone_surrogate_is_a_clear_error_naming_the_field(shub, where):
    """Issue 9, item 12: a lone surrogate (e.g. from a broken decode) is refused up front, naming what
    holds it, never a UnicodeEncodeError from SQLite with the prompt lost."""
    bad = "caf\udce9"
    s = shub.session("a", model="scripted:m")
    calls = {
        "prompt": lambda: s.send(bad),
        "session name": lambda: shub.session(bad, model="scripted:m"),
        "system prompt": lambda: shub.session("b", model="scripted:m", system_prompt=bad),
        "per-reply system prompt": lambda: s.send("hi", system_prompt=bad),
        "configured system prompt": lambda: s.configure(system_prompt=bad),
        "switch reason": lambda: s.switch_model("scripted:n", reason=bad),
    }
    with pytest.raises(AiSessionsError, match="surrogate") as info:
        calls[where]()
    assert where.split()[-1] in str(info.value).replace("_", " ")
    assert s.messages == () and shub.store.load_messages(s.id) == []
    assert [i.name for i in shub.sessions()] == ["a"] and s.system_prompt is None
    assert s.send("hi").content == "Hello world"  # and the session works on


def test_a_store_locked_too_long_is_a_clear_error_and_loses_nothing(make_hub, monkeypatch):
    """Issue 9, item 12: another process holding the write lock past the busy timeout (30 s; shortened
    here) gives a StoreError naming the file; the turn is not half-stored and can be sent again."""
    import ai_sessions.store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    SCRIPTS.clear()
    hub = make_hub(settings=Settings(providers=SCRIPTED))
    s = hub.session("a", model="scripted:m")
    s.send("first")
    other = sqlite3.connect(hub.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another kernel in a long write
    try:
        with pytest.raises(StoreError) as info:
            s.send("second")
        message = str(info.value)
        assert str(hub.store.path) in message and "locked" in message and "try again" in message
        assert [m.content for m in s.messages] == ["first", "Hello world"] and s.status.value == "idle"
        with pytest.raises(StoreError, match="locked"):
            hub.session("b", model="scripted:m")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert s.send("second").content == "Hello world"
    assert [m.content for m in hub.store.load_messages(s.id)] == ["first", "Hello world", "second", "Hello world"]


def test_a_store_locked_while_a_reply_ends_still_ends_it_and_saves_it_later(make_hub, monkeypatch):
    """The final write meets the lock: the reply still ends (listeners, the session), the caller gets a
    StoreError naming the file, and the write is queued again, so the row does not stay ``streaming``."""
    import asyncio
    import threading

    import ai_sessions.store as store_module
    from ai_sessions import EventKind

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 1000)
    SCRIPTS.clear()
    hub = make_hub(settings=Settings(providers=SCRIPTED))
    gate, started = asyncio.Event(), threading.Event()
    SCRIPTS["m"] = Script(chunks=["the answer"], gate=gate, started=started)
    s = hub.session("a", model="scripted:m")
    handle = s.submit("q")
    assert started.wait(10)
    other = sqlite3.connect(hub.store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another kernel in a long write as the reply ends
    ended: list[str] = []

    def let_go(event):  # the reply has ended for its listeners: the other kernel lets go of the lock
        ended.append(event.payload["status"])
        other.execute("ROLLBACK")

    hub.on(EventKind.RESPONSE_COMPLETED, let_go)
    hub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    with pytest.raises(StoreError) as info:
        handle.result(30)
    other.close()
    assert str(hub.store.path) in str(info.value) and "not saved" in str(info.value)
    assert ended == ["complete"] and s.status.value == "idle"
    assert (s.messages[-1].content, s.messages[-1].status) == ("the answer", MessageStatus.COMPLETE)
    stored = hub.store.load_messages(s.id)[-1]  # queued after the second write
    assert (stored.content, stored.status) == ("the answer", MessageStatus.COMPLETE)
    assert s.send("next").status is MessageStatus.COMPLETE


def _corrupt_page(path, page: int) -> None:
    """Overwrite one page of the database file (not the header page) with garbage."""
    size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    assert page > 1
    with open(path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(bytes([0xA5]) * size)


def test_a_damaged_data_page_is_a_clear_error_naming_the_file(shub, make_hub):
    """Issue 9, item 12: a corrupted page in the middle of the file (not the header) gives a StoreError
    naming the file and how to salvage it, for a send (whose prompt is not half-stored) and on restart."""
    s = shub.session("a", model="scripted:m")
    for i in range(40):
        s.send(f"message {i} " + "lorem ipsum " * 100)
    shub.session("scratch", model="scripted:m")
    shub.delete("scratch")  # a delete checkpoints the WAL: every page is in the database file now
    path = shub.store.path
    conn = sqlite3.connect(path, isolation_level=None)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert 1 < root < pages // 2  # an interior page that every insert of a message reads
    _corrupt_page(path, root)
    conn.execute("PRAGMA user_version = 7")  # another process writes: the store drops its page cache
    conn.close()
    before = s.messages
    with pytest.raises(StoreError) as info:
        s.send("the prompt that meets the damage")
    message = str(info.value)
    assert str(path) in message and "damaged" in message and ".recover" in message
    assert s.messages == before and s.status.value == "idle"
    shub.shutdown()
    with pytest.raises(StoreError) as info:
        make_hub(settings=shub.settings).session("a")
    assert str(path) in str(info.value) and "damaged" in str(info.value)
