"""Messages API history (Anthropic).

The system prompt goes in the top-level ``system`` field; messages alternate ``user`` / ``assistant``,
starting and ending with ``user``; content is blocks: ``text`` (never empty or whitespace only),
``image`` / ``document`` (base64 ``source``), ``tool_use`` (``id``, ``name``, ``input``) in assistant
turns and ``tool_result`` (``tool_use_id``, ``content``, ``is_error``) first in the next user turn.
With ``cache_prefix`` the system prompt and the block before the request's last one carry ``cache_control``
(Anthropic caches only what is marked): the last block before the final user turn, or, when the final turn
has several blocks (a map's template text, then its input), the one before its last.
"""

from __future__ import annotations

import json
from typing import Any

from ..parts import FilePart, ImagePart, Part, StructuredPart, TextPart, ToolCallPart, ToolResultPart
from .base import Capabilities, ChatRequest, ToolSpec
from .history import alternating, note_for, prepare, system_of

EPHEMERAL = {"type": "ephemeral"}


def messages(request: ChatRequest, capabilities: Capabilities) -> tuple[Any, list[dict[str, Any]]]:
    """``(system, messages)`` of a Messages API request."""
    out = [{"role": turn.role, "content": _content(turn.parts)} for turn in alternating(prepare(request, capabilities))]
    system: Any = system_of(request)
    if request.cache_prefix:
        if system:
            system = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
        final = out[-1]["content"] if out else None
        if isinstance(final, list) and len(final) >= 2:  # a map's template text before its input: up to there
            final[-2]["cache_control"] = EPHEMERAL
        elif len(out) >= 2:  # the last block before the final user turn ends the stable prefix
            before = out[-2]
            if isinstance(before["content"], str):
                before["content"] = [{"type": "text", "text": before["content"]}]
            before["content"][-1]["cache_control"] = EPHEMERAL
    return system, out


def _content(parts: tuple[Part, ...]) -> str | list[dict[str, Any]]:
    """A plain string for a text-only turn (the simplest valid form), else content blocks."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return [_block(p) for p in parts]


def _block(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.base64()}}
    if isinstance(part, FilePart):
        return {"type": "document", "source": {"type": "base64", "media_type": part.media_type,
                                               "data": part.base64()}, "title": part.name}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": dict(part.arguments)}
    if isinstance(part, ToolResultPart):
        content = [_block(p) for p in part.parts if isinstance(p, TextPart | ImagePart)] or [
            {"type": "text", "text": "(no output)"}]
        return {"type": "tool_result", "tool_use_id": part.call_id, "content": content, "is_error": part.is_error}
    if isinstance(part, StructuredPart):
        return {"type": "text", "text": json.dumps(part.data, ensure_ascii=False)}
    return {"type": "text", "text": note_for(part, "").text}


def tools(specs: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    """The ``tools`` of a Messages API request."""
    return [{"name": t.name, "description": t.description, "input_schema": dict(t.parameters)} for t in specs]


def tool_choice(choice: str | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}
