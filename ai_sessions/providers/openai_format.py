"""Chat Completions messages (OpenAI, Azure OpenAI, OpenAI-compatible servers, llama.cpp).

System prompt first (role ``system``); user turns as a string, or content parts (``text``,
``image_url`` with a data URL, ``file`` for PDFs) when they hold more than text; assistant turns with
``content`` and ``tool_calls``; each tool result as a ``role: "tool"`` message naming its
``tool_call_id`` (text only: images a tool returned follow as a user message). Repeated roles are allowed.
"""

from __future__ import annotations

import json
from typing import Any

from ..parts import FilePart, ImagePart, Part, StructuredPart, TextPart, ToolCallPart, ToolResultPart
from .base import Capabilities, ChatRequest, ToolSpec
from .history import ends_with_user, note_for, prepare, system_of


def messages(request: ChatRequest, capabilities: Capabilities) -> list[dict[str, Any]]:
    """The ``messages`` of a Chat Completions request."""
    out: list[dict[str, Any]] = []
    system = system_of(request)
    if system:
        out.append({"role": "system", "content": system})
    for turn in ends_with_user(prepare(request, capabilities)):
        if turn.role == "user":
            out.append({"role": "user", "content": _user_content(turn.parts)})
        elif turn.role == "assistant":
            out.append(_assistant(turn.parts))
        else:
            out.extend(_tool_results(turn.parts))
    return out


def _user_content(parts: tuple[Part, ...]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ImagePart):
            url = f"data:{part.media_type};base64,{part.base64()}"
            content.append({"type": "image_url", "image_url": {"url": url}})
        elif isinstance(part, FilePart):
            content.append({"type": "file", "file": {"filename": part.name,
                                                     "file_data": f"data:{part.media_type};base64,{part.base64()}"}})
        else:
            content.append({"type": "text", "text": _text(part)})
    return content


def _assistant(parts: tuple[Part, ...]) -> dict[str, Any]:
    text = "".join(_text(p) for p in parts if not isinstance(p, ToolCallPart))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = [p for p in parts if isinstance(p, ToolCallPart)]
    if calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))}}
                                 for c in calls]
    elif not text:
        message["content"] = ""
    return message


def _tool_results(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    images: list[Part] = []
    for part in parts:
        if isinstance(part, ToolResultPart):
            text = "".join(_text(p) for p in part.parts if not isinstance(p, ImagePart))
            shown = [p for p in part.parts if isinstance(p, ImagePart)]
            if shown:
                text += f"\n[{len(shown)} image(s) from this result follow in the next message]"
                images.extend(shown)
            results.append({"role": "tool", "tool_call_id": part.call_id,
                            "content": (("Error: " if part.is_error else "") + text) or "(no output)"})
        else:
            results.append({"role": "user", "content": _text(part)})
    if images:
        results.append({"role": "user", "content": _user_content((TextPart("Images returned by the tools:"),
                                                                   *images))})
    return results


def _text(part: Part) -> str:
    if isinstance(part, TextPart):
        return part.text
    if isinstance(part, StructuredPart):
        return json.dumps(part.data, ensure_ascii=False)
    return note_for(part, "").text


def tools(specs: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    """The ``tools`` of a Chat Completions request."""
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": dict(t.parameters)}} for t in specs]


def tool_choice(choice: str | None) -> Any:
    if choice is None:
        return None
    if choice == "required":
        return "required"
    return {"type": "function", "function": {"name": choice}}
