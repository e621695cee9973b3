"""The chat's kernel side for tools and context (widgets/chat_tools.py): approval cards, tool activity in the
progress bar, tool calls in the reply's parts while it runs, ``@`` completion and attachments, cells added
through the chat, agents, thumbnails.

No browser: a view's messages are handed to the widget as the kernel gets them (main thread).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest

from ai_sessions.parts import ImagePart, TextPart, ToolCallPart
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Agent, Defaults, Settings
from tests.scripted import SCRIPTS, Script

pytest.importorskip("anywidget")
widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")
from ai_sessions.widgets import chat_tools  # noqa: E402
from tests.unit.test_widgets import Recorder, view_msg  # noqa: E402

ChatWidget = widgets.ChatWidget
SCRIPTED = {"scripted": ProviderConfig("scripted", "scripted")}
TIMEOUT = 10


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    settings = Settings(defaults=Defaults(model="scripted:m1"), providers=SCRIPTED,
                        agents={"analyst": Agent("analyst", "scripted:m2", "You analyse tables.", {"temperature": 0.1},
                                                 ("list_variables",), "looks at your data")})
    return make_hub(settings=settings)


def shown_chat(session: Any) -> tuple[Any, Recorder]:
    """A chat with one open view (so it can be asked for approvals)."""
    w = ChatWidget(session=session)
    rec = Recorder(w)
    view_msg(w, {"type": "view", "open": True})
    return w, rec


def calls(*items: tuple[str, str, dict[str, Any]]) -> list[ToolCallPart]:
    return [ToolCallPart(i, n, a) for i, n, a in items]


def tool_parts(message: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(p["kind"], p.get("name")) for p in message["parts"] if p["kind"].startswith("tool")]


def test_an_ask_call_waits_in_the_chat_and_runs_once_approved(shub):
    ran = []

    def count_rows(table: str) -> int:
        """Count the rows of a table."""
        ran.append(table)
        return 3

    SCRIPTS["m1"] = Script(chunks=["Counting. "], calls=[calls(("c1", "count_rows", {"table": "orders"}))])
    s = shub.session("approve")
    s.tools.add(count_rows, approval="ask")
    w, rec = shown_chat(s)
    handle = s.submit("How many rows?")
    rec.wait(lambda: bool(w.approvals), "the approval card")
    assert w.approvals == [{"call_id": "c1", "message_id": handle.reply.id, "name": "count_rows", "source": "python",
                            "arguments": {"table": "orders"}}]
    assert w.progress["activity"] == {"kind": "approval", "names": ["count_rows"]}
    assert tool_parts(w.messages[-1]) == [("tool_call", "count_rows")], "the call shows while it waits"
    assert ran == []
    view_msg(w, {"type": "approve", "call_id": "c1", "approved": True, "always": False})
    reply = handle.result(TIMEOUT)
    assert ran == ["orders"]
    rec.wait(lambda: w.messages[-1]["status"] == "complete", "the final trait")
    assert tool_parts(w.messages[-1]) == [("tool_call", "count_rows"), ("tool_result", "count_rows")]
    assert w.messages[-1]["parts"][-1] == {"kind": "text", "text": "Counting. "}
    assert w.approvals == [] and w.progress == {}
    assert reply.content == "Counting. Counting. "
    w.close()


def test_deny_and_always_allow(shub):
    ran = []

    def run_sql(query: str) -> str:
        ran.append(query)
        return "ok"

    SCRIPTS["m1"] = Script(chunks=["."], calls=[calls(("c1", "run_sql", {"query": "drop"})),
                                                calls(("c2", "run_sql", {"query": "select 1"})),
                                                calls(("c3", "run_sql", {"query": "select 2"}))])
    s = shub.session("deny")
    s.tools.add(run_sql, approval="ask")
    w, rec = shown_chat(s)
    handle = s.submit("go")
    rec.wait(lambda: [a["call_id"] for a in w.approvals] == ["c1"], "the first card")
    view_msg(w, {"type": "approve", "call_id": "c1", "approved": False, "always": True})  # always applies to Approve
    rec.wait(lambda: [a["call_id"] for a in w.approvals] == ["c2"], "the second card")
    view_msg(w, {"type": "approve", "call_id": "c2", "approved": True, "always": True})
    reply = handle.result(TIMEOUT)
    assert ran == ["select 1", "select 2"], "the third call ran without asking"
    results = [p for p in reply.parts if p.kind == "tool_result"]
    assert results[0].is_error and results[0].text == "not run: the user denied it"
    assert not results[1].is_error and not results[2].is_error
    w.close()


def test_without_an_open_view_an_ask_call_is_denied_and_nothing_waits(shub):
    SCRIPTS["m1"] = Script(chunks=["."], calls=[calls(("c1", "run_sql", {"query": "x"}))])

    def run_sql(query: str) -> str:
        raise AssertionError("must not run")

    s = shub.session("nobody")
    s.tools.add(run_sql, approval="ask")
    w = ChatWidget(session=s)  # no view has opened
    reply = s.send("go")
    result = next(p for p in reply.parts if p.kind == "tool_result")
    assert result.is_error and "no one could be asked" in result.text
    assert w.approvals == []
    w.close()


def test_stop_ends_a_waiting_approval(shub):
    SCRIPTS["m1"] = Script(chunks=["."], calls=[calls(("c1", "run_sql", {"query": "x"}))])
    s = shub.session("stop")
    s.tools.add(lambda query: "no", name="run_sql", approval="ask")
    w, rec = shown_chat(s)
    handle = s.submit("go")
    rec.wait(lambda: bool(w.approvals), "the approval card")
    view_msg(w, {"type": "stop", "client_id": "stop-1"})
    assert handle.result(TIMEOUT).status.value == "stopped"
    rec.wait(lambda: w.approvals == [] and w.progress == {}, "the card gone")
    assert shub.runtime.approvals.pending() == []
    w.close()


def test_the_progress_bar_names_the_tools_running(shub):
    release = threading.Event()
    started = threading.Event()

    def slow(n: int) -> int:
        started.set()
        assert release.wait(TIMEOUT)
        return n

    SCRIPTS["m1"] = Script(chunks=["."], calls=[calls(("a", "slow", {"n": 1}), ("b", "inspect_it", {"n": 2}))])
    s = shub.session("busy")
    s.tools.add(slow)
    s.tools.add(slow, name="inspect_it")
    w, rec = shown_chat(s)
    handle = s.submit("go")
    rec.wait(lambda: (w.progress.get("activity") or {}).get("names") == ["slow", "inspect_it"], "both calls running")
    assert w.progress["activity"]["kind"] == "tool"
    release.set()
    handle.result(TIMEOUT)
    rec.wait(lambda: w.progress == {}, "progress cleared")
    w.close()


def test_variables_are_listed_by_name_type_and_shape_never_by_value(shub, monkeypatch):
    namespace = {"df": FakeFrame(), "secret": "hunter2-value", "_hidden": 1, "n": 3}
    monkeypatch.setattr(chat_tools, "user_namespace", lambda: dict(namespace))
    s = shub.session("vars")
    w, rec = shown_chat(s)
    view_msg(w, {"type": "variables", "request_id": "r1"})
    sent = rec.of("variables")[-1]
    assert sent["request_id"] == "r1"
    assert sent["rows"] == [{"name": "df", "type": "FakeFrame", "shape": "200 x 3"},
                            {"name": "secret", "type": "str", "shape": ""},
                            {"name": "n", "type": "int", "shape": ""}]
    assert "hunter2" not in repr(rec.sent)
    w.close()


class FakeFrame:
    shape = (200, 3)

    def __repr__(self) -> str:
        return "FakeFrame(200 rows)"


class BrokenShape:
    @property
    def shape(self) -> tuple[int, int]:
        raise ValueError("no shape today")


def test_a_variable_whose_shape_raises_is_listed_without_one(monkeypatch):
    monkeypatch.setattr(chat_tools, "user_namespace", lambda: {"ok": 1, "bad": BrokenShape()})
    assert chat_tools.variable_rows() == [{"name": "ok", "type": "int", "shape": ""},
                                          {"name": "bad", "type": "BrokenShape", "shape": ""}]


def test_at_names_attach_exactly_the_variables_mentioned(shub, monkeypatch):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"price": [5.0, 12.5, 30.0], "item": ["a", "b", "c"]})
    other = pd.DataFrame({"private": ["do not send"]})
    monkeypatch.setattr(chat_tools, "user_namespace", lambda: {"df": df, "other": other})
    SCRIPTS["m1"] = Script(chunks=["ok"])
    s = shub.session("context")
    w, rec = shown_chat(s)
    view_msg(w, {"type": "send", "text": "How many rows has @df? (not @nope)", "client_id": "c1",
                 "context": ["df", "nope", "df"]})
    rec.wait(lambda: len(w.messages) == 2 and w.messages[-1]["status"] == "complete", "the reply")
    user = s.messages[0]
    assert user.parts[0] == TextPart("How many rows has @df? (not @nope)")
    assert len(user.parts) == 2 and user.parts[1].text.startswith("`df`: pandas DataFrame, 3 rows, 2 columns")
    assert "do not send" not in repr(s.messages) and "do not send" not in repr(SCRIPTS["m1"].requests)
    assert "`df`: pandas DataFrame" in SCRIPTS["m1"].requests[0].turns[0].content
    assert [p["kind"] for p in w.messages[0]["parts"]] == ["text", "text"]
    w.close()


def test_insert_cell_goes_through_the_chat_and_reports_where(shub):
    from ai_sessions.notebook import notebook_tools

    SCRIPTS["m1"] = Script(chunks=["Added."], calls=[calls(("c1", "insert_cell", {"source": "df.describe()"}))])
    s = shub.session("cells")
    s.tools.add(notebook_tools)
    w, rec = shown_chat(s)
    handle = s.submit("add a cell", approve=lambda call: True)
    rec.wait(lambda: bool(rec.of("insert_cell")), "the request to the view")
    request = rec.of("insert_cell")[0]
    assert request["source"] == "df.describe()" and request["cell_type"] == "code"
    view_msg(w, {"type": "inserted", "request_id": request["request_id"], "error": None,
                 "where": "below the chat (cell 3)"})
    reply = handle.result(TIMEOUT)
    result = next(p for p in reply.parts if p.kind == "tool_result")
    assert not result.is_error and result.text == "added a code cell below the chat (cell 3)"
    w.close()


def test_insert_cell_fails_clearly_when_no_view_can(shub, monkeypatch):
    from ai_sessions.notebook import notebook_tools

    SCRIPTS["m1"] = Script(chunks=["."], calls=[calls(("c1", "insert_cell", {"source": "x"})),
                                                calls(("c2", "insert_cell", {"source": "y"}))])
    monkeypatch.setattr(chat_tools, "INSERT_TIMEOUT_S", 0.2)
    s = shub.session("nocells")
    s.tools.add(notebook_tools)
    w, rec = shown_chat(s)
    handle = s.submit("add", approve=lambda call: True)
    rec.wait(lambda: bool(rec.of("insert_cell")), "the first request")
    first = rec.of("insert_cell")[0]
    view_msg(w, {"type": "inserted", "request_id": first["request_id"], "error": "this page shows no notebook"})
    reply = handle.result(TIMEOUT)  # the second request is never answered: it times out
    results = [p for p in reply.parts if p.kind == "tool_result"]
    assert results[0].is_error and "this page shows no notebook" in results[0].text
    assert results[1].is_error and "did not add the cell within 0.2 s" in results[1].text
    w.close()


def test_choosing_an_agent_applies_its_preset(shub):
    SCRIPTS["m2"] = Script()
    s = shub.session("agent")
    w, rec = shown_chat(s)
    assert w.agents == [{"name": "analyst", "model": "scripted:m2", "description": "looks at your data",
                         "tools": ["list_variables"]}]
    view_msg(w, {"type": "use_agent", "name": "analyst", "client_id": "a1"})
    assert rec.of("ack")[-1] == {"type": "ack", "client_id": "a1", "error": None}
    assert s.requested_model == "scripted:m2" and s.system_prompt == "You analyse tables."
    assert s.params["temperature"] == 0.1 and "list_variables" in s.tools
    rec.wait(lambda: w.model == "scripted:m2", "the model shown")
    assert w.switches[-1]["reason"] == "agent analyst"
    view_msg(w, {"type": "use_agent", "name": "nobody", "client_id": "a2"})
    assert "no agent named 'nobody'" in rec.of("ack")[-1]["error"]
    w.close()


def test_the_selector_knows_which_models_cannot_call_tools(shub):
    w = ChatWidget(session=shub.session("caps"))
    local = [m for m in w.models if m["provider"] == "local" and m["name"]]
    assert local and all(m["tools"] is False for m in local)
    w.close()


def test_a_view_gets_the_images_of_its_session_and_no_other(shub):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
    SCRIPTS["m1"] = Script(chunks=["a picture"])
    s = shub.session("blobs")
    s.send([TextPart("look"), ImagePart("image/png", png)])
    w, rec = shown_chat(s)
    blob = s.messages[0].parts[1].blob
    view_msg(w, {"type": "blob", "blob": blob})
    answer = rec.of("blob")[-1]
    assert answer["media_type"] == "image/png" and base64.b64decode(answer["data"]) == png and answer["error"] is None
    view_msg(w, {"type": "blob", "blob": "sha256:" + "0" * 64})
    assert rec.of("blob")[-1]["data"] is None and "no message of this session" in rec.of("blob")[-1]["error"]
    w.close()


def test_the_chat_says_when_its_model_cannot_call_the_sessions_tools(shub, monkeypatch):
    from ai_sessions.providers.base import Capabilities
    from tests.scripted import ScriptedProvider

    monkeypatch.setattr(ScriptedProvider, "capabilities", Capabilities())
    SCRIPTS["m1"] = Script(chunks=["plain"])
    s = shub.session("notools")
    s.tools.add(lambda x: x, name="echo_it")
    w, rec = shown_chat(s)
    s.send("hi")
    rec.wait(lambda: "cannot call tools" in w.notice, "the notice")
    assert w.notice == "scripted:m1 cannot call tools, so the session's tools are not offered to it."
    w.close()


def test_the_chat_on_screen_is_the_one_that_adds_cells(shub):
    from ai_sessions.frontends import frontend_of

    s = shub.session("screens")
    shown, _ = shown_chat(s)
    hidden = ChatWidget(session=s)  # made later, never shown
    assert frontend_of(s.id) is shown._tools
    view_msg(shown, {"type": "view", "open": False})
    assert frontend_of(s.id) is None
    view_msg(hidden, {"type": "view", "open": True})
    assert frontend_of(s.id) is hidden._tools
    shown.close()
    hidden.close()
    assert frontend_of(s.id) is None
