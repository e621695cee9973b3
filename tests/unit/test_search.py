"""Search (issue 13): FTS5 over every session's messages, ranked, highlighted, scoped, never stale after an
edit, a delete or a clear, and deleted words gone from every file of the store."""

from __future__ import annotations

import uuid

import pytest

from ai_sessions import search as search_module
from ai_sessions.errors import AiSessionsError
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.search import bold, fts_query, highlights
from ai_sessions.settings import Settings
from tests.scripted import SCRIPTS, Script


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    SCRIPTS["m"] = Script(chunks=["noted"])
    return make_hub(settings=Settings(providers={"scripted": ProviderConfig("scripted", "scripted")}))


def store_files(path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}


def test_hits_are_ranked_highlighted_and_say_where_they_are(shub):
    a = shub.session("alpha", model="scripted:m")
    a.send("pandas groupby is slow on a wide frame")
    a.send("pandas: missing, missing, missing!")
    b = shub.session("beta", model="scripted:m")
    b.send("one value missing here")  # as long, fewer matches: less relevant (BM25)
    hits = shub.search("missing")
    assert [(h.session_name, h.position) for h in hits] == [("alpha", 2), ("beta", 0)]
    best = hits[0]
    assert best.session_id == a.id and best.message_id == a.messages[2].id and best.role == "user"
    assert "**missing**" in best.snippet and ("missing", True) in best.highlights
    assert hits[0].score > hits[1].score
    assert sorted(h.position for h in shub.search("pandas")) == [0, 2]
    assert shub.search("nothing-like-this") == []


def test_words_are_text_every_word_counts_and_the_last_is_a_prefix(shub):
    s = shub.session("a", model="scripted:m")
    s.send("the p-value of a t-test")
    s.send("dataframes and data frames")
    assert len(shub.search("p-value")) == 1
    assert len(shub.search("datafr")) == 1  # prefix of the last word
    assert shub.search("t-test frames") == []  # every word must occur in the message
    for odd in ('"', "AND", "(", "*", "NEAR(a b)", "a:b", "-", "'"):
        shub.search(odd)  # FTS5 syntax is just text: no error
    assert shub.search("   ") == [] and fts_query("?!") is None
    with pytest.raises(AiSessionsError, match="limit"):
        shub.search("x", limit=0)
    with pytest.raises(AiSessionsError, match="text"):
        shub.search(42)  # type: ignore[arg-type]


def test_search_is_scoped_to_the_notebook_unless_asked(shub, make_hub):
    shub.session("here", model="scripted:m").send("zanzibar here")
    other = make_hub(settings=shub.settings, scope="other.ipynb")
    other.session("there", model="scripted:m").send("zanzibar there")
    assert [h.session_name for h in shub.search("zanzibar")] == ["here"]
    assert sorted(h.session_name for h in shub.search("zanzibar", all_scopes=True)) == ["here", "there"]


def test_no_stale_hits_after_an_edit_a_delete_a_clear_or_a_streamed_update(shub):
    s = shub.session("a", model="scripted:m")
    s.send("quokka question")
    s.send("wombat question")
    s.edit(0, "numbat question")
    assert [h.message_id for h in shub.search("numbat")] == [s.messages[0].id]
    assert len(shub.search("quokka")) == 1  # the original is kept, on its own branch
    s.delete_message(0)
    assert shub.search("numbat") == []
    s.checkout(shub.search("quokka")[0].message_id)
    assert s.messages[0].content == "quokka question"
    s.clear()
    assert shub.search("quokka") == [] and shub.search("wombat") == [] and shub.search("question") == []


def test_a_reply_is_found_by_its_streamed_text(shub):
    SCRIPTS["m"] = Script(chunks=["the answer is ", "platypus"])
    s = shub.session("a", model="scripted:m")
    s.send("q")
    [hit] = shub.search("platypus")
    assert hit.role == "assistant" and hit.position == 1


@pytest.mark.parametrize("how", ["delete_message", "clear", "delete"])
def test_deleted_words_are_in_no_file_of_the_store(shub, how):
    """Issue 9's rule for the index too: FTS5 keeps a deleted row's tokens until its segments merge."""
    token = f"okapi{uuid.uuid4().hex}"
    s = shub.session("a", model="scripted:m")
    s.send(f"keep this {token}")
    s.send("second question")
    path = shub.store.path
    assert any(token.encode() in data for data in store_files(path).values())
    if how == "delete_message":
        s.delete_message(0)
    elif how == "clear":
        s.clear()
    else:
        shub.delete("a")
    assert [name for name, data in store_files(path).items() if token.encode() in data] == []
    assert shub.search(token) == []


def test_a_query_matching_very_many_messages_ranks_the_newest(shub, monkeypatch):
    monkeypatch.setattr(search_module, "RANK_WINDOW", 4)
    s = shub.session("a", model="scripted:m")
    s.send("common common common common")  # the most relevant, but old
    for i in range(5):
        s.send(f"common {i}")
    hits = shub.search("common", limit=3)
    assert len(hits) == 3 and all(h.position >= 4 for h in hits)  # ranked among the 4 newest
    assert shub.search("common", limit=10)[0].position == 0  # asking for more looks further back


def test_snippets_are_cut_around_the_first_match():
    text = "one two three four five six seven eight nine Values ten\n\neleven " + "word " * 40
    pieces = highlights(text, "value", prefix=False)
    assert bold(pieces).startswith("… four five six seven eight nine **Values** ten eleven word")
    assert bold(pieces).endswith("word …")
    assert highlights("pandas rocks", "pan", prefix=True) == (("pandas", True), (" rocks", False))
    assert fts_query("a-b c", prefix=True) == '"a" "b" "c"*'


def test_a_tool_reply_is_found_by_each_round_its_calls_and_their_results(shub):
    """The text of separate rounds ran together in the index ("checkOrders"), and tool calls and results
    were not indexed."""
    from ai_sessions.parts import ToolCallPart

    def count_rows(table: str) -> str:
        """Count the rows of a table."""
        return f"the table {table} has 1200 rows in zanzibar"

    SCRIPTS["m"] = Script(chunks=["Let me check"], calls=[[ToolCallPart("c1", "count_rows", {"table": "orders"})]])
    s = shub.session("tools", model="scripted:m", tools=[count_rows])
    reply = s.send("how many orders?")
    assert [h.position for h in shub.search("check")] == [1]
    assert [h.position for h in shub.search("zanzibar")] == [1]  # the tool's result
    assert [h.position for h in shub.search("count_rows")] == [1]  # the call
    assert "**check**" in shub.search("check")[0].snippet
    assert reply.content.startswith("Let me check")  # the message's own text view is unchanged


def test_the_migration_gives_stored_tool_replies_their_search_text(shub):
    import sqlite3

    from ai_sessions.migrations import m008_search_text_of_parts
    from ai_sessions.parts import ToolCallPart

    def lookup(q: str) -> str:
        """Look it up."""
        return "found in zanzibar"

    SCRIPTS["m"] = Script(chunks=["Let me check"], calls=[[ToolCallPart("c1", "lookup", {"q": "x"})]])
    s = shub.session("old", model="scripted:m", tools=[lookup])
    s.send("look it up")
    path = shub.store.path
    with sqlite3.connect(path) as db:  # as a store written before m008 held it
        db.execute("UPDATE messages SET content = 'Let me checkDone' WHERE parts IS NOT NULL")
    assert shub.search("zanzibar") == []
    with sqlite3.connect(path) as db:
        m008_search_text_of_parts(db)
    assert [h.position for h in shub.search("zanzibar")] == [1]
