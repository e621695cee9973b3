"""``send(..., schema=...)`` on every provider, through the real SDKs against the protocol-faithful servers:
the request fields each API documents, validation, the repair round, the failure that keeps the raw text,
and ``m.parsed`` after a restart."""

from __future__ import annotations

import importlib.util
from typing import Literal

import pytest
from pydantic import BaseModel

from ai_sessions import schemas
from ai_sessions.errors import AiSessionsError
from ai_sessions.model import MessageStatus
from ai_sessions.schemas import InvalidOutput
from tests.servers.anthropic_wire import AnthropicProtocol
from tests.servers.base import KEY, ProviderServer
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    ANTHROPIC_MODELS,
    anthropic_server,
    cloud_hub,
    fast_retries,
    gemini_server,
    openai_server,
    provider_settings,
)
from tests.servers.replies import INVALID_JSON, split


class Review(BaseModel):
    sentiment: Literal["pos", "neg"]
    score: int


def test_openai_gets_a_strict_json_schema_and_the_reply_is_parsed(cloud_hub, openai_server):  # noqa: F811
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    m = s.send("Review: great value", schema=Review)
    assert m.parsed == Review(sentiment="pos", score=1)  # the server's deterministic instance of the schema
    assert m.structured.data == {"sentiment": "pos", "score": 1} and m.structured.schema == "Review"
    assert m.content == '{"sentiment": "pos", "score": 1}'
    sent = openai_server.streams()[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Review"
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"]["additionalProperties"] is False


def test_a_reply_that_does_not_validate_gets_one_repair_round(cloud_hub, openai_server):  # noqa: F811
    openai_server.script(INVALID_JSON)
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    m = s.send("Review: awful", schema=Review)
    assert m.status is MessageStatus.COMPLETE and m.parsed == Review(sentiment="pos", score=1)
    repair = openai_server.streams()[-1]
    messages = repair.body["messages"]
    assert messages[-2] == {"role": "assistant", "content": INVALID_JSON.text}
    assert messages[-1]["role"] == "user" and "not valid JSON" in messages[-1]["content"]
    assert m.content == '{"sentiment": "pos", "score": 1}'  # the repaired reply replaced the broken one
    assert m.usage.output_tokens == len(split(INVALID_JSON.text)) + len(split(m.content))  # both rounds count
    assert len(s.messages) == 2  # the repair round is part of the reply, not a new turn


def test_a_second_failure_is_a_clear_error_that_keeps_the_raw_text(cloud_hub, openai_server):  # noqa: F811
    openai_server.script(INVALID_JSON, '{"sentiment": "meh", "score": 3}')
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    with pytest.raises(InvalidOutput, match=r"does not match the schema Review: sentiment: Input should be 'pos' or "
                                            r"'neg' \(got 'meh'\)") as info:
        s.send("Review: so-so", schema=Review)
    assert info.value.raw == '{"sentiment": "meh", "score": 3}' and info.value.hint
    stored = cloud_hub.store.load_messages(s.id)[-1]
    assert (stored.status, stored.error_kind, stored.content) == (MessageStatus.FAILED, "invalid_output",
                                                                  '{"sentiment": "meh", "score": 3}')
    assert stored.parsed is None and "sentiment" in stored.error


def test_the_next_turn_sends_the_structured_reply_once(cloud_hub, openai_server):  # noqa: F811
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    s.send("Review: great", schema=Review)
    s.send("Why?")
    messages = openai_server.streams()[-1].body["messages"]
    assert messages[1] == {"role": "assistant", "content": '{"sentiment": "pos", "score": 1}'}
    assert "response_format" not in openai_server.streams()[-1].body


def test_anthropic_gets_output_config_with_the_sdks_schema_form(cloud_hub, anthropic_server):  # noqa: F811
    s = cloud_hub.session("r", model="anthropic:claude-haiku-4-5")
    m = s.send("Review: fine", schema=Review)
    assert m.parsed == Review(sentiment="pos", score=1)
    fmt = anthropic_server.streams()[-1].body["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["additionalProperties"] is False
    assert "tools" not in anthropic_server.streams()[-1].body


def test_an_older_claude_gets_a_forced_tool_whose_input_is_the_answer(make_hub, fast_retries, monkeypatch):  # noqa: F811
    server = ProviderServer(AnthropicProtocol(), model_names=[*ANTHROPIC_MODELS, "claude-3-5-haiku-20241022"])
    try:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        hub = make_hub(settings=provider_settings())
        s = hub.session("old", model="anthropic:claude-3-5-haiku-20241022")
        m = s.send("Review: okay", schema=Review)
        body = server.streams()[-1].body
        assert body["tool_choice"] == {"type": "tool", "name": "Review"} and "output_config" not in body
        assert [t["name"] for t in body["tools"]] == ["Review"]
        assert m.parsed == Review(sentiment="pos", score=1) and m.tool_calls == ()
        assert m.content == '{"sentiment": "pos", "score": 1}'
    finally:
        server.stop()


def test_gemini_gets_a_json_mime_type_and_schema(cloud_hub, gemini_server):  # noqa: F811
    s = cloud_hub.session("r", model="gemini:gemini-2.5-flash")
    m = s.send("Review: fine", schema=Review)
    assert m.parsed == Review(sentiment="pos", score=1)
    config = gemini_server.streams()[-1].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["sentiment"]["enum"] == ["pos", "neg"]


def test_a_json_schema_dict_works_and_parsed_is_the_data(cloud_hub, openai_server):  # noqa: F811
    spec = {"title": "label", "type": "object", "properties": {"label": {"enum": ["spam", "ham"]}},
            "required": ["label"], "additionalProperties": False}
    m = cloud_hub.session("r", model="openai:gpt-4o-mini").send("Is this spam?", schema=spec)
    assert m.parsed == {"label": "spam"}
    assert openai_server.streams()[-1].body["response_format"]["json_schema"]["strict"] is True


def test_parsed_is_restored_after_a_restart(make_hub, openai_server, fast_retries, monkeypatch):  # noqa: F811
    hub = make_hub(settings=provider_settings())
    hub.session("r", model="openai:gpt-4o-mini").send("Review: great", schema=Review)
    hub.shutdown()
    monkeypatch.setattr(schemas, "_registry", {})  # a new kernel: Review not used yet
    again = make_hub(settings=provider_settings()).session("r")
    assert again.messages[-1].parsed == {"sentiment": "pos", "score": 1}
    schemas.register(schemas.output_schema(Review))
    assert again.messages[-1].with_(id="x").parsed == Review(sentiment="pos", score=1)


def test_a_model_without_structured_output_is_refused_before_sending(make_hub, openai_server):  # noqa: F811
    hub = make_hub(settings=provider_settings(plain={"kind": "openai-compatible", "base_url": f"{openai_server.url}/v1",
                                                     "capabilities": {"structured_output": False}}))
    s = hub.session("r", model="plain:gpt-4o-mini")
    with pytest.raises(AiSessionsError, match="cannot be asked for structured output") as info:
        s.send("Review: x", schema=Review)
    assert "capabilities" in info.value.hint
    assert openai_server.streams() == [] and s.messages == ()


def test_a_bad_schema_is_refused_before_anything_is_stored(cloud_hub, openai_server):  # noqa: F811
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    with pytest.raises(AiSessionsError, match="does not describe a JSON object"):
        s.send("x", schema=list[str])
    assert s.messages == () and openai_server.streams() == []


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the local extra")
def test_the_embedded_model_returns_schema_valid_json_offline(make_hub):
    s = make_hub().session("offline", model="local:smollm2", temperature=0, max_tokens=40)
    m = s.send("Review: Great value, works perfectly. Give the sentiment and a score from 1 to 5.", schema=Review)
    assert isinstance(m.parsed, Review) and m.parsed.sentiment in ("pos", "neg")
