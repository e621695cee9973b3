"""One translation layer from our provider-neutral history to each API's message format (S5).

A :class:`~ai_sessions.providers.base.ChatRequest` holds an optional system prompt and turns of role
``user`` / ``assistant`` in order. Sessions build it from stored messages: failed replies are left out
(so two user turns can follow each other) and stopped replies keep their partial text. Each API has
its own rules, applied here and nowhere else:

* **OpenAI** (and compatible servers, Azure): the system prompt is the first message, roles are
  ``system`` / ``user`` / ``assistant``; repeated roles are allowed.
* **Anthropic**: the system prompt goes in the top-level ``system`` field; messages must start with
  ``user`` and alternate; text must not be empty or whitespace only.
* **Gemini**: the system prompt goes in ``system_instruction``; roles are ``user`` / ``model``; contents
  must start with ``user`` and alternate; text goes in ``parts``.

All three get a conversation that ends with a user turn, so that the model is asked to reply.
Pure functions over plain dicts: no SDK is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import ChatRequest, ChatTurn

#: Stands in for a user turn an API requires where the history has none.
CONTINUE_TEXT = "(continue)"
ROLES = ("user", "assistant")


def clean_turns(turns: Iterable[ChatTurn]) -> list[ChatTurn]:
    """Turns with visible text only (an empty or whitespace-only turn carries nothing for any API)."""
    cleaned = []
    for turn in turns:
        if turn.role not in ROLES:
            raise ValueError(f"unknown role {turn.role!r} in history (expected user or assistant)")
        if turn.content.strip():
            cleaned.append(turn)
    return cleaned


def alternating_turns(turns: Iterable[ChatTurn]) -> list[ChatTurn]:
    """Turns that start with ``user``, alternate ``user`` / ``assistant`` and end with ``user``.

    Consecutive turns of one role (e.g. two prompts around a failed reply) are merged with a blank
    line between them; a placeholder user turn is added where the history starts or ends with the
    assistant. Trailing whitespace is trimmed from assistant text (Anthropic rejects it)."""
    merged: list[ChatTurn] = []
    for turn in clean_turns(turns):
        content = turn.content.rstrip() if turn.role == "assistant" else turn.content
        if merged and merged[-1].role == turn.role:
            merged[-1] = ChatTurn(turn.role, f"{merged[-1].content}\n\n{content}")
        else:
            merged.append(ChatTurn(turn.role, content))
    if not merged or merged[0].role != "user":
        merged.insert(0, ChatTurn("user", CONTINUE_TEXT))
    if merged[-1].role != "user":
        merged.append(ChatTurn("user", CONTINUE_TEXT))
    return merged


def _system(request: ChatRequest) -> str | None:
    return request.system if request.system and request.system.strip() else None


def openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Chat Completions ``messages``: system message first, then the turns."""
    messages: list[dict[str, Any]] = []
    system = _system(request)
    if system:
        messages.append({"role": "system", "content": system})
    turns = clean_turns(request.turns)
    if not turns or turns[-1].role != "user":
        turns.append(ChatTurn("user", CONTINUE_TEXT))
    messages += [{"role": t.role, "content": t.content} for t in turns]
    return messages


def anthropic_messages(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """Messages API ``(system, messages)``: alternating, starting and ending with ``user``."""
    messages = [{"role": t.role, "content": t.content} for t in alternating_turns(request.turns)]
    return _system(request), messages


def gemini_contents(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system_instruction, contents)`` for generateContent: roles ``user`` / ``model``, text in parts."""
    contents = [{"role": "model" if t.role == "assistant" else "user", "parts": [{"text": t.content}]}
                for t in alternating_turns(request.turns)]
    return _system(request), contents
