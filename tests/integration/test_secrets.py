"""No key in any exception, chained ones included, nor in a log or the store (issue 9, item 9).

A gateway in front of each API answers 502 with a body that echoes the request headers (the servers'
``echo-headers`` fault), so each SDK's own exception carries the key. Canary keys (unlike any key shape the
scrubber knows) make a leak unmistakable: the error a session raises is formatted the ways a notebook or a
script would show it, and its whole chain is walked.
"""

from __future__ import annotations

import logging
import traceback

import pytest

from ai_sessions import ProviderError
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
CANARIES = {"openai": "canary-openai-4f0d9b7e21c3", "anthropic": "canary-anthropic-8a52e6d1f0b9",
            "gemini": "canary-gemini-c3b18f27a6e4"}


@pytest.fixture
def servers(openai_server, anthropic_server, gemini_server):  # noqa: F811
    return {"openai": openai_server, "anthropic": anthropic_server, "gemini": gemini_server}


def _chain(error: BaseException) -> list[BaseException]:
    """Every exception reachable from ``error`` through ``__cause__`` and ``__context__``."""
    seen: list[BaseException] = []
    todo = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def _views(error: BaseException) -> dict[str, str]:
    """How an error can reach a screen or a log."""
    views = {"format_exception": "".join(traceback.format_exception(error))}
    for number, exc in enumerate(_chain(error)):
        views[f"chain[{number}] {type(exc).__name__}"] = " | ".join(
            [str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))])
    return views


@pytest.mark.parametrize("provider", list(MODELS))
def test_no_key_in_the_raised_error_its_chain_logs_or_store(cloud_hub, servers, provider, monkeypatch,  # noqa: F811
                                                            caplog):
    canary = CANARIES[provider]
    monkeypatch.setenv(KEY_ENVS[provider], canary)
    server = servers[provider]
    server.fail(*["echo-headers"] * 4)
    caplog.set_level(logging.DEBUG)
    session = cloud_hub.session("s", model=MODELS[provider])
    with pytest.raises(ProviderError) as info:
        session.send("hi")
    error = info.value
    try:
        raise error
    except ProviderError:
        logging.getLogger("notebook").exception("the reply failed")  # what a script's handler would log
    assert any(canary in value for value in server.streams()[0].headers.values())  # the key went out
    assert error.kind == "provider_error" and error.status_code == 502 and len(server.streams()) == 4
    assert "Bad gateway" in str(error.__cause__)  # the SDK's message is kept, scrubbed
    leaks = {where: text for where, text in _views(error).items() if canary in text}
    assert leaks == {}
    assert canary not in caplog.text and "the reply failed" in caplog.text
    assert canary not in (session.messages[-1].error or "")
    cloud_hub.runtime.loop.call(lambda: None)
    assert canary not in repr(cloud_hub.store.load_events(session.id))
    store = cloud_hub.store.path
    assert [p.name for p in store.parent.glob(store.name + "*") if canary.encode() in p.read_bytes()] == []
