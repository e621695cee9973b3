"""The fake Gemini server against the raw google-genai SDK: streamed function calls, function responses,
inline data, structured output (``response.parsed``), the implicit cache and batch mode."""

from __future__ import annotations

import asyncio
import base64

import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from tests.servers.base import KEY, ProviderServer
from tests.servers.fixtures import GEMINI_MODELS, gemini_server  # noqa: F401 - fixture
from tests.servers.gemini_wire import GeminiProtocol
from tests.servers.replies import Call

MODEL = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(name="get_weather", description="Weather in a city", parameters_json_schema={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)
TOOLS = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])],
                                    automatic_function_calling=NO_AFC)


def _client(server: ProviderServer) -> genai.Client:
    retry = types.HttpRetryOptions(attempts=1)
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.url, retry_options=retry))


@pytest.fixture
def client(gemini_server):  # noqa: F811
    return _client(gemini_server)


def test_function_calls_stream_whole_and_the_last_one_finishes(client, gemini_server):  # noqa: F811
    gemini_server.script([Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "Oslo"}, id="c2")])
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Paris and Oslo?", config=TOOLS))
    calls = [(c.function_calls[0].name, c.function_calls[0].args, c.function_calls[0].id) for c in chunks]
    assert calls == [("get_weather", {"city": "Paris"}, None), ("get_weather", {"city": "Oslo"}, "c2")]
    assert [c.candidates[0].finish_reason for c in chunks] == [None, types.FinishReason.STOP]
    assert chunks[-1].usage_metadata.candidates_token_count > 0


def test_a_directive_and_a_forced_mode_call_functions(client):
    directive = client.models.generate_content(model=MODEL, contents='Go [[call:get_weather {"city": "Rome"}]]',
                                               config=TOOLS)
    assert [(c.name, c.args) for c in directive.function_calls] == [("get_weather", {"city": "Rome"})]
    forced = TOOLS.model_copy(update={"tool_config": types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY))})
    reply = client.models.generate_content(model=MODEL, contents="weather", config=forced)
    assert [(c.name, c.args) for c in reply.function_calls] == [("get_weather", {"city": "sample"})]


def _history(name: str = "get_weather") -> list[types.Content]:
    call = types.FunctionCall(name="get_weather", args={"city": "Oslo"})
    response = types.FunctionResponse(name=name, response={"result": "4 degrees and snow"})
    return [types.Content(role="user", parts=[types.Part(text="Weather in Oslo?")]),
            types.Content(role="model", parts=[types.Part(function_call=call)]),
            types.Content(role="user", parts=[types.Part(function_response=response)])]


def test_a_function_response_reaches_the_reply(client):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=_history(), config=TOOLS))
    assert "".join(c.text or "" for c in chunks) == "gemini-2.5-flash got tool results: 4 degrees and snow"


def test_a_function_response_without_its_call_is_a_400(client):
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents=_history(name="get_time"), config=TOOLS)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "no function call named 'get_time'" in caught.value.message
    orphan = [_history()[0], types.Content(role="model", parts=[types.Part(text="ok")]), _history()[2]]
    with pytest.raises(errors.ClientError, match="function response turn comes immediately after a function call"):
        client.models.generate_content(model=MODEL, contents=orphan, config=TOOLS)


def test_inline_data_is_accepted_and_checked(client, gemini_server):  # noqa: F811
    png = base64.b64decode(PNG)
    parts = [types.Part(text="What is this?"), types.Part.from_bytes(data=png, mime_type="image/png")]
    reply = client.models.generate_content(model=MODEL, contents=[types.Content(role="user", parts=parts)])
    assert reply.text == "gemini-2.5-flash heard 1 turn(s); last: What is this?"
    assert gemini_server.streams()[-1].body["contents"][0]["parts"][1]["inlineData"]["data"]
    bad = [types.Part(text="x"), types.Part(inline_data=types.Blob(mime_type="image/png", data=b""))]
    with pytest.raises(errors.ClientError, match="inline_data"):
        client.models.generate_content(model=MODEL, contents=[types.Content(role="user", parts=bad)])


class Forecast(BaseModel):
    city: str
    highs: list[int]


def test_structured_output_is_parsed_by_the_sdk(client):
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Forecast)
    reply = client.models.generate_content(model=MODEL, contents="Forecast?", config=config)
    assert reply.parsed == Forecast(city="sample", highs=[1])
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "tags": {"type": "array",
                                                                                  "items": {"enum": ["a", "b"]}}}}
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    assert client.models.generate_content(model=MODEL, contents="n?", config=config).parsed == {"n": 1, "tags": ["a"]}
    with pytest.raises(errors.ClientError, match="response_mime_type"):
        client.models.generate_content(model=MODEL, contents="n?",
                                       config=types.GenerateContentConfig(response_json_schema=schema))


def test_the_implicit_cache_reports_cached_tokens_for_a_repeated_prefix():
    server = ProviderServer(GeminiProtocol(implicit_cache=True), model_names=list(GEMINI_MODELS))
    try:
        client = _client(server)
        first = [types.Content(role="user", parts=[types.Part(text="A long shared question about the data")])]
        assert client.models.generate_content(model=MODEL, contents=first).usage_metadata.cached_content_token_count \
            is None
        longer = [*first, types.Content(role="model", parts=[types.Part(text="An answer")]),
                  types.Content(role="user", parts=[types.Part(text="And then?")])]
        usage = client.models.generate_content(model=MODEL, contents=longer).usage_metadata
        assert 0 < usage.cached_content_token_count < usage.prompt_token_count
    finally:
        server.stop()


# -- batch mode -------------------------------------------------------------------------------------
def _inlined(*prompts: str) -> list[dict]:
    return [{"contents": [{"role": "user", "parts": [{"text": p}]}], "metadata": {"key": f"k{i}"}}
            for i, p in enumerate(prompts)]


def test_a_batch_job_runs_as_the_test_drives_it_and_ends_partly_failed(gemini_server):  # noqa: F811
    async def run() -> None:
        client = _client(gemini_server)
        job = await client.aio.batches.create(model=MODEL, src=_inlined("one", "two", "three"),
                                              config={"display_name": "nightly"})
        assert (job.name, job.state, job.display_name) == ("batches/test001", types.JobState.JOB_STATE_PENDING,
                                                           "nightly")
        gemini_server.batches.advance(completed=1)
        assert (await client.aio.batches.get(name=job.name)).state == types.JobState.JOB_STATE_RUNNING
        gemini_server.batches.finish(fail=["1"])
        done = await client.aio.batches.get(name=job.name)
        assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.end_time is not None
        first, failed, last = done.dest.inlined_responses
        assert (first.metadata, first.response.text) == ({"key": "k0"}, "gemini-2.5-flash heard 1 turn(s); last: one")
        assert (failed.response, failed.error.code) == (None, 13)
        assert last.response.text.endswith("last: three")
        assert [j.name async for j in await client.aio.batches.list()] == [job.name]

    asyncio.run(run())


def test_an_invalid_inlined_request_errors_and_structured_config_applies(client, gemini_server):  # noqa: F811
    src = [{"contents": [{"role": "model", "parts": [{"text": "first"}]}]},
           {"contents": [{"role": "user", "parts": [{"text": "n?"}]}], "config": {
               "response_mime_type": "application/json",
               "response_json_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}}]
    job = client.batches.create(model=MODEL, src=src)
    gemini_server.batches.finish()
    bad, good = client.batches.get(name=job.name).dest.inlined_responses
    assert bad.error.code == 3 and "first content must come from the user" in bad.error.message
    assert good.response.text == '{"n": 1}'


def test_expired_and_cancelled_jobs_have_no_output(client, gemini_server):  # noqa: F811
    expiring = client.batches.create(model=MODEL, src=_inlined("one", "two"))
    gemini_server.batches.advance(expiring.name, completed=1)
    gemini_server.batches.expire(expiring.name)
    expired = client.batches.get(name=expiring.name)
    assert (expired.state, expired.dest) == (types.JobState.JOB_STATE_EXPIRED, None)
    cancelling = client.batches.create(model=MODEL, src=_inlined("one"))
    client.batches.cancel(name=cancelling.name)
    cancelled = client.batches.get(name=cancelling.name)
    assert (cancelled.state, cancelled.dest) == (types.JobState.JOB_STATE_CANCELLED, None)
    failing = client.batches.create(model=MODEL, src=_inlined("one"))
    gemini_server.batches.fail_job(failing.name, "The batch could not be read.")
    assert client.batches.get(name=failing.name).state == types.JobState.JOB_STATE_FAILED
