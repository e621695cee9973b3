"""The fake Anthropic server against the raw anthropic SDK: streamed tool_use blocks, tool results,
images and documents, prompt caching, structured output and Message Batches."""

from __future__ import annotations

import asyncio
import json

import anthropic
import pytest
from pydantic import BaseModel

from tests.servers.base import KEY
from tests.servers.fixtures import anthropic_server  # noqa: F401 - fixture
from tests.servers.replies import INVALID_JSON, Call, Reply

MODEL = "claude-sonnet-4-6"
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PDF = "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDw+PgolJUVPRgo="


@pytest.fixture
def client(anthropic_server):  # noqa: F811
    return anthropic.Anthropic(api_key=KEY, base_url=anthropic_server.url, max_retries=0)


def _user(content: object) -> list[dict]:
    return [{"role": "user", "content": content}]


def test_two_tool_use_blocks_stream_their_input_as_json_pieces(client, anthropic_server):  # noqa: F811
    args = [{"city": "Paris, the capital of France"}, {"city": "Oslo"}]
    anthropic_server.script([Call("get_weather", args[0]), Call("get_weather", args[1])])
    events = list(client.messages.create(model=MODEL, max_tokens=200, messages=_user("Paris and Oslo?"),
                                         tools=[WEATHER], stream=True))
    starts = [e for e in events if e.type == "content_block_start"]
    assert [(e.index, e.content_block.type, e.content_block.id, e.content_block.name, e.content_block.input)
            for e in starts] == [(0, "tool_use", "toolu_001", "get_weather", {}),
                                 (1, "tool_use", "toolu_002", "get_weather", {})]
    for index, expected in enumerate(args):
        pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == index]
        assert len(pieces) > 2 and all(e.delta.type == "input_json_delta" for e in events
                                       if e.type == "content_block_delta")
        assert json.loads("".join(pieces)) == expected
    assert [e.type for e in events if e.type == "content_block_stop"] == ["content_block_stop"] * 2
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "tool_use" and delta.usage.output_tokens > 0


def test_the_sdk_stream_helper_assembles_text_then_a_call(client, anthropic_server):  # noqa: F811
    anthropic_server.script(Reply(text="Let me check.", calls=(Call("get_weather", {"city": "Rome"}),)))
    with client.messages.stream(model=MODEL, max_tokens=200, messages=_user("Rome?"), tools=[WEATHER]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert (final.content[0].text, final.content[1].input, final.stop_reason) == ("Let me check.", {"city": "Rome"},
                                                                                 "tool_use")


def test_a_forced_tool_gets_input_from_its_schema(client):
    reply = client.messages.create(model=MODEL, max_tokens=50, messages=_user("weather"), tools=[WEATHER],
                                   tool_choice={"type": "tool", "name": "get_weather"})
    assert [(b.type, b.name, b.input) for b in reply.content] == [("tool_use", "get_weather", {"city": "sample"})]


def _history(*results: dict) -> list[dict]:
    uses = [{"type": "tool_use", "id": f"toolu_00{i + 1}", "name": "get_weather", "input": {"city": "Oslo"}}
            for i in range(len(results))]
    return [*_user("Weather?"), {"role": "assistant", "content": uses}, {"role": "user", "content": list(results)}]


def test_tool_results_reach_the_reply(client):
    results = ({"type": "tool_result", "tool_use_id": "toolu_001", "content": "4 degrees"},
               {"type": "tool_result", "tool_use_id": "toolu_002", "content": [{"type": "text", "text": "snow"}],
                "is_error": True})
    reply = client.messages.create(model=MODEL, max_tokens=50, messages=_history(*results), tools=[WEATHER])
    assert reply.content[0].text == "claude-sonnet-4-6 got tool results: 4 degrees; snow"


def test_a_tool_result_for_an_unknown_tool_use_is_a_400(client):
    bad = _history({"type": "tool_result", "tool_use_id": "toolu_999", "content": "x"})
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=50, messages=bad, tools=[WEATHER])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert caught.value.body["error"]["message"].startswith(
        "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_999.")
    missing = [*_history({"type": "tool_result", "tool_use_id": "toolu_001", "content": "x"})[:2], *_user("and?")]
    with pytest.raises(anthropic.BadRequestError, match="`tool_use` ids were found without `tool_result` blocks"):
        client.messages.create(model=MODEL, max_tokens=50, messages=missing, tools=[WEATHER])


def test_images_and_documents_are_accepted_and_checked(client):
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
               {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                "title": "report"},
               {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
               {"type": "text", "text": "Describe these"}]
    reply = client.messages.create(model=MODEL, max_tokens=50, messages=_user(content))
    assert reply.content[0].text.endswith("last: Describe these")
    content[0]["source"]["media_type"] = "image/bmp"
    with pytest.raises(anthropic.BadRequestError, match="media_type"):
        client.messages.create(model=MODEL, max_tokens=50, messages=_user(content))


def test_cache_control_writes_then_reads_the_prefix(client):
    system = [{"type": "text", "text": "You are a careful data analyst who answers briefly.",
               "cache_control": {"type": "ephemeral"}}]
    usages = [client.messages.create(model=MODEL, max_tokens=50, system=system, messages=_user(q)).usage
              for q in ("first question", "second question")]
    written = usages[0].cache_creation_input_tokens
    assert written > 0 and usages[0].cache_read_input_tokens == 0
    assert (usages[1].cache_creation_input_tokens, usages[1].cache_read_input_tokens) == (0, written)
    assert usages[0].input_tokens == usages[1].input_tokens  # the uncached rest is the same size
    auto = [client.messages.create(model=MODEL, max_tokens=50, messages=_user("hello there"),
                                   cache_control={"type": "ephemeral"}).usage for _ in range(2)]
    assert auto[0].cache_creation_input_tokens > 0
    assert auto[1].cache_read_input_tokens == auto[0].cache_creation_input_tokens
    plain = client.messages.create(model=MODEL, max_tokens=50, messages=_user("no cache")).usage
    assert plain.cache_creation_input_tokens is None and plain.cache_read_input_tokens is None
    marked = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        client.messages.create(model=MODEL, max_tokens=50, messages=_user(marked))


class Forecast(BaseModel):
    city: str
    highs: list[int]


def test_structured_output_parses_with_output_format_and_can_break_once(client, anthropic_server):  # noqa: F811
    parsed = client.messages.parse(model=MODEL, max_tokens=100, messages=_user("Forecast?"), output_format=Forecast)
    assert parsed.parsed_output == Forecast(city="sample", highs=[1])
    assert anthropic_server.streams()[-1].body["output_config"]["format"]["type"] == "json_schema"
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False}
    raw = client.messages.create(model=MODEL, max_tokens=100, messages=_user("n?"),
                                 output_config={"format": {"type": "json_schema", "schema": schema}})
    assert json.loads(raw.content[0].text) == {"n": 1}
    anthropic_server.script(INVALID_JSON)
    with pytest.raises(ValueError):
        client.messages.parse(model=MODEL, max_tokens=100, messages=_user("Forecast?"), output_format=Forecast)


# -- Message Batches -----------------------------------------------------------------------------------
def _requests(*prompts: str | None) -> list[dict]:
    return [{"custom_id": f"r{i}", "params": {"model": MODEL, "max_tokens": 50,
                                              "messages": _user(p) if p else []}} for i, p in enumerate(prompts)]


def test_a_message_batch_ends_with_every_outcome(client, anthropic_server):  # noqa: F811
    batch = client.messages.batches.create(requests=_requests("one", None, "three", "four"))
    assert (batch.processing_status, batch.request_counts.processing, batch.results_url) == ("in_progress", 4, None)
    anthropic_server.batches.advance(completed=2)
    running = client.messages.batches.retrieve(batch.id)
    assert (running.processing_status, running.request_counts.processing, running.request_counts.succeeded) == (
        "in_progress", 4, 0)  # counts move only when the batch ends, as documented
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        client.messages.batches.results(batch.id)
    anthropic_server.batches.finish(fail=["r2"], expire=["r3"])
    ended = client.messages.batches.retrieve(batch.id)
    counts = ended.request_counts
    assert ended.processing_status == "ended" and ended.ended_at is not None
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 1, 2, 0, 1)
    assert ended.results_url == f"{anthropic_server.url}/v1/messages/batches/{batch.id}/results"
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["r0"].type == "succeeded" and results["r0"].message.content[0].text.endswith("last: one")
    assert (results["r1"].type, results["r1"].error.error.type) == ("errored", "invalid_request_error")
    assert (results["r2"].type, results["r2"].error.error.type) == ("errored", "api_error")
    assert results["r3"].type == "expired"
    assert [b.id for b in client.messages.batches.list()] == [batch.id]
    assert client.messages.batches.delete(batch.id).type == "message_batch_deleted"


def test_a_cancelled_message_batch_is_canceling_until_it_ends(anthropic_server):  # noqa: F811
    async def run() -> tuple[str, str, dict[str, str]]:
        aclient = anthropic.AsyncAnthropic(api_key=KEY, base_url=anthropic_server.url, max_retries=0)
        batch = await aclient.messages.batches.create(requests=_requests("one", "two"))
        anthropic_server.batches.advance(completed=1)
        canceling = await aclient.messages.batches.cancel(batch.id)
        anthropic_server.batches.finish()
        ended = await aclient.messages.batches.retrieve(batch.id)
        results = {r.custom_id: r.result.type async for r in await aclient.messages.batches.results(batch.id)}
        return canceling.processing_status, ended.processing_status, results

    assert asyncio.run(run()) == ("canceling", "ended", {"r0": "succeeded", "r1": "canceled"})
