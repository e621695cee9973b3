"""The store written by ai_sessions 0.1 (commit d8f6fe3; tests/fixtures/make_store_v0_1.py wrote
store_v0_1.db) is migrated in place: messages keep their text (non-ASCII included), statuses and models,
failed and stopped replies stay as they were, the model switches stay, stored events lose their copies of
the text, and the conversation goes on."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from ai_sessions import MessageStatus, Role
from ai_sessions.migrations import MIGRATIONS
from ai_sessions.parts import TextPart
from ai_sessions.store import Store
from tests.scripted import SCRIPTS, Script

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v0_1.db"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "sessions.db"
    path.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, path)
    return path


def test_the_fixture_is_a_0_1_store():
    with sqlite3.connect(FIXTURE) as db:
        assert [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY name")] == [
            "m001_initial", "m002_message_totals_index"]


def test_a_0_1_store_is_migrated_and_the_conversation_goes_on(old_store, make_hub):
    store = Store(old_store)
    with sqlite3.connect(old_store) as db:
        applied = {r[0] for r in db.execute("SELECT name FROM schema_migrations")}
    assert applied == {name for name, _ in MIGRATIONS}
    store.close()

    hub = make_hub(store_path=old_store, scope="fixture.ipynb")
    s = hub.get("données")
    assert [(m.role, m.status, m.content, m.model) for m in s.messages] == [
        (Role.USER, MessageStatus.COMPLETE, "Qu'est-ce qu'une p-valeur ? 统计", None),
        (Role.ASSISTANT, MessageStatus.COMPLETE, "Réponse 😀 naïve", "scripted:a"),
        (Role.USER, MessageStatus.COMPLETE, "second question", None),
        (Role.ASSISTANT, MessageStatus.FAILED, "", "scripted:b"),
        (Role.USER, MessageStatus.COMPLETE, "third question", None),
        (Role.ASSISTANT, MessageStatus.STOPPED, "partial text", "scripted:c"),
    ]
    assert s.messages[1].parts == (TextPart("Réponse 😀 naïve"),) and s.messages[3].parts == ()
    assert s.messages[3].error and s.messages[3].error_kind == "auth"
    assert [(w.from_model, w.to_model, w.message_index, w.reason) for w in s.model_switches] == [
        ("scripted:a", "scripted:b", 2, "essai"), ("scripted:b", "scripted:c", 4, "troisième")]
    assert (s.system_prompt, s.params) == ("Sois bref.", {"temperature": 0.3})

    SCRIPTS["c"] = Script(chunks=["suite"])
    reply = s.send("et maintenant ?")
    assert (reply.status, reply.content) == (MessageStatus.COMPLETE, "suite")
    sent = [(t.role, t.content) for t in SCRIPTS["c"].requests[-1].turns]
    assert sent == [("user", "Qu'est-ce qu'une p-valeur ? 统计"), ("assistant", "Réponse 😀 naïve"),
                    ("user", "second question"), ("user", "third question"), ("assistant", "partial text"),
                    ("user", "et maintenant ?")]  # the failed reply is left out, the stopped one kept
    assert hub.get("second").messages[-1].content == "Réponse 😀 naïve"


def test_stored_events_lose_their_copies_of_the_text(old_store):
    Store(old_store, events_days=100_000).close()  # the fixture ages: keep its events whatever today's date
    with sqlite3.connect(old_store) as db:
        payloads = [r[0] for r in db.execute("SELECT payload FROM events")]
    assert payloads and not any("Réponse" in p or "p-valeur" in p or "partial text" in p for p in payloads)
