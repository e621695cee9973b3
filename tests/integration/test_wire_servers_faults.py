"""The fake servers' new faults against the raw SDKs: a stream that closes right after its headers (the SDKs
see an empty stream and no error), and a gateway 502 that echoes the request headers (each SDK's exception
text then carries the API key, which is what adapters must keep out of their errors)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors, types

from tests.servers.base import KEY, ProviderServer
from tests.servers.fixtures import anthropic_server, gemini_server, openai_server  # noqa: F401 - fixtures
from tests.servers.replies import Call


def _openai(server: ProviderServer) -> Callable[[], Iterator[Any]]:
    client = openai.OpenAI(api_key=KEY, base_url=f"{server.url}/v1", max_retries=0)
    return lambda: iter(client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                       messages=[{"role": "user", "content": "hi"}]))


def _anthropic(server: ProviderServer) -> Callable[[], Iterator[Any]]:
    client = anthropic.Anthropic(api_key=KEY, base_url=server.url, max_retries=0)
    return lambda: iter(client.messages.create(model="claude-sonnet-4-6", max_tokens=20, stream=True,
                                               messages=[{"role": "user", "content": "hi"}]))


def _gemini(server: ProviderServer) -> Callable[[], Iterator[Any]]:
    options = types.HttpOptions(base_url=server.url, retry_options=types.HttpRetryOptions(attempts=1))
    client = genai.Client(api_key=KEY, http_options=options)
    return lambda: iter(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))


CLIENTS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini}
ERRORS = {"openai": openai.APIStatusError, "anthropic": anthropic.APIStatusError, "gemini": errors.APIError}


@pytest.fixture
def servers(openai_server, anthropic_server, gemini_server):  # noqa: F811
    return {"openai": openai_server, "anthropic": anthropic_server, "gemini": gemini_server}


@pytest.mark.parametrize("provider", list(CLIENTS))
def test_a_stream_closed_after_its_headers_yields_nothing_and_raises_nothing(servers, provider):
    server = servers[provider]
    server.fail("close-after-headers")
    stream = CLIENTS[provider](server)  # holds the client (a collected client closes its connections)
    assert list(stream()) == []
    assert [r.fault for r in server.streams()] == ["close_after_headers"]
    assert len(list(stream())) > 0  # the next request streams normally


@pytest.mark.parametrize("provider", list(CLIENTS))
def test_a_gateway_502_echoes_the_key_into_the_sdk_exception(servers, provider):
    server = servers[provider]
    server.fail("echo-headers")
    stream = CLIENTS[provider](server)
    with pytest.raises(ERRORS[provider]) as caught:
        list(stream())
    error = caught.value
    assert getattr(error, "status_code", getattr(error, "code", None)) == 502
    assert KEY in str(error) and "Request headers" in str(error)
    assert [r.fault for r in server.streams()] == ["echo_headers"]


def test_mid_stream_faults_cut_a_tool_call_stream_too(openai_server):  # noqa: F811
    openai_server.script(Call("get_weather", {"city": "Paris, the capital of France"}))
    openai_server.fail("disconnect")
    chunks: list[Any] = []
    stream = _openai(openai_server)
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream():
            chunks.append(chunk)
    pieces = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
    assert len(pieces) == 2 and pieces[0].id == "call_001"  # the call's first piece and one argument piece


def test_a_fault_on_a_non_streaming_request_drops_the_connection(openai_server):  # noqa: F811
    openai_server.fail("disconnect")
    client = openai.OpenAI(api_key=KEY, base_url=f"{openai_server.url}/v1", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
