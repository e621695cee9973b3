"""History translation (S5): property-based checks that every translation obeys its API's rules for
any history, plus the fake servers' own request validators agreeing with them."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai_sessions.providers import anthropic_format, gemini_format, openai_format
from ai_sessions.providers.base import Capabilities, ChatRequest, ChatTurn
from ai_sessions.providers.history import CONTINUE_TEXT, alternating, clean_turns
from tests.servers.anthropic_wire import AnthropicProtocol
from tests.servers.gemini_wire import GeminiProtocol
from tests.servers.openai_wire import OpenAIProtocol

texts = st.one_of(st.text(max_size=30), st.sampled_from(["", " ", "\n\t", "hello ", "  spaced  "]))
turns = st.lists(st.builds(ChatTurn, st.sampled_from(["user", "assistant"]), texts), max_size=12)
systems = st.one_of(st.none(), texts)
requests = st.builds(lambda t, s: ChatRequest(model="m", turns=tuple(t), system=s), turns, systems)


TEXT_ONLY = Capabilities()


def anthropic_messages(request: ChatRequest):
    return anthropic_format.messages(request, TEXT_ONLY)


def gemini_contents(request: ChatRequest):
    return gemini_format.contents(request, TEXT_ONLY)


def openai_messages(request: ChatRequest):
    return openai_format.messages(request, TEXT_ONLY)


def alternating_turns(turns):
    return alternating(clean_turns(turns))


def _visible(request: ChatRequest) -> list[str]:
    return [t.content.strip() for t in request.turns if t.content.strip()]


def _in_order(pieces: list[str], text: str) -> bool:
    position = 0
    for piece in pieces:
        found = text.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _check_alternation(roles: list[str], user: str, other: str) -> None:
    assert roles and roles[0] == user and roles[-1] == user
    assert all(a != b for a, b in pairwise(roles))
    assert set(roles) <= {user, other}


@given(requests)
def test_anthropic_messages_obey_the_messages_api_rules(chat):
    system, messages = anthropic_messages(chat)
    _check_alternation([m["role"] for m in messages], "user", "assistant")
    assert all(isinstance(m["content"], str) and m["content"].strip() for m in messages)
    assert all(m["content"] == m["content"].rstrip() for m in messages if m["role"] == "assistant")
    assert system is None or system.strip()
    if chat.system and chat.system.strip():
        assert system == chat.system
    assert _in_order(_visible(chat), "\n".join(m["content"] for m in messages))  # nothing lost, order kept
    body = {"model": "m", "max_tokens": 10, "stream": True, "messages": messages,
            **({"system": system} if system else {})}
    assert AnthropicProtocol().validate(body) is None


@given(requests)
def test_gemini_contents_obey_the_gemini_rules(chat):
    system, contents = gemini_contents(chat)
    _check_alternation([c["role"] for c in contents], "user", "model")
    assert all(len(c["parts"]) == 1 and c["parts"][0]["text"].strip() for c in contents)
    assert _in_order(_visible(chat), "\n".join(c["parts"][0]["text"] for c in contents))
    body = {"contents": contents, **({"systemInstruction": {"parts": [{"text": system}]}} if system else {})}
    assert GeminiProtocol().validate(body) is None


@given(requests)
def test_openai_messages_put_the_system_prompt_first_and_keep_every_turn(chat):
    messages = openai_messages(chat)
    roles = [m["role"] for m in messages]
    has_system = bool(chat.system and chat.system.strip())
    assert (roles[0] == "system") is has_system and roles.count("system") == int(has_system)
    assert roles[-1] == "user" and all(m["content"].strip() for m in messages)
    turns_out = [m["content"] for m in messages if m["role"] != "system"]
    assert [t for t in turns_out if t != CONTINUE_TEXT] == [t.content for t in chat.turns if t.content.strip()]
    assert OpenAIProtocol().validate({"messages": messages, "stream": True}) is None


def test_failed_reply_leaves_two_user_turns_that_are_merged_where_alternation_is_required():
    request = ChatRequest("m", (ChatTurn("user", "a"), ChatTurn("user", "b")), system="sys")
    assert anthropic_messages(request) == ("sys", [{"role": "user", "content": "a\n\nb"}])
    assert gemini_contents(request) == ("sys", [{"role": "user", "parts": [{"text": "a\n\nb"}]}])
    assert openai_messages(request) == [{"role": "system", "content": "sys"}, {"role": "user", "content": "a"},
                                        {"role": "user", "content": "b"}]


def test_history_starting_or_ending_with_the_assistant_gets_placeholder_user_turns():
    turns = alternating_turns([ChatTurn("assistant", "partial answer  ")])
    assert [(t.role, t.content) for t in turns] == [("user", CONTINUE_TEXT), ("assistant", "partial answer"),
                                                    ("user", CONTINUE_TEXT)]


def test_empty_system_prompt_is_left_out():
    request = ChatRequest("m", (ChatTurn("user", "hi"),), system="  ")
    assert anthropic_messages(request)[0] is None and gemini_contents(request)[0] is None
    assert openai_messages(request) == [{"role": "user", "content": "hi"}]


# -- parts (every kind, every format) -------------------------------------------------------------------
from ai_sessions.parts import (  # noqa: E402
    FilePart,
    ImagePart,
    StructuredPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

PNG = b"\x89PNG\r\n\x1a\nfake"
EVERYTHING = Capabilities(tools=True, images=True, documents=True, structured_output=True)


def _mixed() -> ChatRequest:
    return ChatRequest("m", (
        ChatTurn("user", (TextPart("look"), ImagePart("image/png", PNG),
                          FilePart("text/csv", b"a,b\n1,2", name="t.csv"),
                          FilePart("application/pdf", b"%PDF-1.4", name="r.pdf"))),
        ChatTurn("assistant", (TextPart("counting"), ToolCallPart("c1", "count", {"t": "x"}))),
        ChatTurn("tool", (ToolResultPart("c1", (TextPart("42"),), False, "count"),)),
        ChatTurn("assistant", (StructuredPart({"n": 42}, "Count"),)),
        ChatTurn("user", (TextPart("thanks"),)),
    ))


def test_every_part_kind_in_the_openai_shape():
    messages = openai_format.messages(_mixed(), EVERYTHING)
    user = messages[0]["content"]
    assert [p["type"] for p in user] == ["text", "image_url", "text", "file"]
    assert user[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "a,b\n1,2" in user[2]["text"]  # a text file goes as text
    assert messages[1]["tool_calls"][0]["function"] == {"name": "count", "arguments": '{"t": "x"}'}
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "42"}
    assert messages[3]["content"] == '{"n": 42}'
    assert OpenAIProtocol().validate({"messages": messages, "stream": True}) is None


def test_every_part_kind_in_the_anthropic_shape():
    _, messages = anthropic_format.messages(_mixed(), EVERYTHING)
    assert [b["type"] for b in messages[0]["content"]] == ["text", "image", "text", "document"]
    assert messages[1]["content"][1] == {"type": "tool_use", "id": "c1", "name": "count", "input": {"t": "x"}}
    assert messages[2]["content"][0]["type"] == "tool_result" and messages[2]["content"][0]["tool_use_id"] == "c1"
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]


def test_every_part_kind_in_the_gemini_shape():
    _, contents = gemini_format.contents(_mixed(), EVERYTHING)
    kinds = [next(iter(p)) for p in contents[0]["parts"]]
    assert kinds == ["text", "inline_data", "text", "inline_data"]
    assert contents[1]["parts"][1] == {"function_call": {"name": "count", "args": {"t": "x"}, "id": "c1"}}
    assert contents[2]["parts"][0]["function_response"]["response"] == {"output": "42"}


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "gemini"])
def test_what_a_text_only_model_cannot_take_becomes_a_visible_note(fmt):
    if fmt == "openai":
        text = json.dumps(openai_format.messages(_mixed(), TEXT_ONLY))
    elif fmt == "anthropic":
        text = json.dumps(anthropic_format.messages(_mixed(), TEXT_ONLY)[1])
    else:
        text = json.dumps(gemini_format.contents(_mixed(), TEXT_ONLY)[1], default=str)
    assert "an image (image/png" in text and "cannot see images" in text  # never dropped silently
    assert "a file r.pdf" in text and "a,b" in text
    assert "called tool count" in text and "tool count returned: 42" in text
    assert "image_url" not in text and "tool_use" not in text and "function_call" not in text


def test_a_call_without_a_result_gets_one_saying_it_did_not_run():
    request = ChatRequest("m", (ChatTurn("user", "go"),
                                ChatTurn("assistant", (ToolCallPart("c9", "slow", {}),)),
                                ChatTurn("user", "stopped, go on")))
    messages = openai_format.messages(request, EVERYTHING)
    assert messages[2]["role"] == "tool" and messages[2]["tool_call_id"] == "c9"
    assert "not run" in messages[2]["content"]
