"""The fake OpenAI server against the raw openai SDK: streamed and parallel tool calls, tool results,
images, structured output and the Batch API, in the shapes the SDK's own types and helpers expect."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import openai
import pytest
from pydantic import BaseModel

from tests.servers.base import KEY
from tests.servers.fixtures import openai_server  # noqa: F401 - fixture
from tests.servers.replies import INVALID_JSON, Call, Reply

MODEL = "gpt-4o-mini"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                                                "required": ["city", "unit"]}}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture
def client(openai_server):  # noqa: F811
    return openai.OpenAI(api_key=KEY, base_url=f"{openai_server.url}/v1", max_retries=0)


def _chunks(client: openai.OpenAI, **kwargs) -> list:
    return list(client.chat.completions.create(model=MODEL, stream=True, **kwargs))


def test_two_parallel_calls_stream_their_arguments_in_pieces_by_index(client, openai_server):  # noqa: F811
    args = [{"city": "Paris, the capital of France", "unit": "C"}, {"city": "Oslo", "unit": "F"}]
    openai_server.script([Call("get_weather", args[0]), Call("get_weather", args[1])])
    chunks = _chunks(client, messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}], tools=[WEATHER],
                     stream_options={"include_usage": True})
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    calls = [t for d in deltas for t in d.tool_calls or []]
    firsts = [t for t in calls if t.id]
    assert [(t.index, t.id, t.type, t.function.name, t.function.arguments) for t in firsts] == [
        (0, "call_001", "function", "get_weather", ""), (1, "call_002", "function", "get_weather", "")]
    for index, expected in enumerate(args):
        pieces = [t.function.arguments for t in calls if t.index == index and not t.id]
        assert len(pieces) > 2 and all(t.function.name is None for t in calls if t.index == index and not t.id)
        assert json.loads("".join(pieces)) == expected
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert openai_server.streams()[-1].answer.calls[1].arguments == args[1]


def test_the_sdk_stream_helper_assembles_the_calls(client, openai_server):  # noqa: F811
    openai_server.script(Reply(text="Checking.", calls=(Call("get_weather", {"city": "Rome", "unit": "C"}),)))
    with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "Rome?"}],
                                        tools=[WEATHER]) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert (message.content, final.choices[0].finish_reason) == ("Checking.", "tool_calls")
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("call_001", "get_weather", {"city": "Rome", "unit": "C"})]


def test_a_directive_in_the_user_text_calls_a_tool_and_images_are_accepted(client):
    content = [{"type": "text", "text": 'Look [[call:describe {"what": "the chart", "n": [1, 2]}]]'},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}}]
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    call = reply.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("describe", {"what": "the chart", "n": [1, 2]})


def test_a_forced_tool_gets_arguments_from_its_schema(client):
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "weather"}],
                                           tools=[WEATHER], tool_choice="required")
    call = reply.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "sample", "unit": "C"})
    assert reply.choices[0].finish_reason == "tool_calls"


def _history(result_content: object, call_id: str = "call_001") -> list[dict]:
    call = {"id": "call_001", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    return [{"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": result_content}]


@pytest.mark.parametrize("content", ["4 degrees and snow", [{"type": "text", "text": "4 degrees and snow"}]])
def test_tool_results_reach_the_reply(client, content):
    chunks = _chunks(client, messages=_history(content), tools=[WEATHER])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "gpt-4o-mini got tool results: 4 degrees and snow"


def test_a_tool_result_for_an_unknown_call_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=_history("x", call_id="call_999"), tools=[WEATHER])
    assert caught.value.body == {
        "message": "Invalid parameter: 'tool_call_id' of 'call_999' not found in 'tool_calls' of previous message.",
        "type": "invalid_request_error", "param": "messages.[2].tool_call_id", "code": None}


def test_an_unanswered_call_and_a_stray_tool_message_are_400s(client):
    with pytest.raises(openai.BadRequestError, match="did not have response messages: call_001"):
        client.chat.completions.create(model=MODEL, messages=[*_history("x")[:2], {"role": "user", "content": "hm"}])
    stray = [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_001", "content": "x"}]
    with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding message with 'tool_calls'"):
        client.chat.completions.create(model=MODEL, messages=stray)


def test_a_bad_image_url_is_a_400(client):
    content = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,not base64!"}}]
    with pytest.raises(openai.BadRequestError, match="Invalid image URL"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])


class Forecast(BaseModel):
    city: str
    sky: Literal["clear", "cloudy"]
    highs: list[int]
    note: str | None


def test_structured_output_parses_with_the_sdk_helpers(client, openai_server):  # noqa: F811
    parsed = client.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "Forecast?"}],
                                           response_format=Forecast).choices[0].message.parsed
    assert parsed == Forecast(city="sample", sky="clear", highs=[1], note="sample")
    sent = openai_server.streams()[-1].body["response_format"]
    assert (sent["type"], sent["json_schema"]["name"], sent["json_schema"]["strict"]) == ("json_schema", "Forecast",
                                                                                         True)
    with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "Forecast?"}],
                                        response_format=Forecast) as stream:
        assert stream.get_final_completion().choices[0].message.parsed == parsed


def test_invalid_json_can_be_scripted_once_for_a_repair_round(client, openai_server):  # noqa: F811
    openai_server.script(INVALID_JSON)
    with pytest.raises(ValueError, match="Invalid JSON"):
        client.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "F?"}],
                                      response_format=Forecast)
    again = client.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "F?"}],
                                          response_format=Forecast)
    assert again.choices[0].message.parsed.sky == "clear"


def test_json_modes_follow_the_api_rules(client):
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       response_format={"type": "json_object"})
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi, in JSON"}],
                                           response_format={"type": "json_object"})
    assert json.loads(reply.choices[0].message.content) == {"answer": "gpt-4o-mini heard 1 turn(s); last: hi, in JSON"}
    loose = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
        "type": "object", "properties": {"a": {"type": "string"}}}}}
    with pytest.raises(openai.BadRequestError, match="'additionalProperties' is required to be supplied"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], response_format=loose)


# -- Batch API ---------------------------------------------------------------------------------------
def _lines(*prompts: str | None) -> bytes:
    rows = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
             "body": {"model": MODEL, "messages": [{"role": "user", "content": p}] if p else []}}
            for i, p in enumerate(prompts)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _submit(client: openai.OpenAI, content: bytes) -> openai.types.Batch:
    upload = client.files.create(file=("requests.jsonl", content), purpose="batch")
    return client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
                                 metadata={"notebook": "a.ipynb"})


def _jsonl(client: openai.OpenAI, file_id: str | None) -> dict[str, dict]:
    assert file_id is not None
    return {row["custom_id"]: row for row in map(json.loads, client.files.content(file_id).text.splitlines())}


def test_a_batch_runs_as_the_test_drives_it_and_ends_partly_failed(client, openai_server):  # noqa: F811
    batch = _submit(client, _lines("one", None, "three", "four"))
    assert (batch.status, batch.request_counts.total, batch.metadata) == ("validating", 4, {"notebook": "a.ipynb"})
    openai_server.batches.advance(completed=2)
    running = client.batches.retrieve(batch.id)
    assert (running.status, running.request_counts.completed, running.request_counts.failed) == ("in_progress", 1, 1)
    assert running.output_file_id is None
    openai_server.batches.finish(fail=["r2"])
    done = client.batches.retrieve(batch.id)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 2, 2)
    assert done.completed_at and done.finalizing_at and done.in_progress_at
    output, errors = _jsonl(client, done.output_file_id), _jsonl(client, done.error_file_id)
    assert set(output) == {"r0", "r3"} and set(errors) == {"r1", "r2"}
    body = output["r0"]["response"]["body"]
    assert output["r0"]["response"]["status_code"] == 200 and output["r0"]["error"] is None
    completion = openai.types.chat.ChatCompletion.model_validate(body)
    assert completion.choices[0].message.content == "gpt-4o-mini heard 1 turn(s); last: one"
    assert errors["r1"]["response"]["status_code"] == 400
    assert errors["r1"]["response"]["body"]["error"]["message"] == "'messages' must be a non-empty array"
    assert errors["r2"]["response"]["status_code"] == 500
    assert [b.id for b in client.batches.list()] == [batch.id]


def test_an_expired_batch_keeps_what_finished(client, openai_server):  # noqa: F811
    batch = _submit(client, _lines("one", "two", "three"))
    openai_server.batches.advance(completed=1)
    openai_server.batches.expire()
    expired = client.batches.retrieve(batch.id)
    assert (expired.status, expired.request_counts.completed, expired.expired_at is not None) == ("expired", 1, True)
    assert set(_jsonl(client, expired.output_file_id)) == {"r0"}
    errors = _jsonl(client, expired.error_file_id)
    assert {k: (v["response"], v["error"]["code"]) for k, v in errors.items()} == {
        "r1": (None, "batch_expired"), "r2": (None, "batch_expired")}


def test_a_cancelled_batch_is_cancelling_until_it_settles(client, openai_server):  # noqa: F811
    async def run() -> tuple[str, str, dict]:
        aclient = openai.AsyncOpenAI(api_key=KEY, base_url=f"{openai_server.url}/v1", max_retries=0)
        upload = await aclient.files.create(file=("r.jsonl", _lines("one", "two")), purpose="batch")
        batch = await aclient.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                             completion_window="24h")
        openai_server.batches.advance(completed=1)
        cancelling = await aclient.batches.cancel(batch.id)
        openai_server.batches.finish()
        cancelled = await aclient.batches.retrieve(batch.id)
        errors = (await aclient.files.content(cancelled.error_file_id)).text
        return cancelling.status, cancelled.status, json.loads(errors)

    cancelling, cancelled, error = asyncio.run(run())
    assert (cancelling, cancelled) == ("cancelling", "cancelled")
    assert (error["custom_id"], error["error"]["code"]) == ("r1", "batch_cancelled")


def test_a_bad_input_line_fails_the_batch(client):
    batch = _submit(client, _lines("one") + b'{"custom_id": "r1", "method": "GET", "url": "/v1/models"}\n')
    assert batch.status == "failed" and batch.failed_at is not None
    assert [(e.code, e.line) for e in batch.errors.data] == [("mismatched_endpoint", 2)]
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        client.files.create(file=("requests.txt", b"{}"), purpose="batch")
