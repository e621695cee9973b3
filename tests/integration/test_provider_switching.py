"""Model switching across providers mid-session (S5): the history is kept, and each server receives it
translated to its own protocol (system placement, role names, alternation), including after a
failed and a stopped reply."""

from __future__ import annotations

import threading

import pytest

from ai_sessions import EventKind, MessageStatus, ProviderError
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    cloud_hub,
    fast_retries,
    gemini_server,
    openai_server,
)

SYSTEM = "You are a terse statistician."


def test_switch_openai_anthropic_gemini_keeps_and_translates_history(cloud_hub, openai_server,  # noqa: F811
                                                                     anthropic_server, gemini_server):  # noqa: F811
    s = cloud_hub.session("switch", model="openai:gpt-4o-mini", system_prompt=SYSTEM)
    first = s.send("q1: what is a p-value?")
    s.switch_model("anthropic:claude-haiku-4-5", reason="compare")
    second = s.send("q2: and a confidence interval?")
    s.switch_model("gemini:gemini-2.5-flash")
    third = s.send("q3: summarise")

    assert [m.model for m in s.messages if m.role.value == "assistant"] == [
        "openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash"]
    assert [(w.from_model, w.to_model, w.message_index) for w in s.model_switches] == [
        ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", 2),
        ("anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash", 4)]

    openai_body = openai_server.streams()[0].body
    assert openai_body["messages"] == [{"role": "system", "content": SYSTEM},
                                       {"role": "user", "content": "q1: what is a p-value?"}]

    anthropic_body = anthropic_server.streams()[0].body
    assert anthropic_body["system"] == SYSTEM
    assert anthropic_body["messages"] == [
        {"role": "user", "content": "q1: what is a p-value?"},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "q2: and a confidence interval?"}]

    gemini_body = gemini_server.streams()[0].body
    assert gemini_body["systemInstruction"]["parts"] == [{"text": SYSTEM}]
    assert [(c["role"], c["parts"][0]["text"]) for c in gemini_body["contents"]] == [
        ("user", "q1: what is a p-value?"), ("model", first.content),
        ("user", "q2: and a confidence interval?"), ("model", second.content), ("user", "q3: summarise")]
    assert third.status is MessageStatus.COMPLETE and third.content == gemini_server.streams()[0].reply

    stored = cloud_hub.store.load_messages(s.id)
    assert [m.content for m in stored] == [m.content for m in s.messages]
    assert len(cloud_hub.store.load_switches(s.id)) == 2


def test_failed_and_stopped_replies_leave_a_valid_next_request(cloud_hub, openai_server,  # noqa: F811
                                                              anthropic_server, gemini_server):  # noqa: F811
    s = cloud_hub.session("rough", model="anthropic:claude-haiku-4-5")
    anthropic_server.fail("401")
    with pytest.raises(ProviderError):
        s.send("first try")
    assert s.messages[-1].status is MessageStatus.FAILED

    # a stopped reply on OpenAI: its partial text stays in the history
    openai_server.fail("hold")
    s.switch_model("openai:gpt-4o-mini")
    got_text = threading.Event()
    cloud_hub.on(EventKind.RESPONSE_DELTA, lambda event: got_text.set())
    handle = s.submit("second try")
    assert got_text.wait(10)
    s.cancel()
    stopped = handle.result(10)
    assert stopped.status is MessageStatus.STOPPED and stopped.content

    s.switch_model("anthropic:claude-haiku-4-5")
    reply = s.send("third try")
    assert reply.status is MessageStatus.COMPLETE
    # the failed reply is left out, so the two user turns around it are merged for Anthropic
    assert anthropic_server.streams()[-1].body["messages"] == [
        {"role": "user", "content": "first try\n\nsecond try"},
        {"role": "assistant", "content": stopped.content.rstrip()},
        {"role": "user", "content": "third try"}]

    s.switch_model("gemini:gemini-2.5-flash")
    assert s.send("fourth").status is MessageStatus.COMPLETE
    roles = [c["role"] for c in gemini_server.streams()[-1].body["contents"]]
    assert roles == ["user", "model", "user", "model", "user"]
