"""Tools (T1) and approval (T2) on the scripted provider: schemas from type hints and docstrings, arguments
checked before the call, where tools run, errors and timeouts as results the model sees, the round limit,
approval by callback, by nobody (denied, never hanging) and by a chat (answered, or stopped while waiting)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Literal

import pytest

from ai_sessions import AiSessionsError, MessageStatus
from ai_sessions.approval import NO_ONE
from ai_sessions.parts import ToolCallPart, ToolResultPart
from ai_sessions.settings import Settings, ToolSettings
from ai_sessions.tools import Tool, ToolFailed
from tests.scripted import SCRIPTS, Script


def count_rows(table: str, limit: int = 10, mode: Literal["fast", "exact"] = "fast") -> int:
    """Count the rows of a table.

    Args:
        table: the table's name
        limit: stop counting here
    """
    calls.append((table, limit, mode, threading.current_thread().name))
    return {"orders": 1200}[table]


calls: list[tuple[object, ...]] = []


@pytest.fixture(autouse=True)
def _fresh_calls():
    calls.clear()


def call(name: str, call_id: str = "c1", **arguments: object) -> ToolCallPart:
    return ToolCallPart(call_id, name, arguments)


def results(message) -> list[ToolResultPart]:
    return [p for p in message.parts if isinstance(p, ToolResultPart)]


def test_the_schema_comes_from_type_hints_and_the_docstring():
    tool = Tool.from_function(count_rows)
    assert tool.name == "count_rows" and tool.description == "Count the rows of a table."
    assert tool.parameters == {
        "additionalProperties": False, "type": "object", "required": ["table"],
        "properties": {"table": {"type": "string", "description": "the table's name"},
                       "limit": {"type": "integer", "default": 10, "description": "stop counting here"},
                       "mode": {"enum": ["fast", "exact"], "type": "string", "default": "fast"}}}


def test_a_function_whose_hints_cannot_be_described_is_refused_clearly():
    class Opaque:
        pass

    def use(thing: Opaque) -> None:
        """Use a thing."""

    with pytest.raises(AiSessionsError, match="cannot describe tool 'use'"):
        Tool.from_function(use)


def test_a_call_runs_in_a_worker_thread_and_its_result_goes_back(hub):
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    s = hub.session("s", model="scripted:t", tools=[count_rows])
    reply = s.send("rows?")
    [result] = results(reply)
    assert (result.text, result.is_error) == ("1200", False)
    hub_thread = hub.runtime.loop.call(lambda: threading.current_thread().name)
    assert calls[0][:3] == ("orders", 10, "fast") and calls[0][3] not in (hub_thread, "MainThread")
    assert SCRIPTS["t"].requests[-1].turns[-1].role == "tool"  # the result went back to the model


def test_bad_arguments_never_reach_the_function_and_the_model_is_told(hub):
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table=3, mode="slow")]])
    s = hub.session("s", model="scripted:t", tools=[count_rows])
    [result] = results(s.send("rows?"))
    assert result.is_error and result.text.startswith("invalid arguments:") and "mode" in result.text
    assert calls == []


def test_an_exception_or_a_timeout_is_an_error_result_and_the_reply_goes_on(make_hub):
    hub = make_hub(settings=Settings(tools=ToolSettings(timeout_s=0.2)))

    def slow() -> str:
        """Take long."""
        time.sleep(2)
        return "late"

    def refuse() -> str:
        """Refuse politely."""
        raise ToolFailed("the table is locked")

    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="nope"), call("slow", "c2"),
                                                   call("refuse", "c3"), call("missing", "c4")]])
    s = hub.session("s", model="scripted:t", tools=[count_rows, slow, refuse])
    reply = s.send("go")
    assert [(r.text, r.is_error) for r in results(reply)] == [
        ("KeyError: 'nope'", True), ("slow did not finish within 0.2 s", True), ("the table is locked", True),
        ("not run: there is no tool named 'missing' (tools: count_rows, slow, refuse)", True)]
    assert reply.status is MessageStatus.COMPLETE


def test_the_round_limit_ends_the_loop(make_hub):
    hub = make_hub(settings=Settings(tools=ToolSettings(max_rounds=2)))
    SCRIPTS["t"] = Script(chunks=["."], calls=[[call("count_rows", f"c{i}", table="orders")] for i in range(5)])
    s = hub.session("s", model="scripted:t", tools=[count_rows])
    reply = s.send("loop forever")
    assert len(SCRIPTS["t"].requests) == 2 and len(calls) == 1
    assert "limit of 2 tool rounds" in results(reply)[-1].text


def test_an_async_tool_runs_on_the_hub_loop(hub):
    seen = []

    async def ping(text: str) -> str:
        """Echo text."""
        seen.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return text.upper()

    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("ping", text="hi")]])
    s = hub.session("s", model="scripted:t", tools=[ping])
    assert results(s.send("go"))[0].text == "HI"
    assert seen == [hub.runtime.loop.call(lambda: threading.current_thread().name)]


def test_a_main_thread_tool_runs_on_the_main_thread_while_send_waits(hub):
    def where() -> str:
        """Say where this runs."""
        return threading.current_thread().name

    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("where")]])
    s = hub.session("s", model="scripted:t")
    s.tools.add(where, main_thread=True)
    assert results(s.send("go"))[0].text == threading.main_thread().name


# -- approval ------------------------------------------------------------------------------------------
def test_an_ask_tool_runs_only_when_the_callback_says_yes(hub):
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    s = hub.session("s", model="scripted:t")
    s.tools.add(count_rows, approval="ask")
    asked = []
    reply = s.send("rows?", approve=lambda c: asked.append((c.name, c.arguments, c.source)) or False)
    [result] = results(reply)
    assert result.is_error and result.text == "not run: approve() said no" and calls == []
    assert asked == [("count_rows", {"table": "orders"}, "python")]
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    assert results(s.send("rows?", approve=lambda c: c.name == "count_rows"))[0].text == "1200"


def test_with_no_callback_and_no_chat_an_ask_call_is_denied_and_nothing_waits(hub):
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    s = hub.session("s", model="scripted:t")
    s.tools.add(count_rows, approval="ask")
    [result] = results(s.send("rows?"))
    assert result.is_error and result.text == f"not run: {NO_ONE}" and calls == []
    assert "no one could be asked" in SCRIPTS["t"].requests[-1].turns[-1].parts[0].text  # the model is told


def test_a_chat_answers_an_approval_and_can_always_allow(hub):
    s = hub.session("s", model="scripted:t")
    s.tools.add(count_rows, approval="ask")
    hub.runtime.loop.call(hub.runtime.approvals.register, s.id, lambda: True)
    waiting = threading.Event()
    hub.on("tool.approval.requested", lambda e: waiting.set())
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    handle = s.submit("rows?")
    assert waiting.wait(10)
    [pending] = hub.runtime.loop.call(hub.runtime.approvals.pending, s.id)
    assert (pending.name, pending.arguments) == ("count_rows", {"table": "orders"})
    assert hub.runtime.loop.call(lambda: hub.runtime.approvals.answer(pending.id, True, always=True))
    assert results(handle.result(10))[0].text == "1200"
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    assert results(s.send("again"))[0].text == "1200"  # allowed for the rest of the session: not asked again
    assert len(calls) == 2


def test_stop_while_waiting_for_an_approval_ends_the_reply_stopped(hub):
    s = hub.session("s", model="scripted:t")
    s.tools.add(count_rows, approval="ask")
    hub.runtime.loop.call(hub.runtime.approvals.register, s.id, lambda: True)
    waiting = threading.Event()
    hub.on("tool.approval.requested", lambda e: waiting.set())
    SCRIPTS["t"] = Script(chunks=["done"], calls=[[call("count_rows", table="orders")]])
    handle = s.submit("rows?")
    assert waiting.wait(10)
    assert handle.cancel() is True
    reply = handle.result(10)
    assert reply.status is MessageStatus.STOPPED and calls == []
    assert hub.runtime.loop.call(hub.runtime.approvals.pending, s.id) == []


def test_tool_choice_must_name_a_tool_of_the_session(hub):
    s = hub.session("s", model="scripted:t", tools=[count_rows])
    with pytest.raises(AiSessionsError, match="tool_choice 'nope' names no tool"):
        s.send("x", tool_choice="nope")
    SCRIPTS["t"] = Script(chunks=["done"])
    s.send("x", tool_choice="count_rows")
    assert SCRIPTS["t"].requests[0].tool_choice == "count_rows"


def test_tools_are_listed_added_and_removed(hub):
    from ai_sessions.notebook import notebook_tools

    s = hub.session("s", tools=[count_rows])
    s.tools.add(notebook_tools)
    s.tools.add(notebook_tools, approval="auto")  # built-ins that run code stay "ask"
    assert [(r[0], r[2]) for r in s.tools.rows()] == [
        ("count_rows", "auto"), ("list_variables", "auto"), ("inspect", "auto"), ("run_python", "ask"),
        ("insert_cell", "ask")]
    s.tools.remove("count_rows")
    assert "count_rows" not in s.tools
    with pytest.raises(AiSessionsError, match="no tool named 'count_rows'"):
        s.tools.remove("count_rows")
    with pytest.raises(AiSessionsError, match="approval must be 'auto' or 'ask'"):
        s.tools.add(count_rows, approval="sometimes")
