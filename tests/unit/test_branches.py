"""Edit and branch, regenerate as a sibling, checkout, delete (issue 13): the session's messages form a tree,
the current branch is what is shown and sent, and it survives a restart, an export and an import."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import pytest

from ai_sessions import MessageStatus, Role, SessionBusy
from ai_sessions.errors import AiSessionsError, RateLimited
from ai_sessions.migrations import MIGRATIONS
from ai_sessions.model import Message, SessionRecord, new_id
from ai_sessions.parts import ImagePart, TextPart
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Settings
from ai_sessions.store import Store
from ai_sessions.tree import Node, Tree
from tests.scripted import SCRIPTS, Script

PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 24


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    SCRIPTS["m"] = Script(chunks=["re: {last}"])
    return make_hub(settings=Settings(providers={"scripted": ProviderConfig("scripted", "scripted")}))


def texts(session) -> list[str]:
    return [m.content for m in session.messages]


def sent(model: str = "m") -> list[str]:
    """What the model was sent in its last request."""
    return [t.content for t in SCRIPTS[model].requests[-1].turns]


def three_turns(shub):
    s = shub.session("a", model="scripted:m")
    for prompt in ("one", "two", "three"):
        s.send(prompt)
    return s


def test_edit_starts_a_branch_and_keeps_what_came_after(shub):
    s = three_turns(shub)
    reply = s.edit(2, "TWO")
    assert reply.content == "re: TWO"
    assert texts(s) == ["one", "re: one", "TWO", "re: TWO"]
    assert sent() == ["one", "re: one", "TWO"]  # the model sees the current branch only
    old, new = s.branches
    assert (old.length, old.diverges_at, old.current) == (6, 2, False)
    assert (new.length, new.diverges_at, new.current) == (4, 2, True)
    assert s.branch == new.id == s.messages[-1].id
    assert len(shub.store.tree(s.id)) == 8  # nothing was deleted


def test_checkout_shows_a_branch_and_the_model_is_sent_it(shub):
    s = three_turns(shub)
    s.edit(2, "TWO")
    old = next(b for b in s.branches if not b.current)
    s.checkout(old.id)
    assert texts(s) == ["one", "re: one", "two", "re: two", "three", "re: three"]
    s.send("four")
    assert sent()[-3:] == ["three", "re: three", "four"]
    # the branch's old id still finds it after it grew: the newest branch through that message
    s.checkout(next(b for b in s.branches if not b.current).id)
    assert texts(s)[-1] == "re: TWO"
    s.checkout(old.id)
    assert texts(s)[-2:] == ["four", "re: four"]
    with pytest.raises(AiSessionsError, match="no branch or message"):
        s.checkout("nope")


def test_the_current_branch_survives_a_restart(shub, make_hub):
    s = three_turns(shub)
    s.edit(0, "ONE")
    ids = [m.id for m in s.messages]
    shub.shutdown()
    again = make_hub(settings=Settings(providers={"scripted": ProviderConfig("scripted", "scripted")}))
    s2 = again.session("a")
    assert [m.id for m in s2.messages] == ids and texts(s2) == ["ONE", "re: ONE"]
    assert len(s2.branches) == 2


def test_edit_keeps_the_messages_attachments_and_checks_what_it_edits(shub):
    s = shub.session("a", model="scripted:m")
    s.send([TextPart("what is this?"), ImagePart("image/png", PNG, name="dot.png")])
    s.edit(0, "what colour is this?")
    edited = s.messages[0]
    assert edited.content == "what colour is this?"
    assert [p.name for p in edited.parts if isinstance(p, ImagePart)] == ["dot.png"]
    with pytest.raises(AiSessionsError, match="only your own messages"):
        s.edit(1, "no")
    with pytest.raises(AiSessionsError, match="has 2 message"):
        s.edit(5, "no")
    text_only = shub.session("b", model="scripted:m")
    text_only.send("x")
    with pytest.raises(AiSessionsError, match="empty"):
        text_only.edit(0, "  ")


def test_edit_keeps_the_descriptions_of_context_objects(shub):
    """context=[...] adds text parts after the question: an edit replaces the question only."""
    s = shub.session("a", model="scripted:m")
    s.send("Describe the table", context=[{"city": ["Oslo", "Bergen"], "rain_mm": [763, 2250]}])
    described = s.messages[0].parts[1:]
    assert described and "Bergen" in s.messages[0].content
    s.edit(0, "Describe the table briefly")
    assert s.messages[0].parts[0] == TextPart("Describe the table briefly")
    assert s.messages[0].parts[1:] == described
    sent = SCRIPTS["m"].requests[-1].turns[-1]
    assert "Bergen" in sent.content and sent.content.startswith("Describe the table briefly")


def test_regenerate_keeps_the_old_reply_as_a_sibling_and_replaces_a_failed_one(shub):
    s = shub.session("a", model="scripted:m")
    s.send("q")
    first = s.messages[-1].id
    SCRIPTS["m"].chunks = ["again"]
    s.regenerate()
    assert texts(s) == ["q", "again"]
    assert [b.length for b in s.branches] == [2, 2]
    assert first in {b.id for b in s.branches}
    SCRIPTS["m"].errors = [RateLimited("slow down")] * 4  # every attempt fails
    with pytest.raises(RateLimited):
        s.regenerate()
    failed = s.messages[-1]
    assert failed.status is MessageStatus.FAILED and len(s.branches) == 3
    SCRIPTS["m"].chunks = ["third"]
    s.regenerate()  # retrying a failed reply replaces it: no branch of failures
    assert texts(s) == ["q", "third"] and len(s.branches) == 3
    assert failed.id not in {n.id for n in shub.store.tree(s.id)}


def test_regenerate_at_a_reply_in_the_middle(shub):
    s = three_turns(shub)
    SCRIPTS["m"].chunks = ["better"]
    s.regenerate(at=1)
    assert texts(s) == ["one", "better"]
    assert sent() == ["one"]
    with pytest.raises(AiSessionsError, match="only a reply"):
        s.regenerate(at=0)


def test_delete_message_removes_a_prompt_with_its_reply_and_later_messages_stay(shub):
    s = three_turns(shub)
    s.delete_message(2)
    assert texts(s) == ["one", "re: one", "three", "re: three"]
    s.send("four")
    assert sent() == ["one", "re: one", "three", "re: three", "four"]
    assert [m.content for m in shub.store.load_messages(s.id)][:4] == ["one", "re: one", "three", "re: three"]
    s.delete_message(-1)  # a reply alone
    assert texts(s)[-1] == "four"
    s.delete_message(0)
    assert texts(s) == ["three", "re: three", "four"]
    assert [b.length for b in s.branches] == [3]


def test_deleting_the_last_turn_ends_the_branch_before_it_even_where_others_go_on(shub):
    s = three_turns(shub)
    s.edit(2, "TWO")
    s.delete_message(2)
    assert texts(s) == ["one", "re: one"]
    assert {b.length for b in s.branches} == {2, 6}
    assert next(b for b in s.branches if b.current).length == 2
    s.send("again")  # a new branch after the kept messages
    assert texts(s) == ["one", "re: one", "again", "re: again"]


def test_nothing_changes_the_tree_while_a_reply_streams(shub):
    started = threading.Event()
    s = three_turns(shub)
    gate = asyncio.Event()
    SCRIPTS["m"].gate, SCRIPTS["m"].started = gate, started
    handle = s.submit("four")
    assert started.wait(10)
    with pytest.raises(SessionBusy):
        s.delete_message(0)
    with pytest.raises(SessionBusy):
        s.checkout(s.messages[1].id)
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    assert handle.result(10).content == "re: four"


def test_switches_after_a_deleted_message_move_up_with_it(shub):
    SCRIPTS["n"] = Script(chunks=["n"])
    s = three_turns(shub)
    s.switch_model("scripted:n")
    s.send("four")
    assert s.model_switches[0].message_index == 6
    s.delete_message(0)
    assert s.model_switches[0].message_index == 4
    assert s.messages[4].content == "four"


def test_export_and_import_carry_the_tree_and_the_current_branch(shub):
    s = three_turns(shub)
    s.edit(2, "TWO")
    s.checkout(next(b for b in s.branches if not b.current).id)
    data = json.loads(s.export("json"))
    assert data["version"] == 3 and data["session"]["head"] == s.branch
    assert len(data["messages"]) == 8
    copy = shub.import_session(s.export("json"), name="copy")
    assert texts(copy) == texts(s)
    assert sorted(b.length for b in copy.branches) == sorted(b.length for b in s.branches)
    assert not {m.id for m in copy.messages} & {m.id for m in s.messages}
    assert "## User" in s.export("markdown") and "TWO" not in s.export("markdown")  # reading: the current branch


def test_an_export_from_before_branches_imports_as_one_branch(shub):
    s = three_turns(shub)
    data = json.loads(s.export("json"))
    data["version"] = 2
    for item in data["messages"]:
        del item["parent_id"]
    del data["session"]["head"]
    copy = shub.import_session(json.dumps(data), name="old")
    assert texts(copy) == texts(s) and len(copy.branches) == 1


@pytest.mark.parametrize("change", [
    lambda d: d["messages"][1].update(parent_id="nope"),
    lambda d: d["messages"][2].update(id=d["messages"][1]["id"]),
    lambda d: d["session"].update(head="nope"),
])
def test_a_damaged_tree_in_an_export_is_refused_whole(shub, change):
    s = three_turns(shub)
    data = json.loads(s.export("json"))
    change(data)
    with pytest.raises(AiSessionsError, match="damaged"):
        shub.import_session(json.dumps(data), name="bad")
    assert all(info.name != "bad" for info in shub.sessions())


def test_fork_of_a_branched_session_copies_the_current_branch(shub):
    s = three_turns(shub)
    s.edit(2, "TWO")
    fork = s.fork(at=3)
    assert texts(fork) == ["one", "re: one", "TWO"] and len(fork.branches) == 1


def test_clear_empties_every_branch(shub):
    s = three_turns(shub)
    s.edit(0, "ONE")
    s.clear()
    assert s.messages == () and s.branches == [] and s.branch is None
    s.send("fresh")
    assert texts(s) == ["fresh", "re: fresh"]


def test_configure_sets_the_model_and_none_goes_back_to_the_default(shub):
    SCRIPTS["n"] = Script(chunks=["n"])
    s = shub.session("a", model="scripted:m", temperature=0.5)
    s.configure(model="scripted:n", temperature=1.5, max_tokens=99, system_prompt="be brief")
    assert s.model == "scripted:n" and s.params == {"temperature": 1.5, "max_tokens": 99}
    assert s.model_switches[-1].reason == "session settings"
    s.configure(temperature=None, system_prompt="")
    assert s.params == {"max_tokens": 99}
    s.send("q")
    request = SCRIPTS["n"].requests[-1]
    assert request.temperature is None and request.max_tokens == 99 and request.system is None
    with pytest.raises(AiSessionsError, match="temperature"):
        s.configure(temperature=7)


# -- the tree itself ---------------------------------------------------------------------------------------
def test_tree_siblings_branches_and_latest_leaf():
    nodes = [Node("u1", None, 1, "user", 1), Node("a1", "u1", 2, "assistant", 2), Node("a1b", "u1", 3, "assistant", 3),
             Node("u2", "a1", 4, "user", 4), Node("a2", "u2", 5, "assistant", 5)]
    tree = Tree(nodes)
    assert tree.siblings(["u1", "a1", "u2", "a2"]) == {
        "a1": tree.siblings(["a1"])["a1"]}
    where = tree.siblings(["u1", "a1b"])["a1b"]
    assert (where.index, where.count, where.previous, where.next) == (1, 2, "a1", None)
    assert tree.latest_leaf("u1") == "a2" and tree.latest_leaf("a1b") == "a1b"
    assert [(b.id, b.diverges_at, b.length) for b in tree.branches("a2")] == [("a1b", 1, 2), ("a2", 1, 4)]


def test_a_store_from_before_branches_keeps_each_session_as_one_branch(tmp_path):
    """m005/m006 on a store with messages: parents by seq, the head at the last, positions, a search index."""
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, apply in MIGRATIONS[:4]:
        apply(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (name,))
    for sid in ("s1", "s2"):
        conn.execute("INSERT INTO sessions (id, name, scope, model, created_at, updated_at) VALUES (?,?,?,?,0,0)",
                     (sid, sid, "scope", "local:smollm2"))
        for seq in range(1, 5):
            conn.execute("INSERT INTO messages (id, session_id, seq, role, content, status, created_at) "
                         "VALUES (?,?,?,?,?,?,?)", (f"{sid}-{seq}", sid, seq, "user" if seq % 2 else "assistant",
                                                     f"{sid} word{seq} aardvark", "complete", seq))
    conn.close()
    store = Store(path)
    try:
        path_ids = [m.id for m in store.load_messages("s2")]
        assert path_ids == ["s2-1", "s2-2", "s2-3", "s2-4"]
        assert [m.parent_id for m in store.load_messages("s2")] == [None, "s2-1", "s2-2", "s2-3"]
        hits = store.search("word3")
        assert sorted((h.session_id, h.position) for h in hits) == [("s1", 2), ("s2", 2)]
        assert len(store.search("aardvark", limit=100)) == 8
        record = store.get_session("s1")
        assert record is not None
        reply = store.append_message(Message(new_id(), "s1", 0, Role.USER, "five"))
        assert reply.parent_id == "s1-4" and store.load_messages("s1")[-1].id == reply.id
    finally:
        store.close()


def test_copy_messages_makes_one_branch_per_session(tmp_path):
    store = Store(tmp_path / "s.db")
    try:
        record = store.create_session(SessionRecord(new_id(), "x", "scope", "local:smollm2"))
        messages = [Message(new_id(), record.id, i + 1, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"m{i}")
                    for i in range(5)]
        store.copy_messages(messages)
        assert [m.content for m in store.load_messages(record.id)] == [f"m{i}" for i in range(5)]
        assert store.search("m3")[0].position == 3
    finally:
        store.close()


def test_a_map_with_history_reruns_only_on_the_branch_it_was_asked_with(shub):
    """After an edit, a rerun (or retry) of a map with include_history=True would have sent the new branch's
    history with the old prompts, under the same request hash."""
    from ai_sessions.errors import BadRequest

    s = shub.session("a", model="scripted:m")
    s.send("the data is about cats")
    asked_on = s.branch
    SCRIPTS["m"].errors = [BadRequest("bad", provider="scripted")]
    result = s.map("Q: {text}", ["alpha"], include_history=True, attempts=1, progress=False)
    assert result == [None]
    s.edit(0, "the data is about dogs")
    job = shub.job(shub.jobs()[0].id)
    with pytest.raises(AiSessionsError, match="history of branch") as info:
        job.rerun()
    assert f"s.checkout({asked_on!r})" in str(info.value)
    with pytest.raises(AiSessionsError, match="history of branch"):
        result.retry(progress=False)  # a live map's failures, retried in place
    s.checkout(asked_on)
    job.rerun().wait(progress=False)
    assert "cats" in SCRIPTS["m"].requests[-1].turns[0].content


def switch_places(session) -> list[tuple[str, int]]:
    return [(w.to_model, w.message_index) for w in session.model_switches]


def test_a_model_switch_stays_on_its_branch_and_with_its_message(shub, make_hub):
    """Switches were positions per session: deleting on one branch moved another branch's switches, and a
    switch of one branch showed on another at the same position."""
    SCRIPTS["n"] = Script(chunks=["N: {last}"])
    s = shub.session("a", model="scripted:m")
    s.send("u0")
    s.send("u2")
    s.switch_model("scripted:n")
    s.send("u4")
    a = s.branch
    assert switch_places(s) == [("scripted:n", 4)]
    s.edit(2, "u2 edited")  # branch B leaves A at message 2: A's switch (after message 3) is not on it
    assert switch_places(s) == []
    s.send("u4 on B")  # as long as A at the switch now: still not shown on B
    assert switch_places(s) == []
    s.delete_message(0)  # on B: u0 and its reply go, from A too (they are shared)
    s.checkout(a)
    assert texts(s)[:2] == ["u2", "re: u2"] and switch_places(s) == [("scripted:n", 2)]  # moved with its message
    restarted = make_hub(settings=shub.settings).get("a")
    assert switch_places(restarted) == [("scripted:n", 2)]
    assert "switched" in restarted.export("markdown")


def test_a_switch_after_a_failed_reply_stays_when_the_reply_is_regenerated(shub, make_hub):
    from ai_sessions.errors import BadRequest

    SCRIPTS["n"] = Script(chunks=["N: {last}"])
    SCRIPTS["m"].errors = [BadRequest("bad", provider="scripted")]
    s = shub.session("a", model="scripted:m")
    with pytest.raises(BadRequest):
        s.send("q")
    s.switch_model("scripted:n", reason="m failed")
    s.regenerate()  # the failed reply is replaced: the switch before the new one stays
    assert texts(s) == ["q", "N: q"] and switch_places(s) == [("scripted:n", 1)]
    assert switch_places(make_hub(settings=shub.settings).get("a")) == [("scripted:n", 1)]


def test_the_migration_anchors_existing_switches_on_the_current_branch(shub):
    from ai_sessions.migrations import m009_switch_anchors

    s = shub.session("a", model="scripted:m")
    s.send("u0")
    s.switch_model("scripted:n")
    s.send("u2")
    path = shub.store.path
    with sqlite3.connect(path) as db:  # as a store written before m009 held the switch
        db.execute("ALTER TABLE model_switches RENAME TO old_switches")
        db.execute("CREATE TABLE model_switches AS SELECT id, session_id, from_model, to_model, message_index, "
                   "reason, created_at FROM old_switches")
        db.execute("DROP TABLE old_switches")
        m009_switch_anchors(db)
        (anchor,) = db.execute("SELECT after_id FROM model_switches").fetchone()
    assert anchor == s.messages[1].id
