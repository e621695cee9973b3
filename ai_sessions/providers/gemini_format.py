"""generateContent contents (Gemini).

The system prompt goes in ``system_instruction``; roles are ``user`` / ``model`` and alternate,
starting and ending with ``user``; parts are ``text``, ``inline_data`` (``mime_type``, bytes) for
images and PDFs, ``function_call`` (``name``, ``args``, ``id``) in model turns and
``function_response`` (``name``, ``response``, ``id``) in the next user turn. Gemini matches a response
to its call by name (ids are kept where the API gave them).
"""

from __future__ import annotations

import json
from typing import Any

from ..parts import FilePart, ImagePart, Part, StructuredPart, TextPart, ToolCallPart, ToolResultPart
from .base import Capabilities, ChatRequest, ToolSpec
from .history import alternating, note_for, prepare, system_of

#: Our ids for calls Gemini sent without one start with this (they are not sent back).
MADE_UP_ID = "gemini-call-"


def contents(request: ChatRequest, capabilities: Capabilities) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system_instruction, contents)`` of a generateContent request."""
    out = [{"role": "model" if turn.role == "assistant" else "user", "parts": [_part(p) for p in turn.parts]}
           for turn in alternating(prepare(request, capabilities))]
    return system_of(request), out


def _part(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ImagePart | FilePart):
        return {"inline_data": {"mime_type": part.media_type, "data": part.data}}
    if isinstance(part, ToolCallPart):
        call: dict[str, Any] = {"name": part.name, "args": dict(part.arguments)}
        if not part.id.startswith(MADE_UP_ID):
            call["id"] = part.id
        return {"function_call": call}
    if isinstance(part, ToolResultPart):
        text = "".join(p.text if isinstance(p, TextPart) else note_for(p, "").text for p in part.parts)
        response: dict[str, Any] = {"name": part.name, "response": {"error" if part.is_error else "output": text}}
        if not part.call_id.startswith(MADE_UP_ID):
            response["id"] = part.call_id
        return {"function_response": response}
    if isinstance(part, StructuredPart):
        return {"text": json.dumps(part.data, ensure_ascii=False)}
    return {"text": note_for(part, "").text}


def tools(specs: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    """The ``tools`` of a generateContent config (one function-declarations tool)."""
    return [{"function_declarations": [{"name": t.name, "description": t.description,
                                        "parameters_json_schema": dict(t.parameters)} for t in specs]}]


def tool_config(choice: str | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "required":
        return {"function_calling_config": {"mode": "ANY"}}
    return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [choice]}}
