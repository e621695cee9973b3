"""Fault matrix: every cloud provider, on its real SDK, against a local server speaking its protocol,
under each fault. Asserts the reply's status and error kind, what the store holds, and how many
requests the server received (so retries are counted exactly)."""

from __future__ import annotations

import threading

import pytest

from ai_sessions import EventKind, MessageStatus, ProviderError, Role
from tests.servers.base import KEY, split
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    cloud_hub,
    fast_retries,
    gemini_server,
    openai_server,
)

MODELS = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-sonnet-4-6",
          "gemini": "gemini:gemini-2.5-flash"}
KEY_ENVS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}

#: case -> (faults queued, final status, error kind, requests received, text pieces kept on failure)
CASES = {
    "ok": (["ok"], "complete", None, 1, None),
    "401": (["401"], "failed", "auth", 1, 0),
    "429-then-ok": (["429"], "complete", None, 2, None),
    "429-always": (["429-long"] * 4, "failed", "rate_limited", 4, 0),
    "500-then-ok": (["500"], "complete", None, 2, None),
    "503-always": (["503"] * 4, "failed", "provider_error", 4, 0),
    "slow-first-byte-then-ok": (["slow"], "complete", None, 2, None),
    "disconnect-before-text": (["disconnect-early"], "complete", None, 2, None),
    "disconnect-mid-stream": (["disconnect"], "failed", "connection", 1, 2),
    "truncated-stream": (["truncate"], "failed", "provider_error", 1, 2),
    "malformed-chunk": (["malformed"], "failed", "provider_error", 1, 1),
    "error-event-mid-stream": (["error_event"], "failed", "provider_error", 1, 1),
    "context-too-long": (["context"], "failed", "bad_request", 1, 0),
}


@pytest.fixture
def servers(openai_server, anthropic_server, gemini_server):  # noqa: F811
    return {"openai": openai_server, "anthropic": anthropic_server, "gemini": gemini_server}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("provider", list(MODELS))
def test_fault_matrix(cloud_hub, servers, provider, case):  # noqa: F811
    faults, status, kind, requests, kept = CASES[case]
    server = servers[provider]
    server.fail(*faults)
    session = cloud_hub.session("s", model=MODELS[provider])
    error: ProviderError | None = None
    try:
        session.send("Tell me about p-values")
    except ProviderError as exc:
        error = exc
    streams = server.streams()
    assert len(streams) == requests, [r.fault for r in streams]
    user, reply = session.messages
    assert (user.role, user.content, user.status) == (Role.USER, "Tell me about p-values", MessageStatus.COMPLETE)
    assert reply.status.value == status
    assert reply.error_kind == kind
    expected = streams[-1].reply
    if status == "complete":
        assert error is None
        assert reply.content == expected and expected
        assert reply.usage is not None and reply.usage.output_tokens == len(split(expected))
        assert reply.cost is not None and reply.cost > 0
    else:
        assert error is not None and error.kind == kind
        assert reply.content == "".join(split(expected)[:kept])
        assert KEY not in (reply.error or "") and KEY not in str(error)
    stored = cloud_hub.store.load_messages(session.id)
    assert [(m.content, m.status, m.error_kind) for m in stored] == [
        (user.content, user.status, None), (reply.content, reply.status, reply.error_kind)]


@pytest.mark.parametrize("provider", list(MODELS))
def test_auth_error_says_which_key_and_how_to_set_it(cloud_hub, servers, provider):  # noqa: F811
    servers[provider].fail("401")
    session = cloud_hub.session("s", model=MODELS[provider])
    with pytest.raises(ProviderError) as info:
        session.send("hi")
    message = str(info.value)
    assert f"{KEY_ENVS[provider]} is missing or invalid" in message
    assert f"`%ai_session keys set {provider}`" in message
    assert KEY not in message and info.value.__cause__ is None


@pytest.mark.parametrize("provider", list(MODELS))
def test_rate_limit_reports_retry_after_and_status(cloud_hub, servers, provider):  # noqa: F811
    servers[provider].fail(*["429-long"] * 4)
    session = cloud_hub.session("s", model=MODELS[provider])
    with pytest.raises(ProviderError) as info:
        session.send("hi")
    assert info.value.kind == "rate_limited"
    assert info.value.retry_after == 7.0 and info.value.status_code == 429


@pytest.mark.parametrize("provider", list(MODELS))
def test_unknown_model_is_a_bad_request_not_retried(cloud_hub, servers, provider):  # noqa: F811
    name = MODELS[provider].split(":")[0] + ":no-such-model"
    session = cloud_hub.session("s", model=name)
    with pytest.raises(ProviderError) as info:
        session.send("hi")
    assert info.value.kind == "bad_request" and info.value.status_code == 404
    assert "no-such-model" in str(info.value) and "%ai_session models" in str(info.value)
    assert len(servers[provider].streams()) == 1


@pytest.mark.parametrize("provider", list(MODELS))
def test_stop_closes_the_http_stream_and_keeps_partial_text(cloud_hub, servers, provider):  # noqa: F811
    server = servers[provider]
    server.fail("hold")
    session = cloud_hub.session("s", model=MODELS[provider])
    two_deltas = threading.Event()
    seen: list[str] = []

    def on_delta(event):  # text arriving in one read comes as one event of several pieces
        seen.extend([event.payload["text"]] * event.payload["pieces"])
        if len(seen) >= 2:
            two_deltas.set()

    cloud_hub.on(EventKind.RESPONSE_DELTA, on_delta)
    handle = session.submit("hold on")
    assert two_deltas.wait(10)
    assert session.cancel()
    reply = handle.result(10)
    assert reply.status is MessageStatus.STOPPED
    assert reply.content == "".join(split(server.streams()[-1].reply)[:2])
    assert server.disconnected.wait(5), "the provider did not close the HTTP stream"
    assert cloud_hub.store.load_messages(session.id)[-1].status is MessageStatus.STOPPED


async def _both_ways(provider, request):
    """(items of stream(), (pieces, result) of stream_text()) for one request each, errors as values."""
    items: list[object] = []
    try:
        async for item in provider.stream(request):
            items.append(item)
    except ProviderError as exc:
        items.append((exc.kind, str(exc)))
    pieces: list[str] = []
    try:
        result: object = await provider.stream_text(request, pieces.append)
    except ProviderError as exc:
        result = (exc.kind, str(exc))
    return items, (pieces, result)


@pytest.mark.parametrize("fault", ["ok", "truncate", "malformed", "error_event", "disconnect", "401", "context"])
def test_anthropic_stream_text_matches_stream(cloud_hub, anthropic_server, fault):  # noqa: F811
    """The fast path sessions use yields what stream() yields: text, usage, stop reason, errors, and
    None (incomplete) when message_stop never came."""
    from ai_sessions.providers.base import ChatRequest, ChatTurn, Finished, TextDelta

    anthropic_server.fail(fault, fault)
    provider = cloud_hub.runtime.catalogue.provider("anthropic")
    request = ChatRequest("claude-sonnet-4-6", (ChatTurn("user", "Tell me about p-values"),))
    items, (pieces, result) = cloud_hub.runtime.loop.run(_both_ways(provider, request))
    assert pieces == [i.text for i in items if isinstance(i, TextDelta) and i.text]
    end = items[-1] if not isinstance(items[-1], TextDelta) else None
    assert result == end
    if fault == "ok":
        assert isinstance(result, Finished) and result.finish_reason == "end_turn"
        assert result.usage is not None and result.usage.output_tokens == len(pieces) > 0
    elif fault == "truncate":
        assert result is None and len(pieces) == 2


def test_anthropic_stream_text_lets_on_text_errors_through(cloud_hub, anthropic_server):  # noqa: F811
    from ai_sessions.providers.base import ChatRequest, ChatTurn

    provider = cloud_hub.runtime.catalogue.provider("anthropic")
    request = ChatRequest("claude-sonnet-4-6", (ChatTurn("user", "hi"),))

    def on_text(text: str) -> None:
        raise KeyError("ours")

    with pytest.raises(KeyError):
        cloud_hub.runtime.loop.run(provider.stream_text(request, on_text))


# -- issue 9: a stream closed after its headers ---------------------------------------------------------
@pytest.mark.parametrize("provider", list(MODELS))
def test_a_stream_closed_after_its_headers_is_retried(cloud_hub, servers, provider):  # noqa: F811
    """Issue 9, item 5: 200 and event-stream headers, then the connection closes (a dropped connection).
    No text arrived, so nothing can be duplicated: it is retried like any connection error."""
    server = servers[provider]
    server.fail("close-after-headers")
    retries: list[dict] = []
    cloud_hub.on("*", lambda e: e.kind.value == "llm.request.retry" and retries.append(e.payload))
    reply = cloud_hub.session("s", model=MODELS[provider]).send("Tell me about p-values")
    assert [r.fault for r in server.streams()] == ["close_after_headers", "ok"]
    assert (reply.status, reply.content) == (MessageStatus.COMPLETE, server.streams()[-1].reply)
    cloud_hub.runtime.loop.call(lambda: None)  # retry events queued before now have been delivered
    assert [r["kind"] for r in retries] == ["connection"]


@pytest.mark.parametrize("provider", list(MODELS))
def test_a_stream_that_always_closes_after_its_headers_fails_as_a_connection_error(
        cloud_hub, servers, provider):  # noqa: F811
    server = servers[provider]
    server.fail(*["close-after-headers"] * 4)
    session = cloud_hub.session("s", model=MODELS[provider])
    with pytest.raises(ProviderError) as info:
        session.send("hi")
    assert info.value.kind == "connection" and "closed before the reply started" in str(info.value)
    assert len(server.streams()) == 4
    reply = session.messages[-1]
    assert (reply.status, reply.error_kind, reply.content) == (MessageStatus.FAILED, "connection", "")
