"""Tool calling on every cloud provider (T1), the real SDKs against the wire-faithful servers: the tool loop
inside a reply (a call, parallel calls, an error result), tool turns persisted and sent back in each API's
own shape, and translated when the session switches provider mid-conversation."""

from __future__ import annotations

import pytest

from ai_sessions import MessageStatus
from ai_sessions.parts import TextPart, ToolCallPart, ToolResultPart
from tests.servers.fixtures import (  # noqa: F401  (fixtures)
    anthropic_server,
    cloud_hub,
    fast_retries,
    gemini_server,
    openai_server,
)
from tests.servers.replies import Call

MODELS = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-haiku-4-5",
          "gemini": "gemini:gemini-2.5-flash"}
TABLES = {"orders": 1200, "customers": 87}


def count_rows(table: str) -> int:
    """Count the rows of a table.

    Args:
        table: the table's name, e.g. "orders"
    """
    return TABLES[table]


def servers(request: pytest.FixtureRequest) -> dict[str, object]:
    return {name: request.getfixturevalue(f"{name}_server") for name in MODELS}


def kinds(message) -> list[str]:
    return [p.kind for p in message.parts]


@pytest.mark.parametrize("provider", list(MODELS))
def test_a_tool_call_runs_and_its_result_reaches_the_model(cloud_hub, request, provider):  # noqa: F811
    server = servers(request)[provider]
    server.script(Call("count_rows", {"table": "orders"}))
    s = cloud_hub.session("eda", model=MODELS[provider], tools=[count_rows])
    reply = s.send("How many rows has orders?")
    assert reply.status is MessageStatus.COMPLETE
    assert kinds(reply) == ["tool_call", "tool_result", "text"]
    call, result, text = reply.parts
    assert (call.name, dict(call.arguments)) == ("count_rows", {"table": "orders"})
    assert (result.call_id, result.text, result.is_error) == (call.id, "1200", False)
    assert "got tool results: 1200" in text.text  # the second round sent the result back
    first, second = server.streams()[-2:]
    assert "count_rows" in str(first.body) and "1200" in str(second.body)
    stored = cloud_hub.store.load_messages(s.id)[-1]
    assert stored.parts == reply.parts  # tool turns are persisted as parts


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_parallel_calls_and_an_error_result(cloud_hub, request, provider):  # noqa: F811
    server = servers(request)[provider]
    server.script([Call("count_rows", {"table": "customers"}), Call("count_rows", {"table": "nope"})])
    s = cloud_hub.session("eda", model=MODELS[provider], tools=[count_rows])
    reply = s.send("Rows of customers and nope?")
    results = [p for p in reply.parts if isinstance(p, ToolResultPart)]
    assert [(r.text, r.is_error) for r in results] == [("87", False), ("KeyError: 'nope'", True)]
    assert reply.status is MessageStatus.COMPLETE  # a failing tool does not fail the reply


@pytest.mark.parametrize("first, second", [(a, b) for a in MODELS for b in MODELS if a != b])
def test_tool_turns_are_translated_when_the_session_switches_provider(cloud_hub, request, first, second):  # noqa: F811
    """Every switch pair: the history with a tool call and its result is accepted by the next provider
    (its server rejects results that refer to no earlier call, as the real APIs do)."""
    server = servers(request)[first]
    server.script(Call("count_rows", {"table": "orders"}))
    s = cloud_hub.session("eda", model=MODELS[first], tools=[count_rows])
    s.send("How many rows has orders?")
    s.switch_model(MODELS[second], reason="compare")
    reply = s.send("And what did the tool say?")
    assert reply.status is MessageStatus.COMPLETE, reply.error
    body = str(servers(request)[second].streams()[-1].body)
    assert "count_rows" in body and "1200" in body  # the call and its result travelled, in the new shape


def test_a_session_without_tools_records_calls_as_not_run(cloud_hub, openai_server):  # noqa: F811
    openai_server.script(Call("count_rows", {"table": "orders"}))
    s = cloud_hub.session("eda", model=MODELS["openai"])
    reply = s.send("How many rows has orders?")
    call, result = reply.parts[:2]
    assert isinstance(call, ToolCallPart) and isinstance(result, ToolResultPart)
    assert result.is_error and "the session has no tools" in result.text


def test_text_before_a_call_is_kept_in_order(cloud_hub, anthropic_server):  # noqa: F811
    from tests.servers.replies import Reply

    anthropic_server.script(Reply("Let me count.", (Call("count_rows", {"table": "customers"}),)))
    s = cloud_hub.session("eda", model=MODELS["anthropic"], tools=[count_rows])
    reply = s.send("Rows of customers?")
    assert isinstance(reply.parts[0], TextPart) and reply.parts[0].text == "Let me count."
    assert reply.content.startswith("Let me count.")
